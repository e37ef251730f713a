//! Brokers: where enqueued tasks wait and results are kept. The same API over each;
//! [`SqliteBroker`](crate::brokers::SqliteBroker) is the embedded, durable default;
//! [`RedisBroker`](crate::brokers::RedisBroker) shares queues and results with Python Celery.

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use serde_json::Value;

use crate::control::{DeadLetter, TaskInfo, WorkerInfo};
use crate::error::TaskError;
use crate::result::{TaskResult, TaskStatus};
use crate::task::Task;

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

/// Where results are kept (Celery's result backend), and what chords count: a broker's own
/// store, or one apart (see [`WithResultBackend`](crate::WithResultBackend)).
pub trait ResultBackend: Send + Sync + 'static {
    fn store_result<'a>(
        &'a self,
        id: &'a str,
        result: TaskResult,
    ) -> BoxFuture<'a, Result<(), TaskError>>;
    fn get_result<'a>(
        &'a self,
        id: &'a str,
    ) -> BoxFuture<'a, Result<Option<TaskResult>, TaskError>>;
    fn forget<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<(), TaskError>>;
    /// Whether chords go by Celery's protocol here (its Redis result backend's counter, so
    /// Python workers count members too): [`set_chord_size`](Self::set_chord_size) and
    /// [`celery_chord_part`](Self::celery_chord_part) work.
    fn celery_chords(&self) -> bool {
        false
    }
    /// Celery's `set_chord_size`: chord `group_id` has `size` members.
    fn set_chord_size<'a>(
        &'a self,
        group_id: &'a str,
        size: u64,
    ) -> BoxFuture<'a, Result<(), TaskError>> {
        let _ = (group_id, size);
        Box::pin(async { Err(TaskError::Broker("no Celery chords on this broker".into())) })
    }
    /// Celery's `on_chord_part_return`: records member `member` (at `index`) of chord
    /// `group_id` finishing with `state` and `value`; every member's outcome, in the group's
    /// order, for the one that completes the chord (then the record goes), else `None`.
    fn celery_chord_part<'a>(
        &'a self,
        group_id: &'a str,
        member: &'a str,
        index: Option<u64>,
        state: TaskStatus,
        value: Value,
    ) -> BoxFuture<'a, Result<Option<Vec<ChordPart>>, TaskError>> {
        let _ = (group_id, member, index, state, value);
        Box::pin(async { Err(TaskError::Broker("no Celery chords on this broker".into())) })
    }
    /// Records that `member` of chord `group_id` finished and returns how many members have,
    /// or `None` if this member was already recorded (a redelivery). Atomic: of the members
    /// finishing at once, exactly one sees the full count.
    fn chord_part_done<'a>(
        &'a self,
        group_id: &'a str,
        member: &'a str,
    ) -> BoxFuture<'a, Result<Option<u64>, TaskError>>;
}

/// A broker and result store.
pub trait Broker: ResultBackend {
    fn publish<'a>(&'a self, message: TaskMessage) -> BoxFuture<'a, Result<(), TaskError>>;
    /// Leases the next due task of these queues (the lowest priority number, then the oldest:
    /// see [`clamp_priority`]), for `visibility`.
    fn fetch<'a>(
        &'a self,
        queues: &'a [String],
        worker: &'a str,
        visibility: Duration,
    ) -> BoxFuture<'a, Result<Option<Delivery>, TaskError>>;
    /// Keeps a running task's lease alive.
    fn extend<'a>(
        &'a self,
        delivery: &'a Delivery,
        visibility: Duration,
    ) -> BoxFuture<'a, Result<(), TaskError>>;
    /// Done with it: removed for good.
    fn ack<'a>(&'a self, delivery: &'a Delivery) -> BoxFuture<'a, Result<(), TaskError>>;
    /// Back to the queue, due at `eta`, with `retries` attempts counted.
    fn requeue<'a>(
        &'a self,
        delivery: &'a Delivery,
        eta: f64,
        retries: u32,
    ) -> BoxFuture<'a, Result<(), TaskError>>;
    fn revoke<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<(), TaskError>>;
    fn is_revoked<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<bool, TaskError>>;
    /// A task no worker knows: kept aside (with why) rather than dropped or retried forever.
    fn dead_letter<'a>(
        &'a self,
        delivery: &'a Delivery,
        reason: &'a str,
    ) -> BoxFuture<'a, Result<(), TaskError>>;
    /// Tasks waiting in a queue (not leased).
    fn queue_length<'a>(&'a self, queue: &'a str) -> BoxFuture<'a, Result<u64, TaskError>>;
    /// Records that periodic entry `entry` fired for its due time `due` (seconds since the
    /// epoch). Atomic: of any number of schedulers, exactly one gets `true` for a due time.
    fn claim_fire<'a>(&'a self, entry: &'a str, due: f64)
        -> BoxFuture<'a, Result<bool, TaskError>>;
    /// Claims unique-task key `key` for task `id` for at most `ttl` seconds; `Some(holder)` if
    /// another task holds it (atomic: of concurrent claims, one wins).
    fn claim_unique<'a>(
        &'a self,
        key: &'a str,
        id: &'a str,
        ttl: f64,
    ) -> BoxFuture<'a, Result<Option<String>, TaskError>>;
    /// Releases `key` if task `id` holds it.
    fn release_unique<'a>(
        &'a self,
        key: &'a str,
        id: &'a str,
    ) -> BoxFuture<'a, Result<(), TaskError>>;
    /// Counts one more start in rate-limit window `key` (kept until `until`, seconds since the
    /// epoch) and returns the count so far.
    fn rate_count<'a>(&'a self, key: &'a str, until: f64) -> BoxFuture<'a, Result<u64, TaskError>>;
    /// The latest due time `entry` fired for, if any.
    fn last_fire<'a>(&'a self, entry: &'a str) -> BoxFuture<'a, Result<Option<f64>, TaskError>>;
    /// Stops renewing `delivery`'s lease without acking it: it comes back to the queue after
    /// the visibility timeout (the worker could not store its result). Leases that are only
    /// renewed by the worker need nothing here.
    fn drop_lease<'a>(&'a self, delivery: &'a Delivery) -> BoxFuture<'a, Result<(), TaskError>> {
        let _ = delivery;
        Box::pin(async { Ok(()) })
    }
    /// What this process's idle workers on this broker wait on between polls: a broker that
    /// workers poll (the embedded ones) notifies it on every publish through this object,
    /// so a task published here starts at once. `None`: workers block on the broker itself.
    fn published(&self) -> Option<&tokio::sync::Notify> {
        None
    }
    /// Worker `worker` stops: what the broker fetched ahead for it goes back to the queue.
    fn release<'a>(&'a self, worker: &'a str) -> BoxFuture<'a, Result<(), TaskError>> {
        let _ = worker;
        Box::pin(async { Ok(()) })
    }

    // Inspection and control (see `crate::control`).

    /// Records a worker's snapshot, replacing its previous one.
    fn worker_heartbeat<'a>(&'a self, info: &'a WorkerInfo)
        -> BoxFuture<'a, Result<(), TaskError>>;
    /// Worker `name` stopped: its snapshot goes.
    fn worker_offline<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<(), TaskError>>;
    /// The snapshots of the last hour (older ones are forgotten here).
    fn workers(&self) -> BoxFuture<'_, Result<Vec<WorkerInfo>, TaskError>>;
    /// The queues this broker knows (holding tasks, or declared).
    fn queues(&self) -> BoxFuture<'_, Result<Vec<String>, TaskError>>;
    /// Tasks waiting in the broker for their ETA. Brokers whose workers hold ETA tasks (Redis,
    /// as Celery's) have none here: those are in the workers' snapshots.
    fn scheduled(&self) -> BoxFuture<'_, Result<Vec<TaskInfo>, TaskError>> {
        Box::pin(async { Ok(Vec::new()) })
    }
    /// What this process took for workers of `queues` and has not handed over yet: the
    /// ready ones and those held for their ETA.
    fn held(&self, queues: &[String]) -> (Vec<TaskMessage>, Vec<TaskMessage>) {
        let _ = queues;
        (Vec::new(), Vec::new())
    }
    /// Removes the tasks waiting in `queue`; returns how many.
    fn purge<'a>(&'a self, queue: &'a str) -> BoxFuture<'a, Result<u64, TaskError>>;
    /// The dead-letter record, oldest first.
    fn dead_letters(&self) -> BoxFuture<'_, Result<Vec<DeadLetter>, TaskError>>;
    /// Sends every retriable dead letter back to its queue as a fresh first attempt, and out
    /// of the record; returns how many.
    fn retry_dead_letters(&self) -> BoxFuture<'_, Result<u64, TaskError>>;

    /// Celery's remote control and events wire on this transport (see [`crate::mailbox`]);
    /// `None` where there is none (the embedded brokers: their workers are inspected through
    /// their snapshots).
    fn mailbox(&self) -> Option<Arc<dyn crate::mailbox::Mailbox>> {
        None
    }

    // Events (see `crate::events`).

    /// Appends `event` to the event stream (bounded: the oldest go first).
    fn send_event<'a>(&'a self, event: &'a Value) -> BoxFuture<'a, Result<(), TaskError>>;
    /// The events after `cursor` (`None`: from now on; `"0"`: from the oldest kept), waiting
    /// up to `wait` for one; returns them with the cursor to pass next time.
    fn events<'a>(
        &'a self,
        cursor: Option<&'a str>,
        wait: Duration,
    ) -> BoxFuture<'a, Result<(String, Vec<Value>), TaskError>>;
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
