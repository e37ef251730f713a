//! The request body size limit: a declared `Content-Length` over it is answered 413 at once;
//! a chunked body is cut off when it passes the limit, and the reader (an extractor,
//! `req.bytes()`) gets a 413.

use axum::response::IntoResponse;
use http::header;

use super::{Middleware, Next};
use crate::request::Request;
use crate::response::Response;
use crate::{Body, Error};

/// A limit stricter than `server.max_body_size` (which always applies).
pub struct BodyLimit {
    max: usize,
}

impl BodyLimit {
    /// Refuses bodies over `max_bytes` with a 413.
    pub fn new(max_bytes: usize) -> Self {
        Self { max: max_bytes }
    }
}

impl Middleware for BodyLimit {
    async fn call(&self, mut req: Request, next: Next) -> Response {
        match limit_body(&mut req, self.max, self.max) {
            Ok(()) => next.run(req).await,
            Err(response) => response,
        }
    }
}

/// Applies the limit to the request's body in place (the request is not moved: this runs on
/// every request), or answers 413. A `multipart/form-data` body (file uploads) is held to
/// `max_upload` instead of `max`.
// As `Core::check_request`: the Err is the 413 itself, answered at once.
#[allow(clippy::result_large_err)]
pub(crate) fn limit_body(req: &mut Request, max: usize, max_upload: usize) -> Result<(), Response> {
    // A body known to fit (none, or a Content-Length within the limit, which the server holds
    // the client to) needs no header lookup and no counting wrapper.
    if crate::handler::body_within(req, max.min(max_upload) as u64) {
        return Ok(());
    }
    let max = if is_multipart(req) { max_upload } else { max };
    if crate::handler::body_within(req, max as u64) {
        return Ok(());
    }
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if let Some(length) = declared {
        if length > max as u64 {
            return Err(Error::payload_too_large(format!(
                "request body of {length} bytes is over the limit of {max} bytes"
            ))
            .into_response());
        }
    }
    let body = std::mem::take(req.body_mut());
    *req.body_mut() = Body::new(http_body_util::Limited::new(body, max));
    Ok(())
}

/// A `multipart/form-data` body: the form of a file upload.
fn is_multipart(req: &Request) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.trim_start()
                .get(..19)
                .is_some_and(|t| t.eq_ignore_ascii_case("multipart/form-data"))
        })
}
