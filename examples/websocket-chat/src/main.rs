//! Channels' chat tutorial in a page: each socket joins its room's group, what one sends
//! everyone in the room receives, and an HTTP view can speak to the room too.
//!
//! `cargo run -p example-websocket-chat -- runserver`, then open
//! <http://127.0.0.1:8000/lobby/> in two tabs.

use canter::channels::{channel_layer, websocket, Channels, Json as JsonSocket, Scope};
use canter::channels::{ConsumerError, Context, JsonConsumer, Message};
use canter::prelude::*;
use serde_json::{json, Value};

/// What the room's group carries, tagged by `type` as Channels' messages are.
#[derive(serde::Deserialize)]
#[serde(tag = "type")]
enum RoomEvent {
    #[serde(rename = "chat.message")]
    Message { text: String },
}

/// `ws/<room>/`: one per socket.
struct ChatConsumer {
    group: String,
}

impl JsonConsumer for ChatConsumer {
    type Event = RoomEvent;

    async fn connect(&mut self, ctx: &mut Context) -> Result<(), ConsumerError> {
        ctx.group_add(&self.group).await?; // left by itself at disconnect
        ctx.accept().await
    }

    async fn receive_json(&mut self, ctx: &mut Context, value: Value) -> Result<(), ConsumerError> {
        let text = value["text"].as_str().unwrap_or_default().to_owned();
        ctx.group_send(&self.group, Message::new("chat.message").with("text", text))
            .await
    }

    async fn event(&mut self, ctx: &mut Context, event: RoomEvent) -> Result<(), ConsumerError> {
        let RoomEvent::Message { text } = event;
        ctx.send_json(&json!({ "text": text })).await
    }
}

/// POST `<room>/announce/`: from a view (or a task) to everyone in the room.
async fn announce(Path(room): Path<String>, body: String) -> Result<StatusCode> {
    let message = Message::new("chat.message").with("text", format!("📢 {body}"));
    channel_layer()?
        .group_send(&format!("chat_{room}"), message)
        .await?;
    Ok(StatusCode::ACCEPTED)
}

/// GET `<room>/`: the page, a text box and the room's lines.
async fn room(_req: Request) -> Html<&'static str> {
    Html(concat!(
        "<!doctype html><ul id=log></ul><input id=text autofocus>",
        "<script>const ws = new WebSocket(`ws://${location.host}/ws${location.pathname}`);",
        "ws.onmessage = e => log.append(Object.assign(document.createElement('li'), ",
        "{textContent: JSON.parse(e.data).text}));",
        "text.onkeyup = e => { if (e.key === 'Enter') { ws.send(JSON.stringify({text: text.value})); ",
        "text.value = ''; } };</script>"
    ))
}

fn app() -> App {
    let chat = |scope: &Scope| {
        let room: String = scope.param("room").unwrap_or_default();
        JsonSocket(ChatConsumer {
            group: format!("chat_{room}"),
        })
    };
    App::new()
        .settings_toml("debug = true")
        .plugin(Channels) // the channel layer: in-process (REDIS_URL: Redis)
        .urls(vec![
            path("<slug:room>/", room).name("room"),
            path("<slug:room>/announce/", announce).name("announce"),
            path("ws/<slug:room>/", websocket(chat)).name("ws-room"),
        ])
}

fn main() -> std::process::ExitCode {
    app().main()
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use canter::channels::testing::WebsocketCommunicator as Socket;
    use canter::test::TestClient;
    use serde_json::json;

    #[tokio::test]
    async fn what_one_sends_the_room_receives_and_no_other_room() {
        let client = TestClient::start(super::app()).await;
        let mut ada = Socket::connect(client.service(), "/ws/lobby/")
            .await
            .unwrap();
        let mut bob = Socket::connect(client.service(), "/ws/lobby/")
            .await
            .unwrap();
        let mut eve = Socket::connect(client.service(), "/ws/elsewhere/")
            .await
            .unwrap();

        ada.send_json(&json!({"text": "hi"})).await;
        assert_eq!(bob.receive_json().await.unwrap()["text"], "hi");
        assert_eq!(ada.receive_json().await.unwrap()["text"], "hi");

        let r = client.post("/lobby/announce/").body("tea is ready").await;
        assert_eq!(r.status(), 202, "{}", r.text());
        assert_eq!(bob.receive_json().await.unwrap()["text"], "📢 tea is ready");
        assert!(eve.receive_nothing(Duration::from_millis(100)).await);
        assert_eq!(client.get("/lobby/").await.status(), 200);
    }
}
