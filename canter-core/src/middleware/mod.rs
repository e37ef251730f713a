//! Async middleware: `call(request, next)` around the rest of the chain, as in Django's
//! `async def __call__(self, request)` with `get_response`.
//!
//! A middleware can change the request before `next.run(req)`, change the response after it,
//! or answer without calling `next` at all. Order comes from the `middleware` setting
//! (outermost first, by name) followed by what the app adds with
//! [`App::middleware`](crate::App::middleware). Any tower `Layer` joins the same chain through
//! [`layer`].
//!
//! ```
//! use canter_core::prelude::*;
//! use std::time::Instant;
//!
//! /// The article's `AsyncMiddleware`, timing the rest of the chain.
//! struct Timing;
//!
//! impl Middleware for Timing {
//!     async fn call(&self, req: Request, next: Next) -> Response {
//!         let start = Instant::now();
//!         let mut response = next.run(req).await;
//!         let ms = start.elapsed().as_secs_f64() * 1000.0;
//!         response.headers_mut().insert("server-timing", format!("app;dur={ms:.2}").parse().unwrap());
//!         response
//!     }
//! }
//!
//! let app = App::new().middleware(Timing);
//! ```
//!
//! Built-ins, by setting name: `canter.request_id` ([`RequestIdMiddleware`]), `canter.logging`
//! ([`RequestLogging`]), `canter.security` ([`SecurityHeaders`]), `canter.gzip`
//! ([`Compression`], gzip and brotli), `canter.cors` ([`Cors`]). The body size limit
//! (`server.max_body_size`, 413) and the panic catcher (a panicking view or middleware → 500,
//! the server keeps serving) are always on; [`BodyLimit`] sets a stricter limit.

mod body_limit;
#[cfg(feature = "compression")]
mod compression;
mod cors;
mod logging;
mod request_id;
mod security;
mod tower_layer;

pub use body_limit::BodyLimit;
#[cfg(feature = "compression")]
pub use compression::Compression;
pub use cors::Cors;
pub use logging::RequestLogging;
pub use request_id::RequestIdMiddleware;
pub use security::SecurityHeaders;
pub use tower_layer::{layer, LayerMiddleware, NextService};

pub(crate) use body_limit::limit_body;

use std::future::Future;
use std::sync::Arc;

use futures_util::future::BoxFuture;

use crate::request::Request;
use crate::response::Response;
use crate::settings::{Settings, SettingsError};

/// An async middleware. Implement it with `async fn call(&self, req: Request, next: Next) -> Response`.
///
/// One value serves every request (it is shared, hence `&self`): keep per-request state in
/// the request or in locals of `call`.
pub trait Middleware: Send + Sync + 'static {
    /// Handles one request: change it, call `next.run(req)` for the rest of the chain and
    /// change its response, or answer without calling `next`.
    ///
    /// ```
    /// use canter_core::prelude::*;
    /// use canter_core::test::TestClient;
    ///
    /// /// Answers 503 to everything but `/health/` while the site is in maintenance.
    /// struct Maintenance { on: bool }
    ///
    /// impl Middleware for Maintenance {
    ///     async fn call(&self, req: Request, next: Next) -> Response {
    ///         if self.on && req.uri().path() != "/health/" {
    ///             return (StatusCode::SERVICE_UNAVAILABLE, "back soon").into_response();
    ///         }
    ///         next.run(req).await
    ///     }
    /// }
    ///
    /// async fn health(_req: Request) -> &'static str { "ok" }
    /// async fn home(_req: Request) -> &'static str { "home" }
    ///
    /// let app = App::new()
    ///     .middleware(Maintenance { on: true })
    ///     .urls(vec![path("", home), path("health/", health)]);
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let client = TestClient::new(app);
    /// assert_eq!(client.get("/").await.status(), 503);
    /// assert_eq!(client.get("/health/").await.text(), "ok");
    /// # });
    /// ```
    fn call(&self, req: Request, next: Next) -> impl Future<Output = Response> + Send;
}

/// The object-safe form the chain stores.
pub(crate) trait DynMiddleware: Send + Sync + 'static {
    /// One boxed future owning the middleware's `Arc` (not a borrowing future boxed again).
    fn call_dyn(self: Arc<Self>, req: Request, next: Next) -> BoxFuture<'static, Response>;
}

impl<M: Middleware> DynMiddleware for M {
    fn call_dyn(self: Arc<Self>, req: Request, next: Next) -> BoxFuture<'static, Response> {
        Box::pin(async move { self.call(req, next).await })
    }
}

pub(crate) type Endpoint = Arc<dyn Fn(Request) -> BoxFuture<'static, Response> + Send + Sync>;

pub(crate) struct Chain {
    pub(crate) middleware: Vec<Arc<dyn DynMiddleware>>,
    pub(crate) endpoint: Endpoint,
}

/// The rest of the chain: the next middleware, or the router and the view.
#[derive(Clone)]
pub struct Next {
    chain: Arc<Chain>,
    index: usize,
}

impl Next {
    pub(crate) fn start(chain: Arc<Chain>) -> Self {
        Self { chain, index: 0 }
    }

    /// Runs the rest of the chain (Django's `get_response(request)`). A middleware may call it
    /// once, or not at all to answer itself; example: [`Middleware::call`].
    pub fn run(self, req: Request) -> BoxFuture<'static, Response> {
        match self.chain.middleware.get(self.index) {
            Some(middleware) => {
                let middleware = middleware.clone();
                let next = Next {
                    chain: self.chain,
                    index: self.index + 1,
                };
                middleware.call_dyn(req, next)
            }
            None => (self.chain.endpoint)(req),
        }
    }
}

/// A middleware from an async closure: `from_fn(|req, next| async move { next.run(req).await })`.
///
/// ```
/// use canter_core::middleware::from_fn;
/// use canter_core::prelude::*;
/// use canter_core::test::TestClient;
///
/// async fn hello(_req: Request) -> &'static str { "hello" }
///
/// // Refuses requests without an API key, before any view runs.
/// let api_key = from_fn(|req: Request, next: Next| async move {
///     match req.headers().get("x-api-key") {
///         Some(key) if key == "s3cret" => next.run(req).await,
///         _ => (StatusCode::UNAUTHORIZED, "an API key is needed").into_response(),
///     }
/// });
/// let app = App::new().middleware(api_key).urls(vec![path("", hello)]);
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let client = TestClient::new(app);
/// assert_eq!(client.get("/").await.status(), 401);
/// assert_eq!(client.get("/").header("x-api-key", "s3cret").await.text(), "hello");
/// # });
/// ```
pub fn from_fn<F, Fut>(f: F) -> FromFn<F>
where
    F: Fn(Request, Next) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Response> + Send + 'static,
{
    FromFn(f)
}

/// A middleware made of an async closure: see [`from_fn`].
pub struct FromFn<F>(F);

impl<F, Fut> Middleware for FromFn<F>
where
    F: Fn(Request, Next) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Response> + Send + 'static,
{
    fn call(&self, req: Request, next: Next) -> impl Future<Output = Response> + Send {
        (self.0)(req, next)
    }
}

/// Makes a middleware from the settings, for a name listed in the `middleware` setting.
pub(crate) type MiddlewareFactory =
    Arc<dyn Fn(&Settings) -> Result<Arc<dyn DynMiddleware>, SettingsError> + Send + Sync>;

/// The built-in middleware a `middleware` setting may name.
pub(crate) fn builtin(
    name: &str,
    settings: &Settings,
) -> Option<Result<Arc<dyn DynMiddleware>, SettingsError>> {
    let made: Arc<dyn DynMiddleware> = match name {
        "canter.request_id" => Arc::new(RequestIdMiddleware::default()),
        "canter.logging" => Arc::new(RequestLogging),
        "canter.security" => Arc::new(SecurityHeaders::from_settings(&settings.security)),
        #[cfg(feature = "compression")]
        "canter.gzip" => Arc::new(Compression::default()),
        "canter.cors" => match Cors::from_settings(&settings.cors) {
            Ok(cors) => Arc::new(cors),
            Err(e) => return Some(Err(e)),
        },
        _ => return None,
    };
    Some(Ok(made))
}

/// Names `builtin` knows, for error messages and `check`.
pub(crate) const BUILTIN_NAMES: &[&str] = &[
    "canter.request_id",
    "canter.logging",
    "canter.security",
    "canter.gzip",
    "canter.cors",
];
