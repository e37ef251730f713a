//! WebSocket endpoints: [`websocket`] turns a consumer factory into a view for
//! [`path`](canter_core::routing::path), so WebSocket routes sit beside HTTP ones on the same
//! server, with the same patterns and converters (`ws/chat/<str:room>/`).
//!
//! Limits (`[channels]` settings, each with a default): `max_message_size` (1 MiB; larger →
//! close 1009), `ping_interval` (20 s) and `idle_timeout` (60 s without any frame → close
//! 1001), `outbound_queue` (256 frames a slow reader may have pending; more → close 1013), and
//! `allowed_origins` (default: the hosts of `allowed_hosts`; a cross-site handshake → 403, as
//! Channels' `AllowedHostsOriginValidator`). A protocol violation closes with 1002, a text frame
//! that is not UTF-8 with 1007, and the server's graceful shutdown with 1001 (the server waits
//! for the socket's task).

use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use canter_core::request::{RequestContext, RequestExt};
use canter_core::services;
use canter_core::settings::Settings;
use canter_core::stall::StallDetector;
use canter_core::{Body, BoxFuture, IntoResponse, Request, Response};
use http::{header, HeaderValue, Method, StatusCode};
use serde::Deserialize;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};
use tokio_tungstenite::WebSocketStream;
use tracing::Instrument;

use crate::consumer::{Consumer, Context, Handshake, Outgoing, Scope};
use crate::counters::SocketCounters;
use crate::layers::{channel_layer, ChannelLayer};

mod socket;
use socket::run;

#[doc(hidden)]
pub struct WebSocketEndpoint;

/// `[channels]` settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct ChannelsSettings {
    /// The largest message a client may send, in bytes (1 MiB); larger closes with 1009.
    pub max_message_size: usize,
    /// Seconds between the server's pings (20), which keep proxies from closing idle sockets.
    pub ping_interval: f64,
    /// Seconds without any frame from the client (pongs count) before closing with 1001 (60).
    pub idle_timeout: f64,
    /// Frames a slow reader may have pending (256); more closes with 1013.
    pub outbound_queue: usize,
    /// Origins allowed to open sockets: host names (`example.com`, `.example.com`, `*`).
    /// Empty: the hosts of `allowed_hosts`.
    pub allowed_origins: Vec<String>,
}

impl Default for ChannelsSettings {
    fn default() -> Self {
        Self {
            max_message_size: 1 << 20,
            ping_interval: 20.0,
            idle_timeout: 60.0,
            outbound_queue: 256,
            allowed_origins: Vec::new(),
        }
    }
}

/// A WebSocket endpoint for `path(...)`: `path("ws/chat/<str:room>/", websocket(|scope| Chat::new(scope)))`.
///
/// The factory makes one consumer per connection, from the handshake's [`Scope`] (its path
/// parameters, query, headers, cookies). Examples: [`Consumer`] and
/// [`JsonConsumer`](crate::JsonConsumer).
pub fn websocket<C, F>(factory: F) -> WebSocketView<F>
where
    C: Consumer,
    F: Fn(&Scope) -> C + Clone + Send + Sync + 'static,
{
    WebSocketView {
        factory,
        settings: Arc::new(OnceLock::new()),
    }
}

/// See [`websocket`].
#[derive(Clone)]
pub struct WebSocketView<F> {
    factory: F,
    settings: Arc<OnceLock<(ChannelsSettings, Vec<String>)>>,
}

/// An in-process connection for [`testing`](crate::testing): the server's end of a duplex pipe.
#[derive(Clone)]
pub(crate) struct InProcessSocket(pub(crate) Arc<Mutex<Option<tokio::io::DuplexStream>>>);

fn error(status: StatusCode, message: &str) -> Response {
    (status, message.to_owned()).into_response()
}

fn origin_allowed(origin: Option<&str>, allowed: &[String]) -> bool {
    // No Origin header: not a browser; Channels' validator lets it through too.
    let Some(origin) = origin else { return true };
    let host = origin.split("://").nth(1).unwrap_or(origin);
    let host = host.split('/').next().unwrap_or(host);
    let host = if host.starts_with('[') {
        host.split(']')
            .next()
            .map(|h| format!("{h}]"))
            .unwrap_or_default()
    } else {
        host.rsplit_once(':')
            .map(|(h, _)| h.to_owned())
            .unwrap_or_else(|| host.to_owned())
    };
    let host = host.to_ascii_lowercase();
    allowed.iter().any(|pattern| {
        let pattern = pattern.to_ascii_lowercase();
        pattern == "*"
            || pattern == host
            || (pattern.starts_with('.') && (host.ends_with(&pattern) || host == pattern[1..]))
    })
}

/// A copy of `headers` that owns its values. hyper's values share the connection's read buffer
/// (16 KiB), so a plain clone kept in the scope would keep that buffer alive for the socket's
/// whole life (measured: most of the memory of an idle socket).
fn owned_headers(headers: &http::HeaderMap) -> http::HeaderMap {
    let mut owned = http::HeaderMap::with_capacity(headers.len());
    for (name, value) in headers {
        if let Ok(copy) = HeaderValue::from_bytes(value.as_bytes()) {
            owned.append(name.clone(), copy);
        }
    }
    owned
}

fn scope_of(req: &Request) -> Scope {
    let context = RequestContext::of(req.extensions());
    let route = context.and_then(RequestContext::route);
    Scope {
        path: req.path().to_owned(),
        route: route.and_then(|r| r.name.map(str::to_owned)),
        params: route.map(|r| r.params.clone()).unwrap_or_default(),
        query: req.uri().query().map(str::to_owned),
        headers: owned_headers(req.headers()),
        client: req.client_addr(),
        subprotocols: req
            .headers()
            .get_all(header::SEC_WEBSOCKET_PROTOCOL)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(|p| p.trim().to_owned())
            .filter(|p| !p.is_empty())
            .collect(),
        extensions: req.extensions().clone(),
    }
}

impl<F> WebSocketView<F> {
    /// The `[channels]` limits and the allowed origins, read from the app's settings once.
    fn limits(&self, app_settings: Option<&Arc<Settings>>) -> (ChannelsSettings, Vec<String>) {
        self.settings
            .get_or_init(|| {
                let limits: ChannelsSettings = app_settings
                    .and_then(|s| s.section("channels").ok())
                    .unwrap_or_default();
                let origins = if limits.allowed_origins.is_empty() {
                    app_settings
                        .map(|s| s.effective_allowed_hosts())
                        .unwrap_or_else(|| vec!["*".into()])
                } else {
                    limits.allowed_origins.clone()
                };
                (limits, origins)
            })
            .clone()
    }
}

/// Why a handshake request is refused.
enum Refusal {
    NotAnUpgrade,
    BadVersion,
    NoKey,
    Origin,
}

impl Refusal {
    fn response(self) -> Response {
        match self {
            Refusal::NotAnUpgrade => {
                let mut response = error(
                    StatusCode::UPGRADE_REQUIRED,
                    "this URL is a WebSocket endpoint",
                );
                response
                    .headers_mut()
                    .insert(header::UPGRADE, HeaderValue::from_static("websocket"));
                response
            }
            Refusal::BadVersion => {
                error(StatusCode::BAD_REQUEST, "Sec-WebSocket-Version must be 13")
            }
            Refusal::NoKey => error(StatusCode::BAD_REQUEST, "missing Sec-WebSocket-Key"),
            Refusal::Origin => error(StatusCode::FORBIDDEN, "origin not allowed"),
        }
    }
}

/// Checks the handshake request (a GET upgrade to `websocket`, version 13, a key, an allowed
/// `Origin`); returns its `Sec-WebSocket-Key`, or why it is refused.
fn check_handshake(req: &Request, origins: &[String]) -> Result<HeaderValue, Refusal> {
    let headers = req.headers();
    let is_upgrade = headers
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
        && headers
            .get(header::CONNECTION)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| {
                v.split(',')
                    .any(|p| p.trim().eq_ignore_ascii_case("upgrade"))
            });
    if req.method() != Method::GET || !is_upgrade {
        return Err(Refusal::NotAnUpgrade);
    }
    if headers
        .get(header::SEC_WEBSOCKET_VERSION)
        .and_then(|v| v.to_str().ok())
        != Some("13")
    {
        return Err(Refusal::BadVersion);
    }
    let Some(key) = headers.get(header::SEC_WEBSOCKET_KEY).cloned() else {
        return Err(Refusal::NoKey);
    };
    let origin = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok());
    if !origin_allowed(origin, origins) {
        tracing::warn!(target: "canter::channels", origin, "WebSocket handshake from a disallowed origin");
        return Err(Refusal::Origin);
    }
    Ok(key)
}

/// The 101 answering a handshake with `key`, naming the chosen subprotocol if any.
fn switching_protocols(key: &HeaderValue, subprotocol: Option<String>) -> Response {
    let accept = tungstenite::handshake::derive_accept_key(key.as_bytes());
    let mut response = Response::new(Body::empty());
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let h = response.headers_mut();
    h.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    h.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    if let Ok(value) = HeaderValue::from_str(&accept) {
        h.insert(header::SEC_WEBSOCKET_ACCEPT, value);
    }
    if let Some(p) = subprotocol.and_then(|p| HeaderValue::from_str(&p).ok()) {
        h.insert(header::SEC_WEBSOCKET_PROTOCOL, p);
    }
    response
}

/// What a socket's task needs once the handshake is accepted.
struct AcceptedSocket<C> {
    consumer: C,
    ctx: Context,
    outbound: mpsc::Receiver<Outgoing>,
    layer: Arc<dyn ChannelLayer>,
    limits: ChannelsSettings,
    scope: Scope,
}

/// Spawns the socket's task: the upgraded connection (or the test communicator's in-process
/// one) driven by [`run`], under the stall detector when the app's settings turn it on, in the
/// app's scope, on the server's task tracker when there is a server (a shutdown waits for it).
fn spawn_socket_task<C: Consumer>(
    accepted: AcceptedSocket<C>,
    req: &mut Request,
    stall: Option<Duration>,
) {
    let AcceptedSocket {
        consumer,
        ctx,
        outbound,
        layer,
        limits,
        scope,
    } = accepted;
    let shutdown = RequestContext::of(req.extensions())
        .and_then(|context| context.app().shutdown())
        .cloned();
    // Counted open while the task runs, under its route's name (or pattern), for a dashboard.
    let open = services::with_current(|s| s.get_shared::<SocketCounters>())
        .flatten()
        .map(|counters| {
            let route = RequestContext::of(req.extensions()).and_then(RequestContext::route);
            counters.open(route.map_or(scope.path.as_str(), |r| r.name.unwrap_or(r.pattern)))
        });
    let in_process = req.extensions_mut().remove::<InProcessSocket>();
    let upgrade = in_process.is_none().then(|| hyper::upgrade::on(req));
    // A 4 KiB read buffer, not tungstenite's default 128 KiB (allocated up front for every
    // socket: 10,000 idle sockets would hold 1.25 GB); larger messages still arrive whole, in
    // more reads.
    let config = WebSocketConfig::default()
        .read_buffer_size(0)
        .max_message_size(Some(limits.max_message_size))
        .max_frame_size(Some(limits.max_message_size));
    let server = shutdown.clone();
    // The socket's span is attached to its task (instrumented), never entered: a guard held
    // across an `.await` stays on whichever thread the task left, where it wraps unrelated work
    // and, once the span closes, makes the subscriber's registry panic.
    let span = tracing::info_span!(target: "canter::channels", "websocket", path = %scope.path, channel = %ctx.channel_name());
    let socket_task = async move {
        let _open = open;
        if let Some(socket) = in_process.and_then(|s| s.0.lock().ok().and_then(|mut s| s.take())) {
            let ws = WebSocketStream::from_raw_socket(socket, Role::Server, Some(config)).await;
            run(ws, consumer, ctx, outbound, layer, limits, shutdown).await;
        } else if let Some(upgrade) = upgrade {
            match upgrade.await {
                Ok(upgraded) => {
                    let ws = WebSocketStream::from_raw_socket(
                        hyper_util::rt::TokioIo::new(upgraded),
                        Role::Server,
                        Some(config),
                    )
                    .await;
                    run(ws, consumer, ctx, outbound, layer, limits, shutdown).await;
                }
                Err(e) => tracing::debug!(target: "canter::channels", "upgrade failed: {e}"),
            }
        }
    };
    // The consumer's code runs in this task's polls: the stall detector watches them as it
    // watches views (a blocking consumer holds up every socket on its thread).
    let socket_task = match stall {
        Some(threshold) => futures_util::future::Either::Left(StallDetector::new(
            socket_task,
            threshold,
            "consumer",
            scope.path.clone(),
            std::any::type_name::<C>(),
        )),
        None => futures_util::future::Either::Right(socket_task),
    };
    // The consumer's code runs in the app's scope, as the view's did.
    let socket_task = services::carry(socket_task.instrument(span));
    match server {
        Some(server) => server.spawn(socket_task),
        None => tokio::spawn(socket_task),
    };
}

impl<C, F> axum::handler::Handler<WebSocketEndpoint, ()> for WebSocketView<F>
where
    C: Consumer,
    F: Fn(&Scope) -> C + Clone + Send + Sync + 'static,
{
    type Future = BoxFuture<'static, Response>;

    /// The handshake: checks, the consumer's `connect` (accept or 403), the socket's task
    /// spawned, then 101.
    fn call(self, mut req: Request, _state: ()) -> Self::Future {
        Box::pin(async move {
            let app_settings: Option<Arc<Settings>> = req.settings();
            let stall = app_settings.as_ref().and_then(|s| s.stall_threshold());
            let (limits, origins) = self.limits(app_settings.as_ref());
            let key = match check_handshake(&req, &origins) {
                Ok(key) => key,
                Err(refusal) => return refusal.response(),
            };
            let scope = scope_of(&req);
            let layer = match channel_layer() {
                Ok(layer) => layer,
                Err(e) => {
                    tracing::error!(target: "canter::channels", path = %scope.path, "{e}");
                    return error(StatusCode::INTERNAL_SERVER_ERROR, "no channel layer");
                }
            };
            let (outbound_tx, outbound) = mpsc::channel(limits.outbound_queue.max(1));
            let mut ctx = Context::new(scope.clone(), layer.clone(), outbound_tx);
            let mut consumer = (self.factory)(&scope);
            if let Err(e) = consumer.connect(&mut ctx).await {
                tracing::warn!(target: "canter::channels", path = %scope.path, "connect failed: {e}");
                ctx.handshake = Handshake::Rejected;
            }
            let subprotocol = match &ctx.handshake {
                Handshake::Accepted { subprotocol } => subprotocol.clone(),
                _ => return error(StatusCode::FORBIDDEN, "connection rejected"),
            };
            let accepted = AcceptedSocket {
                consumer,
                ctx,
                outbound,
                layer,
                limits,
                scope,
            };
            spawn_socket_task(accepted, &mut req, stall);
            switching_protocols(&key, subprotocol)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::origin_allowed;

    #[test]
    fn origins() {
        let allowed = vec!["example.com".to_owned(), ".example.org".to_owned()];
        assert!(origin_allowed(None, &allowed));
        assert!(origin_allowed(Some("https://example.com"), &allowed));
        assert!(origin_allowed(Some("https://example.com:8443"), &allowed));
        assert!(origin_allowed(Some("http://api.example.org"), &allowed));
        assert!(!origin_allowed(Some("https://evil.com"), &allowed));
        assert!(!origin_allowed(
            Some("https://example.com.evil.com"),
            &allowed
        ));
        assert!(origin_allowed(
            Some("http://[::1]:8000"),
            &["[::1]".to_owned()]
        ));
    }
}
