//! The WebSocket load client of benches/channels_run.sh. Every run is bounded in time.
//!
//! * `ws_load echo URL CONNS SECS`: CONNS connections each send a 32-byte text frame and wait
//!   for it to come back, again and again, for SECS seconds. Prints
//!   `echo conns=… round_trips=… per_s=…`.
//! * `ws_load fanout URL CONNS MESSAGES`: CONNS connections to a group endpoint; once all are
//!   open, one more sends `broadcast MESSAGES`; each listener records, for every message, its
//!   receive time minus the stamp it carries. Stops when every listener has all the messages, or
//!   5 s after the last one arrived. Prints `fanout conns=… messages=… delivered=…/… per_s=…
//!   p50_ms=… p99_ms=… max_ms=…` (per_s: deliveries / (last receive − broadcast sent)).
//! * `ws_load idle URL CONNS SECS`: opens CONNS connections, prints `ready conns=…`, holds them
//!   SECS seconds (for the server's memory per idle socket), then closes them.
//!
//! Connections open at most 2,000 a second (a SYN burst larger than the listen backlog would
//! measure the kernel, not the server).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

fn now_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

async fn open(url: &str) -> Socket {
    for attempt in 0.. {
        match tokio_tungstenite::connect_async(url).await {
            Ok((socket, _)) => return socket,
            Err(e) if attempt < 5 => {
                eprintln!("connect failed ({e}), retrying");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => panic!("cannot connect to {url}: {e}"),
        }
    }
    unreachable!()
}

/// Opens `count` connections, paced.
async fn open_many(url: &str, count: usize) -> Vec<Socket> {
    let mut tasks = Vec::with_capacity(count);
    let mut pace = tokio::time::interval(Duration::from_micros(500));
    for _ in 0..count {
        pace.tick().await;
        let url = url.to_owned();
        tasks.push(tokio::spawn(async move { open(&url).await }));
    }
    let mut sockets = Vec::with_capacity(count);
    for task in tasks {
        sockets.push(task.await.expect("connect task"));
    }
    sockets
}

async fn echo(url: &str, conns: usize, secs: u64) {
    let sockets = open_many(url, conns).await;
    let round_trips = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(secs);
    let payload = "x".repeat(32);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for mut socket in sockets {
        let (round_trips, payload) = (round_trips.clone(), payload.clone());
        tasks.push(tokio::spawn(async move {
            while Instant::now() < deadline {
                socket
                    .send(Message::text(payload.clone()))
                    .await
                    .expect("send");
                loop {
                    match socket.next().await {
                        Some(Ok(Message::Text(_))) => break,
                        Some(Ok(_)) => continue,
                        other => panic!("echo connection ended: {other:?}"),
                    }
                }
                round_trips.fetch_add(1, Ordering::Relaxed);
            }
            let _ = socket.close(None).await;
        }));
    }
    for task in tasks {
        task.await.expect("echo task");
    }
    let elapsed = started.elapsed().as_secs_f64();
    let total = round_trips.load(Ordering::Relaxed);
    println!(
        "echo conns={conns} round_trips={total} per_s={:.0}",
        total as f64 / elapsed
    );
}

async fn fanout(url: &str, conns: usize, messages: usize) {
    let sockets = open_many(url, conns).await;
    // Let every consumer finish joining the group before the broadcast.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let latencies: Arc<Mutex<Vec<f64>>> =
        Arc::new(Mutex::new(Vec::with_capacity(conns * messages)));
    let last_receive = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for mut socket in sockets {
        let (latencies, last_receive) = (latencies.clone(), last_receive.clone());
        tasks.push(tokio::spawn(async move {
            let mut mine = Vec::with_capacity(messages);
            while mine.len() < messages {
                match tokio::time::timeout(Duration::from_secs(5), socket.next()).await {
                    Ok(Some(Ok(Message::Text(text)))) => {
                        let now = now_ns();
                        if let Ok(stamp) = text.parse::<u64>() {
                            mine.push(now.saturating_sub(stamp) as f64 / 1e6);
                            last_receive.fetch_max(now, Ordering::Relaxed);
                        }
                    }
                    Ok(Some(Ok(_))) => {}
                    _ => break, // quiet for 5 s, or closed: what arrived is counted
                }
            }
            latencies.lock().unwrap().extend(mine);
            let _ = socket.close(None).await;
        }));
    }
    let mut control = open(url).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let sent = now_ns();
    control
        .send(Message::text(format!("broadcast {messages}")))
        .await
        .expect("send the broadcast");
    for task in tasks {
        task.await.expect("listener task");
    }
    let _ = control.close(None).await;
    let mut latencies = latencies.lock().unwrap().clone();
    latencies.sort_by(f64::total_cmp);
    let delivered = latencies.len();
    let expected = conns * messages;
    let at = |q: f64| {
        latencies
            .get(((delivered as f64 * q) as usize).min(delivered.saturating_sub(1)))
            .copied()
            .unwrap_or(f64::NAN)
    };
    let span = (last_receive.load(Ordering::Relaxed).saturating_sub(sent)) as f64 / 1e9;
    println!(
        "fanout conns={conns} messages={messages} delivered={delivered}/{expected} per_s={:.0} p50_ms={:.2} p99_ms={:.2} max_ms={:.2}",
        delivered as f64 / span.max(1e-9),
        at(0.5),
        at(0.99),
        latencies.last().copied().unwrap_or(f64::NAN),
    );
}

async fn idle(url: &str, conns: usize, secs: u64) {
    let sockets = open_many(url, conns).await;
    println!("ready conns={}", sockets.len());
    tokio::time::sleep(Duration::from_secs(secs)).await;
    drop(sockets);
}

fn usage() -> ! {
    eprintln!(
        "usage: ws_load echo URL CONNS SECS | fanout URL CONNS MESSAGES | idle URL CONNS SECS"
    );
    std::process::exit(2);
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() != 4 {
        usage();
    }
    let number = |i: usize| args[i].parse::<usize>().unwrap_or_else(|_| usage());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    runtime.block_on(async {
        match args[0].as_str() {
            "echo" => echo(&args[1], number(2), number(3) as u64).await,
            "fanout" => fanout(&args[1], number(2), number(3)).await,
            "idle" => idle(&args[1], number(2), number(3) as u64).await,
            _ => usage(),
        }
    });
    std::io::Write::flush(&mut std::io::stdout()).ok();
}
