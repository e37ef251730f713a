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

/// The demo's tasks (what its workers know by name).
pub fn tasks() -> Tasks {
    Tasks::new().task::<long_running_task>().task::<add>()
}
