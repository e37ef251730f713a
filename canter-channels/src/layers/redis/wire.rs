//! channels_redis 4.x's wire format, in one place (the rest of the code never sees raw keys or
//! bytes): key names, the consistent hash that picks a shard, and message serialization —
//! `random_prefix` bytes, then msgpack of the message map (str keys, `use_bin_type`), with
//! `__asgi_channel__` carrying the destination (a string for `send`, a list for `group_send`).

use rand::RngCore;
use serde_json::{Map, Number, Value};

use crate::layers::{LayerError, Message};

/// The key that routes a message to its destination inside the receiving process.
pub const ASGI_CHANNEL: &str = "__asgi_channel__";

/// `specific.<client>!` for `specific.<client>!<id>`; other names are their own.
pub fn non_local_name(channel: &str) -> &str {
    match channel.find('!') {
        Some(i) => &channel[..=i],
        None => channel,
    }
}

/// The sorted set holding `channel`'s messages: `prefix + non_local_name` (no separator).
pub fn channel_key(prefix: &str, channel: &str) -> String {
    format!("{prefix}{}", non_local_name(channel))
}

/// Where popped-but-unprocessed messages wait, so a crash does not lose them.
pub fn backup_key(channel_key: &str) -> String {
    format!("{channel_key}$inflight")
}

/// The sorted set of a group's channel names.
pub fn group_key(prefix: &str, group: &str) -> String {
    format!("{prefix}:group:{group}")
}

/// channels_redis's shard index: CRC-32 of the name, low 12 bits, over 4096 / hosts.
pub fn consistent_hash(name: &str, hosts: usize) -> usize {
    if hosts <= 1 {
        return 0;
    }
    let bucket = (crc32fast::hash(name.as_bytes()) & 0xFFF) as usize;
    bucket / (4096 / hosts)
}

fn to_msgpack(value: &Value) -> rmpv::Value {
    match value {
        Value::Null => rmpv::Value::Nil,
        Value::Bool(b) => rmpv::Value::Boolean(*b),
        Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => rmpv::Value::from(i),
            (None, Some(u), _) => rmpv::Value::from(u),
            (_, _, Some(f)) => rmpv::Value::F64(f),
            _ => rmpv::Value::Nil,
        },
        Value::String(s) => rmpv::Value::String(s.as_str().into()),
        Value::Array(items) => rmpv::Value::Array(items.iter().map(to_msgpack).collect()),
        Value::Object(map) => rmpv::Value::Map(
            map.iter()
                .map(|(k, v)| (rmpv::Value::String(k.as_str().into()), to_msgpack(v)))
                .collect(),
        ),
    }
}

fn to_json(value: rmpv::Value) -> Value {
    match value {
        rmpv::Value::Nil => Value::Null,
        rmpv::Value::Boolean(b) => Value::Bool(b),
        rmpv::Value::Integer(i) => i
            .as_i64()
            .map(Value::from)
            .or_else(|| i.as_u64().map(Value::from))
            .unwrap_or(Value::Null),
        rmpv::Value::F32(f) => Number::from_f64(f64::from(f))
            .map(Value::Number)
            .unwrap_or(Value::Null),
        rmpv::Value::F64(f) => Number::from_f64(f)
            .map(Value::Number)
            .unwrap_or(Value::Null),
        rmpv::Value::String(s) => Value::String(s.into_str().unwrap_or_default()),
        // Python `bytes`: text when it is UTF-8, else a list of byte values.
        rmpv::Value::Binary(b) => match String::from_utf8(b) {
            Ok(s) => Value::String(s),
            Err(e) => Value::Array(e.into_bytes().into_iter().map(Value::from).collect()),
        },
        rmpv::Value::Array(items) => Value::Array(items.into_iter().map(to_json).collect()),
        rmpv::Value::Map(pairs) => Value::Object(
            pairs
                .into_iter()
                .filter_map(|(k, v)| {
                    let key = match k {
                        rmpv::Value::String(s) => s.into_str()?,
                        rmpv::Value::Binary(b) => String::from_utf8(b).ok()?,
                        _ => return None,
                    };
                    Some((key, to_json(v)))
                })
                .collect(),
        ),
        rmpv::Value::Ext(_, _) => Value::Null,
    }
}

/// `random_prefix` random bytes + msgpack of the map.
pub fn serialize(message: &Map<String, Value>, random_prefix: usize) -> Vec<u8> {
    let mut out = vec![0u8; random_prefix];
    rand::rng().fill_bytes(&mut out);
    rmpv::encode::write_value(&mut out, &to_msgpack(&Value::Object(message.clone())))
        .expect("writing to a Vec cannot fail");
    out
}

/// The message and its `__asgi_channel__` destinations (one for `send`, several for
/// `group_send`; none if absent).
pub fn deserialize(
    bytes: &[u8],
    random_prefix: usize,
) -> Result<(Message, Vec<String>), LayerError> {
    let body = bytes
        .get(random_prefix..)
        .ok_or_else(|| LayerError::Invalid("message shorter than its random prefix".into()))?;
    let value = rmpv::decode::read_value(&mut &body[..])
        .map_err(|e| LayerError::Invalid(format!("not msgpack: {e}")))?;
    let Value::Object(mut map) = to_json(value) else {
        return Err(LayerError::Invalid("a message is a map".into()));
    };
    let destinations = match map.remove(ASGI_CHANNEL) {
        Some(Value::String(one)) => vec![one],
        Some(Value::Array(many)) => many
            .into_iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    };
    Ok((Message(map), destinations))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_keys() {
        assert_eq!(non_local_name("specific.abc!def"), "specific.abc!");
        assert_eq!(non_local_name("general.chan"), "general.chan");
        assert_eq!(channel_key("asgi", "specific.abc!def"), "asgispecific.abc!");
        assert_eq!(
            backup_key("asgispecific.abc!"),
            "asgispecific.abc!$inflight"
        );
        assert_eq!(group_key("asgi", "chat_room1"), "asgi:group:chat_room1");
    }

    #[test]
    fn consistent_hash_matches_channels_redis() {
        assert_eq!(consistent_hash("anything", 1), 0);
        // zlib.crc32(b"chat_room1") & 0xFFF = 0x..., over 2048 for two hosts.
        let crc = crc32fast::hash(b"chat_room1") & 0xFFF;
        assert_eq!(consistent_hash("chat_room1", 2), (crc / 2048) as usize);
        assert!(consistent_hash("x", 3) < 3);
    }

    /// The bytes of the spec's observed example (a message as channels_redis writes it).
    #[test]
    fn reads_what_python_writes() {
        let channel = "specific.6b0cb63ebbd8497490c9d1e78d12003a!334f0218ca6944c29a0e26dccebf0db4";
        let mut bytes = vec![
            0x82, 0x6a, 0x01, 0x2a, 0xcd, 0x7f, 0x8b, 0x6c, 0x11, 0xb0, 0x72, 0x2a,
        ];
        bytes.push(0x83);
        for (k, v) in [("type", "chat.message"), ("text", "hi")] {
            bytes.push(0xa0 | k.len() as u8);
            bytes.extend_from_slice(k.as_bytes());
            bytes.push(0xa0 | v.len() as u8);
            bytes.extend_from_slice(v.as_bytes());
        }
        bytes.push(0xb0);
        bytes.extend_from_slice(b"__asgi_channel__");
        bytes.push(0xd9);
        bytes.push(channel.len() as u8);
        bytes.extend_from_slice(channel.as_bytes());
        let (message, destinations) = deserialize(&bytes, 12).unwrap();
        assert_eq!(message.kind(), "chat.message");
        assert_eq!(message.get("text").unwrap(), "hi");
        assert_eq!(destinations, vec![channel.to_owned()]);
    }

    #[test]
    fn writes_what_python_reads() {
        let mut map = Map::new();
        map.insert("type".into(), Value::from("x.y"));
        map.insert("n".into(), Value::from(1));
        let bytes = serialize(&map, 12);
        assert_eq!(bytes.len(), 12 + 1 + 5 + 4 + 2 + 1);
        // fixmap of 2, str keys, positive fixint: msgpack-python packs the same.
        assert_eq!(bytes[12], 0x82);
        let (back, destinations) = deserialize(&bytes, 12).unwrap();
        assert_eq!(back.kind(), "x.y");
        assert!(destinations.is_empty());
    }
}
