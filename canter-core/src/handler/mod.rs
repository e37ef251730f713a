//! The request path inside the app: host check → body limit → middleware chain → router →
//! view (stall detector, panic catcher) → error page. Django's `BaseHandler`, in one place.

use std::future::Future;
use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use axum::response::IntoResponse;
use futures_util::future::Either;
use futures_util::FutureExt;
use http::{header, HeaderValue, Method, StatusCode};
use tower::{Layer, ServiceExt};

use canter_kernel::services::{self, Carried};

use crate::app::AppContext;
use crate::blocking::panic_message;
use crate::counters::HttpCounters;
use crate::debug_page;
use crate::error::{report_response, ErrorReport, PendingErrorPage};
use crate::middleware::{limit_body, Chain, Next};
use crate::request::{ClientAddr, Request, RequestContext};
use crate::response::Response;
use crate::routing::{percent_decode, ResolvedRoute};
use crate::stall::StallDetector;

mod hosts;
use hosts::{host_of, malformed_host, AllowedHosts};

pub(crate) struct Core {
    /// Settings, resolver and state: one extension on every request.
    pub(crate) context: Arc<AppContext>,
    chain: Arc<Chain>,
    /// The chain's endpoint, called directly (no boxed future) when there is no middleware.
    router: Arc<Router>,
    hosts: AllowedHosts,
}

impl Core {
    pub(crate) fn new(context: Arc<AppContext>, chain: Arc<Chain>, router: Arc<Router>) -> Self {
        let hosts = AllowedHosts::new(context.settings.effective_allowed_hosts());
        Self {
            context,
            chain,
            router,
            hosts,
        }
    }

    pub(crate) fn handle(&self, req: Request) -> impl Future<Output = Response> + Send + 'static {
        let client = req.extensions().get::<ClientAddr>().map(|addr| addr.0);
        self.handle_with(req, &self.context, client, false)
    }

    /// [`handle`](Self::handle) with the app's context as `context` (the server passes each
    /// connection's, see [`AppContext::for_connection`]) and the client's address.
    /// The whole request runs inside the app's scope (its services: `delay()`,
    /// `channel_layer()` and the ORM find theirs there), its first steps at the call too.
    ///
    /// `polled_here`: the returned future is polled by the task that calls this (an HTTP/1
    /// connection's; HTTP/2 spawns each stream). The server runs each connection's task in the
    /// app's scope, so such a request enters nothing again: no scope per request, no reference
    /// counting on the services (issue 14's instruction budget, see BENCHMARKS.md).
    pub(crate) fn handle_with(
        &self,
        req: Request,
        context: &Arc<AppContext>,
        client: Option<SocketAddr>,
        polled_here: bool,
    ) -> Carried<impl Future<Output = Response> + Send + 'static> {
        let services = &context.services;
        if services::is_current(services) {
            let request = self.handle_in_app(req, context, client);
            return if polled_here {
                Carried::as_is(request)
            } else {
                Carried::in_scope(services, request)
            };
        }
        let request = services.sync_scope(|| self.handle_in_app(req, context, client));
        Carried::in_scope(services, request)
    }

    /// The request's future, made inside the app's scope. Over 80 lines: its steps share the
    /// request, the span and the early returns, and splitting them into functions would add
    /// the future-size cost described below.
    ///
    /// What can be done before the first `.await` is done here, at the call, and the future
    /// returned is built from combinators rather than an `async` block: an `async` block keeps
    /// its argument (the 240-byte request) and what it is moved into side by side, and this
    /// future is moved into hyper whole on every request (it was 1.3 KB; see BENCHMARKS.md).
    /// It borrows nothing from the app, so the server needs no `async` block around it. Long
    /// for the same reason: one chain of combinators, split only where it costs nothing per
    /// request.
    fn handle_in_app(
        &self,
        mut req: Request,
        context: &Arc<AppContext>,
        client: Option<SocketAddr>,
    ) -> impl Future<Output = Response> + Send + 'static {
        let debug = self.context.settings.debug;
        if let Err(response) = self.check_request(&req) {
            return Either::Left(std::future::ready(response));
        }
        let server = &self.context.settings.server;
        if let Err(response) = limit_body(&mut req, server.max_body_size, server.max_upload_size) {
            return Either::Left(std::future::ready(render_if_pending(response, debug, None)));
        }
        req.extensions_mut().insert(RequestContext {
            app: context.clone(),
            client,
            route: None,
        });
        // The span holds method and path for the log lines within it (the panic below too),
        // so neither is copied out of the request here. With no tracing subscriber at all
        // there is nothing to hold them for: tracing's `log` compatibility (switched on by
        // sqlx) would otherwise build and walk the span's fields on every request.
        let traced = tracing::dispatcher::has_been_set();
        let span = if traced {
            tracing::info_span!(
                target: "canter::request",
                "request",
                method = %req.method(),
                path = %req.uri().path(),
                route = tracing::field::Empty,
                request_id = tracing::field::Empty
            )
        } else {
            tracing::Span::none()
        };
        let panic_span = span.clone();
        // Inside the span: routing happens here, at the call, and names the route in it. A
        // panic here (a converter's, a middleware's code before its first await) is a 500, as
        // one while the chain runs is.
        let start = || {
            if self.chain.middleware.is_empty() {
                Either::Left(self.router.route(req))
            } else {
                Either::Right(Next::start(self.chain.clone()).run(req))
            }
        };
        let started = std::panic::catch_unwind(AssertUnwindSafe(|| {
            if traced {
                span.in_scope(start)
            } else {
                start()
            }
        }));
        let chain = match started {
            // No middleware and no subscriber: the router's future is the whole request. It
            // catches the view's panics and renders its error page itself, so the wrappers
            // below (for a middleware's panics and error responses, and the span) would only
            // add work.
            Ok(Either::Left(routed)) if !traced => return Either::Right(Either::Left(routed)),
            Ok(chain) => chain,
            Err(payload) => {
                return Either::Left(std::future::ready(chain_panicked(
                    payload,
                    &panic_span,
                    debug,
                )))
            }
        };
        // The chain's own panics (a middleware's) end here; the view's are caught closer, so
        // middleware still sees a 500 response for them. With no subscriber, entering and
        // leaving the empty span on every poll would be work for nothing.
        let caught = AssertUnwindSafe(chain).catch_unwind();
        let caught = if traced {
            Either::Left(tracing::Instrument::instrument(caught, span))
        } else {
            Either::Right(caught)
        };
        Either::Right(Either::Right(caught.map(move |outcome| match outcome {
            Ok(response) => render_if_pending(response, debug, None),
            Err(payload) => chain_panicked(payload, &panic_span, debug),
        })))
    }

    /// What Django checks before any middleware: the Host, and that path and query decode.
    // The Err is the response itself, answered at once; boxing it would allocate for every
    // refused request and move nothing less.
    #[allow(clippy::result_large_err)]
    fn check_request(&self, req: &Request) -> Result<(), Response> {
        let debug = self.context.settings.debug;
        self.check_host(req)
            .map_err(|message| bad_request(message, debug))?;
        if percent_decode(req.uri().path()).is_none() {
            return Err(bad_request(
                "the request path is not valid UTF-8 once percent-decoded",
                debug,
            ));
        }
        if let Some(query) = req.uri().query() {
            let max_fields = self.context.settings.server.max_number_fields;
            // n fields take at least 2n - 1 bytes, so a short query string is not counted.
            if query.len() >= max_fields.saturating_mul(2)
                && query.split('&').filter(|field| !field.is_empty()).count() > max_fields
            {
                return Err(bad_request(
                    format!("the query string has more than {max_fields} fields (server.max_number_fields)"),
                    debug,
                ));
            }
            if query.contains('%')
                && query
                    .split(['&', '='])
                    .any(|part| percent_decode(&part.replace('+', " ")).is_none())
            {
                return Err(bad_request(
                    "the query string is not valid UTF-8 once percent-decoded",
                    debug,
                ));
            }
        }
        Ok(())
    }

    /// RFC 9112 § 3.2: at most one `Host`, of the form `host[:port]` (a port of digits, up to
    /// 65535), naming an allowed host; else 400. The request target's authority (HTTP/2's
    /// `:authority`, an absolute-form target) names the host when there is one; a `Host`
    /// header beside it must still be well-formed. The error is the 400's message.
    fn check_host(&self, req: &Request) -> Result<(), String> {
        let mut headers = req.headers().get_all(header::HOST).iter();
        let header = headers.next();
        if headers.next().is_some() {
            tracing::warn!(target: "canter::security", "more than one Host header");
            return Err("the request has more than one Host header".to_owned());
        }
        let header_host = match header {
            Some(value) => match value.to_str().ok().and_then(host_of) {
                Some(host) => Some(host),
                None => return Err(malformed_host(&String::from_utf8_lossy(value.as_bytes()))),
            },
            None => None,
        };
        let host = match req.uri().authority() {
            Some(authority) => match host_of(authority.as_str()) {
                Some(host) => Some(host),
                None => return Err(malformed_host(authority.as_str())),
            },
            None => header_host,
        };
        match host {
            Some(host) if self.hosts.allows(host) => Ok(()),
            other => {
                let shown = other.unwrap_or_default();
                let message = if shown.is_empty() {
                    "request has no Host header".to_owned()
                } else {
                    format!("Invalid Host header: {shown:?}. You may need to add {shown:?} to allowed_hosts.")
                };
                tracing::warn!(target: "canter::security", host = %shown, "disallowed host");
                Err(message)
            }
        }
    }
}

/// The 500 for a panic in the chain outside a view (the view's own are caught around it).
fn chain_panicked(
    payload: Box<dyn std::any::Any + Send>,
    span: &tracing::Span,
    debug: bool,
) -> Response {
    let message = panic_message(payload.as_ref());
    span.in_scope(|| {
        tracing::error!(target: "canter::request", panic = %message, "the request's middleware or routing panicked");
    });
    debug_page::render(&ErrorReport::panic(message), debug, None)
}

/// A 400 page (production or DEBUG) for a request canter refuses before any view.
fn bad_request(message: impl Into<String>, debug: bool) -> Response {
    let report = ErrorReport {
        status: StatusCode::BAD_REQUEST,
        message: message.into(),
        causes: vec![],
        panicked: false,
    };
    debug_page::render(&report, debug, None)
}

/// The innermost link of the chain: resolves the path and calls the view.
pub(crate) struct Router {
    /// The app's resolver, and the context given to a request that reaches the router
    /// without one (a middleware built a new request).
    context: Arc<AppContext>,
    debug: bool,
    append_slash: bool,
    stall_threshold: Option<Duration>,
    /// Per-route counters, when the app's services hold them (the ops dashboard's).
    counters: Option<Arc<HttpCounters>>,
}

impl Router {
    pub(crate) fn new(context: Arc<AppContext>) -> Self {
        let settings = &context.settings;
        let counters = context.services.get_shared::<HttpCounters>();
        if let Some(counters) = &counters {
            counters.attach(
                context
                    .resolver
                    .routes()
                    .map(|(pattern, name, _)| name.unwrap_or(pattern).to_owned()),
            );
        }
        Self {
            debug: settings.debug,
            append_slash: settings.append_slash,
            stall_threshold: settings.stall_threshold(),
            counters,
            context,
        }
    }

    pub(crate) fn dispatch(
        self: Arc<Self>,
        req: Request,
    ) -> futures_util::future::BoxFuture<'static, Response> {
        Box::pin(self.route(req))
    }

    /// Resolves the path and calls the view (the chain's endpoint, also called directly by
    /// [`Core::handle`] when there is no middleware). Everything up to the view's future is
    /// done at the call; the future returned holds the view's (boxed) future and what the
    /// error page needs, not the request (see [`Core::handle_with`]).
    pub(crate) fn route(
        &self,
        mut req: Request,
    ) -> impl Future<Output = Response> + Send + 'static {
        // Checked in Core::check_request; a request from elsewhere (a middleware that
        // rewrote the URI) is re-checked here.
        let Some(path) = percent_decode(req.uri().path()) else {
            return Either::Left(std::future::ready(bad_request(
                "the request path is not valid UTF-8 once percent-decoded",
                self.debug,
            )));
        };
        let relative = path.strip_prefix('/').unwrap_or(&path);
        let Some((index, params)) = self.context.resolver.resolve(relative) else {
            let response = self.not_found(&req, &path);
            if let Some(counters) = &self.counters {
                counters.not_found(response.status().as_u16());
            }
            return Either::Left(std::future::ready(response));
        };
        let timer = self.counters.as_ref().map(|counters| counters.start(index));
        let route = self.context.resolver.route(index);
        if let Some(methods) = &route.methods {
            if !methods.contains(req.method()) {
                let response = crate::views::method_not_allowed(methods);
                if let Some(timer) = timer {
                    timer.finish(response.status().as_u16());
                }
                return Either::Left(std::future::ready(response));
            }
        }
        // What names the route in the span, warnings and error pages.
        let label: &'static str = route.name.unwrap_or(route.pattern);
        let view_name = route.view_name;
        if tracing::dispatcher::has_been_set() {
            tracing::Span::current().record("route", label);
        }
        let resolved = ResolvedRoute {
            name: route.name,
            pattern: route.pattern,
            view_name,
            decoded_path: match path {
                std::borrow::Cow::Owned(decoded) => Some(decoded),
                std::borrow::Cow::Borrowed(_) => None,
            },
            params,
            tags: route.tags.clone(),
        };
        match req.extensions_mut().get_mut::<RequestContext>() {
            Some(context) => context.route = Some(resolved),
            // Not through `Core` (or a middleware dropped the extensions): the route alone.
            None => {
                req.extensions_mut().insert(RequestContext {
                    app: self.context.clone(),
                    client: None,
                    route: Some(resolved),
                });
            }
        }
        let call = call_view(&route.endpoint, req);
        let watched = match self.stall_threshold {
            Some(threshold) => Either::Left(
                AssertUnwindSafe(StallDetector::new(
                    call,
                    threshold,
                    "view",
                    label.to_owned(),
                    view_name,
                ))
                .catch_unwind(),
            ),
            None => Either::Right(AssertUnwindSafe(call).catch_unwind()),
        };
        let debug = self.debug;
        Either::Right(watched.map(move |outcome| {
            let response = match outcome {
                Ok(response) => response,
                Err(payload) => report_response(ErrorReport::panic(format!(
                    "view panicked: {}",
                    panic_message(payload.as_ref())
                ))),
            };
            let response = render_if_pending(response, debug, Some((label, view_name)));
            if let Some(timer) = timer {
                timer.finish(response.status().as_u16());
            }
            response
        }))
    }

    fn not_found(&self, req: &Request, path: &str) -> Response {
        if self.append_slash && !path.ends_with('/') {
            let with_slash = format!("{}/", path.strip_prefix('/').unwrap_or(path));
            if self.context.resolver.resolve(&with_slash).is_some() {
                let mut location = format!("{}/", req.uri().path());
                if let Some(query) = req.uri().query() {
                    location.push('?');
                    location.push_str(query);
                }
                // 301 as Django does for GET/HEAD; 308 keeps the method and body of others.
                let status = if matches!(*req.method(), Method::GET | Method::HEAD) {
                    StatusCode::MOVED_PERMANENTLY
                } else {
                    StatusCode::PERMANENT_REDIRECT
                };
                let mut response = status.into_response();
                if let Ok(value) = HeaderValue::from_str(&location) {
                    response.headers_mut().insert(header::LOCATION, value);
                }
                return response;
            }
        }
        debug_page::not_found(path, &self.context.resolver, self.debug)
    }
}

/// axum's `DefaultBodyLimit` when not switched off (axum 0.8: 2 MiB).
const AXUM_DEFAULT_BODY_LIMIT: u64 = 2 * 1024 * 1024;

/// The view's future for `req`. axum's extractors add their own 2 MB cap unless told not to;
/// ours is already on the body (`server.max_body_size`), so theirs is switched off. A body
/// known to be within axum's cap (no body, or a small Content-Length) cannot reach it, so the
/// switch (an extension insert per request) is only needed for the others.
fn call_view(
    endpoint: &crate::routing::Endpoint,
    req: Request,
) -> futures_util::future::BoxFuture<'static, Response> {
    if body_within(&req, AXUM_DEFAULT_BODY_LIMIT) {
        return endpoint(req);
    }
    let endpoint = endpoint.clone();
    let view = DefaultBodyLimit::disable().layer(tower::service_fn(move |req: Request| {
        endpoint(req).map(Ok::<_, std::convert::Infallible>)
    }));
    Box::pin(view.oneshot(req).map(|r| match r {
        Ok(response) => response,
        Err(never) => match never {},
    }))
}

/// Whether the request body is known (from its size hint: no body, or a `Content-Length` that
/// the server enforces) to be at most `max` bytes.
pub(crate) fn body_within<B: http_body::Body>(req: &http::Request<B>, max: u64) -> bool {
    req.body().size_hint().upper().is_some_and(|n| n <= max)
}

/// Renders the page of a response whose view returned an `Error`, and logs server errors.
fn render_if_pending(
    mut response: Response,
    debug: bool,
    route: Option<(&str, &'static str)>,
) -> Response {
    let Some(PendingErrorPage(report)) = response.extensions_mut().remove::<PendingErrorPage>()
    else {
        return response;
    };
    if report.status.is_server_error() {
        let (name, view) = route.unwrap_or(("", ""));
        tracing::error!(
            target: "canter::request",
            route = name,
            view,
            status = report.status.as_u16(),
            panicked = report.panicked,
            causes = ?report.causes,
            "{}",
            report.message
        );
    }
    let mut page = debug_page::render(&report, debug, route);
    // Keep what the view or a middleware set (cookies, CORS, Allow…) on the error response.
    for (name, value) in response.headers() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            page.headers_mut().insert(name.clone(), value.clone());
        }
    }
    page
}

#[cfg(test)]
mod future_size {
    use super::*;
    use crate::prelude::*;

    async fn hello(_req: Request) -> &'static str {
        "hi"
    }

    /// The request's future is moved into hyper whole and held for as long as the view
    /// runs (10,000 sleeping requests hold 10,000 of them): it holds the view's boxed future
    /// and what the error page needs, never the request itself. It was 1,304 bytes (1,800
    /// through `handle`) when `async` blocks kept the request twice.
    #[test]
    fn the_request_future_stays_small() {
        let service = crate::App::new()
            .urls(vec![path("", hello)])
            .build(crate::settings::Settings::for_tests())
            .unwrap();
        let core = &service.core;
        let request = || {
            http::Request::builder()
                .uri("/")
                .body(crate::Body::empty())
                .unwrap()
        };
        let sizes = [
            std::mem::size_of_val(&core.router.route(request())),
            std::mem::size_of_val(&core.handle_with(request(), &core.context, None, false)),
            std::mem::size_of_val(&service.handle(request())),
        ];
        assert!(
            sizes.iter().all(|&size| size <= 512),
            "route, handle_with, handle: {sizes:?} bytes"
        );
    }
}
