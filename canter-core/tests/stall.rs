//! The runtime-stall detector: a view that blocks the runtime is named in a warning; one that
//! uses sync_to_async is not; it is off outside DEBUG unless enabled. Also the request span these
//! warnings and a view's own log lines are logged in.

use std::time::Duration;

use canter_core::prelude::*;
use canter_core::settings::Settings;
use canter_core::test::{CapturedLogs, TestClient};

async fn blocks(_req: Request) -> &'static str {
    std::thread::sleep(Duration::from_millis(60)); // the mistake the detector exists for
    "done"
}

async fn bridged(_req: Request) -> Result<&'static str> {
    sync_to_async(|| std::thread::sleep(Duration::from_millis(60))).await?;
    Ok("done")
}

fn app() -> App {
    App::new().urls(vec![
        path("blocks/", blocks).name("blocking-view"),
        path("bridged/", bridged).name("bridged-view"),
    ])
}

/// Runs `f` with a subscriber capturing this thread's log output (the test client runs the
/// view on the test's own current-thread runtime, so everything logs here).
async fn capture<F: std::future::Future<Output = ()>>(f: F) -> String {
    let captured = CapturedLogs::default();
    let _guard = captured.install();
    f.await;
    captured.text()
}

#[tokio::test]
async fn a_blocking_view_is_named_in_a_warning() {
    let client = TestClient::new(app());
    let logs = capture(async {
        assert_eq!(client.get("/blocks/").await.text(), "done");
    })
    .await;
    assert!(logs.contains("WARN"), "{logs}");
    assert!(logs.contains("blocked the async runtime"), "{logs}");
    assert!(logs.contains("blocking-view"), "names the route: {logs}");
    assert!(
        logs.contains("stall::blocks"),
        "names the view function: {logs}"
    );
    assert!(logs.contains("sync_to_async"), "says what to do: {logs}");
}

#[tokio::test]
async fn a_view_using_the_bridge_is_not_reported() {
    let client = TestClient::new(app());
    let logs = capture(async {
        assert_eq!(client.get("/bridged/").await.text(), "done");
    })
    .await;
    assert!(!logs.contains("blocked the async runtime"), "{logs}");
}

#[tokio::test]
async fn off_without_debug_unless_enabled() {
    let production = Settings {
        debug: false,
        ..Settings::for_tests()
    };
    let client = TestClient::with_settings(app(), production.clone());
    let logs = capture(async {
        client.get("/blocks/").await;
    })
    .await;
    assert!(!logs.contains("blocked the async runtime"), "{logs}");

    let mut enabled = production;
    enabled.stall.enabled = Some(true);
    enabled.stall.threshold_ms = 20;
    let client = TestClient::with_settings(app(), enabled);
    let logs = capture(async {
        client.get("/blocks/").await;
    })
    .await;
    assert!(logs.contains("blocked the async runtime"), "{logs}");
}

async fn logs_inside(_req: Request) -> &'static str {
    tracing::info!("inside the view");
    "done"
}

/// The request span that the detector's warnings (and a view's own log lines) are logged in
/// carries the method, the path and the route's name.
#[tokio::test]
async fn log_lines_in_a_view_name_the_request_and_its_route() {
    let client = TestClient::new(App::new().urls(vec![
        path("items/<int:id>/", logs_inside).name("item-detail"),
    ]));
    let logs = capture(async {
        assert_eq!(client.get("/items/7/").await.text(), "done");
    })
    .await;
    let line = logs
        .lines()
        .find(|line| line.contains("inside the view"))
        .unwrap_or_else(|| panic!("no log line from the view: {logs}"));
    assert!(line.contains("method=GET"), "{line}");
    assert!(line.contains("path=/items/7/"), "{line}");
    assert!(line.contains("route=\"item-detail\""), "{line}");
}
