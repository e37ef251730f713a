//! The article's Celery task, and a small one to show arguments and results.
//!
//! ```python
//! @shared_task
//! def long_running_task():
//!     time.sleep(5)
//!     return "Task completed!"
//! ```
//!
//! `POST /tasks/long-running/` enqueues it; `GET /tasks/<id>/` reports its state and result.
//! Under `runserver` an in-process worker runs them; `demo worker` runs a separate one.
//! `demo.heartbeat` is periodic (Celery beat): every 10 s it logs the time; `demo beat` sends
//! it (so does `demo worker -B`, and `runserver` with its in-process worker).

use canter::tasks::{task, TaskError, Tasks};

/// A blocking body (as in the article: `time.sleep`): canter runs it on the blocking pool, so
/// the worker's runtime is never held up.
#[task(name = "demo.long_running_task")]
pub fn long_running_task(seconds: u64) -> String {
    std::thread::sleep(std::time::Duration::from_secs(seconds));
    "Task completed!".to_owned()
}

#[task(name = "demo.add")]
pub async fn add(a: i64, b: i64) -> Result<i64, TaskError> {
    a.checked_add(b).ok_or_else(|| TaskError::Failed {
        kind: "OverflowError".into(),
        message: format!("{a} + {b} does not fit in 64 bits"),
    })
}

/// A chord's callback: the sum of the group's results (`POST /tasks/pipeline/`).
#[task(name = "demo.sum")]
pub async fn sum(values: Vec<i64>) -> Result<i64, TaskError> {
    Ok(values.iter().sum())
}

/// The periodic one: a log line with the time it ran.
#[task(name = "demo.heartbeat", ignore_result)]
pub async fn heartbeat() -> Result<(), TaskError> {
    let at = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0);
    tracing::info!(target: "demo", at, "heartbeat");
    Ok(())
}

/// How often `demo.heartbeat` runs.
pub const HEARTBEAT_EVERY: std::time::Duration = std::time::Duration::from_secs(10);

/// The demo's tasks (what its workers know by name) and its periodic entry.
pub fn tasks() -> Tasks {
    Tasks::new()
        .task::<long_running_task>()
        .task::<add>()
        .task::<sum>()
        .every::<heartbeat>("demo.heartbeat", HEARTBEAT_EVERY, serde_json::json!([]))
}
