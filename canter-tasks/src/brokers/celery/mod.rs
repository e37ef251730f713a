//! The wire contract with Python Celery: message protocol v2 (its headers and its
//! `[args, kwargs, embed]` body, shared by the Redis and RabbitMQ transports), kombu's Redis
//! envelope, queue keys and priority sub-queues, and the Redis result backend's
//! `celery-task-meta-<id>` records. Kept apart from the broker logic: this is what a Python
//! process must read back. (Facts from `django-async-spec.md` §4 and `interop-formats.md` §7,
//! read from celery/kombu and observed on the wire.)

use base64::Engine as _;
use chrono::{DateTime, NaiveDateTime, SecondsFormat, Utc};
use serde_json::{json, Map, Value};

use crate::broker::TaskMessage;

mod results;
pub use results::{decode_record, decode_result, encode_result, result_value};
#[cfg(feature = "orm")] // the database result backend's chord counter is their only user
pub(crate) use results::{exception, ERROR_MODULE};

/// kombu's separator between a queue name and its priority step.
pub const SEP: &str = "\x06\x16";
/// kombu's default `priority_steps`.
pub const PRIORITY_STEPS: [i64; 4] = [0, 3, 6, 9];

/// The step a message of priority `p` (clamped to 0..=9) is queued under.
pub fn priority_step(p: i64) -> i64 {
    let p = p.clamp(0, 9);
    PRIORITY_STEPS
        .iter()
        .rev()
        .copied()
        .find(|s| *s <= p)
        .unwrap_or(0)
}

/// The list a message for `queue` at `priority` is pushed on (`queue`, or `queue\x06\x16<step>`).
pub fn queue_key(prefix: &str, queue: &str, priority: i64) -> String {
    match priority_step(priority) {
        0 => format!("{prefix}{queue}"),
        step => format!("{prefix}{queue}{SEP}{step}"),
    }
}

/// Every list of `queues`, in the order kombu's BRPOP serves them: all queues at step 0 first,
/// then step 3, … (on Redis a lower priority number is served first).
pub fn consume_order(prefix: &str, queues: &[String]) -> Vec<String> {
    PRIORITY_STEPS
        .iter()
        .flat_map(|step| queues.iter().map(move |q| queue_key(prefix, q, *step)))
        .collect()
}

/// The key of Celery's chord record `suffix` for group `group_id` (its Redis backend's
/// `celery-taskset-meta-<group>.j` member outcomes, `.t` extra count, `.s` size).
pub fn chord_key(group_id: &str, suffix: &str) -> String {
    format!("celery-taskset-meta-{group_id}.{suffix}")
}

/// A chord member's outcome as Celery records it: `[1, id, state, value]`.
pub fn chord_part(entry: &str) -> Option<crate::broker::ChordPart> {
    let entry: Value = serde_json::from_str(entry).ok()?;
    let [_, id, state, value] = <&[Value; 4]>::try_from(entry.as_array()?.as_slice()).ok()?;
    let state = crate::result::TaskStatus::parse(state.as_str()?);
    Some((id.as_str()?.to_owned(), state, value.clone()))
}

/// The redis key holding task `id`'s result.
pub fn result_key(prefix: &str, id: &str) -> String {
    format!("{prefix}celery-task-meta-{id}")
}

/// ISO 8601, timezone-aware UTC, as Python's `isoformat()` writes it.
pub fn iso8601(seconds: f64) -> String {
    let whole = seconds.floor();
    let nanos = ((seconds - whole) * 1e9) as u32;
    DateTime::<Utc>::from_timestamp(whole as i64, nanos.min(999_999_999))
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Micros, false)
}

/// Seconds since the epoch of an ISO 8601 time; a naive one is taken as UTC.
pub fn parse_iso8601(text: &str) -> Option<f64> {
    let at = |d: DateTime<Utc>| d.timestamp() as f64 + f64::from(d.timestamp_subsec_nanos()) / 1e9;
    if let Ok(d) = DateTime::parse_from_rfc3339(text) {
        return Some(at(d.with_timezone(&Utc)));
    }
    NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f")
        .ok()
        .map(|n| at(n.and_utc()))
}

/// Who sent a message (`gen<pid>@<host>`, Celery's `origin`).
pub fn origin() -> String {
    format!("gen{}@{}", std::process::id(), crate::broker::hostname())
}

/// A new delivery tag (kombu: a fresh uuid4 per publish).
pub fn delivery_tag() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Celery cuts `argsrepr` / `kwargsrepr` at this many characters (its `saferepr` limit), so
/// a header stays small (AMQP cannot split a header frame).
const REPR_MAX: usize = 1024;

fn repr(value: &Value) -> String {
    let text = value.to_string();
    match text.char_indices().nth(REPR_MAX) {
        Some((cut, _)) => format!("{}...", &text[..cut]),
        None => text,
    }
}

/// A protocol v2 message's body: `[args, kwargs, embed]`.
pub fn task_body(m: &TaskMessage) -> Value {
    let embed = m.embed.clone().unwrap_or_else(
        || json!({"callbacks": null, "errbacks": null, "chain": null, "chord": null}),
    );
    json!([m.args, m.kwargs, embed])
}

/// A protocol v2 message's headers for `m`, sent by `origin`.
pub fn task_headers(m: &TaskMessage, origin: &str) -> Value {
    json!({
            "lang": "rs",
            "task": m.name,
            "id": m.id,
            "shadow": null,
            "eta": (m.eta > 0.0).then(|| iso8601(m.eta)),
            "expires": m.expires.map(iso8601),
            "group": m.group,
            "group_index": m.group_index,
            "retries": m.retries,
            "timelimit": [null, null],
            "root_id": m.root_id.as_deref().unwrap_or(&m.id),
            "parent_id": m.parent_id,
            "argsrepr": repr(&m.args),
            "kwargsrepr": repr(&m.kwargs),
            "origin": origin,
            "ignore_result": false,
            "replaced_task_nesting": 0,
            "stamped_headers": null,
            "stamps": {},
    })
}

/// The kombu envelope of a protocol v2 message for `m`, with a fresh delivery tag (returned too).
pub fn encode_message(m: &TaskMessage, origin: &str, reply_to: &str) -> (String, String) {
    let body = task_body(m);
    let tag = delivery_tag();
    let envelope = json!({
        "body": base64::engine::general_purpose::STANDARD.encode(body.to_string()),
        "content-encoding": "utf-8",
        "content-type": "application/json",
        "headers": task_headers(m, origin),
        "properties": {
            "correlation_id": m.id,
            "reply_to": reply_to,
            "delivery_mode": 2,
            "delivery_info": {"exchange": "", "routing_key": m.queue},
            "priority": m.priority.clamp(0, 9),
            "body_encoding": "base64",
            "delivery_tag": tag,
        },
    });
    (envelope.to_string(), tag)
}

/// What a worker needs of a received envelope.
#[derive(Debug, Clone, PartialEq)]
pub struct Received {
    pub message: TaskMessage,
    pub delivery_tag: String,
}

/// Why an envelope cannot be run: its id (when it has one, so a FAILURE can be stored) and what
/// is wrong with it.
#[derive(Debug, Clone, PartialEq)]
pub struct Invalid {
    pub id: Option<String>,
    pub name: Option<String>,
    pub reason: String,
}

/// Reads a kombu envelope holding a protocol v2 message (`queue` is where it was popped from,
/// used when `delivery_info` lacks a routing key).
pub fn decode_message(raw: &str, queue: &str) -> Result<Received, Invalid> {
    let envelope: Value = serde_json::from_str(raw).map_err(|e| Invalid {
        id: None,
        name: None,
        reason: format!("the message is not JSON: {e}"),
    })?;
    let headers = envelope.get("headers").and_then(Value::as_object);
    let properties = envelope.get("properties").and_then(Value::as_object);
    let (Some(headers), Some(properties)) = (headers, properties) else {
        return Err(Invalid {
            id: None,
            name: None,
            reason: "no headers/properties: not a kombu envelope".into(),
        });
    };
    let tag = properties.get("delivery_tag").and_then(Value::as_str);
    let info = properties.get("delivery_info");
    let routing_key = info
        .and_then(|d| d.get("routing_key"))
        .and_then(Value::as_str)
        .filter(|k| !k.is_empty())
        .unwrap_or(queue);
    let content_type = envelope.get("content-type").and_then(Value::as_str);
    let body = envelope.get("body").and_then(Value::as_str).unwrap_or("");
    let base64 = properties.get("body_encoding").and_then(Value::as_str) == Some("base64");
    let delivered = Delivered {
        routing_key,
        priority: properties.get("priority").and_then(Value::as_i64),
        redelivered: headers
            .get("redelivered")
            .and_then(Value::as_bool)
            .unwrap_or(false)
            || info
                .and_then(|d| d.get("redelivered"))
                .and_then(Value::as_bool)
                .unwrap_or(false),
    };
    let message = read_message(
        headers,
        content_type,
        |bad| {
            let Some(_) = tag else {
                return Err(bad("no properties.delivery_tag".into()));
            };
            if !base64 {
                return Ok(body.as_bytes().to_vec());
            }
            base64::engine::general_purpose::STANDARD
                .decode(body)
                .map_err(|e| bad(format!("the body is not base64: {e}")))
        },
        &delivered,
    )?;
    Ok(Received {
        message,
        delivery_tag: tag.unwrap_or_default().to_owned(),
    })
}

/// How a message was delivered, as its transport tells (what the message itself does not).
pub struct Delivered<'a> {
    /// Its queue (the routing key it was published with).
    pub routing_key: &'a str,
    /// Its priority, in canter's order (0 first; see [`crate::broker::clamp_priority`]).
    pub priority: Option<i64>,
    pub redelivered: bool,
}

/// A protocol v2 message from its `headers`, its content type (`None`: JSON) and its body
/// (`body` gives the bytes, or an error made with the `bad` it is given, which names the
/// message). An error names the message when its headers do.
pub fn read_message(
    headers: &Map<String, Value>,
    content_type: Option<&str>,
    body: impl FnOnce(&dyn Fn(String) -> Invalid) -> Result<Vec<u8>, Invalid>,
    delivered: &Delivered,
) -> Result<TaskMessage, Invalid> {
    let id = headers.get("id").and_then(Value::as_str);
    let name = headers.get("task").and_then(Value::as_str);
    let (Some(id), Some(name)) = (id, name) else {
        return Err(Invalid {
            id: id.map(str::to_owned),
            name: name.map(str::to_owned),
            reason: "no `task`/`id` header: not Celery message protocol v2".into(),
        });
    };
    let bad = |reason: String| Invalid {
        id: Some(id.to_owned()),
        name: Some(name.to_owned()),
        reason,
    };
    let content_type = content_type.unwrap_or("application/json");
    if content_type != "application/json" {
        return Err(bad(format!(
            "content type {content_type:?} is not supported: canter speaks JSON (Celery's default `task_serializer = \"json\"`)"
        )));
    }
    let body = body(&bad)?;
    let body: Value =
        serde_json::from_slice(&body).map_err(|e| bad(format!("the body is not JSON: {e}")))?;
    let Some([args, kwargs, embed]) = body
        .as_array()
        .and_then(|b| <&[Value; 3]>::try_from(b.as_slice()).ok())
    else {
        return Err(bad("the body is not [args, kwargs, embed]".into()));
    };
    if !args.is_array() {
        return Err(bad("args is not a list".into()));
    }
    let time = |key: &str| -> Result<Option<f64>, Invalid> {
        match headers.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(text)) => parse_iso8601(text)
                .map(Some)
                .ok_or_else(|| bad(format!("{key} {text:?} is not an ISO 8601 time"))),
            Some(other) => Err(bad(format!("{key} {other} is not an ISO 8601 time"))),
        }
    };
    let text = |key: &str| headers.get(key).and_then(Value::as_str).map(str::to_owned);
    Ok(TaskMessage {
        id: id.to_owned(),
        name: name.to_owned(),
        queue: delivered.routing_key.to_owned(),
        priority: delivered.priority.map_or(0, crate::broker::clamp_priority),
        args: args.clone(),
        // Passed on as sent: one that is not a mapping is refused by the worker.
        kwargs: kwargs.clone(),
        eta: time("eta")?.unwrap_or(0.0),
        expires: time("expires")?,
        retries: headers.get("retries").and_then(Value::as_u64).unwrap_or(0) as u32,
        parent_id: text("parent_id"),
        // Python sets it to the task's own id when nothing sent it: kept as `None` then.
        root_id: text("root_id").filter(|root| root != id),
        redelivered: delivered.redelivered,
        group: text("group"),
        group_index: headers.get("group_index").and_then(Value::as_u64),
        // Kept whole when it carries a chain, a chord or callbacks (what canter acts on);
        // Python's other embed fields travel with it.
        embed: (["chain", "callbacks", "errbacks"].iter().any(|key| {
            embed
                .get(key)
                .and_then(Value::as_array)
                .is_some_and(|c| !c.is_empty())
        }) || embed.get("chord").is_some_and(Value::is_object))
        .then(|| embed.clone()),
    })
}

/// The envelope sent again for a retry (or a cut run): the original one, so what Python put
/// in it (root and parent ids, group, callbacks) travels on, with the new attempt count and
/// due time and a fresh delivery tag.
pub fn resend(raw: &str, retries: u32, eta: f64) -> Option<String> {
    let mut envelope: Value = serde_json::from_str(raw).ok()?;
    let headers = envelope.get_mut("headers")?.as_object_mut()?;
    headers.insert("retries".into(), json!(retries));
    headers.insert("eta".into(), json!(iso8601(eta)));
    let properties = envelope.get_mut("properties")?.as_object_mut()?;
    properties.insert("delivery_tag".into(), json!(delivery_tag()));
    Some(envelope.to_string())
}

/// An `unacked` entry (`[envelope, exchange, routing_key]`) made ready to go back on its
/// queue, as kombu's `restore_by_tag` does: the envelope marked `redelivered`. Returns the
/// envelope, the routing key and the priority.
pub fn restored(entry: &str) -> Option<(String, String, String, i64)> {
    let entry: Value = serde_json::from_str(entry).ok()?;
    let [envelope, exchange, routing_key] =
        <&[Value; 3]>::try_from(entry.as_array()?.as_slice()).ok()?;
    let mut envelope = envelope.clone();
    envelope
        .get_mut("headers")?
        .as_object_mut()?
        .insert("redelivered".into(), json!(true));
    let properties = envelope.get_mut("properties")?.as_object_mut()?;
    let priority = properties
        .get("priority")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    if let Some(info) = properties
        .get_mut("delivery_info")
        .and_then(Value::as_object_mut)
    {
        info.insert("redelivered".into(), json!(true));
    }
    Some((
        envelope.to_string(),
        exchange.as_str().unwrap_or("").to_owned(),
        routing_key.as_str()?.to_owned(),
        priority,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message() -> TaskMessage {
        TaskMessage {
            id: "05c6e3b1-15e2-453f-856d-2fd83d549940".into(),
            name: "demo.add".into(),
            queue: "celery".into(),
            priority: 5,
            args: json!([2, 3]),
            kwargs: json!({"c": [1, "x"]}),
            eta: 1_795_605_240.5,
            expires: Some(1_795_605_300.0),
            retries: 1,
            embed: None,
            ..Default::default()
        }
    }

    #[test]
    fn priorities_map_to_kombu_sub_queues() {
        assert_eq!(queue_key("", "celery", 0), "celery");
        assert_eq!(queue_key("", "celery", 5), "celery\x06\x163");
        assert_eq!(queue_key("p:", "celery", 9), "p:celery\x06\x169");
        assert_eq!(queue_key("", "celery", 42), "celery\x06\x169");
        assert_eq!(queue_key("", "celery", -1), "celery");
        let order = consume_order("", &["a".into(), "b".into()]);
        assert_eq!(order[..3], ["a", "b", "a\x06\x163"]);
        assert_eq!(order.len(), 8);
    }

    #[test]
    fn envelope_has_every_field_a_python_worker_reads() {
        let (raw, tag) = encode_message(&message(), "gen1@host", "reply");
        let envelope: Value = serde_json::from_str(&raw).unwrap();
        assert_eq!(envelope["content-type"], "application/json");
        assert_eq!(envelope["content-encoding"], "utf-8");
        let p = &envelope["properties"];
        assert_eq!(p["delivery_tag"], tag.as_str());
        assert_eq!(
            p["delivery_info"],
            json!({"exchange": "", "routing_key": "celery"})
        );
        assert_eq!(p["body_encoding"], "base64");
        assert_eq!(p["priority"], 5);
        let h = &envelope["headers"];
        assert_eq!(h["task"], "demo.add");
        assert_eq!(h["id"], "05c6e3b1-15e2-453f-856d-2fd83d549940");
        assert_eq!(h["root_id"], h["id"]);
        assert_eq!(h["retries"], 1);
        assert_eq!(h["eta"], "2026-11-25T11:14:00.500000+00:00");
        assert_eq!(h["timelimit"], json!([null, null]));
        let body = base64::engine::general_purpose::STANDARD
            .decode(envelope["body"].as_str().unwrap())
            .unwrap();
        let body: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body[0], json!([2, 3]));
        assert_eq!(body[1], json!({"c": [1, "x"]}));
        assert_eq!(h["kwargsrepr"], r#"{"c":[1,"x"]}"#);
        assert!(
            body[2].is_object(),
            "three elements: a Celery worker unpacks exactly three"
        );
    }

    #[test]
    fn envelopes_round_trip() {
        let (raw, tag) = encode_message(&message(), "gen1@host", "reply");
        let received = decode_message(&raw, "ignored").unwrap();
        assert_eq!(received.delivery_tag, tag);
        let mut expected = message();
        expected.eta = 1_795_605_240.5;
        assert_eq!(received.message, expected);
    }

    /// Found by fuzz/celery_message: serde_json's default float parsing can land one ULP off,
    /// so a float argument came out of an envelope other than it went in (and other than the
    /// number Python sent: its `json` parses exactly).
    #[test]
    fn float_arguments_arrive_exactly() {
        let float: f64 = "222222222222222.22".parse().unwrap();
        let mut sent = message();
        sent.args = json!([float, 0.1, 1e-300, 7.777777777777777e19]);
        let (raw, _) = encode_message(&sent, "gen1@host", "reply");
        let received = decode_message(&raw, "ignored").unwrap().message;
        assert_eq!(received.args, sent.args);
        assert_eq!(received.args[0].as_f64(), Some(float));
    }

    #[test]
    fn a_python_envelope_is_read() {
        // As Celery 5 sent `add.apply_async((2, 3), countdown=10, expires=60, priority=5, link=...)`.
        let body = base64::engine::general_purpose::STANDARD.encode(
            r#"[[2, 3], {}, {"callbacks": [{"task": "proj.add", "args": [10], "kwargs": {}, "options": {}, "subtask_type": null, "immutable": false}], "errbacks": null, "chain": null, "chord": null}]"#,
        );
        let raw = json!({
            "body": body, "content-encoding": "utf-8", "content-type": "application/json",
            "headers": {"lang": "py", "task": "proj.add", "id": "05c6e3b1", "shadow": null,
                "eta": "2026-11-25T11:13:48.335227+00:00", "expires": "2026-11-25T11:14:38.335227+00:00",
                "group": null, "group_index": null, "retries": 0, "timelimit": [null, null],
                "root_id": "05c6e3b1", "parent_id": null, "argsrepr": "(2, 3)", "kwargsrepr": "{}",
                "origin": "gen7012@vm", "ignore_result": false, "stamps": {}},
            "properties": {"correlation_id": "05c6e3b1", "reply_to": "6704cef2",
                "delivery_mode": 2, "expiration": "60000",
                "delivery_info": {"exchange": "", "routing_key": "celery"}, "priority": 5,
                "body_encoding": "base64", "delivery_tag": "f7d634b8"}
        })
        .to_string();
        let received = decode_message(&raw, "celery").unwrap();
        assert_eq!(received.delivery_tag, "f7d634b8");
        let m = received.message;
        assert_eq!(
            (m.name.as_str(), m.id.as_str(), m.queue.as_str()),
            ("proj.add", "05c6e3b1", "celery")
        );
        assert_eq!(m.args, json!([2, 3]));
        assert_eq!(m.priority, 5);
        assert!((m.eta - 1_795_605_228.335_227).abs() < 1e-3, "{}", m.eta);
        assert!((m.expires.unwrap() - 1_795_605_278.335_227).abs() < 1e-3);
        // Its own root, nothing before it.
        assert_eq!((m.root_id, m.parent_id, m.redelivered), (None, None, false));
    }

    #[test]
    fn parent_and_root_travel_as_celerys_headers() {
        let child = TaskMessage {
            parent_id: Some("p".into()),
            root_id: Some("r".into()),
            ..message()
        };
        let (raw, _) = encode_message(&child, "gen1@host", "reply");
        let envelope: Value = serde_json::from_str(&raw).unwrap();
        assert_eq!(
            (
                &envelope["headers"]["parent_id"],
                &envelope["headers"]["root_id"]
            ),
            (&json!("p"), &json!("r"))
        );
        let read = decode_message(&raw, "celery").unwrap().message;
        assert_eq!(
            (read.parent_id, read.root_id),
            (child.parent_id, child.root_id)
        );
    }

    #[test]
    fn bad_envelopes_say_why() {
        let reason = |raw: &str| decode_message(raw, "celery").unwrap_err();
        assert!(reason("not json").reason.contains("not JSON"));
        assert!(reason("{}").reason.contains("kombu envelope"));
        let no_task = json!({"headers": {"id": "x"}, "properties": {}}).to_string();
        assert_eq!(reason(&no_task).id.as_deref(), Some("x"));
        let body = |body: &str| {
            json!({"body": base64::engine::general_purpose::STANDARD.encode(body),
                "content-type": "application/json",
                "headers": {"id": "x", "task": "t"},
                "properties": {"delivery_tag": "d", "body_encoding": "base64"}})
            .to_string()
        };
        assert!(reason(&body("[[2, 3], {}]"))
            .reason
            .contains("[args, kwargs, embed]"));
        // Keyword arguments are read as sent, a mapping or not (the worker refuses the latter).
        for kwargs in [r#"{"a": 1}"#, "[1]"] {
            let raw = body(&format!("[[], {kwargs}, {{}}]"));
            let m = decode_message(&raw, "celery").unwrap().message;
            assert_eq!(m.kwargs, serde_json::from_str::<Value>(kwargs).unwrap());
        }
        let pickle = json!({"body": "gAN9cQAu", "content-type": "application/x-python-serialize",
            "headers": {"id": "x", "task": "t"}, "properties": {"delivery_tag": "d"}})
        .to_string();
        assert!(reason(&pickle).reason.contains("not supported"));
        let eta = json!({"body": base64::engine::general_purpose::STANDARD.encode("[[], {}, {}]"),
            "headers": {"id": "x", "task": "t", "eta": "tomorrow"},
            "properties": {"delivery_tag": "d", "body_encoding": "base64"}})
        .to_string();
        assert!(reason(&eta).reason.contains("ISO 8601"));
    }

    #[test]
    fn restore_marks_redelivered_and_resend_counts_retries() {
        let (raw, tag) = encode_message(&message(), "gen1@host", "reply");
        let entry = format!("[{raw}, \"\", \"celery\"]");
        let (envelope, exchange, routing_key, priority) = restored(&entry).unwrap();
        assert_eq!(
            (exchange.as_str(), routing_key.as_str(), priority),
            ("", "celery", 5)
        );
        let envelope: Value = serde_json::from_str(&envelope).unwrap();
        assert_eq!(envelope["headers"]["redelivered"], true);
        assert_eq!(envelope["properties"]["delivery_info"]["redelivered"], true);
        assert_eq!(envelope["properties"]["delivery_tag"], tag.as_str());

        let again = resend(&raw, 2, 1_795_605_250.0).unwrap();
        let received = decode_message(&again, "celery").unwrap();
        assert_ne!(received.delivery_tag, tag);
        assert_eq!(received.message.retries, 2);
        assert_eq!(received.message.eta, 1_795_605_250.0);
    }
}
