//! A worker's presence in the broker: its snapshot, announced every
//! [`HEARTBEAT_EVERY`](crate::control::HEARTBEAT_EVERY) while it fetches, and taken back
//! however its run ends.

use std::panic::AssertUnwindSafe;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use futures_util::FutureExt;
use serde_json::json;

use super::Worker;
use crate::body::panic_message;
use crate::broker::{now, Broker, TaskMessage};
use crate::control::{TaskInfo, WorkerInfo};

impl Worker {
    /// What this worker holds now, as it announces itself.
    pub fn snapshot(&self) -> WorkerInfo {
        let (ready, held) = self.broker.held(&self.config.queues);
        let mut active: Vec<TaskInfo> = self
            .active
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .cloned()
            .collect();
        active.sort_by(|a, b| {
            a.started
                .unwrap_or(0.0)
                .total_cmp(&b.started.unwrap_or(0.0))
        });
        let info = |m: &TaskMessage| TaskInfo::of(m, Some(&self.name));
        WorkerInfo {
            name: self.name.clone(),
            hostname: self.hostname.clone(),
            pid: std::process::id(),
            queues: self.config.queues.clone(),
            concurrency: self.config.concurrency,
            started: self.started,
            heartbeat: now(),
            processed: self.processed.load(Ordering::Relaxed),
            active,
            reserved: ready.iter().map(info).collect(),
            scheduled: held.iter().map(info).collect(),
            software: concat!("canter-tasks ", env!("CARGO_PKG_VERSION")).to_owned(),
        }
    }

    /// Announces this worker in the broker (and as an event) every
    /// [`HEARTBEAT_EVERY`](crate::control::HEARTBEAT_EVERY), until dropped. A heartbeat that
    /// panics is logged; the next one goes on.
    pub(super) async fn announce(&self) {
        let mut kind = "worker-online";
        loop {
            if let Err(panic) = AssertUnwindSafe(self.heartbeat(kind)).catch_unwind().await {
                tracing::error!(target: "canter::tasks", worker = %self.name, "a heartbeat panicked ({}); the next one goes on", panic_message(panic.as_ref()));
            }
            kind = "worker-heartbeat";
            tokio::time::sleep(crate::control::HEARTBEAT_EVERY).await;
        }
    }

    pub(super) async fn heartbeat(&self, kind: &str) {
        let info = self.snapshot();
        if let Err(e) = self.broker.worker_heartbeat(&info).await {
            tracing::debug!(target: "canter::tasks", "heartbeat not recorded: {e}");
        }
        let freq = crate::control::HEARTBEAT_EVERY.as_secs_f64();
        self.events
            .send(kind, || {
                json!({"freq": freq, "active": info.active.len(), "processed": info.processed,
                       "pid": info.pid, "loadavg": loadavg(), "sw_ident": "canter-tasks",
                       "sw_ver": env!("CARGO_PKG_VERSION"), "sw_sys": std::env::consts::OS})
            })
            .await;
    }
}

/// The system's load averages (1, 5, 15 minutes), as Celery's heartbeat carries them.
fn loadavg() -> [f64; 3] {
    let text = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let mut numbers = text.split_whitespace().map(|n| n.parse().unwrap_or(0.0));
    [(); 3].map(|()| numbers.next().unwrap_or(0.0))
}

/// Ends a worker's presence in the broker if its run ends early (dropped, or unwound by a
/// panic), as a normal stop does (which disarms this): what the broker fetched ahead for it
/// goes back to the queue (Redis: its hand-over list and alive key go), and its snapshot goes.
pub(super) struct Presence {
    pub(super) broker: Arc<dyn Broker>,
    pub(super) name: String,
    pub(super) armed: bool,
}

impl Drop for Presence {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        // Async work from a drop: spawned, if the runtime is still there to run it.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let (broker, name) = (self.broker.clone(), std::mem::take(&mut self.name));
            runtime.spawn(async move {
                let _ = broker.release(&name).await;
                let _ = broker.worker_offline(&name).await;
            });
        }
    }
}
