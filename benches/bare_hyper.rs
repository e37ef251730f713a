//! The reference server for benches/run.sh: hyper 1 + hyper-util's auto (HTTP/1.1 + h2c)
//! connection builder on a multi-threaded tokio runtime, no framework.
//!
//! GET /        -> 200 `{"message":"Hello"}` (application/json)
//! GET /sleep/  -> tokio::time::sleep(2 s), then the same JSON
//! anything else -> 404
//!
//! The JSON is serialized from a `serde_json::json!` value on every request, as canter's
//! `JsonResponse::new(json!(...))` view does, so the two servers do the same view work and the
//! ratio between them is the framework's cost.
//!
//! Usage: `bare_hyper [ADDR]` (default 127.0.0.1:0). Prints `listening on ADDR` on stdout once
//! bound; stops on SIGINT/SIGTERM.

use std::convert::Infallible;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use std::io::Write;
use tokio::net::TcpListener;

fn hello_json() -> Response<Full<Bytes>> {
    let body = serde_json::to_vec(&serde_json::json!({"message": "Hello"})).expect("json");
    let mut response = Response::new(Full::new(Bytes::from(body)));
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

async fn handle(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    Ok(match req.uri().path() {
        "/" => hello_json(),
        "/sleep/" => {
            tokio::time::sleep(Duration::from_secs(2)).await;
            hello_json()
        }
        _ => {
            let mut response = Response::new(Full::new(Bytes::from_static(b"not found")));
            *response.status_mut() = StatusCode::NOT_FOUND;
            response
        }
    })
}

async fn shutdown_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {},
        _ = term.recv() => {},
    }
}

#[tokio::main]
async fn main() {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:0".to_owned());
    let listener = TcpListener::bind(&addr).await.expect("bind");
    println!(
        "listening on {}",
        listener.local_addr().expect("local addr")
    );
    std::io::stdout().flush().ok();

    let builder = auto::Builder::new(TokioExecutor::new());
    let shutdown = shutdown_signal();
    tokio::pin!(shutdown);
    loop {
        let (stream, _peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(err) => {
                    eprintln!("accept failed: {err}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let builder = builder.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(handle);
            let _ = builder
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}
