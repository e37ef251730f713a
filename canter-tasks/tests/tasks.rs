//! The task scenarios (tests/suite) on the embedded SQLite broker.

mod suite;

use std::sync::Arc;

use canter_tasks::{Broker, SqliteBroker};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tasks_end_to_end_on_the_embedded_broker() {
    let file = std::env::temp_dir().join(format!(
        "canter-tasks-{}.sqlite3",
        uuid::Uuid::new_v4().simple()
    ));
    let broker: Arc<dyn Broker> = Arc::new(
        SqliteBroker::open(&format!("sqlite://{}", file.display()))
            .await
            .unwrap(),
    );
    suite::end_to_end(broker, &file.display().to_string()).await;
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", file.display()));
    }
}
