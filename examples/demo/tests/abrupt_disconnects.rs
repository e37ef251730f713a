//! `demo runserver` (with its in-process task worker, logging as a deployment does) survives
//! thousands of chat sockets that vanish without a Close frame: no panic in its log and no
//! request logged inside a socket's span, the chat and HTTP still answer, and a task enqueued
//! afterwards runs. On the in-memory layer, and on the Redis one when `CANTER_TEST_REDIS_URL` is
//! set. (A socket's span entered across awaits stayed on the runtime's threads: requests were
//! logged inside it, and the log subscriber came to panic in every kind of task, the worker's
//! included, and to abort the process on the Redis layer.)

mod support;

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::Message;

const SOCKETS: usize = 5_000;
/// Sockets opened (and dropped) at once.
const BATCH: usize = 100;

/// `demo runserver` in a directory of its own, its log (stderr) kept; killed on drop.
struct Server {
    child: Child,
    addr: String,
    log: Arc<Mutex<String>>,
    dir: std::path::PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn start(env: &[(&str, &str)]) -> Server {
    let dir = std::env::temp_dir().join(format!("demo-churn-{}", support::unique()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut child = support::demo_command()
        .args(["runserver", "127.0.0.1:0"])
        // The default level, as deployed (the log is kept, not shown).
        .env("RUST_LOG", "info")
        .envs(env.iter().copied())
        .current_dir(&dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let log = Arc::new(Mutex::new(String::new()));
    let mut stderr = child.stderr.take().unwrap();
    let kept = log.clone();
    std::thread::spawn(move || {
        let mut chunk = [0u8; 8192];
        while let Ok(n) = stderr.read(&mut chunk) {
            if n == 0 {
                break;
            }
            kept.lock()
                .unwrap()
                .push_str(&String::from_utf8_lossy(&chunk[..n]));
        }
    });
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let addr = loop {
        let line = lines.next().expect("runserver prints its address").unwrap();
        if let Some(rest) = line.strip_prefix("Starting server at http://") {
            break rest.trim_end_matches('/').to_owned();
        }
    };
    // Drained, so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines.map_while(Result::ok) {});
    Server {
        child,
        addr,
        log,
        dir,
    }
}

/// A request on a connection of its own; the response's body.
async fn http(addr: &str, method: &str, path: &str) -> (String, String) {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    (head.to_owned(), body.to_owned())
}

async fn churn_then_check(server: &mut Server) {
    let room = format!("churn{}", support::unique().replace('-', ""));
    let chat = format!("/ws/chat/{room}/?user=gone");
    canter_test_kit::churn_websockets(&server.addr, &chat, SOCKETS, BATCH).await;
    assert!(
        server.child.try_wait().unwrap().is_none(),
        "the server exited: {}",
        tail(&server.log)
    );

    // A task enqueued now runs on the in-process worker.
    let (head, body) = http(&server.addr, "POST", "/tasks/long-running/?seconds=0").await;
    assert!(head.starts_with("HTTP/1.1 202"), "{head}\n{body}");
    let started: Value = serde_json::from_str(&body).unwrap();
    let status_url = started["status_url"].as_str().unwrap().to_owned();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (_, body) = http(&server.addr, "GET", &status_url).await;
        let status: Value = serde_json::from_str(&body).unwrap();
        if status["status"] == "SUCCESS" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the task never ran: {status}\n{}",
            tail(&server.log)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // The chat still works.
    let (mut ws, _) =
        tokio_tungstenite::connect_async(format!("ws://{}/ws/chat/{room}/?user=ada", server.addr))
            .await
            .unwrap();
    ws.send(Message::Text(r#"{"message": "still here"}"#.into()))
        .await
        .unwrap();
    let echoed = loop {
        let frame = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("the room's message within 10 s")
            .unwrap()
            .unwrap();
        let value: Value = serde_json::from_str(frame.to_text().unwrap()).unwrap();
        if value.get("message").is_some() {
            break value;
        }
    };
    assert_eq!(echoed["message"], "still here");
    ws.close(None).await.unwrap();

    let log = server.log.lock().unwrap();
    // A request is logged in its own span, never inside a socket's (as when a socket's span
    // stayed entered on the thread the request then ran on).
    let leaked = log
        .lines()
        .filter(|l| l.contains("canter::request:") && l.contains("websocket{"))
        .count();
    assert_eq!(leaked, 0, "requests logged inside a socket's span");
    let panics: Vec<&str> = log.lines().filter(|l| l.contains("panicked")).collect();
    assert!(
        panics.is_empty(),
        "{} panics: {:#?}",
        panics.len(),
        &panics[..panics.len().min(5)]
    );
}

/// The end of a server's log, for a failure's message.
fn tail(log: &Mutex<String>) -> String {
    let log = log.lock().unwrap();
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runserver_survives_thousands_of_abrupt_disconnects() {
    let mut memory = start(&[]);
    churn_then_check(&mut memory).await;
    drop(memory);

    let Some(redis) = canter::test::require_service("CANTER_TEST_REDIS_URL") else {
        return;
    };
    let prefix = format!("asgichurn{}", support::unique().replace('-', ""));
    let mut on_redis = start(&[
        ("REDIS_URL", redis.as_str()),
        ("CANTER_CHANNELS__REDIS__PREFIX", prefix.as_str()),
        // The tasks stay on the embedded broker (REDIS_URL would move them to Redis, with no
        // worker in runserver).
        ("CANTER_TASKS__BROKER", "sqlite://tasks.sqlite3"),
    ]);
    churn_then_check(&mut on_redis).await;
}
