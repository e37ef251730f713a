//! The task scenarios every broker must pass, each an independent test on a broker of its own
//! (a fresh SQLite file, or a Redis key prefix of its own, deleted after) run inside its own app
//! scope (`tasks_app`): results and PENDING, failures (retries, panics, unknown names, bad
//! arguments), time and rate limits, unique tasks, the canvas, `delay_on_commit`, revoke and
//! expiry, warm and cold shutdown, inspection and control. [`on_every_broker!`] makes each
//! scenario a test per broker: `suite::<module>::sqlite::<scenario>`,
//! `suite::<module>::redis::<scenario>` (skipped without `CANTER_TEST_REDIS_URL`) and, with the
//! `amqp` feature, `suite::<module>::amqp::<scenario>` (RabbitMQ, a vhost of its own, results in
//! a SQLite file; skipped without `CANTER_TEST_AMQP_URL`).

/// For each scenario named (an `async fn(Arc<dyn Broker>)` of the calling module), a test on
/// the embedded broker (module `sqlite`) and one on Redis (module `redis`).
macro_rules! on_every_broker {
    ($($scenario:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    $crate::suite::on_sqlite(super::$scenario).await
                }
            )*
        }
        mod redis {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    $crate::suite::on_redis(super::$scenario).await
                }
            )*
        }
        #[cfg(feature = "amqp")]
        mod amqp {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    $crate::suite::on_amqp(super::$scenario).await
                }
            )*
        }
    };
}

mod arguments;
mod canvas;
mod context;
mod failures;
mod limits;
mod on_commit;
mod operations;
mod priorities;
mod results;
mod shutdown;
mod tasks;
mod unique;

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use canter_tasks::{
    AsyncResult, Broker, RedisBroker, SqliteBroker, TaskError, TaskStatus, Worker, WorkerConfig,
};

/// How long a scenario waits for a result.
const WAIT: Duration = Duration::from_secs(10);

/// Runs `scenario` on a fresh embedded broker (a file of its own, removed after), in its app.
pub async fn on_sqlite<F, Fut>(scenario: F)
where
    F: FnOnce(Arc<dyn Broker>) -> Fut,
    Fut: Future<Output = ()>,
{
    let dir = crate::common::TempDir::new("suite");
    let url = format!("sqlite://{}", dir.path().join("broker.sqlite3").display());
    let broker: Arc<dyn Broker> = Arc::new(SqliteBroker::open(&url).await.unwrap());
    canter_tasks::tasks_app(broker.clone())
        .scope(scenario(broker))
        .await;
}

/// Runs `scenario` on the Redis at `CANTER_TEST_REDIS_URL` under a key prefix of its own (its
/// keys deleted after), in its app; skipped, saying so, without it.
pub async fn on_redis<F, Fut>(scenario: F)
where
    F: FnOnce(Arc<dyn Broker>) -> Fut,
    Fut: Future<Output = ()>,
{
    let Some(keys) = crate::common::RedisKeys::create("canter-suite") else {
        return;
    };
    let broker: Arc<dyn Broker> = Arc::new(RedisBroker::connect(&keys.broker_url()).await.unwrap());
    canter_tasks::tasks_app(broker.clone())
        .scope(scenario(broker))
        .await;
}

/// Runs `scenario` on RabbitMQ at `CANTER_TEST_AMQP_URL`, in a vhost of its own (deleted
/// after; its queues with priorities), results kept in a SQLite file of its own, in its app;
/// skipped, saying so, without it.
#[cfg(feature = "amqp")]
pub async fn on_amqp<F, Fut>(scenario: F)
where
    F: FnOnce(Arc<dyn Broker>) -> Fut,
    Fut: Future<Output = ()>,
{
    let Some(vhost) = crate::common::AmqpVhost::create("canter-suite") else {
        return;
    };
    let dir = crate::common::TempDir::new("suite-amqp");
    let url = format!("sqlite://{}", dir.path().join("results.sqlite3").display());
    let backend: Arc<dyn Broker> = Arc::new(SqliteBroker::open(&url).await.unwrap());
    // Priority queues (`x-max-priority`, as Celery's docs advise): the vhost is the test's.
    let url = format!("{}?max_priority=10", vhost.url);
    let broker = canter_tasks::AmqpBroker::connect(&url, backend)
        .await
        .unwrap();
    let broker: Arc<dyn Broker> = Arc::new(broker);
    canter_tasks::tasks_app(broker.clone())
        .scope(scenario(broker))
        .await;
}

/// A worker for `queues` with the scenarios' timings.
fn config(queues: &[&str]) -> WorkerConfig {
    WorkerConfig {
        queues: queues.iter().map(|q| q.to_string()).collect(),
        concurrency: 4,
        visibility_timeout: Duration::from_secs(30),
        poll_interval: Duration::from_millis(5),
        shutdown_timeout: Duration::from_secs(5),
        ..WorkerConfig::default()
    }
}

/// A worker running every scenario task in the background, until [`RunningWorker::stop`].
struct RunningWorker {
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    handle: tokio::task::JoinHandle<Result<(), TaskError>>,
}

impl RunningWorker {
    fn start(broker: Arc<dyn Broker>, config: WorkerConfig) -> Self {
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let worker = Worker::new(tasks::registry(), broker, config);
        let handle = tokio::spawn(worker.run(async move {
            let _ = stopped.await;
        }));
        RunningWorker {
            stop: Some(stop),
            handle,
        }
    }

    /// Stops it warmly, and checks it stopped cleanly.
    async fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        (&mut self.handle).await.unwrap().unwrap();
    }
}

/// Waits (at most 10 s) until `handle`'s task reaches `status`.
async fn wait_for<T: serde::de::DeserializeOwned>(handle: &AsyncResult<T>, status: TaskStatus) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while handle.status().await.unwrap() != status {
        assert!(
            Instant::now() < deadline,
            "{handle:?} never reached {status:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
