//! `canter.logging`: one log line per request with method, path, status and duration (what
//! Django's `django.server` logger prints for runserver).

use std::time::Instant;

use super::{Middleware, Next};
use crate::request::{Request, RequestExt};
use crate::response::Response;

/// Logs every request at INFO on the `canter::request` target (5xx at ERROR, 4xx at WARN).
pub struct RequestLogging;

impl Middleware for RequestLogging {
    async fn call(&self, req: Request, next: Next) -> Response {
        let start = Instant::now();
        let method = req.method().clone();
        let path = req.uri().path().to_owned();
        let request_id = req.request_id().map(str::to_owned).unwrap_or_default();
        let response = next.run(req).await;
        let status = response.status().as_u16();
        let ms = start.elapsed().as_secs_f64() * 1000.0;
        if status >= 500 {
            tracing::error!(target: "canter::request", %method, %path, status, duration_ms = ms, %request_id, "{method} {path} {status} {ms:.2}ms");
        } else if status >= 400 {
            tracing::warn!(target: "canter::request", %method, %path, status, duration_ms = ms, %request_id, "{method} {path} {status} {ms:.2}ms");
        } else {
            tracing::info!(target: "canter::request", %method, %path, status, duration_ms = ms, %request_id, "{method} {path} {status} {ms:.2}ms");
        }
        response
    }
}
