//! Consumers (Channels' `AsyncWebsocketConsumer`): one instance per socket, with `connect`,
//! `receive`, `disconnect`, and typed handlers for channel-layer messages.
//!
//! ```
//! use canter_channels::{Consumer, ConsumerError, Context, Frame, NoEvent};
//!
//! /// The article's MyConsumer.
//! struct MyConsumer;
//!
//! impl Consumer for MyConsumer {
//!     type Event = NoEvent;
//!     async fn connect(&mut self, ctx: &mut Context) -> Result<(), ConsumerError> {
//!         ctx.accept().await?;
//!         ctx.send_text("Hello, WebSocket!").await
//!     }
//!     async fn receive(&mut self, ctx: &mut Context, frame: Frame) -> Result<(), ConsumerError> {
//!         Ok(())
//!     }
//! }
//! ```

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http::HeaderMap;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::mpsc;

use crate::layers::{ChannelLayer, LayerError, Message};

/// A data frame from the client.
#[derive(Debug, Clone, PartialEq)]
pub enum Frame {
    /// A text frame (Channels' `text_data`), valid UTF-8.
    Text(String),
    /// A binary frame (Channels' `bytes_data`).
    Binary(Bytes),
}

/// What a consumer can fail with. An error from `receive` or an event handler is logged and
/// the socket stays open (Channels closes it; a chat app rarely wants that).
#[derive(Debug, thiserror::Error)]
pub enum ConsumerError {
    /// A frame was sent before `ctx.accept()`.
    #[error("the connection was not accepted yet (call ctx.accept() in connect)")]
    NotAccepted,
    /// A frame was sent after the socket closed (either side).
    #[error("the socket is closed")]
    Closed,
    /// The client reads too slowly: its outbound queue is full; the socket is closed (1013).
    #[error("the client is not reading: its outbound queue is full")]
    SlowClient,
    /// The channel layer failed (a full channel, Redis unreachable, …).
    #[error(transparent)]
    Layer(#[from] LayerError),
    /// The consumer's own failure, as text ([`ConsumerError::other`]).
    #[error("{0}")]
    Other(String),
}

impl ConsumerError {
    /// The consumer's own failure, from anything printable: `.map_err(ConsumerError::other)?`.
    pub fn other(message: impl std::fmt::Display) -> Self {
        ConsumerError::Other(message.to_string())
    }
}

/// No channel-layer events (for a consumer that joins no group).
#[derive(Debug, Deserialize)]
pub enum NoEvent {}

/// What the consumer knows of its connection (Channels' `scope`).
#[derive(Debug, Clone, Default)]
pub struct Scope {
    /// The decoded path (`/ws/chat/lobby/`).
    pub path: String,
    /// The route's name, if it has one.
    pub route: Option<String>,
    /// Converted path parameters (`room` → `"lobby"`).
    pub params: Vec<(String, Value)>,
    /// The raw query string, if any (read it with [`query_param`](Self::query_param)).
    pub query: Option<String>,
    /// The handshake's headers.
    pub headers: HeaderMap,
    /// The client's socket address (`None` in the in-process test communicator).
    pub client: Option<SocketAddr>,
    /// Subprotocols the client offered.
    pub subprotocols: Vec<String>,
    /// What middleware put on the handshake request (the session and the user of
    /// canter's accounts, as Channels' `AuthMiddlewareStack` puts them in the scope).
    pub extensions: http::Extensions,
}

impl Scope {
    /// A converted path parameter.
    pub fn param<T: DeserializeOwned>(&self, name: &str) -> Option<T> {
        let value = self.params.iter().find(|(n, _)| n == name)?.1.clone();
        serde_json::from_value(value).ok()
    }

    /// A cookie sent with the handshake.
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.headers
            .get_all(http::header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .find_map(|pair| {
                let (k, v) = pair.trim().split_once('=')?;
                (k == name).then(|| v.to_owned())
            })
    }

    /// A query-string parameter, decoded as the HTTP side's `req.query_param` decodes it
    /// ([`canter_core::request::query_value`]: `+` and `%XX`).
    pub fn query_param(&self, name: &str) -> Option<String> {
        canter_core::request::query_value(self.query.as_deref()?, name)
    }
}

/// What the socket loop writes for the consumer.
#[derive(Debug)]
pub(crate) enum Outgoing {
    Frame(Frame),
    Close(u16, String),
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Handshake {
    Pending,
    Accepted { subprotocol: Option<String> },
    Rejected,
}

/// The consumer's handle on its connection: accept/close, send, groups, the layer.
pub struct Context {
    channel_name: String,
    scope: Scope,
    layer: Arc<dyn ChannelLayer>,
    pub(crate) handshake: Handshake,
    pub(crate) closed: bool,
    outbound: mpsc::Sender<Outgoing>,
    pub(crate) groups: Vec<String>,
}

impl Context {
    pub(crate) fn new(
        scope: Scope,
        layer: Arc<dyn ChannelLayer>,
        outbound: mpsc::Sender<Outgoing>,
    ) -> Self {
        Context {
            channel_name: layer.new_channel(),
            scope,
            layer,
            handshake: Handshake::Pending,
            closed: false,
            outbound,
            groups: Vec::new(),
        }
    }

    /// This consumer's channel name (others `send` to it).
    pub fn channel_name(&self) -> &str {
        &self.channel_name
    }

    /// What is known of the connection: path, parameters, query, headers, cookies.
    pub fn scope(&self) -> &Scope {
        &self.scope
    }

    /// The app's channel layer (Channels' `self.channel_layer`).
    pub fn layer(&self) -> &Arc<dyn ChannelLayer> {
        &self.layer
    }

    /// Accepts the connection (the handshake completes with 101).
    pub async fn accept(&mut self) -> Result<(), ConsumerError> {
        self.accept_subprotocol(None).await
    }

    /// Accepts, choosing one of the subprotocols the client offered.
    pub async fn accept_subprotocol(
        &mut self,
        subprotocol: Option<&str>,
    ) -> Result<(), ConsumerError> {
        if self.handshake == Handshake::Pending {
            self.handshake = Handshake::Accepted {
                subprotocol: subprotocol.map(str::to_owned),
            };
        }
        Ok(())
    }

    /// Refuses the connection before accepting it (the handshake answers 403), or closes an
    /// accepted one with `code` and `reason`.
    pub async fn close(&mut self, code: u16, reason: &str) -> Result<(), ConsumerError> {
        match self.handshake {
            Handshake::Pending => {
                self.handshake = Handshake::Rejected;
                Ok(())
            }
            Handshake::Rejected => Ok(()),
            Handshake::Accepted { .. } => {
                if !self.closed {
                    self.closed = true;
                    let _ = self
                        .outbound
                        .try_send(Outgoing::Close(code, reason.to_owned()));
                }
                Ok(())
            }
        }
    }

    fn push(&mut self, frame: Frame) -> Result<(), ConsumerError> {
        if !matches!(self.handshake, Handshake::Accepted { .. }) {
            return Err(ConsumerError::NotAccepted);
        }
        if self.closed {
            return Err(ConsumerError::Closed);
        }
        self.outbound
            .try_send(Outgoing::Frame(frame))
            .map_err(|e| match e {
                mpsc::error::TrySendError::Full(_) => ConsumerError::SlowClient,
                mpsc::error::TrySendError::Closed(_) => ConsumerError::Closed,
            })
    }

    /// Sends a text frame to the client (Channels' `self.send(text_data=…)`); `SlowClient`
    /// when the client has not read the frames already queued.
    pub async fn send_text(&mut self, text: impl Into<String>) -> Result<(), ConsumerError> {
        self.push(Frame::Text(text.into()))
    }

    /// Sends a binary frame to the client (Channels' `self.send(bytes_data=…)`).
    pub async fn send_bytes(&mut self, bytes: impl Into<Bytes>) -> Result<(), ConsumerError> {
        self.push(Frame::Binary(bytes.into()))
    }

    /// Sends a value as a JSON text frame.
    pub async fn send_json<T: Serialize>(&mut self, value: &T) -> Result<(), ConsumerError> {
        let text = serde_json::to_string(value).map_err(ConsumerError::other)?;
        self.push(Frame::Text(text))
    }

    /// Joins a group (left automatically when the socket closes).
    pub async fn group_add(&mut self, group: &str) -> Result<(), ConsumerError> {
        self.layer.group_add(group, &self.channel_name).await?;
        if !self.groups.iter().any(|g| g == group) {
            self.groups.push(group.to_owned());
        }
        Ok(())
    }

    /// Leaves a group: its `group_send`s no longer reach this consumer.
    pub async fn group_discard(&mut self, group: &str) -> Result<(), ConsumerError> {
        self.layer.group_discard(group, &self.channel_name).await?;
        self.groups.retain(|g| g != group);
        Ok(())
    }

    /// `group_send` on the layer (to every consumer in the group, this one included).
    pub async fn group_send(&self, group: &str, message: Message) -> Result<(), ConsumerError> {
        Ok(self.layer.group_send(group, message).await?)
    }
}

/// A WebSocket consumer. Implement it with `async fn`s; `connect` accepts by default.
///
/// An echo consumer, routed with [`websocket`](fn@crate::websocket) and tried with the test
/// communicator (the handshake goes through the app as a browser's would):
///
/// ```
/// use canter_channels::testing::WebsocketCommunicator;
/// use canter_channels::{websocket, Channels, Consumer, ConsumerError, Context, Frame, NoEvent, Scope};
/// use canter_core::prelude::*;
///
/// struct Echo;
///
/// impl Consumer for Echo {
///     type Event = NoEvent;
///     async fn receive(&mut self, ctx: &mut Context, frame: Frame) -> Result<(), ConsumerError> {
///         match frame {
///             Frame::Text(text) => ctx.send_text(format!("echo: {text}")).await,
///             Frame::Binary(bytes) => ctx.send_bytes(bytes).await,
///         }
///     }
/// }
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let app = App::new()
///     .plugin(Channels)
///     .urls(vec![path("ws/echo/", websocket(|_: &Scope| Echo))]);
/// let client = canter_core::test::TestClient::start(app).await;
/// let mut ws = WebsocketCommunicator::connect(client.service(), "/ws/echo/").await.unwrap();
/// ws.send_text("hi").await;
/// assert_eq!(ws.receive_text().await.as_deref(), Some("echo: hi"));
/// ws.close(1000).await;
/// # });
/// ```
pub trait Consumer: Send + 'static {
    /// The channel-layer messages this consumer handles, decoded from their `type` (usually an
    /// enum with `#[serde(tag = "type")]`). Messages of another type are logged and dropped.
    type Event: DeserializeOwned + Send + 'static;

    /// The handshake: call `ctx.accept()` (the default) or `ctx.close(..)` to refuse (403).
    fn connect(
        &mut self,
        ctx: &mut Context,
    ) -> impl Future<Output = Result<(), ConsumerError>> + Send {
        async move { ctx.accept().await }
    }

    /// A frame from the client.
    fn receive(
        &mut self,
        ctx: &mut Context,
        frame: Frame,
    ) -> impl Future<Output = Result<(), ConsumerError>> + Send;

    /// A channel-layer message for this consumer (`group_send` / `send` to its channel).
    fn event(
        &mut self,
        _ctx: &mut Context,
        _event: Self::Event,
    ) -> impl Future<Output = Result<(), ConsumerError>> + Send {
        async { Ok(()) }
    }

    /// The socket closed (cleanly, with the client's code, or abruptly: 1006). Always runs;
    /// groups are left after it.
    fn disconnect(&mut self, _ctx: &mut Context, _code: u16) -> impl Future<Output = ()> + Send {
        async {}
    }
}

/// A consumer of JSON messages (Channels' `AsyncJsonWebsocketConsumer`): text frames are parsed;
/// invalid JSON is answered with `{"error": "..."}` and the socket stays open.
///
/// A chat room: each socket joins the room's group in `connect`; what one client sends goes
/// to the group through the channel layer, and every member's `event` passes it on.
///
/// ```
/// use canter_channels::testing::WebsocketCommunicator;
/// use canter_channels::{websocket, Channels, ConsumerError, Context, Json, JsonConsumer, Message, Scope};
/// use canter_core::prelude::*;
/// use serde_json::{json, Value};
///
/// #[derive(serde::Deserialize)]
/// #[serde(tag = "type")]
/// enum ChatEvent {
///     #[serde(rename = "chat.message")]
///     Message { text: String },
/// }
///
/// struct Chat { group: String }
///
/// impl JsonConsumer for Chat {
///     type Event = ChatEvent;
///     async fn connect(&mut self, ctx: &mut Context) -> Result<(), ConsumerError> {
///         ctx.group_add(&self.group).await?;
///         ctx.accept().await
///     }
///     async fn receive_json(&mut self, ctx: &mut Context, value: Value) -> Result<(), ConsumerError> {
///         let text = value["text"].as_str().unwrap_or_default();
///         ctx.group_send(&self.group, Message::new("chat.message").with("text", text)).await
///     }
///     async fn event(&mut self, ctx: &mut Context, event: ChatEvent) -> Result<(), ConsumerError> {
///         let ChatEvent::Message { text } = event;
///         ctx.send_json(&json!({ "text": text })).await
///     }
/// }
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let app = App::new().plugin(Channels).urls(vec![path(
///     "ws/chat/<str:room>/",
///     websocket(|scope: &Scope| Json(Chat { group: format!("chat_{}", scope.param::<String>("room").unwrap()) })),
/// )]);
/// let client = canter_core::test::TestClient::start(app).await;
/// let mut alice = WebsocketCommunicator::connect(client.service(), "/ws/chat/lobby/").await.unwrap();
/// let mut bob = WebsocketCommunicator::connect(client.service(), "/ws/chat/lobby/").await.unwrap();
/// alice.send_json(&json!({ "text": "hello" })).await;
/// assert_eq!(bob.receive_json().await, Some(json!({ "text": "hello" })));
/// assert_eq!(alice.receive_json().await, Some(json!({ "text": "hello" })));
/// # });
/// ```
pub trait JsonConsumer: Send + 'static {
    /// The channel-layer messages this consumer handles, as [`Consumer::Event`].
    type Event: DeserializeOwned + Send + 'static;
    /// The handshake, as [`Consumer::connect`]: accepts by default.
    fn connect(
        &mut self,
        ctx: &mut Context,
    ) -> impl Future<Output = Result<(), ConsumerError>> + Send {
        async move { ctx.accept().await }
    }
    /// A text frame from the client, parsed (Channels' `receive_json(content)`).
    fn receive_json(
        &mut self,
        ctx: &mut Context,
        value: Value,
    ) -> impl Future<Output = Result<(), ConsumerError>> + Send;
    /// A channel-layer message for this consumer, as [`Consumer::event`].
    fn event(
        &mut self,
        _ctx: &mut Context,
        _event: Self::Event,
    ) -> impl Future<Output = Result<(), ConsumerError>> + Send {
        async { Ok(()) }
    }
    /// The socket closed, as [`Consumer::disconnect`].
    fn disconnect(&mut self, _ctx: &mut Context, _code: u16) -> impl Future<Output = ()> + Send {
        async {}
    }
}

/// Wraps a [`JsonConsumer`] as a [`Consumer`]: `websocket(|_| Json(Chat::default()))`.
pub struct Json<C>(pub C);

impl<C: JsonConsumer> Consumer for Json<C> {
    type Event = C::Event;

    async fn connect(&mut self, ctx: &mut Context) -> Result<(), ConsumerError> {
        self.0.connect(ctx).await
    }

    async fn receive(&mut self, ctx: &mut Context, frame: Frame) -> Result<(), ConsumerError> {
        let text = match &frame {
            Frame::Text(text) => text.as_str(),
            Frame::Binary(_) => {
                return ctx
                    .send_json(&serde_json::json!({"error": "expected a JSON text frame"}))
                    .await
            }
        };
        match serde_json::from_str::<Value>(text) {
            Ok(value) => self.0.receive_json(ctx, value).await,
            Err(e) => {
                ctx.send_json(&serde_json::json!({"error": format!("invalid JSON: {e}")}))
                    .await
            }
        }
    }

    async fn event(&mut self, ctx: &mut Context, event: Self::Event) -> Result<(), ConsumerError> {
        self.0.event(ctx, event).await
    }

    async fn disconnect(&mut self, ctx: &mut Context, code: u16) {
        self.0.disconnect(ctx, code).await
    }
}
