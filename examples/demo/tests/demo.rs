//! The demo's contract: `/async/` (the article's view), the article's `AsyncMiddleware`
//! adding `Server-Timing`, the index page, and the other example views.

use std::time::Duration;

use canter::test::TestClient;
use serde_json::{json, Value};

/// The demo as a test starts it: its plugins' services (the templates the pages need among
/// them), an in-memory task broker.
async fn client() -> TestClient {
    TestClient::start(demo::app()).await
}

#[tokio::test(start_paused = true)]
async fn async_view_sleeps_two_seconds_and_answers() {
    let client = client().await;
    let start = tokio::time::Instant::now();
    let r = client.get("/async/").await;
    assert!(start.elapsed() >= Duration::from_secs(2));
    assert_eq!(r.status(), 200);
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(
        r.json::<Value>(),
        json!({"message": "Hello from async view"})
    );
}

#[tokio::test(start_paused = true)]
async fn sleeping_views_hold_up_nobody() {
    // 500 requests that each sleep 2 s finish together in 2 s of (virtual) time: the sleeps
    // overlap instead of queueing.
    let client = client().await;
    let start = tokio::time::Instant::now();
    let requests = (0..500).map(|_| {
        let client = client.clone();
        tokio::spawn(async move { client.get("/async/").await.status() })
    });
    let statuses = futures_util::future::join_all(requests).await;
    assert!(statuses.iter().all(|s| *s.as_ref().unwrap() == 200));
    assert!(
        start.elapsed() < Duration::from_secs(3),
        "took {:?}",
        start.elapsed()
    );
}

#[tokio::test]
async fn async_middleware_adds_server_timing_everywhere() {
    let client = client().await;
    for (path, status) in [
        ("/", 200),
        ("/hello/", 200),
        ("/nowhere/", 404),
        ("/api/echo/", 405),
    ] {
        let r = client.get(path).await;
        assert_eq!(r.status(), status, "{path}");
        let timing = r
            .header("server-timing")
            .unwrap_or_else(|| panic!("no Server-Timing on {path}"));
        let ms: f64 = timing
            .strip_prefix("app;dur=")
            .expect("app;dur=<ms>")
            .parse()
            .expect("a number");
        assert!(ms >= 0.0);
    }
}

#[tokio::test]
async fn index_links_the_features() {
    let r = client().await.get("/").await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
    let html = r.text();
    for href in [
        "/notes/",
        "/upload/",
        "/async/",
        "/hello/",
        "/articles/2026/async-django/",
        "/blocking/",
        "/stream/",
        "/api/notes/",
        "/mymodel/first-active/",
        "/mymodel/",
        "/chat/lobby/",
    ] {
        assert!(
            html.contains(&format!("href=\"{href}\"")),
            "missing link {href}"
        );
    }
}

#[tokio::test]
async fn the_demo_middleware_stack_is_on() {
    let r = client()
        .await
        .get("/hello/")
        .header("accept-encoding", "gzip")
        .await;
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
    assert!(r.header("x-request-id").is_some());
    assert_eq!(
        r.json::<Value>(),
        json!({"message": "Hello"}),
        "too small to compress"
    );
}

#[tokio::test]
async fn other_example_views() {
    let client = client().await;
    let r = client.get("/articles/2024/hello-world/").await;
    assert_eq!(
        r.json::<Value>(),
        json!({"year": 2024, "slug": "hello-world"})
    );
    assert_eq!(client.get("/articles/1800/old/").await.status(), 404);
    assert_eq!(client.get("/articles/20x4/old/").await.status(), 404);

    let r = client.get("/blocking/").await;
    assert!(r.json::<Value>()["digest"].is_u64());

    let r = client.get("/stream/").await;
    assert_eq!(r.text(), "chunk 0\nchunk 1\nchunk 2\nchunk 3\nchunk 4\n");

    let r = client.post_json("/api/echo/", &json!({"x": [1, 2]})).await;
    assert_eq!(r.json::<Value>(), json!({"received": {"x": [1, 2]}}));
    let r = client
        .post("/api/echo/")
        .header("content-type", "application/json")
        .body("{nope")
        .await;
    assert_eq!(r.status(), 400);

    // The notes are the database's (tests/orm.rs); other methods are refused before it.
    assert_eq!(client.delete("/api/notes/").await.status(), 405);
}
