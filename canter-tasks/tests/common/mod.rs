//! What the crash tests share: the broker file, a worker config with a short lease, and worker
//! processes that are this same test binary re-run (so a kill is of a real process).

#![allow(dead_code)]

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use canter_tasks::{Broker, SqliteBroker, WorkerConfig};

/// Opens the broker file and installs it for this process.
pub async fn open(file: &str) -> Arc<dyn Broker> {
    let broker: Arc<dyn Broker> = Arc::new(
        SqliteBroker::open(&format!("sqlite://{file}"))
            .await
            .unwrap(),
    );
    canter_tasks::install(broker.clone());
    broker
}

/// A worker whose leases run out one second after it dies.
pub fn short_lease(queue: &str, concurrency: usize) -> WorkerConfig {
    WorkerConfig {
        queues: vec![queue.into()],
        concurrency,
        visibility_timeout: Duration::from_secs(1),
        poll_interval: Duration::from_millis(10),
        shutdown_timeout: Duration::from_secs(1),
    }
}

/// A fresh directory for one test's files.
pub fn temp_dir(tag: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "canter-tasks-{tag}-{}",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Re-runs this test binary's `test` alone, with `env_key=file`: the child takes that branch and
/// runs as a worker.
pub fn spawn_worker_process(test: &str, env_key: &str, file: &str) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args(["--exact", test, "--nocapture"])
        .env(env_key, file)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// Worker processes, killed when the test ends however it ends (no orphans).
pub struct Workers(pub Vec<Child>);

impl Drop for Workers {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
