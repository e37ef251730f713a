//! canter's Channels: WebSocket consumers, groups and channel layers, on the same server and
//! port as the HTTP views.
//!
//! | Channels | canter |
//! |---|---|
//! | `AsyncWebsocketConsumer` | [`Consumer`] (`connect`, `receive`, `event`, `disconnect`) |
//! | `AsyncJsonWebsocketConsumer` | [`JsonConsumer`], wrapped in [`Json`] |
//! | `self.accept()`, `self.send(text_data=…)`, `self.close()` | `ctx.accept()`, `ctx.send_text(…)`, `ctx.close(code, reason)` |
//! | `self.scope` | `ctx.scope()` ([`Scope`]: path, params, query, headers, cookies, client) |
//! | `websocket_urlpatterns` with `re_path` | `path("ws/chat/<str:room>/", websocket(ChatConsumer::new))` |
//! | `channel_layer.group_add/group_discard/group_send/send` | [`ChannelLayer`], from a consumer's `ctx` or [`channel_layer()`] anywhere |
//! | handlers named after the message `type` | `type Event` (a serde enum tagged by `type`) and `event()` |
//! | `InMemoryChannelLayer` | [`InMemoryChannelLayer`] |
//! | `AllowedHostsOriginValidator` | built in: `[channels] allowed_origins` (default: `allowed_hosts`) |
//! | `WebsocketCommunicator` | [`testing::WebsocketCommunicator`] |
//! | `runworker` with `ChannelNameRouter` | [`Workers`] and the `runworker` command |

#![warn(missing_docs)]

pub mod consumer;
pub mod counters;
pub mod layers;
mod plugin;
pub mod sse;
pub mod testing;
pub mod websocket;
pub mod worker;

pub use consumer::{Consumer, ConsumerError, Context, Frame, Json, JsonConsumer, NoEvent, Scope};
pub use layers::{
    channel_layer, layer_app, ChannelLayer, InMemoryChannelLayer, LayerError, LayerServices,
    Message,
};
#[cfg(feature = "redis")]
pub use layers::{RedisChannelLayer, RedisLayerConfig};
pub use plugin::Channels;
pub use websocket::{websocket, ChannelsSettings, WebSocketView};
pub use worker::{run_worker, BackgroundConsumer, Workers};
