//! The error a view returns: `Http404`, `PermissionDenied`, `SuspiciousOperation`… and anything
//! else, which becomes a 500.
//!
//! A view returning `Err(error)` does not render the page itself: the error travels in the
//! response's extensions as an [`ErrorReport`] and the core renders it at the view's boundary,
//! knowing the route and `DEBUG`. In DEBUG the page shows the message and its causes; in
//! production it shows only the status, and 5xx errors are logged with the route.

use std::error::Error as StdError;
use std::fmt;
use std::sync::Arc;

use axum::response::{IntoResponse, Response};
use http::StatusCode;

/// `Result<T, canter::Error>`, the return type of fallible views.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// An HTTP-shaped error. `?` turns any `std::error::Error` into a 500.
///
/// ```
/// use canter_core::Error;
/// let e = Error::not_found("No article for 2024/hello");
/// assert_eq!(e.status(), 404);
/// ```
pub struct Error {
    status: StatusCode,
    message: String,
    source: Option<Box<dyn StdError + Send + Sync + 'static>>,
}

impl Error {
    /// An error with any status and a message (shown to the client only in DEBUG).
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            source: None,
        }
    }
    /// Django's `Http404`.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }
    /// Django's `SuspiciousOperation` / `BadRequest`: 400.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }
    /// Django's `PermissionDenied`: 403.
    pub fn permission_denied(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, message)
    }
    /// 413, for bodies over the configured limit.
    pub fn payload_too_large(message: impl Into<String>) -> Self {
        Self::new(StatusCode::PAYLOAD_TOO_LARGE, message)
    }
    /// A 500 wrapping the error that caused it.
    pub fn internal<E: StdError + Send + Sync + 'static>(source: E) -> Self {
        Self {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            message: source.to_string(),
            source: Some(Box::new(source)),
        }
    }
    /// The same error with another status.
    pub fn with_status(mut self, status: StatusCode) -> Self {
        self.status = status;
        self
    }
    /// The response's status.
    pub fn status(&self) -> StatusCode {
        self.status
    }
    /// What went wrong, as the DEBUG page and the logs show it.
    pub fn message(&self) -> &str {
        &self.message
    }
    /// The chain of causes, outermost first, for logs and the DEBUG page.
    pub fn causes(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut next: Option<&(dyn StdError + 'static)> = match &self.source {
            Some(s) => s.source(),
            None => None,
        };
        while let Some(err) = next {
            out.push(err.to_string());
            next = err.source();
        }
        out
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Error")
            .field("status", &self.status)
            .field("message", &self.message)
            .field("source", &self.source)
            .finish()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.status.as_u16(), self.message)
    }
}

impl<E: StdError + Send + Sync + 'static> From<E> for Error {
    fn from(source: E) -> Self {
        Error::internal(source)
    }
}

/// What a failed view left for the core to render and log; see the module docs.
#[derive(Clone, Debug)]
pub struct ErrorReport {
    /// The response's status.
    pub status: StatusCode,
    /// The error's message (or the panic's).
    pub message: String,
    /// The error's chain of causes, outermost first ([`Error::causes`]).
    pub causes: Vec<String>,
    /// Set when the view panicked rather than returned an error.
    pub panicked: bool,
}

impl ErrorReport {
    /// The 500 for a panic: a message, no error chain.
    pub(crate) fn panic(message: String) -> Self {
        Self {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            message,
            causes: vec![],
            panicked: true,
        }
    }
}

/// Marks a response whose body the core must render (an error page). Shared so the response
/// stays cheap to clone through middleware.
#[derive(Clone, Debug)]
pub(crate) struct PendingErrorPage(pub Arc<ErrorReport>);

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let report = ErrorReport {
            status: self.status,
            causes: self.causes(),
            message: self.message,
            panicked: false,
        };
        report_response(report)
    }
}

pub(crate) fn report_response(report: ErrorReport) -> Response {
    let mut response = report.status.into_response();
    response
        .extensions_mut()
        .insert(PendingErrorPage(Arc::new(report)));
    response
}
