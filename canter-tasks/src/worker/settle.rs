//! The last step of a task's turn: its outcome settled. A success stores its result and sends
//! what follows; a failure with retries left goes back to the queue (or out again, if its
//! message was acked at the start); a final failure is stored, fails its chord and sends its
//! error callbacks. The message is acked once that is done, or left to come back if the broker
//! could not take the result.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::Worker;
use crate::body::failure;
use crate::broker::{now, Delivery, TaskMessage};
use crate::error::TaskError;
use crate::metrics::{self, Outcome};
use crate::result::{TaskResult, TaskStatus};
use crate::task::TaskOptions;

impl Worker {
    pub(super) async fn settle(
        &self,
        delivery: &Delivery,
        options: &TaskOptions,
        outcome: Result<Value, TaskError>,
        started: Instant,
    ) {
        let m = &delivery.message;
        let runtime = started.elapsed().as_secs_f64();
        metrics::ran(&m.name, runtime);
        match outcome {
            Ok(value) => self.succeeded(delivery, options, value, runtime).await,
            Err(error) if options.retries_on(&error) && m.retries < options.max_retries => {
                self.retry(delivery, options, &error).await
            }
            Err(error) => self.failed(delivery, options, &error, runtime).await,
        }
    }

    async fn succeeded(
        &self,
        delivery: &Delivery,
        options: &TaskOptions,
        value: Value,
        runtime: f64,
    ) {
        let m = &delivery.message;
        metrics::record(&m.name, Outcome::Succeeded);
        let shown = self.events.on().then(|| value.to_string());
        let shown_value = value.clone();
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
        // The next steps go out before this one is acked (at least once). A result the broker
        // could not take (it is down) is not acked either: the task runs again once the broker
        // is back, rather than its result being lost.
        let done = stored
            && self.hand_over(m, chord, next).await
            && self
                .count_chord_part(m, TaskStatus::Success, &shown_value)
                .await;
        self.finish_message(delivery, options, done).await;
        tracing::info!(target: "canter::tasks", id = %m.id, name = %m.name, status = "SUCCESS", duration_ms = runtime * 1000.0, "done");
    }

    /// Another attempt, after the task's countdown or its backoff.
    async fn retry(&self, delivery: &Delivery, options: &TaskOptions, error: &TaskError) {
        let m = &delivery.message;
        metrics::record(&m.name, Outcome::Retried);
        self.events
            .task(
                "task-retried",
                m,
                || json!({"exception": error.to_string()}),
            )
            .await;
        let wait = match error {
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
        let sent = if options.acks_late {
            self.broker.requeue(delivery, eta, retries).await
        } else {
            // Its message is gone: the retry is a new one (same id), as Celery sends.
            let again = TaskMessage {
                eta,
                retries,
                ..m.clone()
            };
            self.broker.publish(again).await
        };
        if let Err(e) = sent {
            tracing::error!(target: "canter::tasks", id = %m.id, name = %m.name, "the retry could not be queued: {e}");
        }
        tracing::warn!(target: "canter::tasks", id = %m.id, name = %m.name, status = "RETRY", attempt = m.retries + 1, in_s = wait.as_secs_f64(), "{error}");
    }

    /// FAILURE for good: stored, its chord failed, its error callbacks sent.
    async fn failed(
        &self,
        delivery: &Delivery,
        options: &TaskOptions,
        error: &TaskError,
        runtime: f64,
    ) {
        let m = &delivery.message;
        metrics::record(&m.name, Outcome::Failed);
        self.release_unique(m).await;
        let stored = self.store(&m.id, failure(error, m.retries), false).await;
        let (kind, message) = failure(error, m.retries).error.unwrap_or_default();
        self.events
            .task(
                "task-failed",
                m,
                || json!({"exception": format!("{kind}: {message}"), "runtime": runtime}),
            )
            .await;
        // A failed chord member fails the chord: its callback never runs.
        if let Some((_, _, callback)) = crate::canvas::chord_of(m) {
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
        let exception = json!({"exc_type": kind, "exc_message": [message], "exc_module": "canter"});
        self.count_chord_part(m, TaskStatus::Failure, &exception)
            .await;
        // Its error callbacks, with its id (sent once its failure is stored).
        for errback in crate::canvas::errbacks(m) {
            if let Err(e) = self.broker.publish(errback).await {
                tracing::error!(target: "canter::tasks", id = %m.id, "an error callback could not be sent: {e}");
            }
        }
        self.finish_message(delivery, options, stored).await;
        tracing::error!(target: "canter::tasks", id = %m.id, name = %m.name, status = "FAILURE", duration_ms = runtime * 1000.0, "{error}");
    }

    /// A late-acked task's message once it is settled: acked if `done`, else left to come back
    /// after the visibility timeout.
    async fn finish_message(&self, delivery: &Delivery, options: &TaskOptions, done: bool) {
        if !options.acks_late {
            return;
        }
        if done {
            let _ = self.broker.ack(delivery).await;
        } else {
            let _ = self.broker.drop_lease(delivery).await;
        }
    }
}
