//! Two `demo runserver` processes sharing a Redis deliver each other's chat-room messages
//! (`CANTER_TEST_REDIS_URL`; skipped with a printed reason when unset).

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;

struct Server {
    child: Child,
    addr: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(redis: &str, prefix: &str) -> Server {
    let db = std::env::temp_dir().join(format!(
        "demo-redis-{}-{prefix}-{}.sqlite3",
        std::process::id(),
        rand_suffix()
    ));
    let mut command = Command::new(env!("CARGO_BIN_EXE_demo"));
    for (key, _) in std::env::vars() {
        if key.starts_with("CANTER_") {
            command.env_remove(key);
        }
    }
    let mut child = command
        .args(["runserver", "127.0.0.1:0"])
        .env("RUST_LOG", "warn")
        .env("REDIS_URL", redis)
        .env("CANTER_CHANNELS__REDIS__PREFIX", prefix)
        .env("DATABASE_URL", format!("sqlite://{}", db.display()))
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let addr = loop {
        let line = lines.next().expect("runserver prints its address").unwrap();
        if let Some(rest) = line.strip_prefix("Starting server at http://") {
            break rest.trim_end_matches('/').to_owned();
        }
    };
    std::thread::spawn(move || for _ in lines {});
    Server { child, addr }
}

fn rand_suffix() -> String {
    format!("{:?}", std::time::SystemTime::now())
        .chars()
        .filter(|c| c.is_ascii_digit())
        .collect()
}

#[tokio::test]
async fn two_processes_share_a_room_through_redis() {
    let Some(redis) = canter::test::require_service("CANTER_TEST_REDIS_URL") else {
        return;
    };
    let prefix = format!("asgitest{}", rand_suffix());
    let (one, two) = (start(&redis, &prefix), start(&redis, &prefix));
    let (mut ada, _) =
        tokio_tungstenite::connect_async(format!("ws://{}/ws/chat/shared/?user=ada", one.addr))
            .await
            .unwrap();
    let (mut bob, _) =
        tokio_tungstenite::connect_async(format!("ws://{}/ws/chat/shared/?user=bob", two.addr))
            .await
            .unwrap();
    // Both joined (group_add ran in connect before the 101), so a message reaches both.
    ada.send(Message::Text(r#"{"message": "across processes"}"#.into()))
        .await
        .unwrap();
    for socket in [&mut ada, &mut bob] {
        let frame = tokio::time::timeout(Duration::from_secs(10), socket.next())
            .await
            .expect("delivered")
            .unwrap()
            .unwrap();
        let value: serde_json::Value = serde_json::from_str(frame.to_text().unwrap()).unwrap();
        assert_eq!(
            value,
            serde_json::json!({"message": "across processes", "user": "ada"})
        );
    }
    redis_cleanup(&redis, &prefix);
}

fn redis_cleanup(url: &str, prefix: &str) {
    let host_port = url.trim_start_matches("redis://").trim_end_matches('/');
    let (host, port) = host_port.split_once(':').unwrap_or((host_port, "6379"));
    let keys = Command::new("redis-cli")
        .args([
            "-h",
            host,
            "-p",
            port,
            "--scan",
            "--pattern",
            &format!("{prefix}*"),
        ])
        .output();
    if let Ok(out) = keys {
        for key in String::from_utf8_lossy(&out.stdout).lines() {
            let _ = Command::new("redis-cli")
                .args(["-h", host, "-p", port, "del", key])
                .output();
        }
    }
}
