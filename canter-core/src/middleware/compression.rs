//! `canter.gzip`: gzip or brotli response compression, as the client's `Accept-Encoding`
//! asks (Django's `GZipMiddleware`), through tower-http's `CompressionLayer`. Tiny bodies,
//! images and `text/event-stream` are left as they are.
//!
//! A request without `Accept-Encoding` skips the layer, as Django's middleware returns early
//! for it: the response is left as it is, except for the `Vary: Accept-Encoding` the layer
//! would have added (the response would be compressed for another client, so a cache must
//! know). tower-http decides that with the same predicate; the layer would otherwise wrap
//! every body only to pass it through (~0.8 µs per request, see BENCHMARKS.md).

use std::future::Future;

use futures_util::future::Either;
use futures_util::FutureExt;
use http::{header, HeaderValue};
use tower_http::compression::predicate::{DefaultPredicate, Predicate};
use tower_http::compression::CompressionLayer;

use super::{layer, LayerMiddleware, Middleware, Next};
use crate::request::Request;
use crate::response::Response;

/// See the module docs.
pub struct Compression {
    layer: LayerMiddleware<CompressionLayer>,
    /// What the layer compresses (its default), for the `Vary` of a skipped request.
    predicate: DefaultPredicate,
}

impl Default for Compression {
    fn default() -> Self {
        Compression {
            layer: layer(CompressionLayer::new()),
            predicate: DefaultPredicate::new(),
        }
    }
}

impl Middleware for Compression {
    fn call(&self, req: Request, next: Next) -> impl Future<Output = Response> + Send {
        if req.headers().contains_key(header::ACCEPT_ENCODING) {
            return Either::Left(self.layer.call(req, next));
        }
        let predicate = self.predicate.clone();
        Either::Right(next.run(req).map(move |mut response| {
            if predicate.should_compress(&response) && !varies_on_accept_encoding(&response) {
                response
                    .headers_mut()
                    .append(header::VARY, HeaderValue::from_static("accept-encoding"));
            }
            response
        }))
    }
}

/// Whether `Vary` already names `Accept-Encoding` (or `*`).
fn varies_on_accept_encoding(response: &Response) -> bool {
    response
        .headers()
        .get_all(header::VARY)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .any(|name| name == "*" || name.eq_ignore_ascii_case("accept-encoding"))
}
