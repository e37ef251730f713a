//! The HTTP server: hyper 1 (HTTP/1.1 with keep-alive, and HTTP/2) on tokio, with the limits
//! a server facing the internet needs, and graceful shutdown.
//!
//! | limit | setting | default | what happens |
//! |---|---|---|---|
//! | request head size | `server.max_header_size` | 16 KiB | 431, connection closed |
//! | head read time (slowloris), HTTP/1 | `server.header_read_timeout` | 10 s | connection closed |
//! | idle kept-alive connection | `server.keep_alive_timeout` | 5 s | connection closed |
//! | body size | `server.max_body_size` | 2.5 MiB | 413 |
//! | `multipart/form-data` body size (uploads) | `server.max_upload_size` | 10 MiB | 413 |
//! | query string fields | `server.max_number_fields` | 1000 | 400 |
//! | wait for more body bytes | `server.body_read_timeout` | 10 s | 408, HTTP/1 connection closed |
//! | body rate, past the first wait | `server.body_min_rate` | 500 B/s | 408, HTTP/1 connection closed |
//! | connections at once | `server.max_connections` | open-file limit less ¼ (768 of 1,024) | stops accepting until one closes; WARN |
//! | shutdown grace | `server.shutdown_timeout` | 30 s | in-flight requests cut after it |
//!
//! Both timeouts are checked by each connection's watchdog on its tick (at most 1 s apart), so
//! they may act up to one tick late; the head read time counts from the end of the previous
//! response (or the connection's start), as hyper's own header read timeout did.
//!
//! The body timeouts are the body's own (a read past them fails with [`BodyReadTimeout`]; the
//! server answers 408); the connection cap and `accept` errors are the accept loop's (see
//! [`max_connections`]).
//!
//! A client that disconnects mid-request drops the view's future (hyper stops polling it), so
//! the view is cancelled at its next `.await`, as Django ≥ 5.0 cancels the view task.

mod accept;
mod activity;
mod body_timeout;
mod shutdown;

pub use shutdown::Shutdown;

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use futures_util::FutureExt;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;
use tokio::sync::{watch, OwnedSemaphorePermit};
use tokio_util::task::TaskTracker;

use crate::app::{AppContext, CanterService};
use crate::settings::ServerSettings;

use accept::{Accepted, Acceptor};
use activity::{Activity, ActivityIo, TrackedBody};
use body_timeout::{BodyTimeouts, TimedBody};

pub use accept::max_connections;
pub use body_timeout::BodyReadTimeout;
pub use canter_kernel::signals::{shutdown_phases, shutdown_signal};

/// Serves `service` on `listener` until `shutdown` completes, then stops accepting and lets
/// in-flight requests finish within `server.shutdown_timeout`.
pub async fn serve(
    listener: TcpListener,
    service: CanterService,
    shutdown: impl Future<Output = ()> + Send,
) -> std::io::Result<()> {
    serve_until(listener, service, shutdown, std::future::pending()).await
}

/// As [`serve`], and `cut` ends the wait for in-flight requests early: they are cut at once
/// (a second signal's cold shutdown).
pub async fn serve_until(
    listener: TcpListener,
    service: CanterService,
    shutdown: impl Future<Output = ()> + Send,
    cut: impl Future<Output = ()> + Send,
) -> std::io::Result<()> {
    let limits = service.settings().server.clone();
    let builder = Arc::new(connection_builder(&limits));
    let timeouts = Timeouts {
        keep_alive: Duration::from_secs_f64(limits.keep_alive_timeout),
        header_read: Duration::from_secs_f64(limits.header_read_timeout),
        body: BodyTimeouts {
            between_reads: Duration::from_secs_f64(limits.body_read_timeout),
            min_rate: limits.body_min_rate,
        },
    };
    let (stop_tx, stop_rx) = watch::channel(false);
    let tracker = TaskTracker::new();
    let mut acceptor = Acceptor::new(listener, &limits);
    tokio::pin!(shutdown);

    loop {
        let Accepted { stream, peer, slot } = tokio::select! {
            accepted = acceptor.next() => accepted,
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let service = service.clone();
        let builder = builder.clone();
        let shutdown = Shutdown::new(stop_rx.clone(), tracker.clone());
        // The connection's task runs in the app's scope: its HTTP/1 requests, polled in it,
        // need not enter it each (see `Core::handle_with`).
        let app = service.core.context.services.clone();
        tracker.spawn(app.scope(serve_connection(
            stream, slot, peer, service, builder, timeouts, shutdown,
        )));
    }

    drop(acceptor);
    tracker.close();
    let _ = stop_tx.send(true);
    let grace = Duration::from_secs_f64(limits.shutdown_timeout);
    tokio::select! {
        finished = tokio::time::timeout(grace, tracker.wait()) => if finished.is_err() {
            tracing::warn!(target: "canter::server", "shutdown timeout ({grace:?}) passed; cutting the remaining connections");
        },
        () = cut => if !tracker.is_empty() {
            tracing::warn!(target: "canter::server", connections = tracker.len(), "cold shutdown (a second signal): cutting the remaining connections");
        },
    }
    Ok(())
}

/// Serves until SIGINT or SIGTERM; a second signal cuts the in-flight requests' grace short.
/// The signals are listened for from this call on (make it inside a tokio runtime, before
/// saying the server is up: a signal before it would kill the process).
pub fn serve_until_signal(
    listener: TcpListener,
    service: CanterService,
) -> impl Future<Output = std::io::Result<()>> + Send {
    let (warm, cold) = shutdown_phases();
    let warm = async {
        warm.await;
        tracing::info!(target: "canter::server", "shutting down: no new connections; finishing in-flight requests (a second Ctrl-C or SIGTERM cuts them)");
    };
    serve_until(listener, service, warm, cold)
}

fn connection_builder(limits: &ServerSettings) -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    // The header read timeout is the connection watchdog's (see `watchdog`): hyper's own arms
    // a timer for every request head (a boxed sleep registered in and removed from tokio's
    // timer wheel per request); its default (30 s once a timer is set) is switched off.
    builder
        .http1()
        .timer(TokioTimer::new())
        .keep_alive(true)
        .header_read_timeout(None)
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

#[derive(Clone, Copy)]
struct Timeouts {
    keep_alive: Duration,
    header_read: Duration,
    body: BodyTimeouts,
}

/// What a connection's watchdog decided.
enum Close {
    /// Shutting down, or idle for the keep-alive timeout: finish what is in flight, then close.
    Graceful,
    /// An HTTP/1 request head took longer than the header read timeout: close now.
    Now,
}

/// What a connection's requests share, owned by the connection's hyper service.
struct Conn {
    service: CanterService,
    context: Arc<AppContext>,
    activity: Arc<Activity>,
    peer: SocketAddr,
    body_timeouts: BodyTimeouts,
    debug: bool,
}

impl Conn {
    /// One request: its body timed, the app called, the response's body tracked.
    ///
    /// No `async` block: the app's future borrows nothing, and hyper moves this one into place
    /// on every request, so it is kept to the app's future, the request's guard and the body's
    /// timeout flag.
    fn call(
        &self,
        req: http::Request<Incoming>,
    ) -> impl Future<Output = Result<http::Response<TrackedBody<crate::Body>>, Infallible>>
           + Send
           + 'static {
        let http2 = req.version() == http::Version::HTTP_2;
        if http2 {
            self.activity.mark_http2();
        }
        let guard = self.activity.begin_request();
        // A body is timed (no body: nothing to time, no allocation).
        let mut body_timed_out = None;
        let req = req.map(|body| {
            if http_body::Body::is_end_stream(&body) {
                return crate::Body::empty();
            }
            let body = TimedBody::new(body, self.body_timeouts);
            body_timed_out = Some(body.timed_out_flag());
            crate::Body::new(body)
        });
        let debug = self.debug;
        self.service
            .core
            .handle_with(req, &self.context, Some(self.peer), !http2)
            // The body stays the app's (boxed once), wrapped, not boxed again.
            .map(move |response| {
                let response = match body_timed_out {
                    Some(flag) if flag.load(Ordering::Relaxed) => body_too_slow(debug, http2),
                    _ => response,
                };
                Ok(response.map(|body| TrackedBody::new(body, guard)))
            })
    }
}

async fn serve_connection(
    stream: tokio::net::TcpStream,
    slot: OwnedSemaphorePermit,
    peer: SocketAddr,
    service: CanterService,
    builder: Arc<auto::Builder<TokioExecutor>>,
    timeouts: Timeouts,
    shutdown: Shutdown,
) {
    let activity = Arc::new(Activity::new());
    let io = TokioIo::new(ActivityIo::new(stream, activity.clone(), slot));
    let stop = shutdown.stop_signal();
    let conn = Conn {
        context: service.core.context.for_connection(shutdown),
        debug: service.settings().debug,
        service,
        activity: activity.clone(),
        peer,
        body_timeouts: timeouts.body,
    };
    let hyper_service = hyper::service::service_fn(move |req| conn.call(req));
    let connection = builder.serve_connection_with_upgrades(io, hyper_service);
    tokio::pin!(connection);
    // The watchdog (shutdown signal, idle and header read timeouts) is polled only when one of
    // its own timers or signals woke the task, not on every wake-up of the connection.
    let mut watchdog = Box::pin(watchdog(activity, stop, timeouts));
    let woken = Arc::new(WatchdogWake {
        woken: AtomicBool::new(true),
        task: Mutex::new(None),
    });
    let watchdog_waker = Waker::from(woken.clone());
    let mut closing = false;
    let result = std::future::poll_fn(|cx| loop {
        if let Poll::Ready(result) = connection.as_mut().poll(cx) {
            return Poll::Ready(Some(result));
        }
        if closing || !woken.take(cx.waker()) {
            return Poll::Pending;
        }
        match watchdog
            .as_mut()
            .poll(&mut Context::from_waker(&watchdog_waker))
        {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(Close::Graceful) => {
                closing = true;
                connection.as_mut().graceful_shutdown();
                // Polled again at the top: it may be done at once.
            }
            Poll::Ready(Close::Now) => return Poll::Ready(None),
        }
    })
    .await;
    match result {
        Some(Ok(())) => {}
        Some(Err(err)) => {
            tracing::debug!(target: "canter::server", %peer, error = %err, "connection ended with an error");
        }
        None => {
            tracing::debug!(target: "canter::server", %peer, "request head not read within server.header_read_timeout: connection closed");
        }
    }
}

/// The answer to a request whose body read timed out, whatever the view made of the failed
/// read (it saw only part of the request): 408, and an HTTP/1 connection closes after it (its
/// unread body is still on the wire). An HTTP/2 stream ends alone; its connection serves on.
fn body_too_slow(debug: bool, http2: bool) -> crate::Response {
    let report = crate::error::ErrorReport {
        status: http::StatusCode::REQUEST_TIMEOUT,
        message: BodyReadTimeout.to_string(),
        causes: vec![],
        panicked: false,
    };
    let mut response = crate::debug_page::render(&report, debug, None);
    if !http2 {
        response.headers_mut().insert(
            http::header::CONNECTION,
            http::HeaderValue::from_static("close"),
        );
    }
    response
}

/// The connection's timers, on one tick: returns when the connection should close.
///
/// * shutdown (`stop` turns true): graceful;
/// * keep-alive: no request in flight and no bytes moved for `keep_alive`: graceful;
/// * header read (slowloris): no request in flight for `header_read` since the connection
///   opened or its last request ended, i.e. the next request head has not come in full (hyper's
///   HTTP/1 header read timeout, which also starts when the previous response ends). Not for
///   HTTP/2 connections, where streams have no such limit: close now.
///
/// Times are taken on ticks (at most 1 s apart, at most half of either timeout), so either
/// timeout may fire up to one tick late.
async fn watchdog(
    activity: Arc<Activity>,
    mut stop: watch::Receiver<bool>,
    timeouts: Timeouts,
) -> Close {
    let period = timeouts
        .keep_alive
        .min(timeouts.header_read / 2)
        .min(Duration::from_secs(1))
        .max(Duration::from_millis(50));
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let opened = tokio::time::Instant::now();
    let mut last_moved = opened;
    let mut head_since = opened;
    loop {
        tokio::select! {
            changed = stop.changed() => {
                if changed.is_err() || *stop.borrow() {
                    return Close::Graceful;
                }
            }
            now = tick.tick() => {
                let moved = activity.take_moved();
                let ended = activity.take_ended();
                if activity.in_flight() > 0 {
                    last_moved = now;
                    head_since = now;
                    continue;
                }
                if moved {
                    last_moved = now;
                }
                if ended {
                    head_since = now;
                }
                if !activity.is_http2() && now.duration_since(head_since) >= timeouts.header_read {
                    return Close::Now;
                }
                if now.duration_since(last_moved) >= timeouts.keep_alive {
                    return Close::Graceful;
                }
            }
        }
    }
}

/// The waker the watchdog is polled with: notes that it was woken, and wakes the connection's
/// task.
struct WatchdogWake {
    woken: AtomicBool,
    task: Mutex<Option<Waker>>,
}

impl WatchdogWake {
    /// Whether the watchdog was woken since the last call (true the first time); keeps the
    /// task's waker to pass the watchdog's wake-ups on.
    #[inline]
    fn take(&self, task: &Waker) -> bool {
        // A load first: on almost every poll the flag is clear, and a load writes nothing.
        if self.woken.load(Ordering::Relaxed) && self.woken.swap(false, Ordering::AcqRel) {
            let mut slot = self.task.lock().unwrap_or_else(|e| e.into_inner());
            if !slot.as_ref().is_some_and(|w| w.will_wake(task)) {
                *slot = Some(task.clone());
            }
            return true;
        }
        false
    }
}

impl Wake for WatchdogWake {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::Release);
        if let Some(task) = &*self.task.lock().unwrap_or_else(|e| e.into_inner()) {
            task.wake_by_ref();
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
