//! Tasks: what `#[task]` makes of an `async fn` (or a blocking `fn`), their options, and the
//! registry a worker looks names up in.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use serde_json::Value;

use crate::error::TaskError;

/// A task's options (Celery's task decorator arguments).
#[derive(Debug, Clone)]
pub struct TaskOptions {
    pub queue: &'static str,
    pub priority: i64,
    /// Retries after a failure before FAILURE (Celery's default is 3).
    pub max_retries: u32,
    /// Exponential backoff base and cap, in seconds; each retry waits base·2ⁿ, with jitter.
    pub retry_backoff: f64,
    pub retry_backoff_max: f64,
    /// Retry on any failure (not only an explicit `TaskError::Retry`).
    pub autoretry: bool,
    /// Retry on failures of these kinds (`TaskError::Failed { kind, .. }`; Celery's
    /// `autoretry_for`), besides an explicit `TaskError::Retry`.
    pub autoretry_for: &'static [&'static str],
    /// Hard time limit, seconds: the body is stopped (FAILURE `TimeLimit`).
    pub time_limit: Option<f64>,
    /// Soft time limit, seconds: the body is told ([`soft_time_limit`]) and may wind down
    /// before the hard limit (Celery's `SoftTimeLimitExceeded`).
    pub soft_time_limit: Option<f64>,
    /// Ack after the task has run (the default: a worker dying mid-task loses nothing, the
    /// task runs again) or, `false`, when it starts (Celery's default: never run twice, lost
    /// if its worker dies).
    pub acks_late: bool,
    /// Do not store the result.
    pub ignore_result: bool,
    /// At most this many starts per this many seconds, across every worker (Celery's
    /// `rate_limit="100/m"`); a task over the limit waits for the next window.
    pub rate_limit: Option<(u32, f64)>,
    /// At most one queued or running task with the same arguments: a second enqueue is refused
    /// (`TaskError::Duplicate`) or folded into the first (its handle is returned).
    pub unique: Option<OnDuplicate>,
}

impl Default for TaskOptions {
    fn default() -> Self {
        TaskOptions {
            queue: "celery",
            priority: 0,
            max_retries: 3,
            retry_backoff: 1.0,
            retry_backoff_max: 600.0,
            autoretry: false,
            autoretry_for: &[],
            time_limit: None,
            soft_time_limit: None,
            acks_late: true,
            ignore_result: false,
            rate_limit: None,
            unique: None,
        }
    }
}

/// What enqueueing a unique task does while one with the same arguments is queued or running.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnDuplicate {
    Refuse,
    Fold,
}

/// How long a unique task's claim lasts at most (should its worker never release it).
pub const UNIQUE_FOR: Duration = Duration::from_secs(3600);

/// The key a unique task's claim is held under: its name and its arguments (the keyword
/// ones only when there are some, so keys made before them stay the same).
pub(crate) fn unique_key(m: &crate::broker::TaskMessage) -> String {
    let (name, args, kwargs) = (&m.name, &m.args, &m.kwargs);
    match kwargs.as_object() {
        Some(named) if named.is_empty() => format!("{name}:{args}"),
        _ => format!("{name}:{args}:{kwargs}"),
    }
}

impl TaskOptions {
    /// Whether a failure with `error` is retried (if retries are left).
    pub fn retries_on(&self, error: &TaskError) -> bool {
        match error {
            TaskError::Retry { .. } => true,
            TaskError::Failed { kind, .. } => {
                self.autoretry || self.autoretry_for.contains(&kind.as_str())
            }
            _ => self.autoretry,
        }
    }

    /// The wait before retry number `attempt` (1-based): base·2^(attempt-1), at most the cap,
    /// with full jitter (a random part of it), as Celery's `retry_jitter`.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let exp = self.retry_backoff * 2f64.powi(attempt.saturating_sub(1) as i32);
        let capped = exp.min(self.retry_backoff_max).max(0.0);
        let jittered = capped * (0.5 + rand::random::<f64>() / 2.0);
        Duration::from_secs_f64(jittered)
    }
}

/// A task: a name, options, and a body taking JSON arguments.
pub trait Task: Send + Sync + 'static {
    /// The stable name (`demo.add`); Python Celery workers and producers use the same.
    const NAME: &'static str;
    fn options() -> TaskOptions;
    /// Runs the body with `args` (a JSON array of positional arguments) and `kwargs` (a JSON
    /// object of keyword arguments), bound to its parameters as Python binds a call.
    fn run(args: Value, kwargs: Value) -> BoxFuture<'static, Result<Value, TaskError>>;
}

pub(crate) type Runner =
    Arc<dyn Fn(Value, Value) -> BoxFuture<'static, Result<Value, TaskError>> + Send + Sync>;

/// Registered tasks, by name.
#[derive(Clone, Default)]
pub struct Registry {
    pub(crate) tasks: HashMap<&'static str, (Runner, TaskOptions)>,
}

impl Registry {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn register<T: Task>(mut self) -> Self {
        self.tasks.insert(T::NAME, (Arc::new(T::run), T::options()));
        self
    }

    pub fn names(&self) -> Vec<&'static str> {
        let mut names: Vec<&'static str> = self.tasks.keys().copied().collect();
        names.sort();
        names
    }
}

pub use crate::arguments::{bind_arguments, decode_argument, Parameter};

tokio::task_local! {
    /// When the running task's soft time limit passes.
    static SOFT_DEADLINE: Option<tokio::time::Instant>;
}

/// Completes when the running task's soft time limit passes (never, without one, or outside a
/// task): select on it to wind down in time (Celery raises `SoftTimeLimitExceeded`; here the
/// body decides what to do).
///
/// ```no_run
/// # use canter_tasks::{task, TaskError};
/// #[task(name = "reports.build", crate = canter_tasks, soft_time_limit = 50, time_limit = 60)]
/// async fn build_report() -> Result<String, TaskError> {
///     tokio::select! {
///         report = async { /* the long work */ String::from("full report") } => Ok(report),
///         () = canter_tasks::task::soft_time_limit() => Ok("partial report".into()),
///     }
/// }
/// ```
pub async fn soft_time_limit() {
    match SOFT_DEADLINE.try_with(|d| *d).ok().flatten() {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

/// Whether the running task's soft time limit has passed (for blocking bodies, which cannot
/// await [`soft_time_limit`]).
pub fn soft_time_limit_exceeded() -> bool {
    SOFT_DEADLINE
        .try_with(|d| d.is_some_and(|d| tokio::time::Instant::now() >= d))
        .unwrap_or(false)
}

/// Runs `body` with the soft time limit `seconds` from now.
pub(crate) async fn with_soft_time_limit<F: std::future::Future>(
    seconds: Option<f64>,
    body: F,
) -> F::Output {
    let deadline = seconds.map(|s| tokio::time::Instant::now() + Duration::from_secs_f64(s));
    SOFT_DEADLINE.scope(deadline, body).await
}

/// Runs a blocking task body on the blocking pool (never on the async runtime).
#[doc(hidden)]
pub async fn run_blocking<T: Send + 'static>(
    body: impl FnOnce() -> T + Send + 'static,
) -> Result<T, TaskError> {
    // The soft deadline, the task's request and the app's scope follow the body onto the
    // blocking thread.
    let deadline = SOFT_DEADLINE.try_with(|d| *d).ok().flatten();
    let request = crate::request::current();
    let app = canter_kernel::services::current();
    tokio::task::spawn_blocking(move || {
        let body = move || {
            let body = move || crate::request::with_request_sync(request, body);
            SOFT_DEADLINE.sync_scope(deadline, body)
        };
        match app {
            Some(app) => app.sync_scope(body),
            None => body(),
        }
    })
    .await
    .map_err(|e| TaskError::Failed {
        kind: "Panic".into(),
        message: e.to_string(),
    })
}
