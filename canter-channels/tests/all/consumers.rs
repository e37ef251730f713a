//! Consumers through the whole app: handshake, accept/reject, echo, JSON, groups, typed events,
//! limits (size, slow reader, idle, origin), disconnect bookkeeping; in-process and over TCP.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use canter_channels::testing::WebsocketCommunicator;
use canter_channels::{
    websocket, Consumer, ConsumerError, Context, Frame, Json, JsonConsumer, Message, NoEvent, Scope,
};
use canter_core::prelude::*;
use canter_core::settings::Settings;
use canter_core::test::{LiveServer, TestClient};
use serde::Deserialize;
use serde_json::{json, Value};

struct Hello;

impl Consumer for Hello {
    type Event = NoEvent;
    async fn connect(&mut self, ctx: &mut Context) -> Result<(), ConsumerError> {
        ctx.accept().await?;
        ctx.send_text("Hello, WebSocket!").await
    }
    async fn receive(&mut self, ctx: &mut Context, frame: Frame) -> Result<(), ConsumerError> {
        match frame {
            Frame::Text(text) if text == "flood" => {
                for _ in 0..100 {
                    ctx.send_text("x".repeat(1000)).await?;
                }
                Ok(())
            }
            Frame::Text(text) => ctx.send_text(format!("echo: {text}")).await,
            Frame::Binary(bytes) => ctx.send_bytes(bytes).await,
        }
    }
}

struct Rejecting;

impl Consumer for Rejecting {
    type Event = NoEvent;
    async fn connect(&mut self, ctx: &mut Context) -> Result<(), ConsumerError> {
        if ctx.scope().query_param("token").as_deref() == Some("secret") {
            ctx.accept().await
        } else {
            ctx.close(4003, "no token").await
        }
    }
    async fn receive(&mut self, _ctx: &mut Context, _frame: Frame) -> Result<(), ConsumerError> {
        Ok(())
    }
}

/// Greets by the `name` query parameter.
struct Greeter;

impl Consumer for Greeter {
    type Event = NoEvent;
    async fn connect(&mut self, ctx: &mut Context) -> Result<(), ConsumerError> {
        ctx.accept().await?;
        let name = ctx.scope().query_param("name").unwrap_or_default();
        ctx.send_text(name).await
    }
    async fn receive(&mut self, _ctx: &mut Context, _frame: Frame) -> Result<(), ConsumerError> {
        Ok(())
    }
}

/// The HTTP side of the same: the `name` query parameter.
async fn name_param(req: Request) -> String {
    req.query_param("name").unwrap_or_default()
}

static DISCONNECTS: AtomicUsize = AtomicUsize::new(0);

#[derive(Deserialize)]
#[serde(tag = "type")]
enum ChatEvent {
    #[serde(rename = "chat.message")]
    Message { message: String, user: String },
}

/// The tutorial's chat room, as a JSON consumer.
struct Chat {
    room: String,
}

impl JsonConsumer for Chat {
    type Event = ChatEvent;
    async fn connect(&mut self, ctx: &mut Context) -> Result<(), ConsumerError> {
        ctx.group_add(&format!("chat_{}", self.room)).await?;
        ctx.accept().await
    }
    async fn receive_json(&mut self, ctx: &mut Context, value: Value) -> Result<(), ConsumerError> {
        let text = value["message"].as_str().unwrap_or_default().to_owned();
        let message = Message::new("chat.message")
            .with("message", text)
            .with("user", "rust");
        ctx.group_send(&format!("chat_{}", self.room), message)
            .await
    }
    async fn event(&mut self, ctx: &mut Context, event: ChatEvent) -> Result<(), ConsumerError> {
        let ChatEvent::Message { message, user } = event;
        ctx.send_json(&json!({"message": message, "user": user}))
            .await
    }
    async fn disconnect(&mut self, _ctx: &mut Context, _code: u16) {
        DISCONNECTS.fetch_add(1, Ordering::SeqCst);
    }
}

fn app() -> App {
    App::new().plugin(canter_channels::Channels).urls(vec![
        path("ws/hello/", websocket(|_: &Scope| Hello)).name("hello"),
        path("ws/private/", websocket(|_: &Scope| Rejecting)),
        path("ws/greet/", websocket(|_: &Scope| Greeter)),
        path("name/", name_param),
        path(
            "ws/chat/<str:room>/",
            websocket(|scope: &Scope| {
                Json(Chat {
                    room: scope.param("room").unwrap(),
                })
            }),
        ),
    ])
}

fn settings(channels: &str) -> Settings {
    let mut s = Settings::from_toml(&format!("[channels]\n{channels}\n")).unwrap();
    let base = Settings::for_tests();
    s.debug = true;
    s.allowed_hosts = base.allowed_hosts;
    s
}

#[tokio::test]
async fn the_articles_consumer_accepts_and_greets() {
    let client = TestClient::start(app()).await;
    let mut ws = WebsocketCommunicator::connect(client.service(), "/ws/hello/")
        .await
        .unwrap();
    assert_eq!(ws.receive_text().await.unwrap(), "Hello, WebSocket!");
    ws.send_text("ping").await;
    assert_eq!(ws.receive_text().await.unwrap(), "echo: ping");
    ws.send_bytes(vec![1, 2, 3]).await;
    assert_eq!(
        ws.receive_within(Duration::from_secs(2))
            .await
            .unwrap()
            .into_data()
            .to_vec(),
        vec![1, 2, 3]
    );
    ws.close(1000).await;
}

#[tokio::test]
async fn connect_can_reject_the_handshake() {
    let client = TestClient::start(app()).await;
    assert_eq!(
        WebsocketCommunicator::connect(client.service(), "/ws/private/")
            .await
            .err(),
        Some(StatusCode::FORBIDDEN)
    );
    assert!(
        WebsocketCommunicator::connect(client.service(), "/ws/private/?token=secret")
            .await
            .is_ok()
    );
    assert_eq!(
        WebsocketCommunicator::connect(client.service(), "/ws/nowhere/")
            .await
            .err(),
        Some(StatusCode::NOT_FOUND)
    );
    // A plain GET to a WebSocket URL is told to upgrade.
    assert_eq!(
        client.get("/ws/hello/").await.status(),
        StatusCode::UPGRADE_REQUIRED
    );
}

#[tokio::test]
async fn query_parameters_are_decoded_as_on_the_http_side() {
    let client = TestClient::start(app()).await;
    for (query, decoded) in [
        ("name=J%C3%B6rg", "Jörg"),
        ("name=a+b", "a b"),
        ("name=a%2Bb", "a+b"),
        ("name=%ZZ", "%ZZ"),
        ("other=1&name=x%20y", "x y"),
    ] {
        let mut ws =
            WebsocketCommunicator::connect(client.service(), &format!("/ws/greet/?{query}"))
                .await
                .unwrap();
        assert_eq!(ws.receive_text().await.unwrap(), decoded, "{query}");
        ws.close(1000).await;
        assert_eq!(client.get(&format!("/name/?{query}")).await.text(), decoded);
    }
    // Not UTF-8 once decoded: refused before any view, a handshake as any request.
    assert_eq!(
        WebsocketCommunicator::connect(client.service(), "/ws/greet/?name=%FF")
            .await
            .err(),
        Some(StatusCode::BAD_REQUEST)
    );
    assert_eq!(
        client.get("/name/?name=%FF").await.status(),
        StatusCode::BAD_REQUEST
    );
    // Read off the request path (a scope or a request made by hand), both decode alike, bytes
    // that are not UTF-8 as U+FFFD.
    for query in [
        "name=%FF",
        "name=J%C3%B6rg%FF",
        "name=%ZZ+%C3",
        "name",
        "x=1",
    ] {
        let scope = Scope {
            query: Some(query.to_owned()),
            ..Scope::default()
        };
        let req = http::Request::builder()
            .uri(format!("/?{query}"))
            .body(canter_core::Body::empty())
            .unwrap();
        assert_eq!(
            scope.query_param("name"),
            req.query_param("name"),
            "{query}"
        );
    }
    let scope = Scope {
        query: Some("name=%FF".into()),
        ..Scope::default()
    };
    assert_eq!(scope.query_param("name").as_deref(), Some("\u{FFFD}"));
}

#[tokio::test]
async fn cross_site_handshakes_are_refused() {
    let client = TestClient::start(app()).await;
    let evil = WebsocketCommunicator::connect_with(
        client.service(),
        "/ws/hello/",
        &[("origin", "https://evil.example")],
    )
    .await;
    assert_eq!(evil.err(), Some(StatusCode::FORBIDDEN));
    let ok = WebsocketCommunicator::connect_with(
        client.service(),
        "/ws/hello/",
        &[("origin", "http://testserver")],
    )
    .await;
    assert!(ok.is_ok());
}

#[tokio::test]
async fn group_messages_reach_every_member_and_groups_are_left_on_disconnect() {
    let client = TestClient::start(app()).await;
    let mut alice = WebsocketCommunicator::connect(client.service(), "/ws/chat/lobby/")
        .await
        .unwrap();
    let mut bob = WebsocketCommunicator::connect(client.service(), "/ws/chat/lobby/")
        .await
        .unwrap();
    let mut other = WebsocketCommunicator::connect(client.service(), "/ws/chat/kitchen/")
        .await
        .unwrap();
    alice.send_json(&json!({"message": "hi all"})).await;
    assert_eq!(
        alice.receive_json().await.unwrap(),
        json!({"message": "hi all", "user": "rust"})
    );
    assert_eq!(
        bob.receive_json().await.unwrap(),
        json!({"message": "hi all", "user": "rust"})
    );
    assert!(
        other.receive_nothing(Duration::from_millis(200)).await,
        "another room hears nothing"
    );

    // From anywhere in the app (a view, a task): the layer, with the tutorial's message shape.
    let layer = client
        .scope(async { canter_channels::channel_layer() })
        .await
        .unwrap();
    layer
        .group_send(
            "chat_lobby",
            Message::new("chat.message")
                .with("message", "from a view")
                .with("user", "py"),
        )
        .await
        .unwrap();
    assert_eq!(bob.receive_json().await.unwrap()["message"], "from a view");

    // A message of a type nobody handles is logged and dropped; the socket lives on.
    layer
        .group_send("chat_lobby", Message::new("chat.unknown"))
        .await
        .unwrap();
    bob.send_json(&json!({"message": "still here"})).await;
    assert_eq!(bob.receive_json().await.unwrap()["message"], "still here");

    // Invalid JSON is answered, not fatal.
    bob.send_text("{oops").await;
    assert!(bob.receive_json().await.unwrap()["error"]
        .as_str()
        .unwrap()
        .contains("invalid JSON"));

    let before = DISCONNECTS.load(Ordering::SeqCst);
    bob.close(1000).await;
    alice.drop_connection();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        DISCONNECTS.load(Ordering::SeqCst) >= before + 2,
        "disconnect runs for clean and abrupt closes"
    );
    assert_eq!(
        layer.group_size("chat_lobby").await.unwrap(),
        0,
        "both left the group"
    );
    assert_eq!(layer.group_size("chat_kitchen").await.unwrap(), 1);
    other.close(1000).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(layer.group_size("chat_kitchen").await.unwrap(), 0);
}

#[tokio::test]
async fn oversized_messages_close_with_1009() {
    let client = TestClient::start_with_settings(app(), settings("max_message_size = 1024")).await;
    let mut ws = WebsocketCommunicator::connect(client.service(), "/ws/hello/")
        .await
        .unwrap();
    ws.receive_text().await.unwrap();
    ws.send_text(&"x".repeat(2000)).await;
    assert_eq!(ws.wait_closed().await, Some(1009));
}

#[tokio::test]
async fn a_slow_reader_is_closed_with_1013() {
    let client = TestClient::start_with_settings(app(), settings("outbound_queue = 4")).await;
    let mut ws = WebsocketCommunicator::connect(client.service(), "/ws/hello/")
        .await
        .unwrap();
    ws.receive_text().await.unwrap();
    ws.send_text("flood").await;
    let mut received = 0;
    while ws.receive_within(Duration::from_secs(2)).await.is_some() {
        received += 1;
    }
    assert_eq!(ws.close_code, Some(1013), "after {received} frames");
    assert!(received < 100);
}

#[tokio::test]
async fn idle_sockets_are_closed() {
    let client = TestClient::start_with_settings(
        app(),
        settings("ping_interval = 0.05\nidle_timeout = 0.2"),
    )
    .await;
    let mut ws = WebsocketCommunicator::connect(client.service(), "/ws/hello/")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(600)).await;
    let mut seen = Vec::new();
    while let Some(m) = ws.receive_within(Duration::from_secs(2)).await {
        seen.push(format!("{m:?}"));
    }
    assert_eq!(ws.close_code, Some(1001), "{seen:?}");
}

#[tokio::test]
async fn over_a_real_socket() {
    let server = LiveServer::start(app()).await;
    let url = format!("ws://{}/ws/hello/", server.addr());
    let (mut ws, response) = tokio_tungstenite::connect_async(url).await.unwrap();
    assert_eq!(response.status(), 101);
    use futures_util::{SinkExt, StreamExt};
    let greeting = ws.next().await.unwrap().unwrap();
    assert_eq!(greeting.into_text().unwrap().as_str(), "Hello, WebSocket!");
    ws.send(tokio_tungstenite::tungstenite::Message::Text(
        "over tcp".into(),
    ))
    .await
    .unwrap();
    assert_eq!(
        ws.next()
            .await
            .unwrap()
            .unwrap()
            .into_text()
            .unwrap()
            .as_str(),
        "echo: over tcp"
    );
    ws.close(None).await.unwrap();
    // The HTTP side of the same server still answers.
    let status = tokio_tungstenite::connect_async(format!("ws://{}/ws/private/", server.addr()))
        .await
        .err()
        .map(|e| e.to_string());
    assert!(status.unwrap().contains("403"));
}

/// The close code the server sends next (after any data frames).
async fn close_code<S>(ws: &mut tokio_tungstenite::WebSocketStream<S>) -> Option<u16>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    use futures_util::StreamExt;
    use tokio_tungstenite::tungstenite::Message as WsMessage;
    loop {
        let next = tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .expect("the server answers within 5 s");
        match next {
            Some(Ok(WsMessage::Close(frame))) => return frame.map(|f| u16::from(f.code)),
            Some(Ok(_)) => continue,
            // The connection ended without a Close frame.
            Some(Err(_)) | None => return None,
        }
    }
}

/// A frame as is (the client would refuse to build a bad one otherwise).
fn raw_frame(opcode: u8, payload: &[u8]) -> tokio_tungstenite::tungstenite::Message {
    use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
    use tokio_tungstenite::tungstenite::protocol::frame::Frame as RawFrame;
    let opcode = match opcode {
        1 => OpCode::Data(Data::Text),
        other => OpCode::Data(Data::Reserved(other)),
    };
    tokio_tungstenite::tungstenite::Message::Frame(RawFrame::message(
        payload.to_vec(),
        opcode,
        true,
    ))
}

/// A socket to the server's `/ws/hello/`, its greeting read.
async fn hello_socket(
    server: &LiveServer,
) -> tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>> {
    use futures_util::StreamExt;
    let url = format!("ws://{}/ws/hello/", server.addr());
    let (mut ws, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
    ws.next().await.unwrap().unwrap();
    ws
}

#[tokio::test]
async fn a_protocol_error_closes_with_1002() {
    use futures_util::SinkExt;
    let server = LiveServer::start(app()).await;
    let mut ws = hello_socket(&server).await;
    ws.send(raw_frame(3, b"?")).await.unwrap(); // an unknown data opcode
    assert_eq!(close_code(&mut ws).await, Some(1002));
}

#[tokio::test]
async fn a_text_frame_that_is_not_utf8_closes_with_1007() {
    use futures_util::SinkExt;
    let server = LiveServer::start(app()).await;
    let mut ws = hello_socket(&server).await;
    ws.send(raw_frame(1, &[0x66, 0xff, 0xfe])).await.unwrap();
    assert_eq!(close_code(&mut ws).await, Some(1007));
}

#[tokio::test]
async fn the_server_shutting_down_closes_sockets_with_1001() {
    let server = LiveServer::start(app()).await;
    let mut ws = hello_socket(&server).await;
    // The shutdown waits for the socket's closing handshake.
    let stopped = tokio::spawn(server.stop());
    assert_eq!(close_code(&mut ws).await, Some(1001));
    tokio::time::timeout(Duration::from_secs(10), stopped)
        .await
        .expect("the server stops")
        .unwrap();
}

#[derive(Deserialize)]
#[serde(tag = "type")]
enum Job {
    #[serde(rename = "thumbnail.make")]
    Make { name: String },
}

struct Thumbnailer(tokio::sync::mpsc::UnboundedSender<String>);

impl canter_channels::BackgroundConsumer for Thumbnailer {
    type Event = Job;
    async fn handle(&mut self, event: Job) -> Result<(), String> {
        let Job::Make { name } = event;
        assert_ne!(name, "panic.png", "the thumbnailer panicked (on purpose)");
        self.0
            .send(format!("made {name}"))
            .map_err(|e| e.to_string())
    }
}

#[tokio::test]
async fn background_consumers_take_work_from_a_named_channel() {
    let layer: std::sync::Arc<dyn canter_channels::ChannelLayer> =
        std::sync::Arc::new(canter_channels::InMemoryChannelLayer::default());
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let worker = tokio::spawn(canter_channels::run_worker(
        layer.clone(),
        "thumbnails".into(),
        Thumbnailer(tx),
    ));
    layer
        .send("thumbnails", Message::new("thumbnail.unknown"))
        .await
        .unwrap();
    layer
        .send(
            "thumbnails",
            Message::new("thumbnail.make").with("name", "cat.png"),
        )
        .await
        .unwrap();
    assert_eq!(
        tokio::time::timeout(Duration::from_secs(2), rx.recv())
            .await
            .unwrap()
            .unwrap(),
        "made cat.png",
        "an unknown type was skipped, not fatal"
    );
    worker.abort();
}

#[tokio::test]
async fn a_background_consumer_that_panicked_goes_on_with_the_next_message() {
    let layer: std::sync::Arc<dyn canter_channels::ChannelLayer> =
        std::sync::Arc::new(canter_channels::InMemoryChannelLayer::default());
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let worker = tokio::spawn(canter_channels::run_worker(
        layer.clone(),
        "thumbnails".into(),
        Thumbnailer(tx),
    ));
    for name in ["panic.png", "dog.png"] {
        layer
            .send(
                "thumbnails",
                Message::new("thumbnail.make").with("name", name),
            )
            .await
            .unwrap();
    }
    assert_eq!(
        tokio::time::timeout(Duration::from_secs(5), rx.recv())
            .await
            .expect("the worker went on after the panic")
            .unwrap(),
        "made dog.png"
    );
    assert!(!worker.is_finished());
    worker.abort();
}
