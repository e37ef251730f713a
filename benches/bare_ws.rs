//! The reference of benches/channels_run.sh: the same two endpoints as `ws_bench_server`, on
//! bare tokio-tungstenite (no framework): `/ws/echo/` echoes text frames; `/ws/group/` joins
//! one `tokio::sync::broadcast` channel, a text frame `broadcast N` sends N stamps into it, and
//! every member writes each stamp to its socket.
//!
//! Usage: `bare_ws [--addr ADDR] [--capacity N]` (the broadcast channel's capacity, default
//! 1,000). Prints `listening on ADDR` once bound; runs until killed.

use std::io::Write;

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio::sync::broadcast;
use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};
use tokio_tungstenite::tungstenite::Message;

fn now_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

async fn connection(stream: TcpStream, stamps: broadcast::Sender<u64>) {
    let mut path = String::new();
    // The callback's signature is tungstenite's (its error response is large; never built here).
    #[allow(clippy::result_large_err)]
    let callback = |request: &Request, response: Response| {
        path = request.uri().path().to_owned();
        Ok(response)
    };
    let Ok(ws) = tokio_tungstenite::accept_hdr_async(stream, callback).await else {
        return;
    };
    let (mut sink, mut stream) = ws.split();
    if path == "/ws/echo/" {
        while let Some(Ok(frame)) = stream.next().await {
            if (frame.is_text() || frame.is_binary()) && sink.send(frame).await.is_err() {
                return;
            }
        }
        return;
    }
    let mut received = stamps.subscribe();
    loop {
        tokio::select! {
            frame = stream.next() => match frame {
                Some(Ok(Message::Text(text))) => {
                    if let Some(count) = text.strip_prefix("broadcast ").and_then(|n| n.parse::<u64>().ok()) {
                        for _ in 0..count {
                            let _ = stamps.send(now_ns());
                        }
                    }
                }
                Some(Ok(_)) => {}
                _ => return,
            },
            stamp = received.recv() => match stamp {
                Ok(t) => {
                    if sink.send(Message::text(t.to_string())).await.is_err() {
                        return;
                    }
                }
                Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => return,
            },
        }
    }
}

fn main() {
    let mut addr = "127.0.0.1:0".to_owned();
    let mut capacity = 1_000usize;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--addr" => addr = args.next().expect("--addr ADDR"),
            "--capacity" => {
                capacity = args
                    .next()
                    .and_then(|n| n.parse().ok())
                    .expect("--capacity N")
            }
            _ => {
                eprintln!("usage: bare_ws [--addr ADDR] [--capacity N]");
                std::process::exit(2);
            }
        }
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    runtime.block_on(async move {
        // canter's bind: the same listen backlog (1,024) as the server under test.
        let listener = canter::server::bind(addr.parse().expect("ADDR")).expect("bind");
        println!(
            "listening on {}",
            listener.local_addr().expect("local addr")
        );
        std::io::stdout().flush().ok();
        let (stamps, _) = broadcast::channel(capacity);
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let _ = stream.set_nodelay(true);
            tokio::spawn(connection(stream, stamps.clone()));
        }
    });
}
