//! Inspection and control (Celery's `celery inspect …` / `celery control …` / `celery purge`),
//! from code and from the management CLI (`inspect`, `purge`, `revoke`, `retry-dead-letters`).
//!
//! Workers announce themselves in the broker every [`HEARTBEAT_EVERY`] with a snapshot of what
//! they hold (running, reserved, waiting for their ETA), so any process sharing the broker sees
//! every worker without asking it: no broadcast round trip, and a worker that died shows as
//! not alive (its last heartbeat ages) instead of not answering.
//!
//! ```no_run
//! # async fn demo() -> Result<(), canter_tasks::TaskError> {
//! use canter_tasks::control;
//! for worker in control::workers().await? {
//!     println!("{} alive={} running={}", worker.name, worker.alive(), worker.active.len());
//! }
//! let removed = control::purge("celery").await?;
//! # Ok(()) }
//! ```

use std::collections::BTreeSet;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::broker::{broker, now, TaskMessage};
use crate::error::TaskError;

/// How often a worker sends its snapshot.
pub const HEARTBEAT_EVERY: Duration = Duration::from_secs(2);
/// A worker not heard of for this long is not alive (three missed heartbeats).
pub const ALIVE_WITHIN: Duration = Duration::from_secs(6);
/// Snapshots older than this are forgotten by the broker.
pub const FORGET_AFTER: f64 = 3600.0;

/// A worker as it last announced itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkerInfo {
    /// Unique per worker (`worker-<pid>@<uuid>`).
    pub name: String,
    pub hostname: String,
    pub pid: u32,
    pub queues: Vec<String>,
    pub concurrency: usize,
    /// When it started, seconds since the epoch.
    pub started: f64,
    /// When this snapshot was sent, seconds since the epoch.
    pub heartbeat: f64,
    /// Task runs ended since it started (any outcome; a retried attempt counts).
    pub processed: u64,
    /// Running now.
    pub active: Vec<TaskInfo>,
    /// Taken from the queue, waiting for a free slot.
    pub reserved: Vec<TaskInfo>,
    /// Taken from the queue, waiting for their ETA.
    pub scheduled: Vec<TaskInfo>,
    /// `canter-tasks <version>`.
    pub software: String,
}

impl WorkerInfo {
    /// Seconds since its last heartbeat.
    pub fn heartbeat_age(&self) -> f64 {
        (now() - self.heartbeat).max(0.0)
    }

    /// Heard of within [`ALIVE_WITHIN`].
    pub fn alive(&self) -> bool {
        self.heartbeat_age() <= ALIVE_WITHIN.as_secs_f64()
    }
}

/// A task as inspection shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskInfo {
    pub id: String,
    pub name: String,
    pub queue: String,
    pub args: Value,
    /// Keyword arguments (a snapshot written before they existed has none).
    #[serde(default)]
    pub kwargs: Value,
    /// Not before (seconds since the epoch).
    pub eta: f64,
    pub retries: u32,
    /// When it started running (active tasks only).
    pub started: Option<f64>,
    /// The worker holding it, if one does.
    pub worker: Option<String>,
}

impl TaskInfo {
    pub fn of(message: &TaskMessage, worker: Option<&str>) -> Self {
        TaskInfo {
            id: message.id.clone(),
            name: message.name.clone(),
            queue: message.queue.clone(),
            args: message.args.clone(),
            kwargs: message.kwargs.clone(),
            eta: message.eta,
            retries: message.retries,
            started: None,
            worker: worker.map(str::to_owned),
        }
    }
}

/// A task set aside because no worker could run it (unknown name, unreadable message).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeadLetter {
    /// The task id, when the message had one.
    pub id: String,
    pub name: String,
    pub queue: String,
    pub args: Value,
    /// Keyword arguments (`null` where the record has none).
    #[serde(default)]
    pub kwargs: Value,
    pub reason: String,
    /// When it was set aside, seconds since the epoch.
    pub at: f64,
    /// Whether `retry_dead_letters` can send it again (an unreadable message cannot).
    pub retriable: bool,
}

/// A queue and the tasks waiting in it (not taken by a worker).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueueInfo {
    pub name: String,
    pub waiting: u64,
    /// Alive workers consuming it.
    pub consumers: usize,
}

/// Every worker heard of in the last hour, alive or not, by name.
pub async fn workers() -> Result<Vec<WorkerInfo>, TaskError> {
    let mut workers = broker()?.workers().await?;
    workers.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(workers)
}

/// Queue lengths: the queues the broker knows, those alive workers consume, `celery`, and
/// `extra`.
pub async fn queues(extra: &[String]) -> Result<Vec<QueueInfo>, TaskError> {
    let broker = broker()?;
    let workers: Vec<WorkerInfo> = broker
        .workers()
        .await?
        .into_iter()
        .filter(WorkerInfo::alive)
        .collect();
    let mut names: BTreeSet<String> = broker.queues().await?.into_iter().collect();
    names.insert("celery".into());
    names.extend(extra.iter().cloned());
    names.extend(workers.iter().flat_map(|w| w.queues.iter().cloned()));
    let mut out = Vec::new();
    for name in names {
        out.push(QueueInfo {
            waiting: broker.queue_length(&name).await?,
            consumers: workers.iter().filter(|w| w.queues.contains(&name)).count(),
            name,
        });
    }
    Ok(out)
}

/// Tasks running on alive workers.
pub async fn active() -> Result<Vec<TaskInfo>, TaskError> {
    Ok(alive_workers()
        .await?
        .into_iter()
        .flat_map(|w| w.active)
        .collect())
}

/// Tasks alive workers have taken and not started (waiting for a free slot).
pub async fn reserved() -> Result<Vec<TaskInfo>, TaskError> {
    Ok(alive_workers()
        .await?
        .into_iter()
        .flat_map(|w| w.reserved)
        .collect())
}

/// Tasks due later: held by alive workers for their ETA, or waiting in the broker for it.
pub async fn scheduled() -> Result<Vec<TaskInfo>, TaskError> {
    let broker = broker()?;
    let mut tasks: Vec<TaskInfo> = alive_workers()
        .await?
        .into_iter()
        .flat_map(|w| w.scheduled)
        .collect();
    tasks.extend(broker.scheduled().await?);
    tasks.sort_by(|a, b| a.eta.total_cmp(&b.eta));
    Ok(tasks)
}

async fn alive_workers() -> Result<Vec<WorkerInfo>, TaskError> {
    Ok(workers()
        .await?
        .into_iter()
        .filter(WorkerInfo::alive)
        .collect())
}

/// Removes every task waiting in `queue` (not those workers hold); returns how many.
pub async fn purge(queue: &str) -> Result<u64, TaskError> {
    broker()?.purge(queue).await
}

/// Revokes task `id`: skipped if it has not started, stopped at its next await if it runs.
/// On a broker with Celery's remote control (Redis), Celery's `revoke` is broadcast too, so a
/// Python worker holding it skips it as well.
pub async fn revoke(id: &str) -> Result<(), TaskError> {
    broker()?.revoke(id).await?;
    let revoke = serde_json::json!({"task_id": id, "terminate": false, "signal": "SIGTERM"});
    crate::mailbox::cast("revoke", revoke).await
}

/// The dead-letter record, oldest first.
pub async fn dead_letters() -> Result<Vec<DeadLetter>, TaskError> {
    broker()?.dead_letters().await
}

/// Sends every retriable dead letter back to its queue (a fresh first attempt) and removes it
/// from the record; returns how many went. Their FAILURE results go first from the result
/// backend (a transport removes them only from its own store, and results may be elsewhere).
pub async fn retry_dead_letters() -> Result<u64, TaskError> {
    let broker = broker()?;
    for letter in broker.dead_letters().await? {
        if letter.retriable {
            broker.forget(&letter.id).await?;
        }
    }
    broker.retry_dead_letters().await
}
