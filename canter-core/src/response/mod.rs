//! Responses: anything that is [`IntoResponse`] can be returned by a view, plus Django-named
//! helpers: [`JsonResponse`], [`Html`], [`Redirect`], [`StreamingResponse`], [`FileResponse`].
//!
//! Status and headers compose as tuples: `(StatusCode::CREATED, [("x-kind", "demo")], Json(v))`.

mod file;

pub use axum::response::{Html, IntoResponse, Redirect, Response};
pub use axum::Json;
pub use file::FileResponse;

use bytes::Bytes;
use futures_util::Stream;
use http::{header, HeaderValue, StatusCode};
use serde::Serialize;

use crate::Body;

/// Django's `JsonResponse`: serializes `data` and sets `Content-Type: application/json`.
///
/// ```
/// use canter_core::response::{IntoResponse, JsonResponse};
/// let response = JsonResponse::new(serde_json::json!({"message": "Hello"})).status(201).into_response();
/// assert_eq!(response.status(), 201);
/// ```
pub struct JsonResponse {
    body: Result<Vec<u8>, String>,
    status: StatusCode,
}

impl JsonResponse {
    /// A 200 with `data` as JSON; data that does not serialize becomes a 500 naming why.
    ///
    /// ```
    /// use canter_core::prelude::*;
    /// use canter_core::test::TestClient;
    ///
    /// #[derive(serde::Serialize)]
    /// struct Item { id: i64, name: &'static str }
    ///
    /// async fn items(_req: Request) -> JsonResponse {
    ///     JsonResponse::new(vec![Item { id: 1, name: "tea" }, Item { id: 2, name: "cake" }])
    /// }
    ///
    /// let app = App::new().urls(vec![path("items/", items)]);
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let response = TestClient::new(app).get("/items/").await;
    /// assert_eq!(response.header("content-type"), Some("application/json"));
    /// assert_eq!(response.text(), r#"[{"id":1,"name":"tea"},{"id":2,"name":"cake"}]"#);
    /// # });
    /// ```
    pub fn new<T: Serialize>(data: T) -> Self {
        Self {
            body: serde_json::to_vec(&data).map_err(|e| e.to_string()),
            status: StatusCode::OK,
        }
    }
    /// Sets the status code (panics on a number outside 100..=999, a programming error).
    pub fn status(mut self, status: u16) -> Self {
        self.status = StatusCode::from_u16(status).expect("an HTTP status code");
        self
    }
}

impl IntoResponse for JsonResponse {
    fn into_response(self) -> Response {
        match self.body {
            Ok(bytes) => {
                let mut response = Response::new(Body::from(bytes));
                *response.status_mut() = self.status;
                response.headers_mut().insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                );
                response
            }
            Err(message) => crate::Error::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("response is not serializable to JSON: {message}"),
            )
            .into_response(),
        }
    }
}

/// Django's `StreamingHttpResponse`: a body sent chunk by chunk as the stream yields; the view
/// returns at once. An `Err` item aborts the response (the connection is closed mid-body).
pub struct StreamingResponse<S> {
    stream: S,
    content_type: HeaderValue,
}

impl<S, E> StreamingResponse<S>
where
    S: Stream<Item = Result<Bytes, E>> + Send + 'static,
    E: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    /// A 200 whose body is `stream`'s chunks, `application/octet-stream` unless
    /// [`content_type`](Self::content_type) says otherwise.
    ///
    /// ```
    /// use bytes::Bytes;
    /// use canter_core::prelude::*;
    /// use canter_core::test::TestClient;
    ///
    /// /// A CSV export, written row by row as the client reads it.
    /// async fn export(_req: Request) -> StreamingResponse<impl futures_util::Stream<Item = Result<Bytes, std::io::Error>>> {
    ///     let rows = (1..=3).map(|n| Ok(Bytes::from(format!("{n},item {n}\n"))));
    ///     StreamingResponse::new(futures_util::stream::iter(rows)).content_type("text/csv")
    /// }
    ///
    /// let app = App::new().urls(vec![path("export.csv", export)]);
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let response = TestClient::new(app).get("/export.csv").await;
    /// assert_eq!(response.header("content-type"), Some("text/csv"));
    /// assert_eq!(response.text(), "1,item 1\n2,item 2\n3,item 3\n");
    /// # });
    /// ```
    pub fn new(stream: S) -> Self {
        Self {
            stream,
            content_type: HeaderValue::from_static("application/octet-stream"),
        }
    }
    /// Sets the `Content-Type` (`"text/csv"`, `"text/event-stream"`, …).
    pub fn content_type(mut self, value: &'static str) -> Self {
        self.content_type = HeaderValue::from_static(value);
        self
    }
}

impl<S, E> IntoResponse for StreamingResponse<S>
where
    S: Stream<Item = Result<Bytes, E>> + Send + 'static,
    E: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    fn into_response(self) -> Response {
        let mut response = Response::new(Body::from_stream(self.stream));
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, self.content_type);
        response
    }
}

/// A plain-text response with a status (`text(404, "nope")`).
///
/// ```
/// let response = canter_core::response::text(404, "no such page");
/// assert_eq!(response.status(), 404);
/// assert_eq!(response.headers()["content-type"], "text/plain; charset=utf-8");
/// ```
pub fn text(status: u16, body: impl Into<String>) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, body.into()).into_response()
}

/// Django's `HttpResponseRedirect` (and the `redirect()` shortcut): `302 Found` to
/// `location`. (axum's [`Redirect::to`] is a 303, [`Redirect::temporary`] a 307.)
///
/// ```
/// let response = canter_core::response::redirect("/next/");
/// assert_eq!(response.status(), 302);
/// assert_eq!(response.headers()["location"], "/next/");
/// ```
pub fn redirect(location: &str) -> Response {
    let mut response = http::StatusCode::FOUND.into_response();
    if let Ok(value) = http::HeaderValue::from_str(location) {
        response.headers_mut().insert(http::header::LOCATION, value);
    }
    response
}
