//! `canter.request_id`: every request gets an id (the client's `X-Request-Id` when it is a
//! sane token, else a fresh UUID), readable with `req.request_id()` and echoed in the response.

use http::HeaderValue;

use super::{Middleware, Next};
use crate::request::{Request, RequestId};
use crate::response::Response;

const HEADER: &str = "x-request-id";

/// Gives every request an id (see the module docs); `trust_incoming(false)` always makes a
/// fresh one.
pub struct RequestIdMiddleware {
    trust_incoming: bool,
}

impl Default for RequestIdMiddleware {
    fn default() -> Self {
        Self {
            trust_incoming: true,
        }
    }
}

impl RequestIdMiddleware {
    /// Whether a client's own `X-Request-Id` is kept (the default) or replaced: turn it off
    /// where clients are not trusted to choose the ids that end up in the logs.
    pub fn trust_incoming(mut self, trust: bool) -> Self {
        self.trust_incoming = trust;
        self
    }
}

fn acceptable(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
}

impl Middleware for RequestIdMiddleware {
    async fn call(&self, mut req: Request, next: Next) -> Response {
        let incoming = req
            .headers()
            .get(HEADER)
            .and_then(|v| v.to_str().ok())
            .filter(|id| self.trust_incoming && acceptable(id));
        let id = match incoming {
            Some(id) => id.to_owned(),
            None => uuid::Uuid::new_v4().to_string(),
        };
        req.extensions_mut().insert(RequestId(id.clone()));
        tracing::Span::current().record("request_id", id.as_str());
        let mut response = next.run(req).await;
        if let Ok(value) = HeaderValue::from_str(&id) {
            response.headers_mut().insert(HEADER, value);
        }
        response
    }
}
