//! Task events (Celery's `-E`): `task-received`, `task-started`, `task-succeeded`,
//! `task-failed`, `task-retried`, `task-revoked`, `worker-online`, `worker-heartbeat`,
//! `worker-offline`, appended to the broker's event stream for a dashboard (or `demo events`)
//! to follow. Each event is a JSON object in Celery's shape: `type`, `hostname` (the worker),
//! `timestamp`, and for task events `uuid` and the fields of its kind.
//!
//! Off by default, as Celery's are: `worker -E` or `[tasks] send_events = true` turns them on.
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

use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};

use crate::broker::{broker, now, Broker, TaskMessage};
use crate::error::TaskError;

/// How long [`next`] waits for an event before returning none.
pub const WAIT: Duration = Duration::from_secs(1);

/// The events after `cursor` (`None`: from now on) from the installed broker, waiting up to
/// [`WAIT`]; returns them with the cursor to pass next time.
pub async fn next(cursor: Option<&str>) -> Result<(String, Vec<Value>), TaskError> {
    broker()?.events(cursor, WAIT).await
}

/// A worker's event sender: does nothing when events are off.
#[derive(Clone)]
pub(crate) struct Emitter {
    broker: Arc<dyn Broker>,
    hostname: String,
    enabled: bool,
}

impl Emitter {
    pub(crate) fn new(broker: Arc<dyn Broker>, hostname: &str, enabled: bool) -> Self {
        Emitter {
            broker,
            hostname: hostname.to_owned(),
            enabled,
        }
    }

    /// Whether events are sent (to skip preparing what only an event needs).
    pub(crate) fn on(&self) -> bool {
        self.enabled
    }

    /// Sends an event of `kind` with the `fields` made (only when events are on) by `fields`
    /// (best effort: a broker that cannot take it costs the event, never the task).
    pub(crate) async fn send(&self, kind: &str, fields: impl FnOnce() -> Value) {
        if !self.enabled {
            return;
        }
        let mut fields = fields();
        fields["type"] = json!(kind);
        fields["hostname"] = json!(self.hostname);
        fields["timestamp"] = json!(now());
        if let Err(e) = self.broker.send_event(&fields).await {
            tracing::debug!(target: "canter::tasks", kind, "event not sent: {e}");
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
            json!({"args": m.args, "retries": m.retries, "eta": m.eta, "expires": m.expires, "queue": m.queue})
        })
        .await;
    }
}
