//! The demo's background consumer: chat sockets send joins and leaves to the `room-notices`
//! channel, and its worker announces them in the room. In-process on the in-memory layer, and
//! as `demo runserver` + `demo runworker room-notices` sharing Redis (`CANTER_TEST_REDIS_URL`;
//! skipped with a printed reason when unset).

mod support;

use std::time::Duration;

use canter::channels::testing::WebsocketCommunicator;
use canter::channels::{channel_layer, run_worker};
use canter::test::TestClient;
use demo::consumers::{RoomNotices, ROOM_NOTICES};
use futures_util::StreamExt;
use serde_json::{json, Value};
use support::DemoProcess;
use tokio_tungstenite::tungstenite::Message as Frame;

#[tokio::test]
async fn the_worker_announces_joins_and_leaves_in_the_room() {
    let client = TestClient::start(demo::app()).await;
    let layer = client.scope(async { channel_layer() }).await.unwrap();
    // The worker's consumer sends to the room through the app's layer: it runs in the app.
    let worker =
        tokio::spawn(client.scope(run_worker(layer, ROOM_NOTICES.to_owned(), RoomNotices)));

    let mut ada = WebsocketCommunicator::connect(client.service(), "/ws/chat/notices/?user=ada")
        .await
        .unwrap();
    assert_eq!(
        ada.receive_json().await.unwrap(),
        json!({"notice": "ada joined"})
    );
    let mut bob = WebsocketCommunicator::connect(client.service(), "/ws/chat/notices/?user=bob")
        .await
        .unwrap();
    for socket in [&mut ada, &mut bob] {
        assert_eq!(
            socket.receive_json().await.unwrap(),
            json!({"notice": "bob joined"})
        );
    }
    // Notices go to the room only: another room hears nothing of them.
    let mut eve = WebsocketCommunicator::connect(client.service(), "/ws/chat/elsewhere/?user=eve")
        .await
        .unwrap();
    assert_eq!(
        eve.receive_json().await.unwrap(),
        json!({"notice": "eve joined"})
    );
    bob.close(1000).await;
    assert_eq!(
        ada.receive_json().await.unwrap(),
        json!({"notice": "bob left"})
    );
    assert!(eve.receive_nothing(Duration::from_millis(200)).await);
    worker.abort();
}

#[tokio::test]
async fn runworker_announces_in_the_rooms_of_a_separate_server() {
    let Some(redis) = canter::test::require_service("CANTER_TEST_REDIS_URL") else {
        return;
    };
    let prefix = format!("asginotices{}", support::unique().replace('-', ""));
    let env = [
        ("REDIS_URL", redis.as_str()),
        ("CANTER_CHANNELS__REDIS__PREFIX", prefix.as_str()),
    ];
    let mut server = DemoProcess::spawn(&["runserver", "127.0.0.1:0"], &env);
    let _worker = DemoProcess::spawn(&["runworker", ROOM_NOTICES], &env);
    let addr = server.server_addr();

    let url = |user: &str| format!("ws://{addr}/ws/chat/worked/?user={user}");
    let (mut ada, _) = tokio_tungstenite::connect_async(url("ada")).await.unwrap();
    // The worker may still be starting: the join waits in Redis until it takes it.
    assert_eq!(next_json(&mut ada).await, json!({"notice": "ada joined"}));
    let (mut bob, _) = tokio_tungstenite::connect_async(url("bob")).await.unwrap();
    assert_eq!(next_json(&mut ada).await, json!({"notice": "bob joined"}));
    assert_eq!(next_json(&mut bob).await, json!({"notice": "bob joined"}));
    bob.close(None).await.unwrap();
    assert_eq!(next_json(&mut ada).await, json!({"notice": "bob left"}));
    ada.close(None).await.unwrap();
    drop(server);
    delete_keys(&redis, &prefix).await;
}

#[test]
fn runworker_names_its_channels_and_refuses_others() {
    let help = support::demo_command()
        .args(["runworker", "--help"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&help.stdout);
    assert!(
        help.status.success() && stdout.contains(ROOM_NOTICES),
        "{stdout}"
    );

    let dir = std::env::temp_dir().join(format!("demo-runworker-{}", support::unique()));
    std::fs::create_dir_all(&dir).unwrap();
    let unknown = support::demo_command()
        .args(["runworker", "thumbnails"])
        .current_dir(&dir)
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let stderr = String::from_utf8_lossy(&unknown.stderr);
    assert!(!unknown.status.success(), "{stderr}");
    assert!(
        stderr.contains("no background consumer for channel \"thumbnails\""),
        "{stderr}"
    );
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// The next text frame as JSON (panics after 15 s: the worker process must have started by then).
async fn next_json(socket: &mut Socket) -> Value {
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(15), socket.next())
            .await
            .expect("a frame within 15 s")
            .expect("the socket is open")
            .unwrap();
        if let Frame::Text(text) = frame {
            return serde_json::from_str(&text).unwrap();
        }
    }
}

/// Removes this test's keys (everything under its own prefix).
async fn delete_keys(url: &str, prefix: &str) {
    let client = redis::Client::open(url).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}*"))
        .query_async(&mut conn)
        .await
        .unwrap();
    if !keys.is_empty() {
        let _: () = redis::cmd("DEL")
            .arg(keys)
            .query_async(&mut conn)
            .await
            .unwrap();
    }
}
