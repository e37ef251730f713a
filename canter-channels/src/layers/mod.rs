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

    /// The field `key`, if the message has it.
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
    /// The message is not a JSON object with a string `type`, or a group or channel name is
    /// not valid ([`valid_group_name`]).
    #[error("invalid message: {0}")]
    Invalid(String),
    /// The layer's backend cannot be reached.
    #[error("channel layer unavailable: {0}")]
    Unavailable(String),
}

/// A channel layer. Methods return boxed futures so layers are interchangeable at run time.
///
/// Channels, groups and messages, on the in-process layer (the Redis one behaves the same
/// across processes):
///
/// ```
/// use canter_channels::{ChannelLayer, InMemoryChannelLayer, Message};
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let layer = InMemoryChannelLayer::default();
/// let (a, b) = (layer.new_channel(), layer.new_channel());
///
/// // One channel: send, then receive.
/// layer.send(&a, Message::new("job.start").with("id", 7)).await.unwrap();
/// let message = layer.receive(&a).await.unwrap();
/// assert_eq!((message.kind(), message.get("id")), ("job.start", Some(&7.into())));
///
/// // A group: every member gets a copy.
/// layer.group_add("room", &a).await.unwrap();
/// layer.group_add("room", &b).await.unwrap();
/// assert_eq!(layer.group_size("room").await.unwrap(), 2);
/// layer.group_send("room", Message::new("chat.message").with("text", "hi")).await.unwrap();
/// assert_eq!(layer.receive(&b).await.unwrap().get("text"), Some(&"hi".into()));
/// assert_eq!(layer.receive(&a).await.unwrap().get("text"), Some(&"hi".into()));
///
/// layer.group_discard("room", &b).await.unwrap();
/// assert_eq!(layer.group_size("room").await.unwrap(), 1);
/// # });
/// ```
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
    /// Adds `channel` to `group` (refreshing its membership's expiry).
    fn group_add<'a>(
        &'a self,
        group: &'a str,
        channel: &'a str,
    ) -> BoxFuture<'a, Result<(), LayerError>>;
    /// Removes `channel` from `group` (nothing happens if it is not in it).
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
///
/// From a view, a task or a test, to reach the consumers of a group:
///
/// ```
/// use std::sync::Arc;
/// use canter_channels::{channel_layer, layer_app, ChannelLayer, InMemoryChannelLayer, Message};
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let layer: Arc<dyn ChannelLayer> = Arc::new(InMemoryChannelLayer::default());
/// let listener = layer.new_channel();
/// layer.group_add("news", &listener).await.unwrap();
///
/// // Inside the app (as a view runs), `channel_layer()` finds the app's layer.
/// layer_app(layer.clone())
///     .scope(async {
///         let layer = channel_layer().unwrap();
///         layer.group_send("news", Message::new("news.item").with("title", "canter 0.1")).await
///     })
///     .await
///     .unwrap();
/// assert_eq!(layer.receive(&listener).await.unwrap().kind(), "news.item");
///
/// // Outside any app there is none, and the error says so.
/// assert!(channel_layer().is_err());
/// # });
/// ```
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
