//! A Redis outage under a running worker: enqueueing fails with a clear error (no panic), the
//! worker rides it out, and once Redis is back (with its append-only file, as a production
//! Redis keeps it) every task completes — including one that finished while Redis was down,
//! whose result could not be stored: it runs again rather than losing its result. Runs its own
//! `redis-server` on a spare port (never the machine's); without `redis-server` it is skipped
//! with a printed reason (a failure under `CANTER_REQUIRE_SERVICES=1`).

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use canter_core::test::{spare_port, RedisServer};
use canter_tasks::{
    task, Broker, RedisBroker, Registry, TaskError, TaskStatus, Worker, WorkerConfig,
};

static SLOW_RUNS: AtomicU32 = AtomicU32::new(0);

#[task(name = "outage.add", crate = canter_tasks)]
async fn add(a: i64, b: i64) -> Result<i64, TaskError> {
    Ok(a + b)
}

/// Runs for `ms`, counting its runs.
#[task(name = "outage.slow", crate = canter_tasks)]
async fn slow(ms: u64) -> Result<u64, TaskError> {
    SLOW_RUNS.fetch_add(1, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(ms)).await;
    Ok(ms)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tasks_survive_a_redis_restart() {
    if !RedisServer::available() {
        return;
    }
    let dir = std::env::temp_dir().join(format!("canter-outage-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    // An append-only file, fsynced on every write: what it had survives the restart.
    let dir_arg = dir.display().to_string();
    let keep = [
        "--appendonly",
        "yes",
        "--appendfsync",
        "always",
        "--dir",
        dir_arg.as_str(),
    ];
    let redis = RedisServer::start(spare_port(), &keep);
    let port = redis.port;
    let broker: Arc<dyn Broker> = Arc::new(
        RedisBroker::connect(&format!("redis://127.0.0.1:{port}"))
            .await
            .unwrap(),
    );
    canter_tasks::tasks_app(broker.clone())
        .scope(async move {
            let config = WorkerConfig {
                visibility_timeout: Duration::from_secs(2),
                ..WorkerConfig::default()
            };
            let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
            let worker = tokio::spawn(
                Worker::new(
                    Registry::new().register::<add>().register::<slow>(),
                    broker.clone(),
                    config,
                )
                .run(async move {
                    let _ = stopped.await;
                }),
            );
            let wait = Duration::from_secs(30);
            assert_eq!(add::delay(1, 2).await.unwrap().get(wait).await.unwrap(), 3);

            // A task runs; Redis goes away under it (SIGKILL: nothing flushed but the AOF).
            let interrupted = slow::delay(800).await.unwrap();
            let queued = add::delay(20, 22).await.unwrap();
            while interrupted.status().await.unwrap() != TaskStatus::Started {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            drop(redis);

            // While it is down: a clear error, not a panic or a hang.
            match tokio::time::timeout(Duration::from_secs(10), add::delay(1, 1)).await {
                Ok(Err(TaskError::Broker(message))) => {
                    assert!(message.contains("redis"), "{message}")
                }
                other => panic!("expected a broker error while Redis is down, got {other:?}"),
            }
            tokio::time::sleep(Duration::from_millis(1500)).await; // the slow task ends meanwhile

            // Back, with what it had written: everything completes.
            let _redis = RedisServer::start(port, &keep);
            assert_eq!(queued.get(wait).await.unwrap(), 42);
            assert_eq!(interrupted.get(wait).await.unwrap(), 800);
            assert!(
                SLOW_RUNS.load(Ordering::SeqCst) >= 2,
                "its result could not be stored while Redis was down, so it ran again"
            );
            assert_eq!(add::delay(2, 2).await.unwrap().get(wait).await.unwrap(), 4);

            let _ = stop.send(());
            worker.await.unwrap().unwrap();
            let _ = std::fs::remove_dir_all(&dir);
        })
        .await
}
