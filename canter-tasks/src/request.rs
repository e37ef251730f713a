//! The running task's request (Celery's `self.request` in a `bind=True` task): its id, its
//! arguments, its attempt, where it came from (parent and root ids) and how it was delivered.
//! A task gets it as its first parameter with `#[task(bind)]`, or anywhere in its body (a
//! blocking one too) from [`request()`].
//!
//! What a task sends records it as the parent and shares its root, as Celery's `parent_id` /
//! `root_id` headers do, so a workflow's tasks can be traced back to where it started, across
//! canter and Python workers.
//!
//! ```no_run
//! use canter_tasks::{task, Request, TaskError};
//!
//! #[task(name = "mail.send", bind, crate = canter_tasks, max_retries = 5)]
//! async fn send(request: Request, to: String) -> Result<(), TaskError> {
//!     if to.is_empty() {
//!         // Again in 10 s; once the retries are spent, this error is the task's FAILURE.
//!         let exc = TaskError::Failed { kind: "SMTPError".into(), message: "no recipient".into() };
//!         return Err(request.retry(Some(10.0), Some(exc)));
//!     }
//!     tracing::info!(id = %request.id, attempt = request.retries + 1, root = %request.root_id, "sending");
//!     Ok(())
//! }
//! ```

use std::sync::Arc;

use serde::Serialize;
use serde_json::Value;

use crate::broker::TaskMessage;
use crate::error::TaskError;
use crate::task::TaskOptions;

/// See the module docs.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Request {
    pub id: String,
    /// The task's name.
    pub task: String,
    pub args: Value,
    pub kwargs: Value,
    /// Retries so far (0 on the first attempt).
    pub retries: u32,
    pub max_retries: u32,
    /// When it was due (seconds since the epoch).
    pub eta: f64,
    /// When it expires, if it does.
    pub expires: Option<f64>,
    /// The task that sent it, if a task did.
    pub parent_id: Option<String>,
    /// The first task of its workflow (its own id if nothing sent it).
    pub root_id: String,
    /// The group (chord) it is a member of, if any.
    pub group: Option<String>,
    pub delivery_info: DeliveryInfo,
    /// The worker running it (`worker-<pid>@<uuid>`; in eager mode, the machine's name).
    pub hostname: String,
    /// Run in place by an eager broker, not by a worker.
    pub is_eager: bool,
}

/// How the task's message was delivered (Celery's `request.delivery_info`).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct DeliveryInfo {
    /// The queue it came from.
    pub routing_key: String,
    pub priority: i64,
    /// Delivered before to a worker that did not finish it (Redis and RabbitMQ say so).
    pub redelivered: bool,
}

impl Request {
    pub(crate) fn of(m: &TaskMessage, options: &TaskOptions, hostname: &str, eager: bool) -> Self {
        Request {
            id: m.id.clone(),
            task: m.name.clone(),
            args: m.args.clone(),
            kwargs: m.kwargs.clone(),
            retries: m.retries,
            max_retries: options.max_retries,
            eta: m.eta,
            expires: m.expires,
            parent_id: m.parent_id.clone(),
            root_id: m.root_id.clone().unwrap_or_else(|| m.id.clone()),
            group: (m.group.clone())
                .or_else(|| crate::canvas::chord_of(m).map(|(group, ..)| group)),
            delivery_info: DeliveryInfo {
                routing_key: m.queue.clone(),
                priority: m.priority,
                redelivered: m.redelivered,
            },
            hostname: hostname.to_owned(),
            is_eager: eager,
        }
    }

    /// Runs the task again after `countdown` seconds (its backoff if `None`): return what this
    /// gives as the body's error (Celery's `raise self.retry(countdown=…, exc=…)`). Once its
    /// retries are spent, `exc` (when given) is the task's FAILURE instead of
    /// `MaxRetriesExceeded`.
    pub fn retry(&self, countdown: Option<f64>, exc: Option<TaskError>) -> TaskError {
        match exc {
            Some(exc) if self.retries >= self.max_retries => exc,
            _ => TaskError::Retry { countdown },
        }
    }
}

tokio::task_local! {
    static CURRENT: Arc<Request>;
}

/// The running task's request; `None` outside a task.
pub fn request() -> Option<Request> {
    current().map(|r| (*r).clone())
}

pub(crate) fn current() -> Option<Arc<Request>> {
    CURRENT.try_with(Arc::clone).ok()
}

/// What `#[task(bind)]` passes its task: the running task's request (an empty one when the
/// task's `run` is called outside a worker).
#[doc(hidden)]
pub fn bound_request() -> Request {
    request().unwrap_or_default()
}

/// Runs `body` as the task of `request`.
pub(crate) async fn with_request<F: std::future::Future>(
    request: Arc<Request>,
    body: F,
) -> F::Output {
    CURRENT.scope(request, body).await
}

/// Runs blocking `body` as the task of `request` (on the blocking thread).
pub(crate) fn with_request_sync<T>(request: Option<Arc<Request>>, body: impl FnOnce() -> T) -> T {
    match request {
        Some(request) => CURRENT.sync_scope(request, body),
        None => body(),
    }
}

/// `message` made a child of the running task (if there is one): its parent is that task, its
/// root that task's root.
pub(crate) fn descend_from_current(message: &mut TaskMessage) {
    if let Some(parent) = current() {
        message.parent_id = Some(parent.id.clone());
        message.root_id = Some(parent.root_id.clone());
    }
}

/// `message` made a child of `parent` (a chain's next step, a callback, a chord's callback).
pub(crate) fn descend_from(message: &mut TaskMessage, parent: &TaskMessage) {
    message.parent_id = Some(parent.id.clone());
    message.root_id = Some(parent.root_id.clone().unwrap_or_else(|| parent.id.clone()));
}
