//! Thousands of sockets that vanish without a Close frame (a phone losing its network), under a
//! real `tracing` subscriber: the socket tasks must not leave spans entered on the runtime's
//! threads (they used to: unrelated work was logged inside them, and the subscriber's registry
//! then panicked in every kind of task, or the process aborted). The subscriber and the panic hook
//! are process-wide, so it runs in a process of its own.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use canter_channels::{websocket, ChannelLayer, Consumer, ConsumerError, Context, Frame, Scope};
use canter_core::prelude::*;
use canter_core::test::LiveServer;
use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::Message as WsMessage;

const SOCKETS: usize = 5_000;
/// Sockets opened at once.
const BATCH: usize = 100;

#[derive(Deserialize)]
#[serde(tag = "type")]
enum RoomEvent {
    #[serde(rename = "room.echo")]
    Echo { text: String },
}

/// A chat-room member: joins the room's group on connect (so every abrupt close also leaves
/// a group), echoes frames, and relays the group's messages.
struct Member {
    group: String,
}

impl Consumer for Member {
    type Event = RoomEvent;
    async fn connect(&mut self, ctx: &mut Context) -> Result<(), ConsumerError> {
        tracing::info!("joining {}", self.group);
        ctx.group_add(&self.group).await?;
        ctx.accept().await
    }
    async fn receive(&mut self, ctx: &mut Context, frame: Frame) -> Result<(), ConsumerError> {
        tracing::info!("frame in");
        if let Frame::Text(text) = frame {
            ctx.send_text(format!("echo: {text}")).await?;
        }
        Ok(())
    }
    async fn event(&mut self, ctx: &mut Context, event: RoomEvent) -> Result<(), ConsumerError> {
        let RoomEvent::Echo { text } = event;
        ctx.send_text(text).await
    }
    async fn disconnect(&mut self, _ctx: &mut Context, code: u16) {
        tracing::info!(code, "left");
    }
}

async fn status(_req: Request) -> &'static str {
    tracing::info!("status asked");
    "ok"
}

fn app() -> App {
    App::new().urls(vec![
        path("status/", status),
        path(
            "ws/room/<str:room>/",
            websocket(|scope: &Scope| Member {
                group: format!("room_{}", scope.param::<String>("room").unwrap_or_default()),
            }),
        ),
    ])
}

/// Counts panics anywhere in the process (tokio catches a task's panic and only prints it).
fn count_panics() -> Arc<AtomicUsize> {
    let panics = Arc::new(AtomicUsize::new(0));
    let seen = panics.clone();
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        seen.fetch_add(1, Ordering::SeqCst);
        default(info);
    }));
    panics
}

/// `SOCKETS` abrupt disconnects from one room, then: every socket has left the room, and the
/// server still serves HTTP and WebSockets (a socket in the room gets a group message).
async fn churn(layer: &Arc<dyn ChannelLayer>) {
    let server = LiveServer::start(app()).await;
    let addr = server.addr();
    let room = uuid::Uuid::new_v4().simple().to_string();
    canter_test_kit::churn_websockets(
        &addr.to_string(),
        &format!("/ws/room/{room}/"),
        SOCKETS,
        BATCH,
    )
    .await;
    let group = format!("room_{room}");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while layer.group_size(&group).await.unwrap() > 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{} sockets still in the room",
            layer.group_size(&group).await.unwrap()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let mut http = tokio::net::TcpStream::connect(addr).await.unwrap();
    http.write_all(b"GET /status/ HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut response = String::new();
    http.read_to_string(&mut response).await.unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");

    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/ws/room/{room}/"))
        .await
        .unwrap();
    ws.send(WsMessage::Text("still here".into())).await.unwrap();
    let echoed = ws.next().await.unwrap().unwrap();
    assert_eq!(echoed.into_text().unwrap().as_str(), "echo: still here");
    layer
        .group_send(
            &group,
            canter_channels::Message::new("room.echo").with("text", "to the room"),
        )
        .await
        .unwrap();
    let relayed = tokio::time::timeout(Duration::from_secs(10), ws.next())
        .await
        .expect("the group message within 10 s")
        .unwrap()
        .unwrap();
    assert_eq!(relayed.into_text().unwrap().as_str(), "to the room");
    ws.close(None).await.unwrap();
    server.stop().await;
}

/// The log's sink: drops every line, counting those of a handshake (`joining …`, logged by
/// `connect` in the handshake's request) that show a socket's span around them — a span left
/// entered on the thread by another socket's task.
#[derive(Clone)]
struct LeakCounter(Arc<AtomicUsize>);

impl std::io::Write for LeakCounter {
    fn write(&mut self, line: &[u8]) -> std::io::Result<usize> {
        let has = |needle: &[u8]| line.windows(needle.len()).any(|w| w == needle);
        if has(b"joining") && has(b"websocket{") {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
        Ok(line.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Neither a panic nor a handshake logged inside a socket's span, so far.
fn assert_clean(panics: &AtomicUsize, leaks: &LeakCounter, layer: &str) {
    assert_eq!(panics.load(Ordering::SeqCst), 0, "panics ({layer} layer)");
    assert_eq!(
        leaks.0.load(Ordering::SeqCst),
        0,
        "handshakes logged inside a socket's span ({layer} layer)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn thousands_of_abrupt_disconnects_under_a_tracing_subscriber() {
    let test = canter_test_kit::test_name(
        module_path!(),
        "thousands_of_abrupt_disconnects_under_a_tracing_subscriber",
    );
    if !canter_test_kit::in_a_process_of_its_own(&test) {
        return;
    }
    let leaks = LeakCounter(Arc::new(AtomicUsize::new(0)));
    let sink = leaks.clone();
    tracing_subscriber::fmt()
        .with_writer(move || sink.clone())
        .with_ansi(false)
        .with_max_level(tracing::Level::DEBUG)
        .init();
    let panics = count_panics();

    let memory: Arc<dyn ChannelLayer> = Arc::new(canter_channels::InMemoryChannelLayer::default());
    canter_channels::layer_app(memory.clone())
        .scope(churn(&memory))
        .await;
    assert_clean(&panics, &leaks, "in-memory");

    let Some(keys) = canter_test_kit::RedisKeys::create("asgitest") else {
        return;
    };
    let config = canter_channels::RedisLayerConfig {
        hosts: vec![keys.url.clone()],
        prefix: keys.prefix.clone(),
        ..Default::default()
    };
    let redis = canter_channels::RedisChannelLayer::connect(config)
        .await
        .unwrap()
        .shared();
    canter_channels::layer_app(redis.clone())
        .scope(churn(&redis))
        .await;
    assert_clean(&panics, &leaks, "Redis");
}
