//! Interop with Python's channels_redis 4.x on one Redis: a Python `group_send` reaches a Rust
//! consumer's channel; a Rust `group_send` and a direct `send` reach a Python process's channel.
//! Needs `CANTER_TEST_REDIS_URL` and `CANTER_TEST_PYTHON` (a Python with channels-redis; `.ci/run`
//! makes one); skipped with a printed reason otherwise.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use canter_channels::{ChannelLayer, Message, RedisChannelLayer, RedisLayerConfig};

const SCRIPT: &str = r#"
import asyncio, json, sys
from channels_redis.core import RedisChannelLayer

async def main():
    url, prefix, group, mode = sys.argv[1:5]
    layer = RedisChannelLayer(hosts=[url], prefix=prefix)
    if mode == "send_group":
        await layer.group_send(group, {"type": "chat.message", "message": "from python", "user": "py", "n": 3})
    elif mode == "listen":
        channel = await layer.new_channel()
        await layer.group_add(group, channel)
        print(json.dumps({"channel": channel}), flush=True)
        for _ in range(2):
            message = await asyncio.wait_for(layer.receive(channel), 10)
            print(json.dumps(message), flush=True)
    await layer.flush() if mode == "flush" else None

asyncio.run(main())
"#;

fn python() -> Option<String> {
    canter_core::test::require_service("CANTER_TEST_PYTHON")
}

async fn layer(url: &str, prefix: &str) -> std::sync::Arc<dyn ChannelLayer> {
    let config = RedisLayerConfig {
        hosts: vec![url.to_owned()],
        prefix: prefix.to_owned(),
        ..RedisLayerConfig::default()
    };
    RedisChannelLayer::connect(config).await.unwrap().shared()
}

fn cleanup(python: &str, url: &str, prefix: &str) {
    let _ = Command::new(python)
        .args(["-c", SCRIPT, url, prefix, "none", "flush"])
        .output();
}

#[tokio::test]
async fn python_group_send_reaches_a_rust_channel() {
    let (Some(url), Some(python)) = (
        canter_core::test::require_service("CANTER_TEST_REDIS_URL"),
        python(),
    ) else {
        return;
    };
    let prefix = format!("asgiinterop{}", uuid::Uuid::new_v4().simple());
    let rust = layer(&url, &prefix).await;
    let channel = rust.new_channel();
    rust.group_add("chat_lobby", &channel).await.unwrap();
    let out = Command::new(&python)
        .args(["-c", SCRIPT, &url, &prefix, "chat_lobby", "send_group"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let message = tokio::time::timeout(Duration::from_secs(10), rust.receive(&channel))
        .await
        .expect("delivered")
        .unwrap();
    assert_eq!(message.kind(), "chat.message");
    assert_eq!(message.get("message").unwrap(), "from python");
    assert_eq!(message.get("n").unwrap(), 3);
    cleanup(&python, &url, &prefix);
}

#[tokio::test]
async fn rust_group_send_and_send_reach_a_python_channel() {
    let (Some(url), Some(python)) = (
        canter_core::test::require_service("CANTER_TEST_REDIS_URL"),
        python(),
    ) else {
        return;
    };
    let prefix = format!("asgiinterop{}", uuid::Uuid::new_v4().simple());
    let rust = layer(&url, &prefix).await;
    let mut child = Command::new(&python)
        .args(["-c", SCRIPT, &url, &prefix, "chat_room", "listen"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first: serde_json::Value =
        serde_json::from_str(&lines.next().expect("the channel name").unwrap()).unwrap();
    let python_channel = first["channel"].as_str().unwrap().to_owned();
    assert!(python_channel.starts_with("specific.") && python_channel.contains('!'));
    rust.group_send(
        "chat_room",
        Message::new("chat.message")
            .with("message", "from rust")
            .with("user", "rs"),
    )
    .await
    .unwrap();
    rust.send(
        &python_channel,
        Message::new("direct.message").with("text", "just you"),
    )
    .await
    .unwrap();
    let received: Vec<serde_json::Value> = (0..2)
        .map(|_| serde_json::from_str(&lines.next().expect("a message").unwrap()).unwrap())
        .collect();
    let status = child.wait().unwrap();
    assert!(status.success());
    assert_eq!(
        received[0],
        serde_json::json!({"type": "chat.message", "message": "from rust", "user": "rs"})
    );
    assert_eq!(
        received[1],
        serde_json::json!({"type": "direct.message", "text": "just you"})
    );
    cleanup(&python, &url, &prefix);
}
