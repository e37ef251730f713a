//! Two apps with different settings in one process: each has its own database, task broker and
//! channel layer (its services), and nothing of one reaches the other — the services are the
//! app's, not the process's.

mod support;

use std::time::Duration;

use canter::channels::testing::WebsocketCommunicator;
use canter::channels::{channel_layer, Message};
use canter::settings::Settings;
use canter::test::TestClient;
use serde_json::{json, Value};

/// The demo with its own SQLite database and embedded broker under `dir`.
async fn demo_in(dir: &std::path::Path) -> TestClient {
    let settings = Settings::from_toml(&format!(
        r#"
debug = true
allowed_hosts = ["testserver"]

[databases.default]
url = "sqlite://{db}"

[tasks]
broker = "sqlite://{broker}"
"#,
        db = dir.join("db.sqlite3").display(),
        broker = dir.join("tasks.sqlite3").display(),
    ))
    .unwrap();
    let client = TestClient::start_with_settings(demo::app(), settings).await;
    client.scope(demo::migrate()).await.unwrap();
    client
}

fn scratch(tag: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("demo-two-apps-{tag}-{}", support::unique()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_apps_in_one_process_keep_their_own_services() {
    let (dir_a, dir_b) = (scratch("a"), scratch("b"));
    let (a, b) = tokio::join!(demo_in(&dir_a), demo_in(&dir_b));

    // Databases: a note posted to one app is in its database only.
    let posted = a
        .post("/api/notes/")
        .json(&json!({"text": "only in a"}))
        .await;
    assert_eq!(posted.status(), 201, "{}", posted.text());
    let notes = |client: &TestClient| {
        let client = client.clone();
        async move { client.get("/api/notes/").await.json::<Value>() }
    };
    assert_eq!(notes(&a).await.as_array().unwrap().len(), 1);
    assert_eq!(notes(&b).await.as_array().unwrap().len(), 0);

    // Brokers: a task enqueued through one app waits in its broker only.
    let enqueued = b.post("/tasks/long-running/?seconds=1").await;
    assert_eq!(enqueued.status(), 202, "{}", enqueued.text());
    let queued = |client: &TestClient| {
        client.scope(async {
            canter::tasks::broker()
                .unwrap()
                .queue_length("celery")
                .await
                .unwrap()
        })
    };
    assert_eq!((queued(&a).await, queued(&b).await), (0, 1));

    // Channel layers: a group message sent through one app reaches its sockets only.
    let mut in_a = WebsocketCommunicator::connect(a.service(), "/ws/chat/shared/?user=ada")
        .await
        .unwrap();
    let send = |client: &TestClient, text: &'static str| {
        client.scope(async move {
            channel_layer()
                .unwrap()
                .group_send(
                    "chat_shared",
                    Message::new("chat.message")
                        .with("message", text)
                        .with("user", "x"),
                )
                .await
                .unwrap()
        })
    };
    send(&b, "from b").await;
    assert!(
        in_a.receive_nothing(Duration::from_millis(200)).await,
        "app b's layer does not reach app a's sockets"
    );
    send(&a, "from a").await;
    assert_eq!(in_a.receive_json().await.unwrap()["message"], "from a");
    in_a.close(1000).await;

    std::fs::remove_dir_all(&dir_a).ok();
    std::fs::remove_dir_all(&dir_b).ok();
}
