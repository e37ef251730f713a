//! Workers (Celery's `worker -Q … -c …`): fetch leased tasks, run them with a concurrency limit,
//! store results, retry with backoff, keep leases alive while tasks run, and on shutdown stop
//! fetching, let running tasks finish within a timeout, and put the rest back in the queue.

use std::collections::HashMap;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::FutureExt;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tracing::Instrument;

use serde_json::{json, Value};

use crate::body::{failure, panic_message, run_body};
use crate::broker::{now, Broker, Delivery, TaskMessage};
use crate::control::TaskInfo;
use crate::error::TaskError;
use crate::events::Emitter;
use crate::metrics::{self, Outcome};
use crate::result::{TaskResult, TaskStatus};
use crate::task::Registry;
use canter_kernel::services::{self, Services};
use canter_kernel::stall::StallDetector;

mod presence;
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
        let events = Emitter::new(broker.clone(), &name, config.send_events);
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
        // Warm shutdown: no more fetching; running tasks get shutdown_timeout.
        tracing::info!(target: "canter::tasks", running = running.len(), "warm shutdown");
        let finished = tokio::select! {
            () = async { while running.join_next().await.is_some() {} } => true,
            () = tokio::time::sleep(this.config.shutdown_timeout) => false,
            () = cold => {
                tracing::warn!(target: "canter::tasks", running = running.len(), "cold shutdown: running tasks go back to the queue");
                false
            }
        };
        if !finished {
            running.abort_all();
            let left: Vec<Delivery> = in_flight
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .drain()
                .map(|(_, d)| d)
                .collect();
            for delivery in left {
                // Back to the queue at once, the attempt not counted: it was cut, not failed.
                let _ = this
                    .broker
                    .requeue(&delivery, now(), delivery.message.retries)
                    .await;
            }
        }
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

    async fn execute(&self, delivery: &Delivery) {
        let m = &delivery.message;
        // Instrumented, not entered: an entered span would leak into other tasks across awaits.
        let span = tracing::info_span!(target: "canter::tasks", "task", id = %m.id, name = %m.name, attempt = m.retries + 1);
        self.execute_in_span(delivery).instrument(span).await
    }

    /// A task body under the stall detector when the app's settings turn it on (a body that
    /// blocks the runtime holds up every task and request on its thread).
    fn watched<F: Future>(&self, name: &str, body: F) -> impl Future<Output = F::Output> {
        match self.config.stall_threshold {
            Some(threshold) => futures_util::future::Either::Left(StallDetector::new(
                body,
                threshold,
                "task",
                name.to_owned(),
                "a task body",
            )),
            None => futures_util::future::Either::Right(body),
        }
    }

    async fn execute_in_span(&self, delivery: &Delivery) {
        let m = &delivery.message;
        metrics::record(&m.name, Outcome::Received);
        self.events.received(m).await;
        let started = Instant::now();
        let revoked = self.broker.is_revoked(&m.id).await.unwrap_or(false);
        let expired = m.expires.is_some_and(|e| e < now());
        if revoked || expired {
            self.release_unique(m).await;
            self.store(&m.id, TaskResult::state(TaskStatus::Revoked), false)
                .await;
            let _ = self.broker.ack(delivery).await;
            self.processed.fetch_add(1, Ordering::Relaxed);
            metrics::record(&m.name, Outcome::Revoked);
            self.events
                .task(
                    "task-revoked",
                    m,
                    || json!({"expired": expired, "terminated": false}),
                )
                .await;
            tracing::info!(target: "canter::tasks", id = %m.id, name = %m.name, status = "REVOKED", expired, "skipped");
            return;
        }
        let Some((runner, options)) = self.registry.tasks.get(m.name.as_str()).cloned() else {
            tracing::error!(target: "canter::tasks", id = %m.id, name = %m.name, "unknown task: moved to the dead-letter record");
            let reason = format!("no task named {:?} is registered with this worker", m.name);
            let _ = self.broker.dead_letter(delivery, &reason).await;
            let failure = TaskResult {
                status: TaskStatus::Failure,
                result: None,
                error: Some(("NotRegistered".into(), reason.clone())),
            };
            self.store(&m.id, failure, false).await;
            self.processed.fetch_add(1, Ordering::Relaxed);
            metrics::record(&m.name, Outcome::Failed);
            self.events
                .task(
                    "task-failed",
                    m,
                    || json!({"exception": format!("NotRegistered: {reason}")}),
                )
                .await;
            return;
        };
        // Over its rate limit: back to the queue, due when the next window opens (the attempt
        // not counted).
        if let Some((limit, per)) = options.rate_limit {
            let window = (now() / per).floor();
            let opens = (window + 1.0) * per;
            match self
                .broker
                .rate_count(&format!("{}:{window}", m.name), opens)
                .await
            {
                Ok(count) if count > u64::from(limit) => {
                    let _ = self.broker.requeue(delivery, opens, m.retries).await;
                    tracing::debug!(target: "canter::tasks", id = %m.id, name = %m.name, limit, per, "rate limited until the next window");
                    return;
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(target: "canter::tasks", id = %m.id, "rate limit not checked (the broker failed): {e}")
                }
            }
        }
        self.store(
            &m.id,
            TaskResult::state(TaskStatus::Started),
            options.ignore_result,
        )
        .await;
        let _running = Running::start(self, m);
        self.events
            .task("task-started", m, || json!({"pid": std::process::id()}))
            .await;
        let acked_early = !options.acks_late;
        if acked_early {
            let _ = self.broker.ack(delivery).await;
        }

        // Beside the body (in this task, not one of its own: no spawn per task): keep the
        // lease alive (a dead worker stops renewing it), and watch for a revoke, which stops
        // the body at its next await.
        let visibility = self.config.visibility_timeout;
        let watch = async {
            let tick = (visibility / 3).min(Duration::from_secs(1));
            let mut renewed = Instant::now();
            loop {
                tokio::time::sleep(tick).await;
                if renewed.elapsed() >= visibility / 3 {
                    let _ = self.broker.extend(delivery, visibility).await;
                    renewed = Instant::now();
                }
                if self.broker.is_revoked(&m.id).await.unwrap_or(false) {
                    return;
                }
            }
        };
        let outcome = tokio::select! {
            outcome = self.watched(&m.name, run_body(&runner, m.args.clone(), &options)) => outcome,
            () = watch => {
                self.release_unique(m).await;
                self.store(&m.id, TaskResult::state(TaskStatus::Revoked), false).await;
                if !acked_early {
                    let _ = self.broker.ack(delivery).await;
                }
                metrics::record(&m.name, Outcome::Revoked);
                self.events.task("task-revoked", m, || json!({"terminated": true, "expired": false})).await;
                tracing::warn!(target: "canter::tasks", id = %m.id, name = %m.name, status = "REVOKED", "revoked while running: stopped");
                return;
            }
        };
        let runtime = started.elapsed().as_secs_f64();
        let elapsed_ms = runtime * 1000.0;
        metrics::ran(&m.name, runtime);
        match outcome {
            Ok(value) => {
                metrics::record(&m.name, Outcome::Succeeded);
                let shown = self.events.on().then(|| value.to_string());
                let chord = crate::canvas::chord_of(m);
                let mut next: Vec<TaskMessage> = crate::canvas::next_in_chain(m, &value)
                    .into_iter()
                    .collect();
                next.extend(crate::canvas::callbacks(m, &value));
                // A chord member's result is kept even if ignored: the last member gathers them.
                let ignore = options.ignore_result && chord.is_none();
                let success = TaskResult {
                    status: TaskStatus::Success,
                    result: Some(value),
                    error: None,
                };
                // Released before the result shows: whoever sees it may enqueue the same again.
                self.release_unique(m).await;
                let stored = self.store(&m.id, success, ignore).await;
                self.events
                    .task(
                        "task-succeeded",
                        m,
                        || json!({"result": shown, "runtime": runtime}),
                    )
                    .await;
                // The next steps go out before this one is acked (at least once). A result the
                // broker could not take (it is down) is not acked either: the task runs again
                // once the broker is back, rather than its result being lost.
                let done = stored && self.hand_over(m, chord, next).await;
                if !acked_early {
                    if done {
                        let _ = self.broker.ack(delivery).await;
                    } else {
                        let _ = self.broker.drop_lease(delivery).await;
                    }
                }
                tracing::info!(target: "canter::tasks", id = %m.id, name = %m.name, status = "SUCCESS", duration_ms = elapsed_ms, "done");
            }
            Err(error) => {
                if options.retries_on(&error) && m.retries < options.max_retries {
                    metrics::record(&m.name, Outcome::Retried);
                    self.events
                        .task(
                            "task-retried",
                            m,
                            || json!({"exception": error.to_string()}),
                        )
                        .await;
                    let wait = match &error {
                        TaskError::Retry { countdown: Some(c) } => Duration::from_secs_f64(*c),
                        _ => options.backoff(m.retries + 1),
                    };
                    self.store(
                        &m.id,
                        TaskResult::state(TaskStatus::Retry),
                        options.ignore_result,
                    )
                    .await;
                    let (eta, retries) = (now() + wait.as_secs_f64(), m.retries + 1);
                    let sent = if acked_early {
                        // Its message is gone: the retry is a new one (same id), as Celery sends.
                        let again = TaskMessage {
                            eta,
                            retries,
                            ..m.clone()
                        };
                        self.broker.publish(again).await
                    } else {
                        self.broker.requeue(delivery, eta, retries).await
                    };
                    if let Err(e) = sent {
                        tracing::error!(target: "canter::tasks", id = %m.id, name = %m.name, "the retry could not be queued: {e}");
                    }
                    tracing::warn!(target: "canter::tasks", id = %m.id, name = %m.name, status = "RETRY", attempt = m.retries + 1, in_s = wait.as_secs_f64(), "{error}");
                } else {
                    metrics::record(&m.name, Outcome::Failed);
                    self.release_unique(m).await;
                    let stored = self.store(&m.id, failure(&error, m.retries), false).await;
                    self.events
                        .task("task-failed", m, || {
                            let (kind, message) =
                                failure(&error, m.retries).error.unwrap_or_default();
                            json!({"exception": format!("{kind}: {message}"), "runtime": runtime})
                        })
                        .await;
                    // A failed chord member fails the chord: its callback never runs.
                    if let Some((_, _, callback)) = crate::canvas::chord_of(m) {
                        let (kind, message) = failure(&error, m.retries).error.unwrap_or_default();
                        let chord_error = TaskResult {
                            status: TaskStatus::Failure,
                            result: None,
                            error: Some((
                                "ChordError".into(),
                                format!("member {} failed: {kind}: {message}", m.id),
                            )),
                        };
                        if let Some(id) = &callback.task_id {
                            self.store(id, chord_error, false).await;
                        }
                    }
                    // Its error callbacks, with its id (sent once its failure is stored).
                    for errback in crate::canvas::errbacks(m) {
                        if let Err(e) = self.broker.publish(errback).await {
                            tracing::error!(target: "canter::tasks", id = %m.id, "an error callback could not be sent: {e}");
                        }
                    }
                    if !acked_early {
                        if stored {
                            let _ = self.broker.ack(delivery).await;
                        } else {
                            let _ = self.broker.drop_lease(delivery).await;
                        }
                    }
                    tracing::error!(target: "canter::tasks", id = %m.id, name = %m.name, status = "FAILURE", duration_ms = elapsed_ms, "{error}");
                }
            }
        }
    }
}

impl Worker {
    /// A unique task has ended: another with the same arguments may be enqueued.
    async fn release_unique(&self, m: &TaskMessage) {
        let unique = self
            .registry
            .tasks
            .get(m.name.as_str())
            .is_some_and(|(_, options)| options.unique.is_some());
        if unique {
            let key = crate::task::unique_key(&m.name, &m.args);
            if let Err(e) = self.broker.release_unique(&key, &m.id).await {
                tracing::warn!(target: "canter::tasks", id = %m.id, "releasing the unique claim failed (it lapses after an hour): {e}");
            }
        }
    }

    /// Sends what follows a finished task: its chord's callback (if it is the last member),
    /// its chain's next step and its callbacks. False (logged) if the broker could not take
    /// them.
    async fn hand_over(
        &self,
        m: &TaskMessage,
        chord: Option<(String, u64, crate::canvas::Signature)>,
        next: Vec<TaskMessage>,
    ) -> bool {
        if let Some((group_id, size, callback)) = chord {
            if let Err(e) = self
                .finish_chord_part(&group_id, &m.id, size, &callback)
                .await
            {
                tracing::error!(target: "canter::tasks", id = %m.id, group_id, "the chord's callback could not be sent: {e}");
                return false;
            }
        }
        for next in next {
            let next_id = next.id.clone();
            if let Err(e) = self.broker.publish(next).await {
                tracing::error!(target: "canter::tasks", id = %m.id, next = %next_id, "what follows the task (chain step or callback) could not be sent: {e}");
                return false;
            }
        }
        true
    }

    /// Counts a finished chord member; the last one sends the callback with every member's
    /// result, in the group's order.
    async fn finish_chord_part(
        &self,
        group_id: &str,
        member: &str,
        size: u64,
        callback: &crate::canvas::Signature,
    ) -> Result<(), TaskError> {
        let done = self.broker.chord_part_done(group_id, member).await?;
        if done != Some(size) {
            return Ok(());
        }
        let members: Vec<String> = self
            .broker
            .get_result(&crate::canvas::members_key(group_id))
            .await?
            .and_then(|r| r.result)
            .and_then(|ids| serde_json::from_value(ids).ok())
            .ok_or_else(|| {
                TaskError::Broker(format!(
                    "chord {group_id}: its members' record is gone (older than the results' expiry?)"
                ))
            })?;
        let mut results = Vec::with_capacity(members.len());
        for member in &members {
            let stored = self.broker.get_result(member).await?;
            results.push(stored.and_then(|r| r.result).unwrap_or(Value::Null));
        }
        self.broker
            .publish(crate::canvas::chord_callback(callback, results))
            .await?;
        // Sent: a redelivered member is not counted again, so the record is done with.
        let _ = self
            .broker
            .forget(&crate::canvas::members_key(group_id))
            .await;
        Ok(())
    }
}

/// A task that is running: listed as active and counted in the gauge until dropped (however
/// the task ends, aborted by a cold shutdown included).
struct Running<'a> {
    worker: &'a Worker,
    id: String,
}

impl<'a> Running<'a> {
    fn start(worker: &'a Worker, m: &TaskMessage) -> Self {
        let started = now();
        metrics::started(&m.name, started - m.eta);
        let info = TaskInfo {
            started: Some(started),
            ..TaskInfo::of(m, Some(&worker.name))
        };
        worker
            .active
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(m.id.clone(), info);
        Running {
            worker,
            id: m.id.clone(),
        }
    }
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        metrics::stopped();
        self.worker
            .active
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&self.id);
        self.worker.processed.fetch_add(1, Ordering::Relaxed);
    }
}
