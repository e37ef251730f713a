//! Task events (Celery's `-E`): `task-received`, `task-started`, `task-succeeded`,
//! `task-failed`, `task-retried`, `task-revoked`, `worker-online`, `worker-heartbeat`,
//! `worker-offline`, appended to the broker's event stream for a dashboard (or `demo events`)
//! to follow. Each event is a JSON object in Celery's shape: `type`, `hostname` (the worker),
//! `timestamp`, and for task events `uuid` and the fields of its kind.
//!
//! Task events are off by default, as Celery's are: `worker -E`, `[tasks] send_events = true`
//! or a remote `enable_events` (what Flower sends) turns them on. On a broker with Celery's
//! event wire ([`crate::mailbox`]: Redis), every event also goes out on `celeryev` in Celery's
//! shape, and worker events (`worker-online`, `worker-heartbeat`, `worker-offline`) always do,
//! as Celery's worker sends them without `-E`: that is how Flower sees a worker alive.
//!
//! ```no_run
//! # async fn demo() -> Result<(), canter_tasks::TaskError> {
//! let mut cursor = None;
//! loop {
//!     let (next, events) = canter_tasks::events::next(cursor.as_deref()).await?;
//!     for event in events {
//!         println!("{} {}", event["type"], event["uuid"]);
//!     }
//!     cursor = Some(next);
//! }
//! # }
//! ```

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};

use crate::broker::{broker, now, Broker, TaskMessage};
use crate::error::TaskError;
use crate::mailbox::{celery_event, Clock, Mailbox};

/// How long [`next`] waits for an event before returning none.
pub const WAIT: Duration = Duration::from_secs(1);

/// The events after `cursor` (`None`: from now on) from the installed broker, waiting up to
/// [`WAIT`]; returns them with the cursor to pass next time.
pub async fn next(cursor: Option<&str>) -> Result<(String, Vec<Value>), TaskError> {
    broker()?.events(cursor, WAIT).await
}

/// A worker's event sender: task events only when they are on; worker events to Celery's wire
/// always (see the module docs).
#[derive(Clone)]
pub(crate) struct Emitter {
    broker: Arc<dyn Broker>,
    mailbox: Option<Arc<dyn Mailbox>>,
    hostname: String,
    enabled: Arc<AtomicBool>,
    clock: Arc<Clock>,
}

impl Emitter {
    pub(crate) fn new(
        broker: Arc<dyn Broker>,
        hostname: &str,
        enabled: bool,
        clock: Arc<Clock>,
    ) -> Self {
        Emitter {
            mailbox: broker.mailbox(),
            broker,
            hostname: hostname.to_owned(),
            enabled: Arc::new(AtomicBool::new(enabled)),
            clock,
        }
    }

    /// Whether task events are sent (to skip preparing what only an event needs).
    pub(crate) fn on(&self) -> bool {
        self.enabled.load(Ordering::Relaxed)
    }

    /// Turns task events on or off (remote `enable_events` / `disable_events`); whether they
    /// were on.
    pub(crate) fn set(&self, on: bool) -> bool {
        self.enabled.swap(on, Ordering::Relaxed)
    }

    /// Sends an event of `kind` with the `fields` made (only when it is sent) by `fields`
    /// (best effort: a broker that cannot take it costs the event, never the task).
    pub(crate) async fn send(&self, kind: &str, fields: impl FnOnce() -> Value) {
        let on = self.on();
        let to_celery = self
            .mailbox
            .as_ref()
            .filter(|_| on || kind.starts_with("worker-"));
        if !on && to_celery.is_none() {
            return;
        }
        let mut fields = fields();
        fields["type"] = json!(kind);
        fields["hostname"] = json!(self.hostname);
        fields["timestamp"] = json!(now());
        if on {
            if let Err(e) = self.broker.send_event(&fields).await {
                tracing::debug!(target: "canter::tasks", kind, "event not sent: {e}");
            }
        }
        if let Some(mailbox) = to_celery {
            let event = celery_event(&fields, self.clock.tick());
            if let Err(e) = mailbox.send_event(&event).await {
                tracing::debug!(target: "canter::tasks", kind, "event not sent on celeryev: {e}");
            }
        }
    }

    /// A task's event: `uuid` and `name`, and `fields`.
    pub(crate) async fn task(&self, kind: &str, m: &TaskMessage, fields: impl FnOnce() -> Value) {
        self.send(kind, || {
            let mut fields = fields();
            fields["uuid"] = json!(m.id);
            fields["name"] = json!(m.name);
            fields
        })
        .await;
    }

    pub(crate) async fn received(&self, m: &TaskMessage) {
        self.task("task-received", m, || {
            json!({"args": m.args, "kwargs": m.kwargs, "retries": m.retries, "eta": m.eta,
                   "expires": m.expires, "queue": m.queue, "root_id": m.root_id.as_deref().unwrap_or(&m.id),
                   "parent_id": m.parent_id})
        })
        .await;
    }
}
