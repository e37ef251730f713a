//! The real server over TCP: hostile input, limits, concurrency, disconnects, HTTP/2 and
//! graceful shutdown. Each test starts its own server on an ephemeral port.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use canter_core::prelude::*;
use canter_core::settings::{ServerSettings, Settings};
use canter_core::test::LiveServer;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Barrier;

async fn hello(_req: Request) -> &'static str {
    "hello"
}

async fn echo_json(Json(v): Json<serde_json::Value>) -> Json<serde_json::Value> {
    Json(v)
}

async fn panics(_req: Request) -> &'static str {
    panic!("boom")
}

struct Flags {
    started: AtomicBool,
    dropped: AtomicBool,
}

struct SetOnDrop(Arc<Flags>);
impl Drop for SetOnDrop {
    fn drop(&mut self) {
        self.0.dropped.store(true, Ordering::SeqCst);
    }
}

fn settings(f: impl FnOnce(&mut ServerSettings)) -> Settings {
    let mut s = Settings::for_tests();
    f(&mut s.server);
    s
}

fn app() -> App {
    App::new().urls(vec![
        path("", hello),
        path("json/", echo_json),
        path("panic/", panics),
    ])
}

/// Sends raw bytes and reads until the server closes or `wait` passes.
async fn raw(server: &LiveServer, bytes: &[u8], wait: Duration) -> String {
    let mut stream = TcpStream::connect(server.addr()).await.unwrap();
    stream.write_all(bytes).await.unwrap();
    let mut out = Vec::new();
    let _ = tokio::time::timeout(wait, stream.read_to_end(&mut out)).await;
    String::from_utf8_lossy(&out).into_owned()
}

fn status_of(response: &str) -> u16 {
    response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// `GET target` with the given Host, on a connection the client closes after the response.
async fn get(server: &LiveServer, target: &str, host: &str) -> String {
    let request = format!("GET {target} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    raw(server, request.as_bytes(), SHORT).await
}

/// Writes `bytes` one at a time, `delay` apart; true if the server closed the connection
/// before all were written.
async fn trickle(
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

const SHORT: Duration = Duration::from_secs(5);

#[tokio::test]
async fn serves_http1_with_keep_alive() {
    let server = LiveServer::start(app()).await;
    let mut stream = TcpStream::connect(server.addr()).await.unwrap();
    for _ in 0..3 {
        stream
            .write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
            .await
            .unwrap();
        let mut buf = vec![0u8; 1024];
        let n = stream.read(&mut buf).await.unwrap();
        let text = String::from_utf8_lossy(&buf[..n]);
        assert!(text.starts_with("HTTP/1.1 200"), "{text}");
        assert!(text.ends_with("hello"), "{text}");
    }
}

#[tokio::test]
async fn malformed_request_line_is_400() {
    let server = LiveServer::start(app()).await;
    let r = raw(&server, b"GARBAGE\r\n\r\n", SHORT).await;
    assert_eq!(status_of(&r), 400, "{r}");
    let r = raw(&server, b"GET / HTTP/9.9\r\nHost: localhost\r\n\r\n", SHORT).await;
    assert!(matches!(status_of(&r), 400 | 505), "{r}");
    // The server is still serving.
    let r = get(&server, "/", "localhost").await;
    assert_eq!(status_of(&r), 200);
}

#[tokio::test]
async fn oversized_headers_are_431() {
    let server =
        LiveServer::start_with_settings(app(), settings(|s| s.max_header_size = 8192)).await;
    let big = format!(
        "GET / HTTP/1.1\r\nHost: localhost\r\nX-Big: {}\r\n\r\n",
        "a".repeat(20_000)
    );
    let r = raw(&server, big.as_bytes(), SHORT).await;
    assert_eq!(status_of(&r), 431, "{r}");
    let r = get(&server, "/", "localhost").await;
    assert_eq!(status_of(&r), 200);
}

#[tokio::test]
async fn oversized_bodies_are_413_declared_or_chunked() {
    let server = LiveServer::start_with_settings(app(), settings(|s| s.max_body_size = 1024)).await;
    let declared = "POST /json/ HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 5000000\r\n\r\n";
    let r = raw(&server, declared.as_bytes(), SHORT).await;
    assert_eq!(status_of(&r), 413, "{r}");

    let chunk = format!("\"{}\"", "a".repeat(3000));
    let chunked = format!(
        "POST /json/ HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n{:x}\r\n{chunk}\r\n0\r\n\r\n",
        chunk.len()
    );
    let r = raw(&server, chunked.as_bytes(), SHORT).await;
    assert_eq!(status_of(&r), 413, "{r}");

    let ok = "POST /json/ HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 7\r\nConnection: close\r\n\r\n[1,2,3]";
    let r = raw(&server, ok.as_bytes(), SHORT).await;
    assert_eq!(status_of(&r), 200, "{r}");
    assert!(r.ends_with("[1,2,3]"));
}

#[tokio::test]
async fn invalid_json_is_400_over_the_wire() {
    let server = LiveServer::start(app()).await;
    let bad = "POST /json/ HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 5\r\nConnection: close\r\n\r\n{oops";
    let r = raw(&server, bad.as_bytes(), SHORT).await;
    assert_eq!(status_of(&r), 400, "{r}");
}

#[tokio::test]
async fn slowloris_headers_are_cut_off() {
    let server =
        LiveServer::start_with_settings(app(), settings(|s| s.header_read_timeout = 0.5)).await;
    let mut stream = TcpStream::connect(server.addr()).await.unwrap();
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: local")
        .await
        .unwrap();
    // Trickle one byte at a time, far slower than the timeout allows.
    let closed = trickle(
        &mut stream,
        b"host\r\nX-Slow: 1",
        Duration::from_millis(200),
    )
    .await;
    if !closed {
        let mut buf = Vec::new();
        let read = tokio::time::timeout(SHORT, stream.read_to_end(&mut buf)).await;
        assert!(read.is_ok(), "the server closed the connection");
        let text = String::from_utf8_lossy(&buf);
        assert!(!text.contains("200 OK"), "{text}");
    }
}

#[tokio::test]
async fn slow_head_is_cut_off_even_with_a_long_keep_alive() {
    // The header read timeout counts from the end of the previous response (as hyper's did),
    // not from the last byte received.
    let server = LiveServer::start_with_settings(
        app(),
        settings(|s| {
            s.header_read_timeout = 0.4;
            s.keep_alive_timeout = 30.0;
        }),
    )
    .await;
    let mut stream = TcpStream::connect(server.addr()).await.unwrap();
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .unwrap();
    let mut buf = vec![0u8; 1024];
    let n = stream.read(&mut buf).await.unwrap();
    assert_eq!(status_of(&String::from_utf8_lossy(&buf[..n])), 200);
    let started = std::time::Instant::now();
    let closed = trickle(
        &mut stream,
        b"GET / HTTP/1.1\r\nHost: localhost\r\nX-Slow: 1",
        Duration::from_millis(100),
    )
    .await;
    if !closed {
        let n = tokio::time::timeout(SHORT, stream.read(&mut buf))
            .await
            .expect("closed before the deadline")
            .unwrap_or(0);
        assert_eq!(n, 0, "EOF from the server");
    }
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
}

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

/// A log writer for tests: what the server logged on this thread.
#[derive(Clone, Default)]
struct Captured(Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    /// Captures this thread's log lines (the server runs on the test's current-thread
    /// runtime) until the guard is dropped.
    fn install(&self) -> tracing::subscriber::DefaultGuard {
        let writer = self.clone();
        tracing::subscriber::set_default(
            tracing_subscriber::fmt()
                .with_writer(move || writer.clone())
                .with_ansi(false)
                .finish(),
        )
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
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

#[tokio::test]
async fn http2_connections_have_no_header_read_timeout() {
    let server =
        LiveServer::start_with_settings(app(), settings(|s| s.header_read_timeout = 0.2)).await;
    let stream = TcpStream::connect(server.addr()).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        hyper_util::rt::TokioIo::new(stream),
    )
    .await
    .unwrap();
    tokio::spawn(conn);
    for _ in 0..2 {
        let req = http::Request::builder()
            .uri(format!("http://localhost:{}/", server.addr().port()))
            .body(http_body_util::Empty::<bytes::Bytes>::new())
            .unwrap();
        let response = sender.send_request(req).await.unwrap();
        assert_eq!(response.status(), 200);
        // Idle for longer than the header read timeout, shorter than keep-alive (5 s).
        tokio::time::sleep(Duration::from_millis(800)).await;
    }
}

#[tokio::test]
async fn wrong_host_is_400() {
    let server = LiveServer::start(app()).await;
    let r = get(&server, "/", "evil.example").await;
    assert_eq!(status_of(&r), 400, "{r}");
    let r = raw(
        &server,
        b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n",
        SHORT,
    )
    .await;
    assert_eq!(status_of(&r), 400, "no Host at all: {r}");
}

#[tokio::test]
async fn two_hosts_or_a_host_with_a_malformed_port_are_400() {
    let server = LiveServer::start(app()).await;
    for host in ["localhost:abc", "localhost:", "localhost:99999", "[::1]:x"] {
        let r = get(&server, "/", host).await;
        assert_eq!(status_of(&r), 400, "Host: {host}: {r}");
    }
    let r = raw(
        &server,
        b"GET / HTTP/1.1\r\nHost: localhost\r\nHost: localhost\r\nConnection: close\r\n\r\n",
        SHORT,
    )
    .await;
    assert_eq!(status_of(&r), 400, "two Host headers: {r}");
    // An absolute-form target names the host, and the Host header beside it is still checked.
    let r = raw(
        &server,
        b"GET http://localhost/ HTTP/1.1\r\nHost: localhost:abc\r\nConnection: close\r\n\r\n",
        SHORT,
    )
    .await;
    assert_eq!(status_of(&r), 400, "absolute form, malformed Host: {r}");
    for host in ["localhost", "localhost:8000", "localhost:0", "[::1]:65535"] {
        let r = get(&server, "/", host).await;
        assert_eq!(status_of(&r), 200, "Host: {host}: {r}");
    }
}

/// `GET uri` over HTTP/2 (prior knowledge): the `:authority` is the URI's.
async fn h2_get(server: &LiveServer, uri: &str) -> http::StatusCode {
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

#[tokio::test]
async fn http2_authority_names_the_host_and_its_port_is_checked() {
    let server = LiveServer::start(app()).await;
    let port = server.addr().port();
    assert_eq!(
        h2_get(&server, &format!("http://localhost:{port}/")).await,
        200
    );
    assert_eq!(h2_get(&server, "http://localhost/").await, 200);
    assert_eq!(h2_get(&server, "http://localhost:abc/").await, 400);
    assert_eq!(h2_get(&server, "http://evil.example/").await, 400);
}

#[tokio::test]
async fn invalid_utf8_in_path_or_query_is_400() {
    let server = LiveServer::start(app()).await;
    let r = get(&server, "/%ff%fe/", "localhost").await;
    assert_eq!(status_of(&r), 400, "{r}");
    let r = get(&server, "/?q=%C3%28", "localhost").await;
    assert_eq!(status_of(&r), 400, "{r}");
    let r = raw(
        &server,
        b"GET /\xff\xfe HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
        SHORT,
    )
    .await;
    assert_eq!(status_of(&r), 400, "raw non-ASCII bytes: {r}");
}

#[tokio::test]
async fn unknown_route_and_wrong_method() {
    let app = App::new().urls(vec![path("only-get/", hello).methods([Method::GET])]);
    let server = LiveServer::start(app).await;
    let r = get(&server, "/nope/", "localhost").await;
    assert_eq!(status_of(&r), 404);
    let r = raw(
        &server,
        b"DELETE /only-get/ HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
        SHORT,
    )
    .await;
    assert_eq!(status_of(&r), 405);
    assert!(r.to_ascii_lowercase().contains("allow: get, head"), "{r}");
}

#[tokio::test]
async fn a_panicking_view_is_500_and_the_server_keeps_serving() {
    let server = LiveServer::start(app()).await;
    let mut stream = TcpStream::connect(server.addr()).await.unwrap();
    stream
        .write_all(b"GET /panic/ HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .unwrap();
    let mut buf = vec![0u8; 4096];
    let n = stream.read(&mut buf).await.unwrap();
    assert_eq!(status_of(&String::from_utf8_lossy(&buf[..n])), 500);
    // Same connection still works.
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .unwrap();
    let n = stream.read(&mut buf).await.unwrap();
    assert_eq!(status_of(&String::from_utf8_lossy(&buf[..n])), 200);
}

#[tokio::test]
async fn client_disconnect_cancels_the_view() {
    let flags = Arc::new(Flags {
        started: AtomicBool::new(false),
        dropped: AtomicBool::new(false),
    });
    let view_flags = flags.clone();
    let app = App::new().urls(vec![path("slow/", move |_req: Request| {
        let flags = view_flags.clone();
        async move {
            flags.started.store(true, Ordering::SeqCst);
            let _guard = SetOnDrop(flags.clone());
            tokio::time::sleep(Duration::from_secs(30)).await;
            "finished"
        }
    })]);
    let server = LiveServer::start(app).await;
    let mut stream = TcpStream::connect(server.addr()).await.unwrap();
    stream
        .write_all(b"GET /slow/ HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .unwrap();
    for _ in 0..100 {
        if flags.started.load(Ordering::SeqCst) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(flags.started.load(Ordering::SeqCst));
    drop(stream);
    for _ in 0..250 {
        if flags.dropped.load(Ordering::SeqCst) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the view's future was not dropped after the client went away");
}

#[tokio::test]
async fn concurrent_requests_do_not_wait_for_each_other() {
    // Every view waits until all N are inside a view at once: a server that handled them one
    // at a time (or on too few threads) would never get there and the test would time out.
    const N: usize = 200;
    let barrier = Arc::new(Barrier::new(N));
    let app = App::new().urls(vec![path("wait/", move |_req: Request| {
        let barrier = barrier.clone();
        async move {
            barrier.wait().await;
            "all here"
        }
    })]);
    let server = LiveServer::start(app).await;
    let addr = server.addr();
    let done = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..N {
        let done = done.clone();
        tasks.push(tokio::spawn(async move {
            let mut stream = TcpStream::connect(addr).await.unwrap();
            stream
                .write_all(b"GET /wait/ HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
                .await
                .unwrap();
            let mut out = Vec::new();
            stream.read_to_end(&mut out).await.unwrap();
            if String::from_utf8_lossy(&out).ends_with("all here") {
                done.fetch_add(1, Ordering::SeqCst);
            }
        }));
    }
    tokio::time::timeout(
        Duration::from_secs(60),
        futures_util::future::join_all(tasks),
    )
    .await
    .expect("all requests met");
    assert_eq!(done.load(Ordering::SeqCst), N);
}

#[tokio::test]
async fn idle_keep_alive_connections_are_closed() {
    let server =
        LiveServer::start_with_settings(app(), settings(|s| s.keep_alive_timeout = 0.3)).await;
    let mut stream = TcpStream::connect(server.addr()).await.unwrap();
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .unwrap();
    let mut buf = vec![0u8; 1024];
    let n = stream.read(&mut buf).await.unwrap();
    assert_eq!(status_of(&String::from_utf8_lossy(&buf[..n])), 200);
    // Idle now: the server closes within a few keep-alive periods.
    let n = tokio::time::timeout(SHORT, stream.read(&mut buf))
        .await
        .expect("closed before the deadline")
        .unwrap();
    assert_eq!(n, 0, "EOF from the server");
}

#[tokio::test]
async fn a_slow_stream_is_not_an_idle_connection() {
    let app = App::new().urls(vec![path("trickle/", |_req: Request| async {
        let chunks = futures_util::stream::unfold(0, |n| async move {
            if n == 3 {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(400)).await;
            Some((Ok::<_, std::io::Error>(bytes::Bytes::from("tick;")), n + 1))
        });
        StreamingResponse::new(chunks)
    })]);
    let server =
        LiveServer::start_with_settings(app, settings(|s| s.keep_alive_timeout = 0.2)).await;
    let r = raw(
        &server,
        b"GET /trickle/ HTTP/1.1\r\nHost: localhost\r\n\r\n",
        SHORT,
    )
    .await;
    assert!(
        r.contains("tick;") && r.matches("tick;").count() == 3,
        "{r}"
    );
}

#[tokio::test]
async fn http2_prior_knowledge() {
    let server = LiveServer::start(app()).await;
    let stream = TcpStream::connect(server.addr()).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        hyper_util::rt::TokioIo::new(stream),
    )
    .await
    .unwrap();
    tokio::spawn(conn);
    let req = http::Request::builder()
        .uri(format!("http://localhost:{}/", server.addr().port()))
        .body(http_body_util::Empty::<bytes::Bytes>::new())
        .unwrap();
    let response = sender.send_request(req).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.version(), http::Version::HTTP_2);
    let body = http_body_util::BodyExt::collect(response.into_body())
        .await
        .unwrap()
        .to_bytes();
    assert_eq!(&body[..], b"hello");
}

#[tokio::test]
async fn graceful_shutdown_finishes_in_flight_requests() {
    let app = App::new().urls(vec![
        path("", hello),
        path("slow/", |_req: Request| async {
            tokio::time::sleep(Duration::from_millis(500)).await;
            "slow done"
        }),
    ]);
    let server = LiveServer::start(app).await;
    let addr = server.addr();
    let in_flight = tokio::spawn(async move {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream
            .write_all(b"GET /slow/ HTTP/1.1\r\nHost: localhost\r\n\r\n")
            .await
            .unwrap();
        let mut out = Vec::new();
        stream.read_to_end(&mut out).await.unwrap();
        String::from_utf8_lossy(&out).into_owned()
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    server.stop().await;
    let text = in_flight.await.unwrap();
    assert!(
        text.starts_with("HTTP/1.1 200") && text.ends_with("slow done"),
        "{text}"
    );
    assert!(
        TcpStream::connect(addr).await.is_err(),
        "no new connections after shutdown"
    );
}

struct Marker(&'static str);

/// What a view learns about its request from canter: the client, settings, state and route.
async fn about(req: Request) -> Json<serde_json::Value> {
    Json(serde_json::json!({
        "client": req.client_addr().map(|a| a.ip().to_string()),
        "debug": req.settings().map(|s| s.debug),
        "state": req.state::<Marker>().map(|m| m.0),
        "route": req.route_name(),
        "path": req.path(),
        "link": req.reverse("about", &[("n", "7".into())]).ok(),
    }))
}

/// A middleware that hands the rest of the chain a request built anew (its extensions, and
/// canter's context with them, are gone).
struct Rebuild;

impl Middleware for Rebuild {
    async fn call(&self, req: Request, next: Next) -> Response {
        if req.headers().contains_key("x-rebuild") {
            let (parts, body) = req.into_parts();
            let mut fresh = Request::new(body);
            *fresh.uri_mut() = parts.uri;
            *fresh.headers_mut() = parts.headers;
            return next.run(fresh).await;
        }
        next.run(req).await
    }
}

#[tokio::test]
async fn views_see_the_client_settings_state_and_route() {
    let app = App::new()
        .state(Marker("here"))
        .middleware(Rebuild)
        .urls(vec![path("about/<int:n>/", about).name("about")]);
    let server = LiveServer::start(app).await;
    let body = |response: &str| -> serde_json::Value {
        let json = &response[response.find("\r\n\r\n").expect("a head") + 4..];
        serde_json::from_str(json).expect("JSON")
    };
    let request = b"GET /about/3/ HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
    let seen = body(&raw(&server, request, Duration::from_secs(5)).await);
    assert_eq!(seen["client"], "127.0.0.1");
    assert_eq!(seen["debug"], Settings::for_tests().debug);
    assert_eq!(seen["state"], "here");
    assert_eq!(seen["route"], "about");
    assert_eq!(seen["path"], "/about/3/");
    assert_eq!(seen["link"], "/about/7/");

    // A request rebuilt by a middleware still gets its route, the app's settings and state
    // (the client address went with the old request's extensions).
    let request =
        b"GET /about/3/ HTTP/1.1\r\nHost: localhost\r\nX-Rebuild: 1\r\nConnection: close\r\n\r\n";
    let seen = body(&raw(&server, request, Duration::from_secs(5)).await);
    assert_eq!(seen["client"], serde_json::Value::Null);
    assert_eq!(seen["state"], "here");
    assert_eq!(seen["route"], "about");
    assert_eq!(seen["link"], "/about/7/");
    server.stop().await;
}
