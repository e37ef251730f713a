//! canter's side of benches/run.sh: the hello app, built in code with explicit settings.
//!
//! GET /        -> `hello`: `JsonResponse::new(json!({"message": "Hello"}))`
//! GET /sleep/  -> the article's `/async/` view: `tokio::time::sleep(2 s)`, then the same JSON
//!
//! Usage: `canter_bench [--addr ADDR] [--middleware LIST] [--log-sink] [--plain-hyper] [--http-counters]`
//!
//! * `--addr`: where to listen (default 127.0.0.1:0, an ephemeral port). Prints
//!   `listening on ADDR` on stdout once bound; stops on SIGINT/SIGTERM.
//! * `--middleware`: comma-separated names for the `middleware` setting, outermost first:
//!   `canter.request_id`, `canter.logging`, `canter.security`, `canter.gzip`, `canter.cors`,
//!   and `bench.timing`, a copy of the demo's `AsyncMiddleware` (awaits the rest of the
//!   chain, adds `Server-Timing: app;dur=<ms>`). Empty or absent: no middleware.
//! * `--log-sink`: install a `tracing` fmt subscriber at INFO writing to `io::sink()`, so
//!   `canter.logging` formats its line and throws it away. Without it no subscriber is
//!   installed and every `tracing` event is skipped at its call site.
//! * `--plain-hyper`: serve the same `CanterService` from bare_hyper's accept loop (hyper-util
//!   auto builder, `service.handle(req)` per request) instead of `canter::server::serve`; it
//!   splits canter's cost into the app (routing, middleware chain, view) and the server layer
//!   (keep-alive/activity tracking, header read timeout, graceful shutdown).
//! * `--http-counters`: the per-route HTTP counters the ops dashboard reads
//!   (`canter::counters::HttpCounters` among the app's services): their cost per request.
//!
//! Settings: `debug = false`, a secret key, `allowed_hosts = ["127.0.0.1"]`, the stall
//! detector off (its default when `debug` is off), everything else canter's defaults
//! (HTTP/1.1 + h2c, keep-alive 5 s, header read timeout 10 s).

use std::convert::Infallible;
use std::io::Write;
use std::time::{Duration, Instant};

use canter::http::HeaderValue;
use canter::prelude::*;
use canter::settings::{Settings, StallSettings};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;

async fn hello(_req: Request) -> JsonResponse {
    JsonResponse::new(serde_json::json!({"message": "Hello"}))
}

async fn sleep_view(_req: Request) -> JsonResponse {
    tokio::time::sleep(Duration::from_secs(2)).await;
    JsonResponse::new(serde_json::json!({"message": "Hello"}))
}

/// The demo's `AsyncMiddleware` (examples/demo/src/middleware.rs), same body.
struct Timing;

impl Middleware for Timing {
    async fn call(&self, req: Request, next: Next) -> Response {
        let start = Instant::now();
        let mut response = next.run(req).await;
        let ms = start.elapsed().as_secs_f64() * 1000.0;
        if let Ok(value) = HeaderValue::from_str(&format!("app;dur={ms:.3}")) {
            response.headers_mut().insert("server-timing", value);
        }
        response
    }
}

fn usage() -> ! {
    eprintln!(
        "usage: canter_bench [--addr ADDR] [--middleware NAME,NAME,...] [--log-sink] [--plain-hyper] [--http-counters]"
    );
    std::process::exit(2);
}

fn main() {
    let mut addr = "127.0.0.1:0".to_owned();
    let mut middleware: Vec<String> = Vec::new();
    let mut log_sink = false;
    let mut plain_hyper = false;
    let mut http_counters = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--addr" => addr = args.next().unwrap_or_else(|| usage()),
            "--middleware" => {
                middleware = args
                    .next()
                    .unwrap_or_else(|| usage())
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect();
            }
            "--log-sink" => log_sink = true,
            "--plain-hyper" => plain_hyper = true,
            "--http-counters" => http_counters = true,
            _ => usage(),
        }
    }

    if log_sink {
        tracing_subscriber::fmt()
            .with_max_level(tracing::Level::INFO)
            .with_writer(std::io::sink)
            .init();
    }

    let settings = Settings {
        debug: false,
        secret_key: Some("canter-bench-not-a-secret-only-for-local-load-tests-0123456789".into()),
        allowed_hosts: vec!["127.0.0.1".into()],
        middleware: middleware.clone(),
        stall: StallSettings {
            enabled: Some(false),
            ..StallSettings::default()
        },
        ..Settings::default()
    };
    settings.validate().expect("valid settings");

    let mut app = App::new();
    if http_counters {
        app = app.state(canter::counters::HttpCounters::new());
    }
    let service = app
        .urls(vec![path("", hello), path("sleep/", sleep_view)])
        .register_middleware("bench.timing", |_settings| Ok(Timing))
        .build(settings)
        .expect("app builds");

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(&addr).await.expect("bind");
        println!(
            "listening on {} middleware=[{}] log_sink={log_sink} plain_hyper={plain_hyper}",
            listener.local_addr().expect("local addr"),
            middleware.join(",")
        );
        std::io::stdout().flush().ok();
        if plain_hyper {
            serve_plain(listener, service).await;
        } else {
            canter::server::serve_until_signal(listener, service)
                .await
                .expect("serve");
        }
    });
}

/// bare_hyper's accept loop around canter's service (no canter::server layer).
async fn serve_plain(listener: tokio::net::TcpListener, service: canter::app::CanterService) {
    let builder = auto::Builder::new(TokioExecutor::new());
    let shutdown = canter::server::shutdown_signal();
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
        let service = service.clone();
        tokio::spawn(async move {
            let hyper_service = hyper::service::service_fn(
                move |req: canter::http::Request<hyper::body::Incoming>| {
                    let service = service.clone();
                    async move { Ok::<_, Infallible>(service.handle(req.map(canter::Body::new)).await) }
                },
            );
            let _ = builder
                .serve_connection(TokioIo::new(stream), hyper_service)
                .await;
        });
    }
}
