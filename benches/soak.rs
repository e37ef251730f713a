//! The soak test's traffic (benches/soak.sh runs it against `demo runserver`): for `SECS`
//! seconds, at once and without pause,
//!
//! * HTTP: `HTTP_WORKERS` clients, each a new connection per request (`Connection: close`),
//!   cycling through the demo's cheap pages (JSON, HTML, path parameters, an ORM query, a 404);
//! * WebSocket churn: `WS_WORKERS` clients that join a chat room, send a message, wait for it to
//!   come back, and leave: every other one drops its TCP connection without a close frame (a
//!   client that vanishes), the rest close properly;
//! * tasks: one client enqueues `POST /tasks/long-running/?seconds=0` every 50 ms and
//!   `POST /tasks/pipeline/` (a chain and a chord) every second, keeping each status URL.
//!
//! Then it polls every status URL until each task is SUCCESS (at most 120 s). Bounded in time,
//! loopback only. Prints `RESULT key=value …` last; exits 1 if a request failed (a 5xx, a
//! broken connection), a WebSocket message did not come back, or a task did not succeed.
//!
//! `soak ADDR SECS` (`SOAK_PARTS=http,ws` leaves the tasks out, to tell which part grows memory;
//! default `http,ws,tasks`)

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;

const HTTP_WORKERS: usize = 4;
const WS_WORKERS: usize = 4;
/// Any single request or WebSocket step: past it, it counts as a failure.
const STEP_TIMEOUT: Duration = Duration::from_secs(10);
const PAGES: &[&str] = &[
    "/hello/",
    "/",
    "/articles/2024/soak-test/",
    "/mymodel/?active=true&limit=5",
    "/api/notes/",
    "/not-a-page/",
    "/chat/soak/",
];

#[derive(Default)]
struct Counts {
    http: AtomicU64,
    http_failed: AtomicU64,
    ws_sessions: AtomicU64,
    ws_abrupt: AtomicU64,
    ws_failed: AtomicU64,
    enqueued: AtomicU64,
    enqueue_failed: AtomicU64,
}

/// One HTTP/1.1 request on a fresh connection: the status and the body (de-chunked).
async fn request(addr: &str, method: &str, path: &str) -> Result<(u16, String), String> {
    let exchange = async {
        let mut stream = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
        );
        stream
            .write_all(head.as_bytes())
            .await
            .map_err(|e| e.to_string())?;
        let mut raw = Vec::new();
        stream
            .read_to_end(&mut raw)
            .await
            .map_err(|e| e.to_string())?;
        let text = String::from_utf8_lossy(&raw).into_owned();
        let (head, body) = text.split_once("\r\n\r\n").ok_or("no header end")?;
        let status = head
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or("no status")?;
        let chunked = head
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked");
        Ok((
            status,
            if chunked {
                dechunk(body)
            } else {
                body.to_owned()
            },
        ))
    };
    tokio::time::timeout(STEP_TIMEOUT, exchange)
        .await
        .map_err(|_| format!("{method} {path}: no answer in {STEP_TIMEOUT:?}"))?
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let Ok(size) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if size == 0 || rest.len() < size {
            break;
        }
        out.push_str(&rest[..size]);
        body = rest[size..].trim_start_matches("\r\n");
    }
    out
}

async fn http_worker(addr: String, until: Instant, counts: Arc<Counts>, offset: usize) {
    let mut i = offset;
    while Instant::now() < until {
        let page = PAGES[i % PAGES.len()];
        i += 1;
        match request(&addr, "GET", page).await {
            Ok((status, _)) if status < 500 => {
                counts.http.fetch_add(1, Ordering::Relaxed);
            }
            outcome => {
                counts.http_failed.fetch_add(1, Ordering::Relaxed);
                eprintln!("GET {page}: {outcome:?}");
            }
        }
    }
}

/// One chat session: join, send, hear it back, leave (abruptly when `abrupt`).
async fn ws_session(addr: &str, room: &str, abrupt: bool) -> Result<(), String> {
    let url = format!("ws://{addr}/ws/chat/{room}/");
    let (mut socket, _) = tokio_tungstenite::connect_async(&url)
        .await
        .map_err(|e| e.to_string())?;
    let text = format!("soak {}", uuid_like());
    socket
        .send(Message::text(
            serde_json::json!({"message": text}).to_string(),
        ))
        .await
        .map_err(|e| e.to_string())?;
    loop {
        match socket.next().await {
            Some(Ok(Message::Text(frame))) if frame.contains(&text) => break,
            Some(Ok(_)) => continue,
            other => return Err(format!("{url}: {other:?} before the echo")),
        }
    }
    if abrupt {
        // Dropped: the TCP connection closes with no close frame.
        drop(socket);
    } else {
        socket.close(None).await.map_err(|e| e.to_string())?;
    }
    Ok(())
}

fn uuid_like() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

async fn ws_worker(addr: String, until: Instant, counts: Arc<Counts>, n: usize) {
    let (mut session, mut abrupt) = (0usize, false);
    while Instant::now() < until {
        session += 1;
        abrupt = !abrupt;
        let room = format!("soak-{}", (n + session) % 8);
        match tokio::time::timeout(STEP_TIMEOUT, ws_session(&addr, &room, abrupt)).await {
            Ok(Ok(())) => {
                counts.ws_sessions.fetch_add(1, Ordering::Relaxed);
                if abrupt {
                    counts.ws_abrupt.fetch_add(1, Ordering::Relaxed);
                }
            }
            outcome => {
                counts.ws_failed.fetch_add(1, Ordering::Relaxed);
                eprintln!("websocket session: {outcome:?}");
            }
        }
    }
}

/// Enqueues tasks until `until`; returns every status URL to poll.
async fn task_producer(addr: String, until: Instant, counts: Arc<Counts>) -> Vec<String> {
    let mut urls = Vec::new();
    let mut last_pipeline = Instant::now();
    while Instant::now() < until {
        let mut posts = vec!["/tasks/long-running/?seconds=0"];
        if last_pipeline.elapsed() >= Duration::from_secs(1) {
            last_pipeline = Instant::now();
            posts.push("/tasks/pipeline/");
        }
        for path in posts {
            match request(&addr, "POST", path).await {
                Ok((202, body)) => {
                    let answer: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
                    for url in [&answer["status_url"], &answer["chain"]["status_url"]] {
                        if let Some(url) = url.as_str() {
                            urls.push(url.to_owned());
                            counts.enqueued.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
                outcome => {
                    counts.enqueue_failed.fetch_add(1, Ordering::Relaxed);
                    eprintln!("POST {path}: {outcome:?}");
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    urls
}

/// Polls each status URL until SUCCESS (at most `wait` for all); returns (succeeded, not).
async fn await_tasks(addr: &str, urls: &[String], wait: Duration) -> (usize, Vec<String>) {
    let deadline = Instant::now() + wait;
    let mut pending: Vec<&String> = urls.iter().collect();
    let mut failed = Vec::new();
    while !pending.is_empty() && Instant::now() < deadline {
        let mut still = Vec::new();
        for url in pending {
            match request(addr, "GET", url).await {
                Ok((200, body)) if body.contains("\"SUCCESS\"") => {}
                Ok((200, body)) if body.contains("\"FAILURE\"") || body.contains("\"REVOKED\"") => {
                    failed.push(format!("{url}: {body}"));
                }
                _ => still.push(url),
            }
        }
        pending = still;
        if !pending.is_empty() {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    failed.extend(
        pending
            .iter()
            .map(|url| format!("{url}: not done in {wait:?}")),
    );
    (urls.len() - failed.len(), failed)
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(addr), Some(secs)) = (
        args.first().cloned(),
        args.get(1).and_then(|s| s.parse::<u64>().ok()),
    ) else {
        eprintln!("usage: soak HOST:PORT SECONDS");
        std::process::exit(2);
    };
    let until = Instant::now() + Duration::from_secs(secs);
    let parts = std::env::var("SOAK_PARTS").unwrap_or_else(|_| "http,ws,tasks".into());
    let counts = Arc::new(Counts::default());
    let mut load = tokio::task::JoinSet::new();
    for n in 0..HTTP_WORKERS {
        if parts.contains("http") {
            load.spawn(http_worker(addr.clone(), until, counts.clone(), n));
        }
    }
    for n in 0..WS_WORKERS {
        if parts.contains("ws") {
            load.spawn(ws_worker(addr.clone(), until, counts.clone(), n));
        }
    }
    let urls = if parts.contains("tasks") {
        task_producer(addr.clone(), until, counts.clone()).await
    } else {
        Vec::new()
    };
    while load.join_next().await.is_some() {}
    let (succeeded, failed) = await_tasks(&addr, &urls, Duration::from_secs(120)).await;
    for failure in failed.iter().take(10) {
        eprintln!("task: {failure}");
    }
    let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
    let problems = get(&counts.http_failed)
        + get(&counts.ws_failed)
        + get(&counts.enqueue_failed)
        + failed.len() as u64;
    println!(
        "RESULT secs={secs} http={} http_failed={} ws_sessions={} ws_abrupt={} ws_failed={} \
         tasks_enqueued={} enqueue_failed={} tasks_succeeded={succeeded} tasks_not_succeeded={}",
        get(&counts.http),
        get(&counts.http_failed),
        get(&counts.ws_sessions),
        get(&counts.ws_abrupt),
        get(&counts.ws_failed),
        get(&counts.enqueued),
        get(&counts.enqueue_failed),
        failed.len(),
    );
    std::process::exit(i32::from(problems > 0));
}
