//! The real server over TCP: hostile input, limits, concurrency, disconnects, HTTP/2 and
//! graceful shutdown. Each test starts its own server on an ephemeral port.

mod support;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use canter_core::prelude::*;
use canter_core::settings::Settings;
use canter_core::test::LiveServer;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Barrier;

use support::{app, get, h2_get, hello, raw, settings, status_of, trickle, SHORT};

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

/// A service of the app's, found through the task-local scope (as `delay()` and the ORM find
/// theirs): 200 when the view sees it after an await, 500 when not.
#[derive(Clone)]
struct ScopeMarker;

async fn sees_the_app_scope(_req: Request) -> http::StatusCode {
    tokio::task::yield_now().await;
    match canter_core::services::require::<ScopeMarker>("the marker") {
        Ok(ScopeMarker) => http::StatusCode::OK,
        Err(_) => http::StatusCode::INTERNAL_SERVER_ERROR,
    }
}

// HTTP/1 requests run in their connection's task, which is in the app's scope; HTTP/2 streams
// are spawned by hyper, so each carries the scope itself (see `Core::handle_with`).
#[tokio::test]
async fn requests_run_in_the_app_scope_over_http1_and_http2() {
    let app = App::new()
        .state(ScopeMarker)
        .urls(vec![path("scope/", sees_the_app_scope)]);
    let server = LiveServer::start(app).await;
    let port = server.addr().port();
    let seen = get(&server, "/scope/", "localhost").await;
    assert_eq!(status_of(&seen), 200, "HTTP/1: {seen}");
    assert_eq!(
        h2_get(&server, &format!("http://localhost:{port}/scope/")).await,
        200,
        "HTTP/2"
    );
    server.stop().await;
}
