//! The demo's WebSocket and SSE endpoints: the article's MyConsumer and the chat room.

use std::time::Duration;

use canter::channels::testing::WebsocketCommunicator;
use canter::channels::{channel_layer, Message};
use canter::test::{LiveServer, TestClient};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::test]
async fn ws_hello_is_the_articles_consumer() {
    let client = TestClient::start(demo::app()).await;
    let mut ws = WebsocketCommunicator::connect(client.service(), "/ws/hello/")
        .await
        .unwrap();
    assert_eq!(ws.receive_text().await.unwrap(), "Hello, WebSocket!");
    ws.close(1000).await;
}

#[tokio::test]
async fn chat_rooms_broadcast_to_their_members() {
    let client = TestClient::start(demo::app()).await;
    let mut ada = WebsocketCommunicator::connect(client.service(), "/ws/chat/demo-room/?user=ada")
        .await
        .unwrap();
    let mut bob = WebsocketCommunicator::connect(client.service(), "/ws/chat/demo-room/?user=bob")
        .await
        .unwrap();
    ada.send_json(&json!({"message": "hello"})).await;
    assert_eq!(
        bob.receive_json().await.unwrap(),
        json!({"message": "hello", "user": "ada"})
    );
    assert_eq!(
        ada.receive_json().await.unwrap(),
        json!({"message": "hello", "user": "ada"})
    );
    // The tutorial's message shape from elsewhere (a Python process would send the same).
    client
        .scope(async { channel_layer() })
        .await
        .unwrap()
        .group_send(
            "chat_demo-room",
            Message::new("chat.message")
                .with("message", "from py")
                .with("user", "py"),
        )
        .await
        .unwrap();
    assert_eq!(ada.receive_json().await.unwrap()["user"], "py");
    assert_eq!(bob.receive_json().await.unwrap()["user"], "py");
    bob.send_json(&json!({"nope": 1})).await;
    assert!(bob.receive_json().await.unwrap()["error"].is_string());
    let page = client.get("/chat/demo-room/").await;
    // The page names its room for chat.js, which opens ws/chat/<room>/.
    assert!(
        page.text().contains("data-room=\"demo-room\""),
        "{}",
        page.text()
    );
    assert!(page.text().contains("/static/js/chat.js"));
}

#[tokio::test]
async fn chat_events_stream_over_sse() {
    let server = LiveServer::start(demo::app()).await;
    let mut stream = tokio::net::TcpStream::connect(server.addr()).await.unwrap();
    stream
        .write_all(b"GET /chat/sse-room/events/ HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .unwrap();
    let mut seen = String::new();
    let mut buf = vec![0u8; 4096];
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    let mut sent = false;
    while !seen.contains("event: chat.message") && tokio::time::Instant::now() < deadline {
        if let Ok(Ok(n)) =
            tokio::time::timeout(Duration::from_millis(200), stream.read(&mut buf)).await
        {
            seen.push_str(&String::from_utf8_lossy(&buf[..n]));
        }
        if seen.contains(": connected") && !sent {
            server
                .scope(async { channel_layer() })
                .await
                .unwrap()
                .group_send(
                    "chat_sse-room",
                    Message::new("chat.message")
                        .with("message", "hi sse")
                        .with("user", "x"),
                )
                .await
                .unwrap();
            sent = true;
        }
    }
    assert!(seen.contains("text/event-stream"), "{seen}");
    assert!(
        seen.contains("event: chat.message") && seen.contains("hi sse"),
        "{seen}"
    );
}
