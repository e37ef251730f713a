//! The HTTP server: hyper 1 (HTTP/1.1 with keep-alive, and HTTP/2) on tokio, with the limits
//! a server facing the internet needs, and graceful shutdown.
//!
//! | limit | setting | default | what happens |
//! |---|---|---|---|
//! | request head size | `server.max_header_size` | 16 KiB | 431, connection closed |
//! | head read time (slowloris) | `server.header_read_timeout` | 10 s | connection closed |
//! | idle kept-alive connection | `server.keep_alive_timeout` | 5 s | connection closed |
//! | body size | `server.max_body_size` | 2.5 MiB | 413 |
//! | shutdown grace | `server.shutdown_timeout` | 30 s | in-flight requests cut after it |
//!
//! A client that disconnects mid-request drops the view's future (hyper stops polling it), so
//! the view is cancelled at its next `.await`, as Django ≥ 5.0 cancels the view task.

mod activity;

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_util::task::TaskTracker;

use crate::app::CanterService;
use crate::request::ClientAddr;
use crate::settings::ServerSettings;
use crate::Body;

use activity::{Activity, ActivityIo, TrackedBody};

/// Serves `service` on `listener` until `shutdown` completes, then stops accepting and lets
/// in-flight requests finish within `server.shutdown_timeout`.
pub async fn serve(
    listener: TcpListener,
    service: CanterService,
    shutdown: impl Future<Output = ()> + Send,
) -> std::io::Result<()> {
    let limits = service.settings().server.clone();
    let builder = Arc::new(connection_builder(&limits));
    let keep_alive = Duration::from_secs_f64(limits.keep_alive_timeout);
    let (stop_tx, stop_rx) = watch::channel(false);
    let tracker = TaskTracker::new();
    tokio::pin!(shutdown);

    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        let (stream, peer) = match accepted {
            Ok(pair) => pair,
            Err(err) => {
                // Out of file descriptors and the like: back off instead of spinning.
                tracing::warn!(target: "canter::server", error = %err, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let service = service.clone();
        let builder = builder.clone();
        let stop_rx = stop_rx.clone();
        tracker.spawn(serve_connection(
            stream, peer, service, builder, keep_alive, stop_rx,
        ));
    }

    drop(listener);
    tracker.close();
    let _ = stop_tx.send(true);
    let grace = Duration::from_secs_f64(limits.shutdown_timeout);
    if tokio::time::timeout(grace, tracker.wait()).await.is_err() {
        tracing::warn!(target: "canter::server", "shutdown timeout ({grace:?}) passed; cutting the remaining connections");
    }
    Ok(())
}

/// Serves until SIGINT or SIGTERM.
pub async fn serve_until_signal(
    listener: TcpListener,
    service: CanterService,
) -> std::io::Result<()> {
    serve(listener, service, shutdown_signal()).await
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!(target: "canter::server", "shutting down: no new connections; finishing in-flight requests");
}

fn connection_builder(limits: &ServerSettings) -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .keep_alive(true)
        .header_read_timeout(Duration::from_secs_f64(limits.header_read_timeout))
        .max_buf_size(limits.max_header_size.max(8192));
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_header_list_size(u32::try_from(limits.max_header_size).unwrap_or(u32::MAX));
    if limits.http2 {
        builder
    } else {
        builder.http1_only()
    }
}

async fn serve_connection(
    stream: tokio::net::TcpStream,
    peer: SocketAddr,
    service: CanterService,
    builder: Arc<auto::Builder<TokioExecutor>>,
    keep_alive: Duration,
    mut stop: watch::Receiver<bool>,
) {
    let activity = Arc::new(Activity::new());
    let io = TokioIo::new(ActivityIo::new(stream, activity.clone()));
    let per_request = activity.clone();
    let hyper_service = hyper::service::service_fn(move |mut req: http::Request<Incoming>| {
        req.extensions_mut().insert(ClientAddr(peer));
        let guard = per_request.begin_request();
        let service = service.clone();
        async move {
            let response = service.handle(req.map(Body::new)).await;
            Ok::<_, Infallible>(response.map(|body| Body::new(TrackedBody::new(body, guard))))
        }
    });
    let connection = builder.serve_connection_with_upgrades(io, hyper_service);
    tokio::pin!(connection);
    let mut closing = false;
    let mut tick = tokio::time::interval(
        keep_alive
            .min(Duration::from_secs(1))
            .max(Duration::from_millis(50)),
    );
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            result = connection.as_mut() => {
                if let Err(err) = result {
                    tracing::debug!(target: "canter::server", %peer, error = %err, "connection ended with an error");
                }
                return;
            }
            changed = stop.changed(), if !closing => {
                if changed.is_err() || *stop.borrow() {
                    closing = true;
                    connection.as_mut().graceful_shutdown();
                }
            }
            _ = tick.tick(), if !closing => {
                if activity.idle_for() >= keep_alive {
                    closing = true;
                    connection.as_mut().graceful_shutdown();
                }
            }
        }
    }
}

/// Listens on `addr` with a backlog of 1,024 (tokio's `TcpListener::bind` uses 128, which
/// drops SYNs under bursts of new connections; a dropped SYN costs the client a 1 s retransmit).
pub fn bind(addr: std::net::SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    #[cfg(unix)]
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(1024)
}
