//! The article's WebSocket consumer, the Channels tutorial's chat room, and the background
//! consumer that announces who joins and leaves a room.

use canter::accounts::websocket::ScopeUser;
use canter::channels::{
    channel_layer, BackgroundConsumer, Consumer, ConsumerError, Context, Frame, JsonConsumer,
    Message, NoEvent, Scope,
};
use serde::Deserialize;
use serde_json::{json, Value};

/// ```python
/// class MyConsumer(AsyncWebsocketConsumer):
///     async def connect(self):
///         await self.accept()
///         await self.send(text_data="Hello, WebSocket!")
/// ```
pub struct MyConsumer;

impl Consumer for MyConsumer {
    type Event = NoEvent;

    async fn connect(&mut self, ctx: &mut Context) -> Result<(), ConsumerError> {
        ctx.accept().await?;
        ctx.send_text("Hello, WebSocket!").await
    }

    async fn receive(&mut self, _ctx: &mut Context, _frame: Frame) -> Result<(), ConsumerError> {
        Ok(())
    }
}

/// What a chat room's group carries: Channels' tutorial shape, so a Python process can
/// `group_send("chat_lobby", {"type": "chat.message", "message": "hi", "user": "py"})`.
#[derive(Deserialize)]
#[serde(tag = "type")]
pub enum ChatEvent {
    #[serde(rename = "chat.message")]
    Message { message: String, user: String },
    /// A line from the room itself ("ada joined"), sent by [`RoomNotices`].
    #[serde(rename = "chat.notice")]
    Notice { notice: String },
}

/// `ws/chat/<room>/`: each `{"message": "..."}` goes to everyone in the room (group `chat_<room>`).
pub struct ChatConsumer {
    room: String,
    group: String,
    user: String,
}

impl ChatConsumer {
    /// The logged-in user's name (the handshake's session cookie), else `?user=NAME`, else
    /// `anonymous`.
    pub fn new(scope: &Scope) -> Self {
        let room: String = scope.param("room").unwrap_or_default();
        let user = scope
            .user()
            .map(|u| u.username)
            .or_else(|| scope.query_param("user").filter(|u| !u.is_empty()))
            .unwrap_or_else(|| "anonymous".into());
        ChatConsumer {
            group: group_name(&room),
            room,
            user,
        }
    }
}

/// The group of a room.
pub fn group_name(room: &str) -> String {
    format!("chat_{room}")
}

impl JsonConsumer for ChatConsumer {
    type Event = ChatEvent;

    async fn connect(&mut self, ctx: &mut Context) -> Result<(), ConsumerError> {
        ctx.group_add(&self.group).await?;
        ctx.accept().await?;
        announce(ctx, "room.joined", &self.room, &self.user).await;
        Ok(())
    }

    async fn receive_json(&mut self, ctx: &mut Context, value: Value) -> Result<(), ConsumerError> {
        let Some(text) = value.get("message").and_then(Value::as_str) else {
            return ctx
                .send_json(&json!({"error": "send {\"message\": \"...\"}"}))
                .await;
        };
        let message = Message::new("chat.message")
            .with("message", text)
            .with("user", self.user.clone());
        ctx.group_send(&self.group, message).await
    }

    async fn event(&mut self, ctx: &mut Context, event: ChatEvent) -> Result<(), ConsumerError> {
        match event {
            ChatEvent::Message { message, user } => {
                ctx.send_json(&json!({"message": message, "user": user}))
                    .await
            }
            ChatEvent::Notice { notice } => ctx.send_json(&json!({"notice": notice})).await,
        }
    }

    async fn disconnect(&mut self, ctx: &mut Context, _code: u16) {
        announce(ctx, "room.left", &self.room, &self.user).await;
    }
}

/// The channel [`RoomNotices`] consumes (`demo runworker room-notices`).
pub const ROOM_NOTICES: &str = "room-notices";

/// Queues a join or leave for the `room-notices` worker. The socket never waits for the notice
/// itself. A failed send is ignored: with no worker running the channel fills up (`ChannelFull`),
/// which must cost the notice only, never the connection.
async fn announce(ctx: &Context, kind: &str, room: &str, user: &str) {
    let message = Message::new(kind).with("room", room).with("user", user);
    let _ = ctx.layer().send(ROOM_NOTICES, message).await;
}

/// What the chat consumers send to `room-notices`.
#[derive(Deserialize)]
#[serde(tag = "type")]
pub enum RoomActivity {
    #[serde(rename = "room.joined")]
    Joined { room: String, user: String },
    #[serde(rename = "room.left")]
    Left { room: String, user: String },
}

/// The background consumer of `room-notices` (Channels' `runworker`): tells a room who joined
/// or left, as a `chat.notice` to the room's group. Off the sockets' path, and with Redis one
/// worker serves the rooms of every server process.
pub struct RoomNotices;

impl BackgroundConsumer for RoomNotices {
    type Event = RoomActivity;

    async fn handle(&mut self, event: RoomActivity) -> Result<(), String> {
        let (room, notice) = match event {
            RoomActivity::Joined { room, user } => (room, format!("{user} joined")),
            RoomActivity::Left { room, user } => (room, format!("{user} left")),
        };
        channel_layer()
            .map_err(|e| e.to_string())?
            .group_send(
                &group_name(&room),
                Message::new("chat.notice").with("notice", notice),
            )
            .await
            .map_err(|e| e.to_string())
    }
}
