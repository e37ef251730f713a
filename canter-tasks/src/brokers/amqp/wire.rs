//! Celery's protocol v2 as AMQP carries it (kombu's conventions): the headers as an AMQP field
//! table, the `[args, kwargs, embed]` body as JSON, the task id as `correlation_id`, and the
//! priority turned around (AMQP serves the higher number first; canter's order serves 0 first
//! on every broker, so canter's `p` goes out as `9 − p` and comes back the same way, and a
//! Python producer's `priority=9` is canter's 0: the first on both sides).

use lapin::types::{AMQPValue, FieldArray, FieldTable, LongString, ShortString};
use lapin::BasicProperties;
use serde_json::{json, Map, Value};

use crate::broker::TaskMessage;
use crate::brokers::celery::{self, Delivered, Invalid};

/// The highest AMQP priority Celery's queues are declared with (`x-max-priority`, when they
/// are).
pub(crate) const MAX_PRIORITY: u8 = 9;

/// canter's priority as AMQP's, and back (the same map both ways).
pub(crate) fn amqp_priority(priority: i64) -> u8 {
    MAX_PRIORITY - crate::broker::clamp_priority(priority) as u8
}

/// A JSON value as an AMQP field value (what py-amqp writes for the same Python value).
pub(crate) fn to_amqp(value: &Value) -> AMQPValue {
    match value {
        Value::Null => AMQPValue::Void,
        Value::Bool(b) => AMQPValue::Boolean(*b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => AMQPValue::LongLongInt(i),
            None => AMQPValue::Double(n.as_f64().unwrap_or(0.0)),
        },
        Value::String(s) => AMQPValue::LongString(LongString::from(s.as_bytes())),
        Value::Array(items) => AMQPValue::FieldArray(FieldArray::from(
            items.iter().map(to_amqp).collect::<Vec<_>>(),
        )),
        Value::Object(map) => AMQPValue::FieldTable(to_table(map)),
    }
}

pub(crate) fn to_table(map: &Map<String, Value>) -> FieldTable {
    let mut table = FieldTable::default();
    for (key, value) in map {
        table.insert(ShortString::from(key.as_str()), to_amqp(value));
    }
    table
}

/// An AMQP field value as JSON.
pub(crate) fn to_json(value: &AMQPValue) -> Value {
    match value {
        AMQPValue::Void => Value::Null,
        AMQPValue::Boolean(b) => json!(b),
        AMQPValue::ShortShortInt(n) => json!(n),
        AMQPValue::ShortShortUInt(n) => json!(n),
        AMQPValue::ShortInt(n) => json!(n),
        AMQPValue::ShortUInt(n) => json!(n),
        AMQPValue::LongInt(n) => json!(n),
        AMQPValue::LongUInt(n) => json!(n),
        AMQPValue::LongLongInt(n) => json!(n),
        AMQPValue::Float(f) => json!(f),
        AMQPValue::Double(f) => json!(f),
        AMQPValue::DecimalValue(d) => {
            json!(f64::from(d.value) / 10f64.powi(i32::from(d.scale)))
        }
        AMQPValue::ShortString(s) => json!(s.as_str()),
        AMQPValue::LongString(s) => json!(String::from_utf8_lossy(s.as_bytes())),
        AMQPValue::FieldArray(items) => items.as_slice().iter().map(to_json).collect(),
        AMQPValue::Timestamp(t) => json!(t),
        AMQPValue::FieldTable(table) => Value::Object(table_to_json(table)),
        AMQPValue::ByteArray(bytes) => json!(String::from_utf8_lossy(bytes.as_slice())),
    }
}

pub(crate) fn table_to_json(table: &FieldTable) -> Map<String, Value> {
    table
        .inner()
        .iter()
        .map(|(key, value)| (key.as_str().to_owned(), to_json(value)))
        .collect()
}

/// The properties and body of task `m`'s message, sent by `origin` (replies to `reply_to`).
pub(crate) fn encode(
    m: &TaskMessage,
    origin: &str,
    reply_to: &str,
    headers: Option<&Map<String, Value>>,
) -> (BasicProperties, Vec<u8>) {
    let headers = match headers {
        Some(headers) => headers.clone(),
        None => match celery::task_headers(m, origin) {
            Value::Object(headers) => headers,
            _ => Map::new(),
        },
    };
    let properties = BasicProperties::default()
        .with_content_type("application/json".into())
        .with_content_encoding("utf-8".into())
        .with_delivery_mode(2)
        .with_priority(amqp_priority(m.priority))
        .with_correlation_id(m.id.as_str().into())
        .with_reply_to(reply_to.into())
        .with_headers(to_table(&headers));
    (properties, celery::task_body(m).to_string().into_bytes())
}

/// A received message read back: the task, and its headers (a retry sends them again, so
/// what Python put there travels on).
pub(crate) fn decode(
    properties: &BasicProperties,
    body: &[u8],
    routing_key: &str,
    redelivered: bool,
) -> Result<(TaskMessage, Map<String, Value>), Invalid> {
    let headers = properties
        .headers()
        .as_ref()
        .map(table_to_json)
        .unwrap_or_default();
    let content_type = properties.content_type().as_ref().map(|t| t.as_str());
    let delivered = Delivered {
        routing_key,
        priority: properties
            .priority()
            .map(|p| i64::from(MAX_PRIORITY.saturating_sub(p.min(MAX_PRIORITY)))),
        redelivered,
    };
    let message = celery::read_message(&headers, content_type, |_| Ok(body.to_vec()), &delivered)?;
    Ok((message, headers))
}

/// `headers` of a message sent again (a retry, a cut run): the attempt count and due time.
pub(crate) fn resent_headers(
    headers: &Map<String, Value>,
    retries: u32,
    eta: f64,
) -> Map<String, Value> {
    let mut headers = headers.clone();
    headers.insert("retries".into(), json!(retries));
    headers.insert("eta".into(), json!(celery::iso8601(eta)));
    headers
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn priorities_turn_around_both_ways() {
        assert_eq!(
            (amqp_priority(0), amqp_priority(9), amqp_priority(42)),
            (9, 0, 0)
        );
        let m = TaskMessage {
            id: "i".into(),
            name: "t".into(),
            queue: "celery".into(),
            priority: 2,
            args: json!([1]),
            kwargs: json!({"a": [1, 2.5, null]}),
            ..Default::default()
        };
        let (properties, body) = encode(&m, "gen1@h", "r", None);
        let (read, headers) = decode(&properties, &body, "celery", true).unwrap();
        assert_eq!((read.priority, read.redelivered), (2, true));
        assert_eq!((read.args, read.kwargs), (m.args, m.kwargs));
        assert_eq!(headers["task"], "t");
    }

    #[test]
    fn field_values_round_trip() {
        let value =
            json!({"s": "x", "i": -3, "f": 1.5, "b": true, "n": null, "l": [1, {"k": "v"}]});
        assert_eq!(to_json(&to_amqp(&value)), value);
    }
}
