//! The article's `AsyncMiddleware`, which awaits the rest of the chain and here also adds a
//! `Server-Timing: app;dur=<ms>` header to every response.

use std::time::Instant;

use canter::http::HeaderValue;
use canter::prelude::*;

/// ```python
/// class AsyncMiddleware:
///     async def __call__(self, request, get_response):
///         response = await get_response(request)
///         return response
/// ```
pub struct AsyncMiddleware;

impl Middleware for AsyncMiddleware {
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
