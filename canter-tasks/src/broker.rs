//! Brokers: where enqueued tasks wait and results are kept. The same API over each;
//! [`SqliteBroker`](crate::brokers::SqliteBroker) is the embedded, durable default;
//! [`RedisBroker`](crate::brokers::RedisBroker) shares queues and results with Python Celery.

use std::sync::Arc;

use serde_json::Value;

use crate::error::TaskError;
use crate::result::{TaskResult, TaskStatus};
use crate::task::Task;

#[macro_use]
mod forward;
mod parts;

pub use parts::{Broker, Control, Coordination, ResultBackend, Transport};

/// One enqueued task.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TaskMessage {
    pub id: String,
    pub name: String,
    pub queue: String,
    pub priority: i64,
    /// Positional arguments, a JSON array.
    pub args: Value,
    /// Keyword arguments, a JSON object (Celery's `kwargs`; `{}` when there are none). Anything
    /// else (a Python producer's mistake) is refused by the worker: an `InvalidTaskError`
    /// FAILURE and a dead letter.
    pub kwargs: Value,
    /// Not before this time (seconds since the epoch).
    pub eta: f64,
    /// Not after this time: skipped as REVOKED when it comes due later.
    pub expires: Option<f64>,
    /// Attempts so far (0 on the first run).
    pub retries: u32,
    /// What runs after it (Celery protocol v2's `embed`: `{"chain": [signatures, last first],
    /// …}`), or `None`.
    pub embed: Option<Value>,
    /// The task that sent it, if a task did (Celery's `parent_id` header).
    pub parent_id: Option<String>,
    /// The first task of its workflow (Celery's `root_id` header); `None`: itself.
    pub root_id: Option<String>,
    /// Delivered before to a worker that did not finish it (the broker says so when it can).
    pub redelivered: bool,
    /// The group (chord header) it is a member of, in Celery's chord protocol (the `group`
    /// header; carried by the Redis and RabbitMQ wire only).
    pub group: Option<String>,
    /// Its place in that group (`group_index`).
    pub group_index: Option<u64>,
}

/// One member's outcome as a Celery chord records it: its id, state and value (a failure's
/// value is Celery's exception record).
pub type ChordPart = (String, TaskStatus, Value);

/// A task taken from a queue, leased to this worker until acked, released or the lease runs out
/// (then any worker gets it again: a worker dying mid-task loses nothing).
#[derive(Debug, Clone)]
pub struct Delivery {
    pub message: TaskMessage,
    pub lease: String,
}

/// A task's priority as every canter broker reads it: 0 to 9, **0 first** (Celery's order on
/// Redis, where a lower number is served first; the default, 0, is served first too). Out of
/// range is clamped. Redis serves priorities in kombu's steps (0–2, 3–5, 6–8, 9), each step in
/// arrival order; the embedded and memory brokers serve each number apart.
pub fn clamp_priority(priority: i64) -> i64 {
    priority.clamp(0, 9)
}

/// The largest message a broker takes by default (`[tasks] max_message_size`): 10 MiB.
pub const DEFAULT_MAX_MESSAGE_SIZE: u64 = 10 * 1024 * 1024;

/// Refuses a message of `size` bytes (as the broker stores it) over `limit`.
pub(crate) fn check_size(size: usize, limit: u64) -> Result<(), TaskError> {
    let size = size as u64;
    if size > limit {
        return Err(TaskError::TooLarge { size, limit });
    }
    Ok(())
}

/// Typed ways to put a broker among an app's services (a test's own app, a program without the
/// tasks plugin): the handle's type is what the app looks it up by, so it is fixed here.
pub trait BrokerServices {
    /// These services with `broker` as the app's task broker.
    fn with_broker(self, broker: Arc<dyn Broker>) -> Self;
}

impl BrokerServices for canter_kernel::Services {
    fn with_broker(self, broker: Arc<dyn Broker>) -> Self {
        self.with(broker)
    }
}

/// An app holding only `broker` (a test's, a script's): run code in it with
/// `tasks_app(broker).scope(async { add::delay(2, 3).await })`.
pub fn tasks_app(broker: Arc<dyn Broker>) -> Arc<canter_kernel::Services> {
    Arc::new(canter_kernel::Services::new().with_broker(broker))
}

/// The current app's broker (the tasks plugin starts it; a test puts one among the services
/// it runs with). Outside any app, or in an app without one, an error says which.
pub fn broker() -> Result<Arc<dyn Broker>, TaskError> {
    canter_kernel::services::require::<Arc<dyn Broker>>("task broker")
        .map_err(|e| TaskError::Broker(e.to_string()))
}

pub(crate) use canter_kernel::urls::redacted;

/// This machine's name (`localhost` if it cannot be read).
pub(crate) fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

pub(crate) fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// Options of `apply_async` (Celery's).
#[derive(Debug, Clone, Default)]
pub struct ApplyOptions {
    /// Seconds from now before it may run.
    pub countdown: Option<f64>,
    /// Not before this time (seconds since the epoch).
    pub eta: Option<f64>,
    /// Seconds from now after which it is skipped.
    pub expires: Option<f64>,
    pub queue: Option<String>,
    pub priority: Option<i64>,
    /// Use this task id instead of a fresh UUID.
    pub task_id: Option<String>,
    /// Run after it succeeds, with its result first (Celery's `link`).
    pub link: Vec<crate::canvas::Signature>,
    /// Run after it fails for good, with its id first (Celery's `link_error`).
    pub link_error: Vec<crate::canvas::Signature>,
}

/// Enqueues task `T` with `args` on the current app's broker (used by `#[task]`'s `delay`
/// and `apply_async`); on an eager broker ([`MemoryBroker::eager`](crate::MemoryBroker::eager))
/// that runs it at once.
pub async fn dispatch<T: Task>(args: Value, options: ApplyOptions) -> Result<String, TaskError> {
    enqueue(T::NAME, &T::options(), args, options).await
}

/// Enqueues task `name` with `args` (used by `#[task]`'s `delay` / `apply_async`).
pub async fn enqueue(
    name: &str,
    defaults: &crate::task::TaskOptions,
    args: Value,
    options: ApplyOptions,
) -> Result<String, TaskError> {
    enqueue_message(defaults, message(name, defaults, args, options)).await
}

/// Sends task `name` by its name, with positional and keyword arguments (Celery's
/// `app.send_task(name, args, kwargs, **options)`): for tasks this program does not define
/// (a Python worker's, another service's), or to pass arguments by name.
///
/// ```no_run
/// # async fn demo() -> Result<(), canter_tasks::TaskError> {
/// use serde_json::json;
/// let sum = canter_tasks::send_task("demo.add", json!([]), json!({"a": 2, "b": 3}), Default::default()).await?;
/// assert_eq!(sum.get(std::time::Duration::from_secs(10)).await?, json!(5));
/// # Ok(()) }
/// ```
pub async fn send_task(
    name: &str,
    args: Value,
    kwargs: Value,
    options: ApplyOptions,
) -> Result<crate::AsyncResult<Value>, TaskError> {
    if !args.is_array() {
        return Err(TaskError::Serialization(format!(
            "args of {name} must be a list, not {args}"
        )));
    }
    if !kwargs.is_object() {
        return Err(TaskError::Serialization(format!(
            "kwargs of {name} must be a mapping, not {kwargs}"
        )));
    }
    let defaults = crate::task::TaskOptions::default();
    let mut message = message(name, &defaults, args, options);
    message.kwargs = kwargs;
    let id = enqueue_message(&defaults, message).await?;
    Ok(crate::AsyncResult::new(id))
}

/// Publishes `message` on the current app's broker, claiming its unique key first if its task
/// is unique.
async fn enqueue_message(
    defaults: &crate::task::TaskOptions,
    message: TaskMessage,
) -> Result<String, TaskError> {
    let id = message.id.clone();
    let broker = broker()?;
    let unique = defaults
        .unique
        .map(|choice| (choice, crate::task::unique_key(&message)));
    if let Some((choice, key)) = &unique {
        let ttl = crate::task::UNIQUE_FOR.as_secs_f64();
        if let Some(existing) = broker.claim_unique(key, &id, ttl).await? {
            return match choice {
                crate::task::OnDuplicate::Fold => Ok(existing),
                crate::task::OnDuplicate::Refuse => Err(TaskError::Duplicate(existing)),
            };
        }
    }
    if let Err(e) = broker.publish(message).await {
        if let Some((_, key)) = &unique {
            let _ = broker.release_unique(key, &id).await;
        }
        return Err(e);
    }
    Ok(id)
}

pub(crate) fn message(
    name: &str,
    defaults: &crate::task::TaskOptions,
    args: Value,
    options: ApplyOptions,
) -> TaskMessage {
    let now = now();
    let mut message = TaskMessage {
        id: options
            .task_id
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
        name: name.to_owned(),
        queue: options.queue.unwrap_or_else(|| defaults.queue.to_owned()),
        priority: clamp_priority(options.priority.unwrap_or(defaults.priority)),
        args,
        kwargs: Value::Object(Default::default()),
        eta: options
            .eta
            .unwrap_or(now + options.countdown.unwrap_or(0.0)),
        expires: options.expires.map(|e| now + e),
        retries: 0,
        embed: crate::canvas::with_callbacks(None, &options.link, &options.link_error),
        ..Default::default()
    };
    crate::request::descend_from_current(&mut message);
    message
}

/// Enqueues only once the surrounding `atomic` block commits (nothing if it rolls back);
/// outside a transaction (or without the `orm` feature), at once. Returns the id the task
/// will have.
pub fn enqueue_on_commit<T: Task>(args: Value, mut options: ApplyOptions) -> String {
    let id = options
        .task_id
        .get_or_insert_with(|| uuid::Uuid::new_v4().to_string())
        .clone();
    let send = async move {
        if let Err(e) = dispatch::<T>(args, options).await {
            tracing::error!(target: "canter::tasks", task = T::NAME, "enqueue after commit failed: {e}");
        }
    };
    #[cfg(feature = "orm")]
    canter_orm::transaction::on_commit_async(send);
    #[cfg(not(feature = "orm"))]
    canter_kernel::services::spawn(send);
    id
}

impl TaskResult {
    pub(crate) fn state(status: TaskStatus) -> Self {
        TaskResult {
            status,
            result: None,
            error: None,
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn passwords_stay_out_of_logs() {
        assert_eq!(
            super::redacted("redis://:secret@host:6379/0"),
            "redis://***@host:6379/0"
        );
        assert_eq!(
            super::redacted("redis://user:pw@h/1?x=y"),
            "redis://***@h/1?x=y"
        );
        assert_eq!(
            super::redacted("sqlite://tasks.sqlite3"),
            "sqlite://tasks.sqlite3"
        );
    }
}
