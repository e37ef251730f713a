//! Nothing is lost when a worker dies: a worker process is killed (SIGKILL) mid-task, and the
//! task runs again on another worker once its lease runs out.
//!
//! The test re-runs its own binary as the doomed worker (`CANTER_TASKS_CHILD` set), so the
//! kill is of a real process, not a cancelled future.

use crate::common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use canter_tasks::{task, Broker, Registry, TaskError, Worker};

const CHILD: &str = "CANTER_TASKS_CHILD";

/// In the child: says it started, then hangs (until killed). Elsewhere: finishes at once.
#[task(name = "test.survives_its_worker", crate = canter_tasks, queue = "crash")]
async fn survives_its_worker(marker: String) -> Result<String, TaskError> {
    if std::env::var_os(CHILD).is_some() {
        std::fs::write(&marker, b"started").unwrap();
        tokio::time::sleep(Duration::from_secs(120)).await;
        return Ok("the child finished (it should have been killed)".into());
    }
    Ok(format!("ran again in {}", std::process::id()))
}

fn worker(broker: Arc<dyn Broker>) -> Worker {
    Worker::new(
        Registry::new().register::<survives_its_worker>(),
        broker,
        common::short_lease("crash", 1),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_whose_worker_is_killed_runs_again() {
    if let Ok(file) = std::env::var(CHILD) {
        // The doomed worker.
        let broker = common::open(&file).await;
        // Ends by itself should the parent die without killing it.
        worker(broker)
            .run(tokio::time::sleep(Duration::from_secs(60)))
            .await
            .unwrap();
        return;
    }
    let dir = common::TempDir::new("crash");
    let file = dir.sqlite_url("broker.sqlite3");
    let marker = dir.join("started").display().to_string();
    let broker = common::open(&file).await;
    canter_tasks::tasks_app(broker.clone())
        .scope(async move {
            let handle = survives_its_worker::delay(marker.clone()).await.unwrap();

            let child = common::Workers(vec![common::spawn_worker_process(
                &common::test_name(module_path!(), "a_task_whose_worker_is_killed_runs_again"),
                CHILD,
                &file,
            )]);
            let deadline = Instant::now() + Duration::from_secs(30);
            while !std::path::Path::new(&marker).exists() {
                assert!(
                    Instant::now() < deadline,
                    "the child worker never started the task"
                );
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            drop(child); // SIGKILL: no warm shutdown, no requeue, the lease simply stops renewing.

            let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
            let survivor = tokio::spawn(worker(broker.clone()).run(async move {
                let _ = stopped.await;
            }));
            let output = handle.get(Duration::from_secs(20)).await.unwrap();
            assert_eq!(output, format!("ran again in {}", std::process::id()));
            let _ = stop.send(());
            survivor.await.unwrap().unwrap();
        })
        .await
}
