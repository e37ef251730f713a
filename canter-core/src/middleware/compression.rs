//! `canter.gzip`: gzip or brotli response compression, as the client's `Accept-Encoding`
//! asks (Django's `GZipMiddleware`), through tower-http's `CompressionLayer`. Tiny bodies,
//! images and `text/event-stream` are left as they are.

use std::future::Future;

use tower_http::compression::CompressionLayer;

use super::{layer, LayerMiddleware, Middleware, Next};
use crate::request::Request;
use crate::response::Response;

/// See the module docs.
pub struct Compression(LayerMiddleware<CompressionLayer>);

impl Default for Compression {
    fn default() -> Self {
        Compression(layer(CompressionLayer::new()))
    }
}

impl Middleware for Compression {
    fn call(&self, req: Request, next: Next) -> impl Future<Output = Response> + Send {
        self.0.call(req, next)
    }
}
