//! The article's WebSocket consumer, and the Channels tutorial's chat room.

use canter::channels::{
    Consumer, ConsumerError, Context, Frame, JsonConsumer, Message, NoEvent, Scope,
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
}

/// `ws/chat/<room>/`: each `{"message": "..."}` goes to everyone in the room (group `chat_<room>`).
pub struct ChatConsumer {
    group: String,
    user: String,
}

impl ChatConsumer {
    pub fn new(scope: &Scope) -> Self {
        let room: String = scope.param("room").unwrap_or_default();
        let user = scope
            .query_param("user")
            .filter(|u| !u.is_empty())
            .unwrap_or_else(|| "anonymous".into());
        ChatConsumer {
            group: group_name(&room),
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
        ctx.accept().await
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
        let ChatEvent::Message { message, user } = event;
        ctx.send_json(&json!({"message": message, "user": user}))
            .await
    }
}
