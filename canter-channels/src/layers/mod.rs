//! Channel layers (Channels' `channels.layers`): named channels, groups of channels, and
//! messages between them, usable from anywhere in the app (a consumer, a view, a task).
//!
//! [`InMemoryChannelLayer`] serves one process; [`RedisChannelLayer`] speaks channels_redis's
//! wire format, for several processes and machines, and for Python Django processes sharing the
//! deployment.

mod drops;
mod memory;
#[cfg(feature = "orm")]
mod on_commit;
#[cfg(feature = "redis")]
pub mod redis;

pub use drops::REPORT_EVERY as DROP_REPORT_EVERY;

#[cfg(feature = "redis")]
pub use self::redis::{RedisChannelLayer, RedisLayerConfig};
pub use memory::InMemoryChannelLayer;
#[cfg(feature = "orm")]
pub use on_commit::{group_send_on_commit, group_send_on_commit_using};

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{Map, Value};

/// A message: a JSON object with a `"type"` (`"chat.message"`), as in Channels.
#[derive(Debug, Clone, PartialEq)]
pub struct Message(pub Map<String, Value>);

impl Message {
    /// A message of this type with no other fields.
    pub fn new(kind: &str) -> Self {
        let mut map = Map::new();
        map.insert("type".into(), Value::String(kind.into()));
        Message(map)
    }

    /// Adds a field.
    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.0.insert(key.into(), value.into());
        self
    }

    /// A message from any serde type that serializes to an object with a `type` field.
    pub fn from_serialize<T: Serialize>(value: &T) -> Result<Self, LayerError> {
        match serde_json::to_value(value).map_err(|e| LayerError::Invalid(e.to_string()))? {
            Value::Object(map) if map.get("type").is_some_and(Value::is_string) => Ok(Message(map)),
            _ => Err(LayerError::Invalid(
                "a message is a JSON object with a string \"type\"".into(),
            )),
        }
    }

    /// The `type` (empty if missing).
    pub fn kind(&self) -> &str {
        self.0.get("type").and_then(Value::as_str).unwrap_or("")
    }

    pub fn get(&self, key: &str) -> Option<&Value> {
        self.0.get(key)
    }

    /// Decodes into a typed event, usually an enum with `#[serde(tag = "type")]`.
    pub fn decode<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_value(Value::Object(self.0.clone()))
    }

    /// As [`decode`](Self::decode), consuming the message (no copy of it).
    pub fn into_event<T: DeserializeOwned>(self) -> Result<T, serde_json::Error> {
        serde_json::from_value(Value::Object(self.0))
    }
}

/// What a layer operation can fail with.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum LayerError {
    /// The channel's queue is at capacity (Channels' `ChannelFull`).
    #[error("channel {0:?} is full")]
    ChannelFull(String),
    #[error("invalid message: {0}")]
    Invalid(String),
    /// The layer's backend cannot be reached.
    #[error("channel layer unavailable: {0}")]
    Unavailable(String),
}

/// A channel layer. Methods return boxed futures so layers are interchangeable at run time.
pub trait ChannelLayer: Send + Sync + 'static {
    /// A new, unique channel name for one consumer (`specific.<id>!<id>`).
    fn new_channel(&self) -> String;
    /// Sends to one channel; `ChannelFull` when its queue is at capacity.
    fn send<'a>(
        &'a self,
        channel: &'a str,
        message: Message,
    ) -> BoxFuture<'a, Result<(), LayerError>>;
    /// The next message for `channel` (waits for one).
    fn receive<'a>(&'a self, channel: &'a str) -> BoxFuture<'a, Result<Message, LayerError>>;
    fn group_add<'a>(
        &'a self,
        group: &'a str,
        channel: &'a str,
    ) -> BoxFuture<'a, Result<(), LayerError>>;
    fn group_discard<'a>(
        &'a self,
        group: &'a str,
        channel: &'a str,
    ) -> BoxFuture<'a, Result<(), LayerError>>;
    /// Sends to every channel of the group; full channels are skipped (and counted: see
    /// [`dropped_messages`](Self::dropped_messages)), as channels_redis does.
    fn group_send<'a>(
        &'a self,
        group: &'a str,
        message: Message,
    ) -> BoxFuture<'a, Result<(), LayerError>>;
    /// How many channels are in `group` (for monitoring and tests).
    fn group_size<'a>(&'a self, group: &'a str) -> BoxFuture<'a, Result<usize, LayerError>>;
    /// Forgets a channel (its queue), when its consumer is gone.
    fn forget<'a>(&'a self, _channel: &'a str) -> BoxFuture<'a, ()> {
        Box::pin(async {})
    }
    /// Messages this layer dropped since it was made because their channel was full (a
    /// `group_send` skipping a channel at capacity; Redis: also a full local buffer). Each is
    /// counted; the log gets one WARN per [`DROP_REPORT_EVERY`] at most, with how many.
    fn dropped_messages(&self) -> u64 {
        0
    }
    /// Every group with members, with how many, by name (for a dashboard: the in-process
    /// layer's groups; every process's on a shared layer such as Redis).
    fn groups(&self) -> BoxFuture<'_, Result<Vec<(String, usize)>, LayerError>> {
        Box::pin(async {
            Err(LayerError::Unavailable(
                "this layer cannot list its groups".into(),
            ))
        })
    }
    /// Keeps `value` under `key` for `ttl`, seen by every process sharing the layer (what
    /// each process publishes for a dashboard: its counters, under its own key).
    fn put_record<'a>(
        &'a self,
        key: &'a str,
        value: &'a str,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<(), LayerError>> {
        let _ = (key, value, ttl);
        Box::pin(async {
            Err(LayerError::Unavailable(
                "this layer keeps no records".into(),
            ))
        })
    }
    /// The values of every record not expired (see [`put_record`](Self::put_record)).
    fn records(&self) -> BoxFuture<'_, Result<Vec<String>, LayerError>> {
        Box::pin(async {
            Err(LayerError::Unavailable(
                "this layer keeps no records".into(),
            ))
        })
    }
}

/// Typed ways to put a channel layer among an app's services (a test's own app): the handle's
/// type is what the app looks it up by, so it is fixed here.
pub trait LayerServices {
    /// These services with `layer` as the app's channel layer.
    fn with_channel_layer(self, layer: Arc<dyn ChannelLayer>) -> Self;
}

impl LayerServices for canter_kernel::Services {
    fn with_channel_layer(self, layer: Arc<dyn ChannelLayer>) -> Self {
        self.with(layer)
    }
}

/// An app holding only `layer` (a test's): run code in it with
/// `layer_app(layer).scope(async { channel_layer()?.group_send(..).await })`.
pub fn layer_app(layer: Arc<dyn ChannelLayer>) -> Arc<canter_kernel::Services> {
    Arc::new(canter_kernel::Services::new().with_channel_layer(layer))
}

/// The current app's channel layer (`channels.layers.get_channel_layer()`): the one the
/// channels plugin started. Outside any app, or in an app without the plugin, an error says
/// which — never a private in-memory layer that no other process would see.
pub fn channel_layer() -> Result<Arc<dyn ChannelLayer>, LayerError> {
    canter_kernel::services::require::<Arc<dyn ChannelLayer>>("channel layer")
        .map_err(|e| LayerError::Unavailable(e.to_string()))
}

/// Group names may hold ASCII letters, digits, `-`, `_` and `.`, under 100 characters (Channels'
/// rule, so names work on every layer).
pub fn valid_group_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() < 100
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
}
