//! Workers (Celery's `worker -Q … -c …`): fetch leased tasks, run them with a concurrency limit,
//! store results, retry with backoff, keep leases alive while tasks run, and on shutdown stop
//! fetching, let running tasks finish within a timeout, and put the rest back in the queue.

use std::collections::HashMap;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::FutureExt;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use serde_json::json;

use crate::body::panic_message;
use crate::broker::{now, Broker, Delivery};
use crate::control::TaskInfo;
use crate::error::TaskError;
use crate::events::Emitter;
use crate::mailbox::Clock;
use crate::result::{TaskResult, TaskStatus};
use crate::task::Registry;
use canter_kernel::services::{self, Services};

mod execute;
mod follow_up;
mod presence;
mod remote;
mod settle;
use presence::Presence;

/// A worker's settings.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    pub queues: Vec<String>,
    /// Tasks run at once.
    pub concurrency: usize,
    /// How long a fetched task stays leased without news before another worker may take it.
    pub visibility_timeout: Duration,
    /// Pause between fetches when the queues are empty.
    pub poll_interval: Duration,
    /// How long running tasks get to finish on shutdown before they go back to the queue.
    pub shutdown_timeout: Duration,
    /// Send task and worker events (Celery's `-E`; see [`crate::events`]).
    pub send_events: bool,
    /// Warn when one poll of a task body blocks the runtime longer than this (the app's
    /// `[stall]` settings: `Settings::stall_threshold`); `None`: not watched.
    pub stall_threshold: Option<Duration>,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        WorkerConfig {
            queues: vec!["celery".into()],
            concurrency: 10,
            visibility_timeout: Duration::from_secs(60),
            poll_interval: Duration::from_millis(20),
            shutdown_timeout: Duration::from_secs(30),
            send_events: false,
            stall_threshold: None,
        }
    }
}

/// The deliveries of running tasks a cut shutdown puts back, by lease.
type InFlight = Arc<Mutex<HashMap<String, Delivery>>>;

/// What a turn of the fetch loop decided.
enum Turn {
    Go,
    Stop,
}

/// See the module docs.
pub struct Worker {
    registry: Registry,
    broker: Arc<dyn Broker>,
    config: WorkerConfig,
    name: String,
    /// This machine's name, read once.
    hostname: String,
    started: f64,
    /// Running tasks, by id (what inspection shows as active).
    active: Mutex<HashMap<String, TaskInfo>>,
    /// Task runs ended since the start (any outcome, a retried attempt included).
    processed: AtomicU64,
    events: Emitter,
    /// Celery's Lamport clock, for its events and remote-control replies.
    clock: Arc<Clock>,
    /// What remote control changed or recorded: see `worker/remote.rs`.
    remote: remote::RemoteState,
    /// The app its task bodies run in: the one it was made in (with this worker's broker if
    /// that app has none), else one holding just the broker, so a body's `delay()` reaches it.
    app: Arc<Services>,
}

impl Worker {
    pub fn new(registry: Registry, broker: Arc<dyn Broker>, config: WorkerConfig) -> Self {
        let name = format!(
            "worker-{}@{}",
            std::process::id(),
            uuid::Uuid::new_v4().simple()
        );
        let clock = Arc::new(Clock::default());
        let events = Emitter::new(broker.clone(), &name, config.send_events, clock.clone());
        let mut app = services::current()
            .map(|app| (*app).clone())
            .unwrap_or_default();
        if app.get::<Arc<dyn Broker>>().is_none() {
            app.insert(broker.clone());
        }
        Worker {
            app: Arc::new(app),
            registry,
            broker,
            config,
            name,
            hostname: crate::broker::hostname(),
            started: now(),
            active: Mutex::default(),
            processed: AtomicU64::new(0),
            events,
            clock,
            remote: remote::RemoteState::default(),
        }
    }

    /// This worker's name (`worker-<pid>@<uuid>`), as inspection lists it.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Works until `shutdown` completes, then shuts down warmly.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send) -> Result<(), TaskError> {
        self.run_until(shutdown, std::future::pending()).await
    }

    /// As [`run`](Self::run), and `cold` cuts the warm shutdown short (Celery's second Ctrl-C):
    /// running tasks stop at once and go back to the queue.
    ///
    /// A heartbeat means the worker fetches: a panic in the fetch loop is logged and the loop
    /// goes on, and the heartbeats stop whenever this future ends (dropped or unwound).
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send,
        cold: impl Future<Output = ()> + Send,
    ) -> Result<(), TaskError> {
        let this = Arc::new(self);
        let mut presence = Presence {
            broker: this.broker.clone(),
            name: this.name.clone(),
            armed: true,
        };
        // In a JoinSet, which aborts it when dropped, not a detached task.
        let mut announcer = JoinSet::new();
        announcer.spawn({
            let this = this.clone();
            async move { this.announce().await }
        });
        announcer.spawn({
            let this = this.clone();
            async move { this.serve_remote_control().await }
        });
        // A remote `shutdown` ends the run as `shutdown` does.
        let shutdown = async {
            tokio::select! {
                () = shutdown => {}
                () = this.remote.shutdown.notified() => {}
            }
        };
        let slots = Arc::new(Semaphore::new(this.config.concurrency.max(1)));
        let in_flight: InFlight = Arc::default();
        let mut running = JoinSet::new();
        tracing::info!(target: "canter::tasks", worker = %this.name, queues = ?this.config.queues, concurrency = this.config.concurrency, "worker ready");
        tokio::pin!(shutdown);
        loop {
            let turn = this.fetch_turn(&slots, &in_flight, &mut running, shutdown.as_mut());
            match AssertUnwindSafe(turn).catch_unwind().await {
                Ok(Turn::Go) => {}
                Ok(Turn::Stop) => break,
                Err(panic) => {
                    tracing::error!(target: "canter::tasks", worker = %this.name, "the fetch loop panicked ({}); it goes on", panic_message(panic.as_ref()));
                    tokio::select! {
                        () = tokio::time::sleep(Duration::from_millis(500)) => {}
                        () = &mut shutdown => break,
                    }
                }
            }
        }
        this.wind_down(&mut running, &in_flight, cold).await;
        if let Err(e) = this.broker.release(&this.name).await {
            tracing::warn!(target: "canter::tasks", "returning prefetched tasks failed (they come back after the visibility timeout): {e}");
        }
        announcer.shutdown().await;
        let _ = this.broker.worker_offline(&this.name).await;
        presence.armed = false;
        this.events
            .send(
                "worker-offline",
                || json!({"processed": this.processed.load(Ordering::Relaxed)}),
            )
            .await;
        Ok(())
    }

    /// Warm shutdown: no more fetching; running tasks get `shutdown_timeout` (or until `cold`),
    /// then those still running are cut and go back to the queue at once.
    async fn wind_down(
        &self,
        running: &mut JoinSet<()>,
        in_flight: &InFlight,
        cold: impl Future<Output = ()> + Send,
    ) {
        tracing::info!(target: "canter::tasks", running = running.len(), "warm shutdown");
        let finished = tokio::select! {
            () = async { while running.join_next().await.is_some() {} } => true,
            () = tokio::time::sleep(self.config.shutdown_timeout) => false,
            () = cold => {
                tracing::warn!(target: "canter::tasks", running = running.len(), "cold shutdown: running tasks go back to the queue");
                false
            }
        };
        if finished {
            return;
        }
        running.abort_all();
        let left: Vec<Delivery> = in_flight
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .drain()
            .map(|(_, d)| d)
            .collect();
        for delivery in left {
            // Back to the queue at once, the attempt not counted: it was cut, not failed.
            let _ = self
                .broker
                .requeue(&delivery, now(), delivery.message.retries)
                .await;
        }
    }

    /// One turn of the fetch loop: waits for a free slot, fetches, and starts the task (or
    /// waits for work). `Stop` once `shutdown` completes.
    async fn fetch_turn(
        self: &Arc<Self>,
        slots: &Arc<Semaphore>,
        in_flight: &InFlight,
        running: &mut JoinSet<()>,
        mut shutdown: Pin<&mut (impl Future<Output = ()> + Send)>,
    ) -> Turn {
        while running.try_join_next().is_some() {}
        let permit = tokio::select! {
            permit = slots.clone().acquire_owned() => permit.expect("the semaphore is never closed"),
            () = &mut shutdown => return Turn::Stop,
        };
        // Listen for in-process publishes before fetching, so one that lands during an empty
        // fetch still wakes this worker (rather than waiting for the next poll).
        let published = self
            .broker
            .published()
            .map(|publishes| publishes.notified());
        let mut published = std::pin::pin!(published);
        if let Some(notified) = published.as_mut().as_pin_mut() {
            notified.enable();
        }
        let fetched = tokio::select! {
            fetched = self.broker.fetch(&self.config.queues, &self.name, self.config.visibility_timeout) => fetched,
            () = &mut shutdown => return Turn::Stop,
        };
        match fetched {
            Ok(Some(delivery)) => {
                // What a cut shutdown puts back; a task acked when it starts is not (its
                // message is gone: Celery's `acks_late = False`).
                let acks_late = self
                    .registry
                    .tasks
                    .get(delivery.message.name.as_str())
                    .is_none_or(|(_, options)| options.acks_late);
                if acks_late {
                    in_flight
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .insert(delivery.lease.clone(), delivery.clone());
                }
                let (worker, in_flight) = (self.clone(), in_flight.clone());
                let app = worker.app.clone();
                running.spawn(app.scope(async move {
                    worker.execute(&delivery).await;
                    in_flight
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .remove(&delivery.lease);
                    drop(permit);
                }));
            }
            Ok(None) => {
                drop(permit);
                tokio::select! {
                    () = tokio::time::sleep(self.config.poll_interval) => {}
                    () = async {
                        match published.as_mut().as_pin_mut() {
                            Some(notified) => notified.await,
                            None => std::future::pending().await,
                        }
                    } => {}
                    () = &mut shutdown => return Turn::Stop,
                }
            }
            Err(e) => {
                drop(permit);
                tracing::warn!(target: "canter::tasks", "fetch failed: {e}");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
        Turn::Go
    }

    /// Stores a result (unless ignored); false if the broker could not take it.
    async fn store(&self, id: &str, result: TaskResult, ignore: bool) -> bool {
        if ignore && result.status != TaskStatus::Failure {
            return true;
        }
        match self.broker.store_result(id, result).await {
            Ok(()) => true,
            Err(e) => {
                tracing::error!(target: "canter::tasks", task_id = id, "storing the result failed: {e}");
                false
            }
        }
    }
}
