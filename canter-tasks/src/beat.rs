//! Periodic tasks (Celery beat): entries that enqueue a task at fixed intervals.
//!
//! Due times sit on a grid every scheduler computes alike (multiples of the interval since the
//! Unix epoch), and a fire is *claimed* in the broker before it is enqueued
//! ([`Broker::claim_fire`]): however many schedulers run — a `beat` process, workers started
//! with `-B`, a restarted one — each due time fires exactly once.
//!
//! Catch-up policy: a scheduler that starts (or restarts) after due times passed unfired fires
//! the latest of them once, at once, and logs how many earlier ones it skipped (Celery beat
//! likewise runs a missed task once, not once per missed interval).
//!
//! ```no_run
//! # use std::time::Duration;
//! # use canter_tasks::{task, TaskError, beat::Beat};
//! #[task(name = "demo.heartbeat", crate = canter_tasks)]
//! async fn heartbeat() -> Result<(), TaskError> { Ok(()) }
//!
//! let beat = Beat::new().every::<heartbeat>("heartbeat", Duration::from_secs(10), serde_json::json!([]));
//! ```

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use crate::broker::{now, Broker, PUBLISHED};
use crate::error::TaskError;
use crate::task::{Task, TaskOptions};
use crate::ApplyOptions;

/// One periodic entry: task `task` with `args`, every `every`.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The entry's name: what fires are recorded under (unique per schedule).
    pub name: String,
    pub task: &'static str,
    pub options: TaskOptions,
    pub args: Value,
    pub every: Duration,
}

impl Entry {
    /// The latest due time at or before `at` (seconds since the epoch).
    fn due_at_or_before(&self, at: f64) -> f64 {
        let period = self.every.as_secs_f64();
        (at / period).floor() * period
    }
}

/// The scheduler: a set of entries, run against a broker.
#[derive(Debug, Clone, Default)]
pub struct Beat {
    entries: Vec<Entry>,
}

impl Beat {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds an entry: task `T` with `args` (a JSON array), every `every` (at least 10 ms).
    pub fn every<T: Task>(mut self, name: &str, every: Duration, args: Value) -> Self {
        self.entries.push(Entry {
            name: name.to_owned(),
            task: T::NAME,
            options: T::options(),
            args,
            every: every.max(Duration::from_millis(10)),
        });
        self
    }

    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// Schedules until `shutdown` completes.
    pub async fn run(
        self,
        broker: Arc<dyn Broker>,
        shutdown: impl Future<Output = ()> + Send,
    ) -> Result<(), TaskError> {
        if self.entries.is_empty() {
            return Ok(());
        }
        tokio::pin!(shutdown);
        // The last due time each entry was handled for here (fired by us or by another).
        let mut handled: Vec<Option<f64>> = vec![None; self.entries.len()];
        for entry in &self.entries {
            let due = entry.due_at_or_before(now());
            if let Some(last) = broker.last_fire(&entry.name).await? {
                let missed = ((due - last) / entry.every.as_secs_f64()).round() as i64 - 1;
                if missed > 0 {
                    tracing::warn!(target: "canter::tasks", entry = %entry.name, missed, "beat was down: the latest missed run fires now, {missed} earlier one(s) are skipped");
                }
            }
        }
        tracing::info!(target: "canter::tasks", entries = self.entries.len(), "beat: scheduling");
        loop {
            let at = now();
            let mut next = f64::INFINITY;
            for (entry, handled) in self.entries.iter().zip(handled.iter_mut()) {
                let due = entry.due_at_or_before(at);
                if *handled != Some(due) {
                    if broker.claim_fire(&entry.name, due).await? {
                        self.fire(&*broker, entry, due).await?;
                    }
                    *handled = Some(due);
                }
                next = next.min(due + entry.every.as_secs_f64());
            }
            let wait = Duration::from_secs_f64((next - now()).max(0.0));
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = &mut shutdown => return Ok(()),
            }
        }
    }

    async fn fire(&self, broker: &dyn Broker, entry: &Entry, due: f64) -> Result<(), TaskError> {
        // Not worth running once the next one is due (Celery beat sets no expiry by default;
        // a backlog of heartbeats helps nobody).
        let options = ApplyOptions {
            expires: Some(entry.every.as_secs_f64()),
            ..Default::default()
        };
        let message =
            crate::broker::message(entry.task, &entry.options, entry.args.clone(), options);
        let id = message.id.clone();
        broker.publish(message).await?;
        PUBLISHED.notify_waiters();
        tracing::info!(target: "canter::tasks", entry = %entry.name, task = entry.task, id, due, "beat: sent");
        Ok(())
    }
}
