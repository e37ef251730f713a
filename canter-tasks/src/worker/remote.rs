//! A worker's answers to Celery's remote control (`celery inspect …`, `celery control …`,
//! Flower), on the broker's [`Mailbox`](crate::mailbox::Mailbox): `ping`, `stats`, `active`,
//! `reserved`, `scheduled`, `registered`, `active_queues`, `revoked`, `conf`, `clock`, `revoke`
//! (with `terminate`), `terminate`, `rate_limit`, `enable_events` / `disable_events`, `heartbeat`,
//! `shutdown`, and mingle's `hello`. Replies have the shapes Celery's worker gives (checked
//! against `celery inspect` and Flower in `tests/all/celery_control.rs`); an unknown command is
//! answered `{"error": "KeyError('<name>')"}` as Celery does.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use serde_json::{json, Value};

use super::Worker;
use crate::broker::{now, TaskMessage};
use crate::control::TaskInfo;
use crate::mailbox::{iso8601_utc, python_set, ControlRequest};
use crate::task::TaskOptions;

/// Revoked ids a worker remembers for `inspect revoked` (Celery's `REVOKES_MAX`).
const REVOKES_KEPT: usize = 50_000;

/// What remote control changed or recorded on a worker.
#[derive(Default)]
pub(super) struct RemoteState {
    /// Notified by a remote `shutdown`.
    pub(super) shutdown: tokio::sync::Notify,
    /// Rate limits set remotely, by task name (`None`: turned off).
    rate_limits: Mutex<HashMap<String, Option<(u32, f64)>>>,
    revoked: Mutex<VecDeque<String>>,
    /// Tasks started, by name (`stats.total`).
    totals: Mutex<BTreeMap<String, u64>>,
}

fn locked<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

impl RemoteState {
    pub(super) fn count(&self, name: &str) {
        *locked(&self.totals).entry(name.to_owned()).or_default() += 1;
    }
}

impl Worker {
    /// Task `name`'s rate limit: a remote `rate_limit`'s if one was set, else its own.
    pub(super) fn rate_limit_of(&self, name: &str, options: &TaskOptions) -> Option<(u32, f64)> {
        match locked(&self.remote.rate_limits).get(name) {
            Some(set) => *set,
            None => options.rate_limit,
        }
    }

    /// Answers the requests broadcast on the broker's mailbox until dropped (none without
    /// one); a lost subscription is made again.
    pub(super) async fn serve_remote_control(self: &Arc<Self>) {
        let Some(mailbox) = self.broker.mailbox() else {
            return std::future::pending().await;
        };
        loop {
            match mailbox.listen(&self.name).await {
                Ok(mut requests) => {
                    while let Some(request) = requests.next().await {
                        self.clock.adjust(request.clock);
                        if !request.is_for(&self.name) {
                            continue;
                        }
                        let reply = self.answer(&request).await;
                        let (Some(reply), Some(ticket), Some(to)) =
                            (reply, &request.ticket, &request.reply_to)
                        else {
                            continue;
                        };
                        let body = json!({ self.name.clone(): reply });
                        if let Err(e) = mailbox.reply(to, ticket, body, self.clock.tick()).await {
                            tracing::debug!(target: "canter::tasks", method = %request.method, "remote-control reply not sent: {e}");
                        }
                    }
                }
                Err(e) => {
                    tracing::warn!(target: "canter::tasks", "remote control not listening (retried in 1 s): {e}")
                }
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }

    /// The reply to `request` (`None`: the command has none).
    async fn answer(&self, request: &ControlRequest) -> Option<Value> {
        let arguments = &request.arguments;
        tracing::debug!(target: "canter::tasks", method = %request.method, "remote control");
        let reply = match request.method.as_str() {
            "ping" => json!({"ok": "pong"}),
            "stats" => self.stats(),
            "active" => {
                let safe = arguments["safe"].as_bool().unwrap_or(false);
                let mut active: Vec<TaskInfo> = locked(&self.active).values().cloned().collect();
                active.sort_by(|a, b| {
                    a.started
                        .unwrap_or(0.0)
                        .total_cmp(&b.started.unwrap_or(0.0))
                });
                active
                    .iter()
                    .map(|t| self.request_info(t, 0, safe))
                    .collect()
            }
            "reserved" => {
                let (ready, _) = self.broker.held(&self.config.queues);
                ready.iter().map(|m| self.message_info(m)).collect()
            }
            "scheduled" => {
                let (_, held) = self.broker.held(&self.config.queues);
                held.iter()
                    .map(|m| json!({"eta": iso8601_utc(m.eta), "priority": m.priority, "request": self.message_info(m)}))
                    .collect()
            }
            "registered" => self.registered(),
            "active_queues" => self.config.queues.iter().map(|q| queue_dict(q)).collect(),
            "revoked" => json!(locked(&self.remote.revoked).iter().collect::<Vec<_>>()),
            "conf" => json!({}),
            "clock" => json!({"clock": self.clock.now()}),
            "revoke" => self.revoke(arguments).await,
            // `celery control terminate SIG ID`: a revoke that terminates.
            "terminate" => {
                let mut arguments = arguments.clone();
                arguments["terminate"] = json!(true);
                self.revoke(&arguments).await
            }
            "rate_limit" => self.set_rate_limit(arguments),
            "enable_events" => match self.events.set(true) {
                false => json!({"ok": "task events enabled"}),
                true => json!({"ok": "task events already enabled"}),
            },
            "disable_events" => match self.events.set(false) {
                true => json!({"ok": "task events disabled"}),
                false => json!({"ok": "task events already disabled"}),
            },
            "heartbeat" => {
                self.heartbeat("worker-heartbeat").await;
                return None;
            }
            "shutdown" => {
                tracing::warn!(target: "canter::tasks", worker = %self.name, "remote shutdown");
                self.remote.shutdown.notify_one();
                return None;
            }
            // Mingle: a starting Python worker asks the others for their revoked ids.
            "hello" if arguments["from_node"].as_str() == Some(self.name.as_str()) => return None,
            "hello" => json!({
                "revoked": locked(&self.remote.revoked).iter().collect::<Vec<_>>(),
                "clock": self.clock.now(),
            }),
            other => json!({"error": format!("KeyError('{other}')")}),
        };
        Some(reply)
    }

    /// Celery's `stats` reply.
    fn stats(&self) -> Value {
        let pid = std::process::id();
        let broker = self.broker.mailbox().map(|m| m.broker_info());
        let concurrency = self.config.concurrency;
        json!({
            "broker": broker,
            "clock": self.clock.now().to_string(),
            "pid": pid,
            "pool": {
                "implementation": "canter:tokio",
                "max-concurrency": concurrency,
                "max-tasks-per-child": "N/A",
                "processes": [pid],
                "put-guarded-by-semaphore": false,
                "timeouts": [0, 0],
                "writes": {"total": self.processed.load(Ordering::Relaxed)},
            },
            "prefetch_count": concurrency,
            "rusage": rusage(),
            "total": *locked(&self.remote.totals),
            "uptime": (now() - self.started).max(0.0) as u64,
        })
    }

    /// Celery's request-info dict of a task (`safe`: its arguments as repr strings).
    fn request_info(&self, task: &TaskInfo, priority: i64, safe: bool) -> Value {
        let (args, kwargs) = match safe {
            true => (json!(task.args.to_string()), json!(task.kwargs.to_string())),
            false => (task.args.clone(), task.kwargs.clone()),
        };
        json!({
            "id": task.id, "name": task.name, "type": task.name, "args": args, "kwargs": kwargs,
            "hostname": self.name, "time_start": task.started, "acknowledged": task.started.is_some(),
            "delivery_info": {"exchange": "", "routing_key": task.queue, "priority": priority,
                              "redelivered": false},
            "worker_pid": task.started.map(|_| std::process::id()),
        })
    }

    fn message_info(&self, m: &TaskMessage) -> Value {
        let mut info = self.request_info(&TaskInfo::of(m, Some(&self.name)), m.priority, false);
        info["delivery_info"]["redelivered"] = json!(m.redelivered);
        info
    }

    /// Task names, sorted, each with ` [rate_limit=…]` if it has one (Celery's `registered`).
    fn registered(&self) -> Value {
        let mut names: Vec<String> = self
            .registry
            .tasks
            .iter()
            .map(
                |(name, (_, options))| match self.rate_limit_of(name, options) {
                    Some((count, per)) => format!("{name} [rate_limit={count}/{}]", per_unit(per)),
                    None => (*name).to_owned(),
                },
            )
            .collect();
        names.sort();
        json!(names)
    }

    /// `revoke`: the ids recorded as revoked in the broker (a queued one is skipped, a running
    /// one stopped at its next await: canter stops it with or without `terminate`).
    async fn revoke(&self, arguments: &Value) -> Value {
        let ids: Vec<String> = match &arguments["task_id"] {
            Value::String(id) => vec![id.clone()],
            Value::Array(ids) => ids
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect(),
            _ => Vec::new(),
        };
        for id in &ids {
            if let Err(e) = self.broker.revoke(id).await {
                return json!({"error": format!("revoke failed: {e}")});
            }
            let mut revoked = locked(&self.remote.revoked);
            if revoked.len() >= REVOKES_KEPT {
                revoked.pop_front();
            }
            revoked.push_back(id.clone());
        }
        if arguments["terminate"].as_bool().unwrap_or(false) {
            let active = locked(&self.active);
            let running: Vec<&str> = ids
                .iter()
                .filter(|id| active.contains_key(id.as_str()))
                .map(String::as_str)
                .collect();
            return match running.is_empty() {
                true => json!({"ok": "terminate: tasks unknown"}),
                false => json!({"ok": format!("terminate: {}", running.join(", "))}),
            };
        }
        json!({"ok": format!("tasks {} flagged as revoked", python_set(&ids))})
    }

    /// `rate_limit`: a task's limit from now on, on this worker (`null` or `0`: none).
    fn set_rate_limit(&self, arguments: &Value) -> Value {
        let Some(name) = arguments["task_name"].as_str() else {
            return json!({"error": "unknown task"});
        };
        if !self.registry.tasks.contains_key(name) {
            return json!({"error": "unknown task"});
        }
        let text = match &arguments["rate_limit"] {
            Value::Null => String::from("0"),
            Value::String(text) => text.clone(),
            other => other.to_string(),
        };
        let Some(limit) = parse_rate_limit(&text) else {
            return json!({"error": format!("Invalid rate limit string: '{text}'")});
        };
        locked(&self.remote.rate_limits).insert(name.to_owned(), limit);
        match limit {
            Some(_) => json!({"ok": "new rate limit set successfully"}),
            None => json!({"ok": "rate limit disabled successfully"}),
        }
    }
}

/// Celery's rate-limit text: `"10/m"`, `"2/s"`, `"100/h"`, or a number per second; `"0"`: none.
/// `None` if unreadable.
fn parse_rate_limit(text: &str) -> Option<Option<(u32, f64)>> {
    let (count, per) = match text.trim().split_once('/') {
        Some((count, unit)) => {
            let per = match unit.trim() {
                "s" => 1.0,
                "m" => 60.0,
                "h" => 3600.0,
                _ => return None,
            };
            (count.trim().parse::<f64>().ok()?, per)
        }
        None => (text.trim().parse::<f64>().ok()?, 1.0),
    };
    if count <= 0.0 {
        return Some(None);
    }
    Some(Some((count.round().max(1.0) as u32, per)))
}

fn per_unit(per: f64) -> &'static str {
    match per {
        p if p >= 3600.0 => "h",
        p if p >= 60.0 => "m",
        _ => "s",
    }
}

/// A queue as `active_queues` describes it (kombu's `Queue.as_dict`): Celery's default direct
/// exchange named after it.
fn queue_dict(name: &str) -> Value {
    json!({
        "name": name,
        "exchange": {"name": name, "type": "direct", "arguments": null, "durable": true,
                     "passive": false, "auto_delete": false, "delivery_mode": null, "no_declare": false},
        "routing_key": name, "queue_arguments": null, "binding_arguments": null,
        "consumer_arguments": null, "durable": true, "exclusive": false, "auto_delete": false,
        "no_ack": false, "alias": null, "bindings": [], "no_declare": null, "expires": null,
        "message_ttl": null, "max_length": null, "max_length_bytes": null, "max_priority": null,
    })
}

/// The process's resource use as `stats` shows it (`getrusage`'s fields; what Linux's /proc
/// tells, the rest 0).
fn rusage() -> Value {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let maxrss = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .unwrap_or(0);
    let mut usage = json!({});
    for field in [
        "utime", "stime", "ixrss", "idrss", "isrss", "minflt", "majflt", "nswap", "inblock",
        "oublock", "msgsnd", "msgrcv", "nsignals", "nvcsw", "nivcsw",
    ] {
        usage[field] = json!(0);
    }
    usage["maxrss"] = json!(maxrss);
    usage
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_limits_read_as_celery_writes_them() {
        assert_eq!(parse_rate_limit("10/m"), Some(Some((10, 60.0))));
        assert_eq!(parse_rate_limit("5"), Some(Some((5, 1.0))));
        assert_eq!(parse_rate_limit("0"), Some(None));
        assert_eq!(parse_rate_limit("ten/m"), None);
        assert_eq!(parse_rate_limit("1/d"), None);
    }
}
