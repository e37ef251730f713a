//! The worker's Prometheus endpoint: counts and histograms per task name over real HTTP. The
//! counters are the process's (as a Celery worker's are), so the test runs in a process of its
//! own, where no other test's tasks are counted.

use std::sync::Arc;
use std::time::Duration;

use canter_tasks::{task, Broker, MemoryBroker, Registry, TaskError, Worker, WorkerConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::common;

#[task(name = "metrics.double", crate = canter_tasks, queue = "metrics")]
async fn double(n: i64) -> Result<i64, TaskError> {
    if n < 0 {
        return Err(TaskError::Failed {
            kind: "ValueError".into(),
            message: "negative".into(),
        });
    }
    Ok(n * 2)
}

async fn get(addr: std::net::SocketAddr, path: &str) -> String {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    response
}

#[tokio::test]
async fn the_metrics_endpoint_counts_outcomes_per_task() {
    let test = common::test_name(
        module_path!(),
        "the_metrics_endpoint_counts_outcomes_per_task",
    );
    if !common::in_a_process_of_its_own(&test) {
        return;
    }
    let broker: Arc<dyn Broker> = Arc::new(MemoryBroker::new());
    canter_tasks::tasks_app(broker.clone())
        .scope(async move {
            let config = WorkerConfig {
                queues: vec!["metrics".into()],
                poll_interval: Duration::from_millis(5),
                ..WorkerConfig::default()
            };
            let worker = Worker::new(Registry::new().register::<double>(), broker, config);
            let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
            let running = tokio::spawn(worker.run(async move {
                let _ = stopped.await;
            }));
            let ok = double::delay(21).await.unwrap();
            let bad = double::delay(-1).await.unwrap();
            assert_eq!(ok.get(Duration::from_secs(5)).await.unwrap(), 42);
            assert!(bad.get(Duration::from_secs(5)).await.is_err());

            let addr = canter_tasks::metrics::serve("127.0.0.1:0".parse().unwrap())
                .await
                .unwrap();
            let response = get(addr, "/metrics").await;
            assert!(response.starts_with("HTTP/1.1 200"), "{response}");
            assert!(
                response.contains("content-type: text/plain; version=0.0.4"),
                "{response}"
            );
            for line in [
                "canter_tasks_received_total{task=\"metrics.double\"} 2",
                "canter_tasks_succeeded_total{task=\"metrics.double\"} 1",
                "canter_tasks_failed_total{task=\"metrics.double\"} 1",
                "canter_task_runtime_seconds_count{task=\"metrics.double\"} 2",
                "canter_task_wait_seconds_bucket{task=\"metrics.double\",le=\"+Inf\"} 2",
                "# TYPE canter_task_runtime_seconds histogram",
                "canter_tasks_active 0",
            ] {
                assert!(response.contains(line), "{line} missing from:\n{response}");
            }
            assert!(get(addr, "/nothing").await.starts_with("HTTP/1.1 404"));

            let _ = stop.send(());
            running.await.unwrap().unwrap();
        })
        .await
}
