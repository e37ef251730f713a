//! The stall detector watches task bodies as it watches views: a body that blocks the runtime
//! (`std::thread::sleep` in an `async fn`) is named in a warning when the app's `[stall]`
//! settings turn the detector on, and nothing is said when they do not. On a current-thread
//! runtime, so the worker and the body run on the test's thread, whose log lines it captures.

use std::sync::Arc;
use std::time::Duration;

use canter_core::test::CapturedLogs;
use canter_tasks::{task, MemoryBroker, Registry, TaskError, Worker, WorkerConfig};

#[task(name = "stall.blocks", crate = canter_tasks)]
async fn blocks() -> Result<String, TaskError> {
    std::thread::sleep(Duration::from_millis(60)); // the mistake the detector exists for
    Ok("done".into())
}

/// Runs one `blocks` task on a worker with `stall_threshold` and returns what was logged.
async fn run_one(captured: &CapturedLogs, stall_threshold: Option<Duration>) -> String {
    let broker = Arc::new(MemoryBroker::default());
    canter_tasks::tasks_app(broker.clone())
        .scope(async move {
            let config = WorkerConfig {
                poll_interval: Duration::from_millis(5),
                stall_threshold,
                ..WorkerConfig::default()
            };
            let worker = Worker::new(Registry::new().register::<blocks>(), broker, config);
            let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
            let running = tokio::spawn(worker.run(async move {
                let _ = stopped.await;
            }));
            let handle = blocks::delay().await.unwrap();
            assert_eq!(handle.get(Duration::from_secs(10)).await.unwrap(), "done");
            let _ = stop.send(());
            running.await.unwrap().unwrap();
            captured.take()
        })
        .await
}

#[tokio::test]
async fn a_task_body_that_blocks_the_runtime_is_named_when_the_detector_is_on() {
    let captured = CapturedLogs::default();
    let _this_thread = captured.install();
    let logs = run_one(&captured, None).await;
    assert!(!logs.contains("blocked the async runtime"), "off: {logs}");
    let logs = run_one(&captured, Some(Duration::from_millis(10))).await;
    assert!(logs.contains("WARN"), "{logs}");
    assert!(
        logs.contains("task \"stall.blocks\"") && logs.contains("blocked the async runtime"),
        "names the task: {logs}"
    );
}
