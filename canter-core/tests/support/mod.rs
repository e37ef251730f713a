//! What the tests of the real server share: a small app, raw HTTP/1 over TCP, and a log
//! capture.

#![allow(dead_code, unused_imports)] // each test binary uses part of it

use std::time::Duration;

use canter_core::prelude::*;
use canter_core::settings::{ServerSettings, Settings};
use canter_core::test::LiveServer;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub async fn hello(_req: Request) -> &'static str {
    "hello"
}

pub async fn echo_json(Json(v): Json<serde_json::Value>) -> Json<serde_json::Value> {
    Json(v)
}

pub async fn panics(_req: Request) -> &'static str {
    panic!("boom")
}

pub fn settings(f: impl FnOnce(&mut ServerSettings)) -> Settings {
    let mut s = Settings::for_tests();
    f(&mut s.server);
    s
}

pub fn app() -> App {
    App::new().urls(vec![
        path("", hello),
        path("json/", echo_json),
        path("panic/", panics),
    ])
}

/// Sends raw bytes and reads until the server closes or `wait` passes.
pub async fn raw(server: &LiveServer, bytes: &[u8], wait: Duration) -> String {
    let mut stream = TcpStream::connect(server.addr()).await.unwrap();
    stream.write_all(bytes).await.unwrap();
    let mut out = Vec::new();
    let _ = tokio::time::timeout(wait, stream.read_to_end(&mut out)).await;
    String::from_utf8_lossy(&out).into_owned()
}

pub fn status_of(response: &str) -> u16 {
    response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// `GET target` with the given Host, on a connection the client closes after the response.
pub async fn get(server: &LiveServer, target: &str, host: &str) -> String {
    let request = format!("GET {target} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    raw(server, request.as_bytes(), SHORT).await
}

/// Writes `bytes` one at a time, `delay` apart; true if the server closed the connection
/// before all were written.
pub async fn trickle(
    stream: &mut (impl tokio::io::AsyncWrite + Unpin),
    bytes: &[u8],
    delay: Duration,
) -> bool {
    for byte in bytes {
        tokio::time::sleep(delay).await;
        if stream.write_all(&[*byte]).await.is_err() {
            return true;
        }
    }
    false
}

pub const SHORT: Duration = Duration::from_secs(5);

/// `GET uri` over HTTP/2 (prior knowledge): the `:authority` is the URI's.
pub async fn h2_get(server: &LiveServer, uri: &str) -> http::StatusCode {
    let stream = TcpStream::connect(server.addr()).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        hyper_util::rt::TokioIo::new(stream),
    )
    .await
    .unwrap();
    tokio::spawn(conn);
    let req = http::Request::builder()
        .uri(uri)
        .body(http_body_util::Empty::<bytes::Bytes>::new())
        .unwrap();
    sender.send_request(req).await.unwrap().status()
}

/// A log writer for tests: what the server logged on this thread.
pub use canter_core::test::CapturedLogs as Captured;
