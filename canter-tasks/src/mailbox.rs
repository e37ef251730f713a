//! Celery's remote control ("pidbox", kombu's mailbox) and its events ("celeryev"), on the wire
//! Python uses, so `celery inspect` / `celery control` and Flower reach canter workers, and
//! canter's [`broadcast`] reaches Python workers.
//!
//! A request is broadcast to every worker (a fanout: `celery.pidbox`) as a JSON object
//! `{"method", "arguments", "destination", "pattern", "matcher", "ticket", "reply_to"}`; a worker
//! it is meant for answers `{"<its name>": <reply>}` to the asker's reply queue (`reply_to`),
//! tagged with the request's ticket. Events are JSON objects published on `celeryev`, routed
//! by their type (`worker-heartbeat` → `worker.heartbeat`). A transport ([`Mailbox`]) carries
//! them; the Redis broker's is PUB/SUB (see `brokers::redis`), as kombu's Redis transport.
//!
//! ```no_run
//! # async fn demo() -> Result<(), canter_tasks::TaskError> {
//! use std::time::Duration;
//! // Every worker on the broker, Python's and canter's: `{"ok": "pong"}` from each.
//! for (node, reply) in canter_tasks::mailbox::broadcast("ping", serde_json::json!({}), None, Duration::from_secs(1)).await? {
//!     println!("{node}: {reply}");
//! }
//! # Ok(()) }
//! ```

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures_util::future::BoxFuture;
use futures_util::stream::BoxStream;
use serde_json::{json, Map, Value};

use crate::broker::broker;
use crate::error::TaskError;

/// The fanout exchange requests are broadcast on (`<control_exchange>.pidbox`).
pub const EXCHANGE: &str = "celery.pidbox";
/// The direct exchange replies go to.
pub const REPLY_EXCHANGE: &str = "reply.celery.pidbox";
/// The events exchange.
pub const EVENT_EXCHANGE: &str = "celeryev";
/// How often a worker sends `worker-heartbeat` (Celery's default `freq`).
pub const HEARTBEAT_FREQ: f64 = 2.0;

/// Where a request wants its replies (`reply_to`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplyTo {
    pub exchange: String,
    pub routing_key: String,
}

/// A remote-control request as kombu's mailbox sends it.
#[derive(Debug, Clone, PartialEq)]
pub struct ControlRequest {
    pub method: String,
    /// Keyword arguments of the command (`{}` when none).
    pub arguments: Value,
    /// The nodes it is for; `None` (or empty): every node.
    pub destination: Option<Vec<String>>,
    /// Or the nodes matching this pattern (with `matcher`, `glob` by default).
    pub pattern: Option<String>,
    pub matcher: Option<String>,
    /// Present when the asker waits for replies.
    pub ticket: Option<String>,
    pub reply_to: Option<ReplyTo>,
    /// The sender's Lamport clock (the message's `clock` header).
    pub clock: u64,
}

impl ControlRequest {
    /// A request for `method`; with a ticket and `reply_to` when replies are wanted.
    pub fn new(method: &str, arguments: Value, destination: Option<Vec<String>>) -> Self {
        ControlRequest {
            method: method.to_owned(),
            arguments,
            destination,
            pattern: None,
            matcher: None,
            ticket: None,
            reply_to: None,
            clock: 0,
        }
    }

    /// Reads a request body (the message's decoded JSON) and its `clock` header.
    pub fn from_body(body: &Value, clock: u64) -> Option<Self> {
        let text = |key: &str| body.get(key).and_then(Value::as_str).map(str::to_owned);
        let reply_to = body.get("reply_to").and_then(|r| {
            Some(ReplyTo {
                exchange: r.get("exchange")?.as_str()?.to_owned(),
                routing_key: r.get("routing_key")?.as_str()?.to_owned(),
            })
        });
        let destination = body.get("destination").and_then(Value::as_array).map(|d| {
            d.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        });
        Some(ControlRequest {
            method: text("method")?,
            arguments: body
                .get("arguments")
                .cloned()
                .filter(Value::is_object)
                .unwrap_or_else(|| json!({})),
            destination,
            pattern: text("pattern"),
            matcher: text("matcher"),
            ticket: text("ticket"),
            reply_to,
            clock,
        })
    }

    /// The body as kombu's mailbox writes it (`ticket` and `reply_to` only when replies are
    /// wanted, as a cast has neither).
    pub fn to_body(&self) -> Value {
        let mut body = json!({
            "method": self.method,
            "arguments": self.arguments,
            "destination": self.destination,
            "pattern": self.pattern,
            "matcher": self.matcher,
        });
        if let (Some(ticket), Some(reply_to)) = (&self.ticket, &self.reply_to) {
            body["ticket"] = json!(ticket);
            body["reply_to"] =
                json!({"exchange": reply_to.exchange, "routing_key": reply_to.routing_key});
        }
        body
    }

    /// Whether node `node` runs it (kombu's `Node.handle_message`): named in `destination`,
    /// else matching `pattern`, else every node.
    pub fn is_for(&self, node: &str) -> bool {
        if let Some(destination) = self.destination.as_ref().filter(|d| !d.is_empty()) {
            return destination.iter().any(|d| d == node);
        }
        match (&self.pattern, self.matcher.as_deref()) {
            (Some(pattern), None | Some("glob")) => glob_match(pattern, node),
            // A matcher canter does not have (`pcre`): not for it, rather than for every node.
            (Some(_), Some(_)) => false,
            (None, _) => true,
        }
    }
}

/// fnmatch's `*` and `?` (kombu's default `glob` matcher; no character classes).
fn glob_match(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// A transport's remote-control and events wire (the broker's [`mailbox`](crate::Transport::mailbox)).
pub trait Mailbox: Send + Sync + 'static {
    /// The requests broadcast from now on to node `node` (every one: [`ControlRequest::is_for`]
    /// filters).
    fn listen<'a>(
        &'a self,
        node: &'a str,
    ) -> BoxFuture<'a, Result<BoxStream<'static, ControlRequest>, TaskError>>;
    /// Sends `reply` (`{"<node>": …}`) for the request with `ticket` to `to`.
    fn reply<'a>(
        &'a self,
        to: &'a ReplyTo,
        ticket: &'a str,
        reply: Value,
        clock: u64,
    ) -> BoxFuture<'a, Result<(), TaskError>>;
    /// Broadcasts `request`; with `wait`, collects the replies (each `{"<node>": …}`) until
    /// none came for `wait` or `limit` came.
    fn broadcast(
        &self,
        request: ControlRequest,
        wait: Option<Duration>,
        limit: Option<usize>,
    ) -> BoxFuture<'_, Result<Vec<Value>, TaskError>>;
    /// Publishes an event (a JSON object in Celery's shape) on `celeryev`.
    fn send_event<'a>(&'a self, event: &'a Value) -> BoxFuture<'a, Result<(), TaskError>>;
    /// The connection as a worker's `stats` reply shows it (`broker`).
    fn broker_info(&self) -> Value;
}

/// Sends `method` with `arguments` to the workers on the current app's broker (`destination`:
/// those nodes only) and returns each one's reply, by node, as they came within `wait` of
/// silence (Celery's `app.control.broadcast(…, reply=True)`).
pub async fn broadcast(
    method: &str,
    arguments: Value,
    destination: Option<Vec<String>>,
    wait: Duration,
) -> Result<Vec<(String, Value)>, TaskError> {
    let mailbox = broker()?.mailbox().ok_or_else(|| {
        TaskError::Broker("this broker has no remote control (Redis and RabbitMQ have)".into())
    })?;
    let limit = destination.as_ref().map(Vec::len).filter(|n| *n > 0);
    let request = ControlRequest::new(method, arguments, destination);
    let replies = mailbox.broadcast(request, Some(wait), limit).await?;
    Ok(replies
        .into_iter()
        .filter_map(|reply| match reply {
            Value::Object(one) => one.into_iter().next(),
            _ => None,
        })
        .collect())
}

/// Sends `method` to every worker without waiting for replies (Celery's cast).
pub async fn cast(method: &str, arguments: Value) -> Result<(), TaskError> {
    if let Some(mailbox) = broker()?.mailbox() {
        let request = ControlRequest::new(method, arguments, None);
        mailbox.broadcast(request, None, None).await?;
    }
    Ok(())
}

/// A Lamport clock (Celery's `LamportClock`): ticks on every message sent, and jumps past any
/// clock received.
#[derive(Debug, Default)]
pub(crate) struct Clock(AtomicU64);

impl Clock {
    pub(crate) fn tick(&self) -> u64 {
        self.0.fetch_add(1, Ordering::Relaxed) + 1
    }

    pub(crate) fn adjust(&self, other: u64) -> u64 {
        let bump = |value: u64| Some(value.max(other) + 1);
        let before = self
            .0
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, bump);
        before.map_or(other + 1, |value| value.max(other) + 1)
    }

    pub(crate) fn now(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// ISO 8601 in UTC with microseconds, as Python's `isoformat()` writes an aware time.
pub(crate) fn iso8601_utc(seconds: f64) -> String {
    let micros = (seconds * 1e6).round() as i64;
    let (secs, micros) = (micros.div_euclid(1_000_000), micros.rem_euclid(1_000_000));
    let (days, day_secs) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Howard Hinnant's civil-from-days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let (h, m, s) = (day_secs / 3600, day_secs % 3600 / 60, day_secs % 60);
    format!("{year:04}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}.{micros:06}+00:00")
}

/// `{'a', 'b'}`: a Python set's repr (Celery's revoke reply embeds one).
pub(crate) fn python_set(ids: &[String]) -> String {
    let quoted: Vec<String> = ids.iter().map(|id| format!("'{id}'")).collect();
    format!("{{{}}}", quoted.join(", "))
}

/// A canter event made Celery's: the standard fields (`utcoffset`, `pid`, `clock`), a task
/// event's arguments as the repr strings Celery sends, and its times in ISO 8601 (no ETA for a
/// task due at once).
pub(crate) fn celery_event(event: &Value, clock: u64) -> Value {
    let mut event = event.as_object().cloned().unwrap_or_else(Map::new);
    let sent_at = event
        .get("timestamp")
        .and_then(Value::as_f64)
        .unwrap_or(0.0);
    for key in ["eta", "expires"] {
        if let Some(at) = event.get(key).and_then(Value::as_f64) {
            let later = key == "expires" || at > sent_at;
            let shown = if later {
                json!(iso8601_utc(at))
            } else {
                Value::Null
            };
            event.insert(key.into(), shown);
        }
    }
    event.insert("utcoffset".into(), json!(0));
    event.insert("pid".into(), json!(std::process::id()));
    event.insert("clock".into(), json!(clock));
    for key in ["args", "kwargs"] {
        if let Some(value) = event.get(key).filter(|v| !v.is_string()) {
            let repr = value.to_string();
            event.insert(key.into(), json!(repr));
        }
    }
    Value::Object(event)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_read_back_and_select_their_nodes() {
        let body = json!({"method": "ping", "arguments": {}, "destination": ["a@h"], "pattern": null,
            "matcher": null, "ticket": "t", "reply_to": {"exchange": "reply.celery.pidbox", "routing_key": "k"}});
        let request = ControlRequest::from_body(&body, 7).unwrap();
        assert_eq!(request.to_body(), body);
        assert!(request.is_for("a@h") && !request.is_for("b@h"));
        let cast = ControlRequest::new("shutdown", json!({}), None);
        assert!(cast.to_body().get("ticket").is_none() && cast.is_for("anyone"));
        let pattern = ControlRequest {
            pattern: Some("worker-*@*".into()),
            ..cast
        };
        assert!(pattern.is_for("worker-1@x") && !pattern.is_for("celery@x"));
    }

    #[test]
    fn globs_match_as_fnmatch() {
        assert!(glob_match("*", "") && glob_match("a?c", "abc") && glob_match("a*c*", "abxcd"));
        assert!(!glob_match("a*c", "abd") && !glob_match("?", ""));
    }

    #[test]
    fn clocks_jump_past_what_they_hear() {
        let clock = Clock::default();
        assert_eq!((clock.tick(), clock.tick()), (1, 2));
        assert_eq!(clock.adjust(10), 11);
        assert_eq!(clock.adjust(3), 12);
    }

    #[test]
    fn times_are_written_as_python_writes_them() {
        assert_eq!(
            iso8601_utc(1_795_605_240.5),
            "2026-11-25T11:14:00.500000+00:00"
        );
        assert_eq!(iso8601_utc(0.0), "1970-01-01T00:00:00.000000+00:00");
        assert_eq!(
            iso8601_utc(951_782_400.0),
            "2000-02-29T00:00:00.000000+00:00"
        );
    }

    #[test]
    fn a_python_set_repr() {
        assert_eq!(python_set(&["a".into(), "b".into()]), "{'a', 'b'}");
    }
}
