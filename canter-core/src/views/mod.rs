//! Class-based views: a type with a handler per HTTP method, like Django's `View`.
//!
//! Put [`#[view]`](macro@crate::view) on the `impl` block; each of `get`, `post`, `put`,
//! `patch`, `delete` (and optionally `head`) is an `async fn(&self, req: Request)` returning
//! anything [`IntoResponse`]. `HEAD` falls back to `get`; `OPTIONS` answers with the `Allow`
//! header; any other method gets 405 with `Allow`, as Django's `http_method_not_allowed`.
//!
//! ```
//! use canter_core::prelude::*;
//!
//! struct Article;
//!
//! #[view(crate = canter_core)]
//! impl Article {
//!     async fn get(&self, req: Request) -> String {
//!         format!("article {}", req.param::<i64>("id").unwrap())
//!     }
//!     async fn delete(&self, _req: Request) -> StatusCode {
//!         StatusCode::NO_CONTENT
//!     }
//! }
//!
//! let pattern = path("articles/<int:id>/", Article.as_view());
//! assert_eq!(Article.allowed_methods(), &[Method::GET, Method::DELETE, Method::HEAD, Method::OPTIONS]);
//! ```

use std::sync::Arc;

use axum::handler::Handler;
use axum::response::IntoResponse;
use futures_util::future::BoxFuture;
use http::{header, HeaderValue, Method, StatusCode};

use crate::request::Request;
use crate::response::Response;

/// A class-based view; implemented by [`#[view]`](macro@crate::view), rarely by hand.
pub trait View: Send + Sync + 'static {
    /// The methods this view answers, `OPTIONS` included.
    fn allowed_methods(&self) -> &'static [Method];
    /// Calls the handler for the request's method.
    fn dispatch(self: Arc<Self>, req: Request) -> BoxFuture<'static, Response>;
    /// The view as something [`path`](crate::routing::path) accepts (Django's `View.as_view()`).
    // Django's name; it consumes the view, which becomes the route's.
    #[allow(clippy::wrong_self_convention)]
    fn as_view(self) -> AsView<Self>
    where
        Self: Sized,
    {
        AsView(Arc::new(self))
    }
}

/// A class-based view ready for a URL pattern.
pub struct AsView<V>(Arc<V>);

impl<V> Clone for AsView<V> {
    fn clone(&self) -> Self {
        AsView(self.0.clone())
    }
}

#[doc(hidden)]
pub struct ClassBasedView;

impl<V: View> Handler<ClassBasedView, ()> for AsView<V> {
    type Future = BoxFuture<'static, Response>;
    fn call(self, req: Request, _state: ()) -> Self::Future {
        self.0.dispatch(req)
    }
}

/// 405 with the `Allow` header (Django's `HttpResponseNotAllowed`).
pub fn method_not_allowed(allowed: &[Method]) -> Response {
    let mut response = StatusCode::METHOD_NOT_ALLOWED.into_response();
    response
        .headers_mut()
        .insert(header::ALLOW, allow_header(allowed));
    response
}

/// The answer to `OPTIONS`: 200, empty, with `Allow`.
pub fn options_response(allowed: &[Method]) -> Response {
    let mut response = StatusCode::OK.into_response();
    response
        .headers_mut()
        .insert(header::ALLOW, allow_header(allowed));
    response
        .headers_mut()
        .insert(header::CONTENT_LENGTH, HeaderValue::from_static("0"));
    response
}

fn allow_header(allowed: &[Method]) -> HeaderValue {
    let list: Vec<&str> = allowed.iter().map(Method::as_str).collect();
    HeaderValue::from_str(&list.join(", ")).unwrap_or_else(|_| HeaderValue::from_static(""))
}
