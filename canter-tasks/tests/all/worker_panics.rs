//! A heartbeat means the worker fetches: a panic in its fetch loop does not leave a worker
//! that announces itself alive while tasks wait forever (the loop goes on), and a worker whose
//! run has ended (aborted, unwound) announces nothing more.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use canter_tasks::broker::{Delivery, TaskMessage};
use canter_tasks::control::{DeadLetter, TaskInfo, WorkerInfo, HEARTBEAT_EVERY};
use canter_tasks::{
    task, Control, MemoryBroker, Registry, TaskError, Transport, Worker, WorkerConfig,
};
use futures_util::future::BoxFuture;
use serde_json::Value;

#[task(name = "panics.echo", crate = canter_tasks)]
async fn echo(text: String) -> Result<String, TaskError> {
    Ok(text)
}

/// A memory broker whose `fetch` panics while `fetch_panics` is above zero (as the subscriber's
/// registry did on a thread a WebSocket span had been left on), and that counts heartbeats.
#[derive(Default)]
struct Flaky {
    inner: MemoryBroker,
    fetch_panics: AtomicUsize,
    heartbeats: AtomicUsize,
}

canter_tasks::forward_result_backend!(Flaky => inner);
canter_tasks::forward_coordination!(Flaky => inner);

/// The memory broker's transport, but `fetch` may panic.
impl Transport for Flaky {
    fn fetch<'a>(
        &'a self,
        queues: &'a [String],
        worker: &'a str,
        visibility: Duration,
    ) -> BoxFuture<'a, Result<Option<Delivery>, TaskError>> {
        let panics = self
            .fetch_panics
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        assert!(!panics, "fetch panicked (on purpose)");
        self.inner.fetch(queues, worker, visibility)
    }

    // The rest as the memory broker.
    fn publish<'a>(&'a self, message: TaskMessage) -> BoxFuture<'a, Result<(), TaskError>> {
        self.inner.publish(message)
    }
    fn extend<'a>(
        &'a self,
        delivery: &'a Delivery,
        visibility: Duration,
    ) -> BoxFuture<'a, Result<(), TaskError>> {
        self.inner.extend(delivery, visibility)
    }
    fn ack<'a>(&'a self, delivery: &'a Delivery) -> BoxFuture<'a, Result<(), TaskError>> {
        self.inner.ack(delivery)
    }
    fn requeue<'a>(
        &'a self,
        delivery: &'a Delivery,
        eta: f64,
        retries: u32,
    ) -> BoxFuture<'a, Result<(), TaskError>> {
        self.inner.requeue(delivery, eta, retries)
    }
    fn dead_letter<'a>(
        &'a self,
        delivery: &'a Delivery,
        reason: &'a str,
    ) -> BoxFuture<'a, Result<(), TaskError>> {
        self.inner.dead_letter(delivery, reason)
    }
    fn queue_length<'a>(&'a self, queue: &'a str) -> BoxFuture<'a, Result<u64, TaskError>> {
        self.inner.queue_length(queue)
    }
    fn drop_lease<'a>(&'a self, delivery: &'a Delivery) -> BoxFuture<'a, Result<(), TaskError>> {
        self.inner.drop_lease(delivery)
    }
    fn release<'a>(&'a self, worker: &'a str) -> BoxFuture<'a, Result<(), TaskError>> {
        self.inner.release(worker)
    }
    fn queues(&self) -> BoxFuture<'_, Result<Vec<String>, TaskError>> {
        self.inner.queues()
    }
    fn scheduled(&self) -> BoxFuture<'_, Result<Vec<TaskInfo>, TaskError>> {
        self.inner.scheduled()
    }
    fn purge<'a>(&'a self, queue: &'a str) -> BoxFuture<'a, Result<u64, TaskError>> {
        self.inner.purge(queue)
    }
    fn dead_letters(&self) -> BoxFuture<'_, Result<Vec<DeadLetter>, TaskError>> {
        self.inner.dead_letters()
    }
    fn retry_dead_letters(&self) -> BoxFuture<'_, Result<u64, TaskError>> {
        self.inner.retry_dead_letters()
    }
}

/// The memory broker's records, heartbeats counted.
impl Control for Flaky {
    fn worker_heartbeat<'a>(
        &'a self,
        info: &'a WorkerInfo,
    ) -> BoxFuture<'a, Result<(), TaskError>> {
        self.heartbeats.fetch_add(1, Ordering::SeqCst);
        self.inner.worker_heartbeat(info)
    }
    fn worker_offline<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<(), TaskError>> {
        self.inner.worker_offline(name)
    }
    fn workers(&self) -> BoxFuture<'_, Result<Vec<WorkerInfo>, TaskError>> {
        self.inner.workers()
    }
    fn send_event<'a>(&'a self, event: &'a Value) -> BoxFuture<'a, Result<(), TaskError>> {
        self.inner.send_event(event)
    }
    fn events<'a>(
        &'a self,
        cursor: Option<&'a str>,
        wait: Duration,
    ) -> BoxFuture<'a, Result<(String, Vec<Value>), TaskError>> {
        self.inner.events(cursor, wait)
    }
}

fn config() -> WorkerConfig {
    WorkerConfig {
        poll_interval: Duration::from_millis(5),
        ..WorkerConfig::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_whose_fetch_loop_panicked_fetches_on() {
    let broker = Arc::new(Flaky::default());
    broker.fetch_panics.store(2, Ordering::SeqCst);
    canter_tasks::tasks_app(broker.clone())
        .scope(async move {
            let worker = Worker::new(Registry::new().register::<echo>(), broker.clone(), config());
            let name = worker.name().to_owned();
            let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
            let running = tokio::spawn(worker.run(async move {
                let _ = stopped.await;
            }));
            let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
            while broker.fetch_panics.load(Ordering::SeqCst) > 0
                && tokio::time::Instant::now() < deadline
            {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }

            let sent = echo::delay("after the panics".into()).await.unwrap();
            assert_eq!(
                sent.get(Duration::from_secs(10)).await.unwrap(),
                "after the panics",
                "the worker still runs tasks"
            );
            let listed = broker.workers().await.unwrap();
            assert!(
                listed.iter().any(|w| w.name == name && w.alive()),
                "alive, and rightly: it consumes"
            );
            let _ = stop.send(());
            running.await.unwrap().unwrap();
        })
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_that_stopped_running_announces_nothing_more() {
    let broker = Arc::new(Flaky::default());
    let worker = Worker::new(Registry::new().register::<echo>(), broker.clone(), config());
    let name = worker.name().to_owned();
    let running = tokio::spawn(worker.run(std::future::pending()));
    while broker.heartbeats.load(Ordering::SeqCst) == 0 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    running.abort();
    assert!(running.await.unwrap_err().is_cancelled());
    let beats = broker.heartbeats.load(Ordering::SeqCst);
    tokio::time::sleep(HEARTBEAT_EVERY * 2).await;
    assert_eq!(
        broker.heartbeats.load(Ordering::SeqCst),
        beats,
        "no heartbeat from a worker that does not run"
    );
    assert!(
        !broker
            .workers()
            .await
            .unwrap()
            .iter()
            .any(|w| w.name == name),
        "its snapshot went with it"
    );
}
