//! The server's limits on clients that hold connections: the request body read timeout and
//! minimum rate (408), and the cap on connections at once.

mod support;

use std::time::Duration;

use canter_core::settings::ServerSettings;
use canter_core::test::LiveServer;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use support::{app, raw, settings, status_of, trickle, Captured, SHORT};

/// Sends a JSON POST's head and `sent` of its 40-byte body, then trickles the rest `delay`
/// apart while reading: the response and whether the server closed the connection.
async fn post_trickling_body(server: &LiveServer, sent: usize, delay: Duration) -> (String, bool) {
    let body = format!("[{}]", "1,".repeat(19) + "1");
    assert_eq!(body.len(), 41);
    let head = format!(
        "POST /json/ HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    let stream = TcpStream::connect(server.addr()).await.unwrap();
    let (mut read, mut write) = stream.into_split();
    write.write_all(head.as_bytes()).await.unwrap();
    write.write_all(&body.as_bytes()[..sent]).await.unwrap();
    // Read while trickling: once the server answers and closes, a write may be reset.
    let reader = tokio::spawn(async move {
        let mut out = Vec::new();
        let closed = tokio::time::timeout(Duration::from_secs(15), read.read_to_end(&mut out))
            .await
            .is_ok();
        (String::from_utf8_lossy(&out).into_owned(), closed)
    });
    trickle(&mut write, &body.as_bytes()[sent..], delay).await;
    reader.await.unwrap()
}

#[tokio::test]
async fn a_body_that_stops_coming_is_408_and_the_connection_closes() {
    let server =
        LiveServer::start_with_settings(app(), settings(|s| s.body_read_timeout = 0.3)).await;
    // A byte every 1.5 s: each wait is longer than the body read timeout.
    let (response, closed) = post_trickling_body(&server, 3, Duration::from_millis(1500)).await;
    assert_eq!(status_of(&response), 408, "{response}");
    assert!(
        response.to_ascii_lowercase().contains("connection: close"),
        "{response}"
    );
    assert!(closed, "the server closed the connection: {response}");
    // The server still serves, and a body sent at once is not timed out.
    let ok = "POST /json/ HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 7\r\nConnection: close\r\n\r\n[1,2,3]";
    let r = raw(&server, ok.as_bytes(), SHORT).await;
    assert_eq!(status_of(&r), 200, "{r}");
}

#[tokio::test]
async fn a_body_slower_than_the_minimum_rate_is_408() {
    let server = LiveServer::start_with_settings(
        app(),
        settings(|s| {
            s.body_read_timeout = 1.0;
            s.body_min_rate = 10;
        }),
    )
    .await;
    // A byte every 200 ms: no wait reaches the body read timeout, but 5 bytes/s is below the
    // minimum rate, so the body's time runs out (at about 2 s) long before its 41 bytes (8 s).
    let (response, closed) = post_trickling_body(&server, 1, Duration::from_millis(200)).await;
    assert_eq!(status_of(&response), 408, "{response}");
    assert!(closed, "the server closed the connection: {response}");
}

/// Sends `GET /` on a kept-alive connection; the status, or `None` if no answer came within
/// `wait`.
async fn get_on(stream: &mut TcpStream, wait: Duration) -> Option<u16> {
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .unwrap();
    let mut buf = vec![0u8; 1024];
    let n = tokio::time::timeout(wait, stream.read(&mut buf))
        .await
        .ok()?
        .unwrap();
    Some(status_of(&String::from_utf8_lossy(&buf[..n])))
}

#[tokio::test]
async fn past_max_connections_a_new_connection_waits_for_a_slot() {
    let logs = Captured::default();
    let _capture = logs.install();
    let server = LiveServer::start_with_settings(
        app(),
        settings(|s| {
            s.max_connections = Some(3);
            s.keep_alive_timeout = 30.0;
            s.header_read_timeout = 30.0;
        }),
    )
    .await;
    let mut open = Vec::new();
    for _ in 0..3 {
        let mut stream = TcpStream::connect(server.addr()).await.unwrap();
        assert_eq!(get_on(&mut stream, SHORT).await, Some(200));
        open.push(stream);
    }
    // The fourth gets through the kernel's backlog, but the server does not take it yet.
    let mut fourth = TcpStream::connect(server.addr()).await.unwrap();
    assert_eq!(get_on(&mut fourth, Duration::from_millis(500)).await, None);
    let warning = logs.text();
    assert!(
        warning.contains("WARN") && warning.contains("server.max_connections reached"),
        "{warning}"
    );
    // One closes: the fourth is served, on the request it already sent.
    drop(open.pop());
    let mut buf = vec![0u8; 1024];
    let n = tokio::time::timeout(SHORT, fourth.read(&mut buf))
        .await
        .expect("served once a slot was free")
        .unwrap();
    assert_eq!(status_of(&String::from_utf8_lossy(&buf[..n])), 200);
    // The others still work; the warning was logged once, not per attempt.
    assert_eq!(get_on(&mut open[0], SHORT).await, Some(200));
    assert_eq!(
        logs.text()
            .matches("server.max_connections reached")
            .count(),
        1,
        "{}",
        logs.text()
    );
}

#[test]
fn max_connections_defaults_from_the_open_file_limit() {
    let defaults = ServerSettings::default();
    assert_eq!(defaults.max_connections, None);
    let derived = canter_core::server::max_connections(&defaults);
    assert!(derived >= 1, "{derived}");
    #[cfg(unix)]
    {
        let (soft, _) = rlimit::getrlimit(rlimit::Resource::NOFILE).unwrap();
        let soft = usize::try_from(soft).unwrap_or(usize::MAX);
        assert!(derived < soft, "leaves room for files: {derived} of {soft}");
    }
    let set = ServerSettings {
        max_connections: Some(3),
        ..ServerSettings::default()
    };
    assert_eq!(canter_core::server::max_connections(&set), 3);
}
