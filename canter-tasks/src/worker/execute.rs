//! One task's turn on a worker, in three steps: **check** (revoked, expired, unknown or over its
//! rate limit: it never starts), **run** (the body, beside its lease renewal and revoke watch)
//! and **settle** (see `settle.rs`: the result stored, what follows sent, the message acked,
//! retried or failed).

use std::future::Future;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tracing::Instrument;

use super::Worker;
use crate::body::run_body;
use crate::broker::{now, Delivery, TaskMessage};
use crate::control::TaskInfo;
use crate::error::TaskError;
use crate::metrics::{self, Outcome};
use crate::request::Request;
use crate::result::{TaskResult, TaskStatus};
use crate::task::{Runner, TaskOptions};
use canter_kernel::stall::StallDetector;

/// A task the checks let start: its body and options.
pub(super) struct Cleared {
    pub(super) runner: Runner,
    pub(super) options: TaskOptions,
}

impl Worker {
    pub(super) async fn execute(&self, delivery: &Delivery) {
        let m = &delivery.message;
        // Instrumented, not entered: an entered span would leak into other tasks across awaits.
        let span = tracing::info_span!(target: "canter::tasks", "task", id = %m.id, name = %m.name, attempt = m.retries + 1);
        self.execute_in_span(delivery).instrument(span).await
    }

    async fn execute_in_span(&self, delivery: &Delivery) {
        let m = &delivery.message;
        metrics::record(&m.name, Outcome::Received);
        self.events.received(m).await;
        let started = Instant::now();
        let Some(cleared) = self.check(delivery).await else {
            return;
        };
        self.begin(delivery, &cleared.options).await;
        // Listed as active until the task is settled.
        let _running = Running::start(self, m);
        let Some(outcome) = self.run_body_watched(delivery, &cleared).await else {
            return;
        };
        self.settle(delivery, &cleared.options, outcome, started)
            .await;
    }

    /// The checks before a start: `None` if the task does not start now (revoked or expired:
    /// REVOKED; unknown: dead-lettered; over its rate limit: back to the queue), each handled.
    async fn check(&self, delivery: &Delivery) -> Option<Cleared> {
        let m = &delivery.message;
        let revoked = self.broker.is_revoked(&m.id).await.unwrap_or(false);
        let expired = m.expires.is_some_and(|e| e < now());
        if revoked || expired {
            self.skip_revoked(delivery, expired).await;
            return None;
        }
        if !m.kwargs.is_object() {
            self.refuse_invalid(delivery).await;
            return None;
        }
        let Some((runner, options)) = self.registry.tasks.get(m.name.as_str()).cloned() else {
            self.refuse_unknown(delivery).await;
            return None;
        };
        if self.over_rate_limit(delivery, &options).await {
            return None;
        }
        Some(Cleared { runner, options })
    }

    /// A revoked or expired task: stored as REVOKED and acked, never run.
    async fn skip_revoked(&self, delivery: &Delivery, expired: bool) {
        let m = &delivery.message;
        self.release_unique(m).await;
        self.count_chord_part(m, TaskStatus::Revoked, &revoked_exception())
            .await;
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
    }

    /// A message whose keyword arguments are not a mapping (Celery's `InvalidTaskError`):
    /// dead-lettered, its FAILURE stored.
    async fn refuse_invalid(&self, delivery: &Delivery) {
        let m = &delivery.message;
        let reason = format!(
            "InvalidTaskError: the keyword arguments of {} are not a mapping: {}",
            m.name, m.kwargs
        );
        tracing::error!(target: "canter::tasks", id = %m.id, name = %m.name, "{reason}: moved to the dead-letter record");
        let _ = self.broker.dead_letter(delivery, &reason).await;
        let failure = TaskResult {
            status: TaskStatus::Failure,
            result: None,
            error: Some(("InvalidTaskError".into(), reason.clone())),
        };
        self.store(&m.id, failure, false).await;
        self.processed.fetch_add(1, Ordering::Relaxed);
        metrics::record(&m.name, Outcome::Failed);
        self.events
            .task("task-failed", m, || json!({"exception": reason}))
            .await;
    }

    /// A task no task of this worker's registry answers to: dead-lettered, stored as a
    /// `NotRegistered` failure.
    async fn refuse_unknown(&self, delivery: &Delivery) {
        let m = &delivery.message;
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
    }

    /// Over its rate limit: back to the queue, due when the next window opens (the attempt
    /// not counted). True if so.
    async fn over_rate_limit(&self, delivery: &Delivery, options: &TaskOptions) -> bool {
        let m = &delivery.message;
        let Some((limit, per)) = self.rate_limit_of(&m.name, options) else {
            return false;
        };
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
                true
            }
            Ok(_) => false,
            Err(e) => {
                tracing::warn!(target: "canter::tasks", id = %m.id, "rate limit not checked (the broker failed): {e}");
                false
            }
        }
    }

    /// The task starts: STARTED stored, the event sent, and its message acked now if the task
    /// acks early.
    async fn begin(&self, delivery: &Delivery, options: &TaskOptions) {
        let m = &delivery.message;
        self.store(
            &m.id,
            TaskResult::state(TaskStatus::Started),
            options.ignore_result,
        )
        .await;
        self.events
            .task("task-started", m, || json!({"pid": std::process::id()}))
            .await;
        if !options.acks_late {
            let _ = self.broker.ack(delivery).await;
        }
    }

    /// Runs the body beside the lease's renewal and the revoke watch (in this task, not one of
    /// its own: no spawn per task). `None` if it was revoked while running (stopped at its
    /// next await, stored as REVOKED).
    async fn run_body_watched(
        &self,
        delivery: &Delivery,
        cleared: &Cleared,
    ) -> Option<Result<Value, TaskError>> {
        let m = &delivery.message;
        let request = Request::of(m, &cleared.options, &self.name, false);
        let body = run_body(&cleared.runner, Arc::new(request), &cleared.options);
        tokio::select! {
            outcome = self.watched(&m.name, body) => Some(outcome),
            () = self.lease_and_revoke_watch(delivery) => {
                self.stop_revoked(delivery, &cleared.options).await;
                None
            }
        }
    }

    /// Keeps the lease alive (a dead worker stops renewing it); completes when the task is
    /// revoked.
    async fn lease_and_revoke_watch(&self, delivery: &Delivery) {
        let visibility = self.config.visibility_timeout;
        let tick = (visibility / 3).min(Duration::from_secs(1));
        let mut renewed = Instant::now();
        loop {
            tokio::time::sleep(tick).await;
            if renewed.elapsed() >= visibility / 3 {
                let _ = self.broker.extend(delivery, visibility).await;
                renewed = Instant::now();
            }
            if self
                .broker
                .is_revoked(&delivery.message.id)
                .await
                .unwrap_or(false)
            {
                return;
            }
        }
    }

    /// A task revoked while running, its body stopped: REVOKED, acked.
    async fn stop_revoked(&self, delivery: &Delivery, options: &TaskOptions) {
        let m = &delivery.message;
        self.release_unique(m).await;
        self.count_chord_part(m, TaskStatus::Revoked, &revoked_exception())
            .await;
        self.store(&m.id, TaskResult::state(TaskStatus::Revoked), false)
            .await;
        if options.acks_late {
            let _ = self.broker.ack(delivery).await;
        }
        metrics::record(&m.name, Outcome::Revoked);
        self.events
            .task(
                "task-revoked",
                m,
                || json!({"terminated": true, "expired": false}),
            )
            .await;
        tracing::warn!(target: "canter::tasks", id = %m.id, name = %m.name, status = "REVOKED", "revoked while running: stopped");
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
}

/// A revoked task's value in a chord record (Celery's `TaskRevokedError`).
fn revoked_exception() -> Value {
    json!({"exc_type": "TaskRevokedError", "exc_message": ["revoked"], "exc_module": "celery.exceptions"})
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
        worker.remote.count(&m.name);
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
