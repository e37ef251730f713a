//! Nothing is lost when a worker dies: a worker process is killed (SIGKILL) mid-task, and the
//! task runs again on another worker once its lease runs out.
//!
//! The test re-runs its own binary as the doomed worker (`CANTER_TASKS_CHILD` set), so the
//! kill is of a real process, not a cancelled future.

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use canter_tasks::{task, Broker, Registry, SqliteBroker, TaskError, Worker, WorkerConfig};

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
    let config = WorkerConfig {
        queues: vec!["crash".into()],
        concurrency: 1,
        visibility_timeout: Duration::from_secs(1),
        poll_interval: Duration::from_millis(10),
        shutdown_timeout: Duration::from_secs(1),
    };
    Worker::new(
        Registry::new().register::<survives_its_worker>(),
        broker,
        config,
    )
}

async fn open(file: &str) -> Arc<dyn Broker> {
    let broker: Arc<dyn Broker> = Arc::new(
        SqliteBroker::open(&format!("sqlite://{file}"))
            .await
            .unwrap(),
    );
    canter_tasks::install(broker.clone());
    broker
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_whose_worker_is_killed_runs_again() {
    if let Ok(file) = std::env::var(CHILD) {
        // The doomed worker.
        let broker = open(&file).await;
        // Ends by itself should the parent die without killing it.
        worker(broker)
            .run(tokio::time::sleep(Duration::from_secs(60)))
            .await
            .unwrap();
        return;
    }
    let dir = std::env::temp_dir().join(format!(
        "canter-tasks-crash-{}",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("broker.sqlite3").display().to_string();
    let marker = dir.join("started").display().to_string();
    let broker = open(&file).await;
    let handle = survives_its_worker::delay(marker.clone()).await.unwrap();

    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "a_task_whose_worker_is_killed_runs_again",
            "--nocapture",
        ])
        .env(CHILD, &file)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !std::path::Path::new(&marker).exists() {
        assert!(
            Instant::now() < deadline,
            "the child worker never started the task"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    child.kill().unwrap(); // SIGKILL: no warm shutdown, no requeue, the lease simply stops renewing.
    child.wait().unwrap();

    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let survivor = tokio::spawn(worker(broker.clone()).run(async move {
        let _ = stopped.await;
    }));
    let output = handle.get(Duration::from_secs(20)).await.unwrap();
    assert_eq!(output, format!("ran again in {}", std::process::id()));
    let _ = stop.send(());
    survivor.await.unwrap().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}
