//! The stall detector watches WebSocket consumers as it watches views: a consumer that blocks
//! the runtime (`std::thread::sleep` in `receive`) is named in a warning under DEBUG (the test
//! settings), and nothing is said with `[stall] enabled = false`.

use std::time::Duration;

use canter_channels::testing::WebsocketCommunicator;
use canter_channels::{websocket, Consumer, ConsumerError, Context, Frame, NoEvent, Scope};
use canter_core::prelude::*;
use canter_core::settings::Settings;
use canter_core::test::{CapturedLogs, TestClient};

struct Blocking;

impl Consumer for Blocking {
    type Event = NoEvent;
    async fn receive(&mut self, ctx: &mut Context, _frame: Frame) -> Result<(), ConsumerError> {
        std::thread::sleep(Duration::from_millis(60)); // the mistake the detector exists for
        ctx.send_text("done").await
    }
}

/// One message to the blocking consumer under `settings`; what was logged on this thread (the
/// in-process socket's task runs on the test's current-thread runtime).
async fn one_message(settings: Settings) -> String {
    let captured = CapturedLogs::default();
    let _guard = captured.install();
    let app = App::new()
        .plugin(canter_channels::Channels)
        .urls(vec![path("ws/block/", websocket(|_: &Scope| Blocking))]);
    let client = TestClient::start_with_settings(app, settings).await;
    let mut ws = WebsocketCommunicator::connect(client.service(), "/ws/block/")
        .await
        .unwrap();
    ws.send_text("go").await;
    assert_eq!(ws.receive_text().await.as_deref(), Some("done"));
    ws.close(1000).await;
    captured.text()
}

#[tokio::test]
async fn a_consumer_that_blocks_the_runtime_is_named_in_a_warning() {
    let logs = one_message(Settings::for_tests()).await;
    assert!(logs.contains("WARN"), "{logs}");
    assert!(
        logs.contains("consumer \"/ws/block/\"") && logs.contains("stall::Blocking"),
        "names the socket's path and the consumer's type: {logs}"
    );
    let mut off = Settings::for_tests();
    off.stall.enabled = Some(false);
    let logs = one_message(off).await;
    assert!(!logs.contains("blocked the async runtime"), "off: {logs}");
}
