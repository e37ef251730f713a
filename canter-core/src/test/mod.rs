//! Testing: an in-process [`TestClient`] (Django's `Client`: no socket, the whole middleware
//! chain) and a [`LiveServer`] on an ephemeral port for tests that need a real socket
//! (Django's `LiveServerTestCase`).
//!
//! ```
//! use canter_core::prelude::*;
//! use canter_core::test::TestClient;
//!
//! async fn echo(Json(value): Json<serde_json::Value>) -> Json<serde_json::Value> {
//!     Json(value)
//! }
//!
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! let client = TestClient::new(App::new().urls(vec![path("echo/", echo)]));
//! let response = client.post_json("/echo/", &serde_json::json!({"a": 1})).await;
//! assert_eq!(response.status(), 200);
//! assert_eq!(response.json::<serde_json::Value>()["a"], 1);
//! let response = client.post("/echo/").header("content-type", "application/json").body("{oops").await;
//! assert_eq!(response.status(), 400);
//! # });
//! ```

mod jar;
mod live;
mod logs;
pub mod skips;

pub use live::LiveServer;
pub use logs::CapturedLogs;

use jar::CookieJar;

use std::future::{Future, IntoFuture};
use std::pin::Pin;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use http_body_util::BodyExt;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::app::{App, CanterService};
use crate::settings::Settings;
use crate::Body;

/// [`App::start`] for a test: the app as its plugins start it, or a panic saying why not.
async fn start_or_panic(app: App, settings: Settings) -> crate::app::StartedApp {
    app.start(settings)
        .await
        .unwrap_or_else(|e| panic!("the app does not start: {e}"))
}

/// Calls the app in-process, through host checks, middleware, routing and error pages.
///
/// Like Django's, it keeps the cookies responses set and sends them back ([`cookie`](Self::cookie),
/// [`set_cookie`](Self::set_cookie)); clones share them. [`TestRequest::follow`] follows redirects.
#[derive(Clone)]
pub struct TestClient {
    service: CanterService,
    cookies: CookieJar,
}

impl TestClient {
    /// Builds `app` with [`App::test_settings`] (its own settings, `testserver` allowed).
    /// Panics if the app does not build.
    pub fn new(app: App) -> Self {
        let settings = app.test_settings();
        Self::with_settings(app, settings)
    }

    /// Builds `app` with these settings (add `"testserver"` to `allowed_hosts`).
    pub fn with_settings(app: App, settings: Settings) -> Self {
        let service = app
            .build(settings)
            .unwrap_or_else(|e| panic!("the app does not build: {e}"));
        Self {
            service,
            cookies: CookieJar::default(),
        }
    }

    /// Starts `app` as a test runs it ([`App::start`]: its plugins' databases, broker and
    /// channel layer) with [`App::test_settings`]. Panics if it does not start.
    pub async fn start(app: App) -> Self {
        let settings = app.test_settings();
        Self::start_with_settings(app, settings).await
    }

    /// [`start`](Self::start) with these settings (add `"testserver"` to `allowed_hosts`).
    pub async fn start_with_settings(app: App, settings: Settings) -> Self {
        let started = start_or_panic(app, settings).await;
        Self {
            service: started.service().clone(),
            cookies: CookieJar::default(),
        }
    }

    /// A client of `service` (an app started elsewhere), with no cookies.
    pub fn from_service(service: CanterService) -> Self {
        Self {
            service,
            cookies: CookieJar::default(),
        }
    }

    /// The value of a cookie the client holds.
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.cookies.get(name)
    }

    /// Sets a cookie the client sends from now on.
    pub fn set_cookie(&self, name: &str, value: &str) {
        self.cookies.set(name, value);
    }

    /// Forgets cookie `name`.
    pub fn remove_cookie(&self, name: &str) {
        self.cookies.remove(name);
    }

    /// Forgets every cookie.
    pub fn clear_cookies(&self) {
        self.cookies.clear();
    }

    /// The built app the client calls (its settings, resolver and services).
    pub fn service(&self) -> &CanterService {
        &self.service
    }

    /// Runs `future` inside the app's scope (a test's own `delay()`, `channel_layer()`,
    /// queries, as the app's views run them).
    pub fn scope<F: Future>(&self, future: F) -> canter_kernel::services::Scoped<F> {
        self.service.services().scope(future)
    }

    /// A request with any method to `path` (with its query string), `Host: testserver`;
    /// the helpers below name the usual methods.
    pub fn request(&self, method: Method, path: &str) -> TestRequest {
        TestRequest {
            service: self.service.clone(),
            cookies: self.cookies.clone(),
            builder: http::Request::builder()
                .method(method)
                .uri(path)
                .header(http::header::HOST, "testserver"),
            body: Body::empty(),
            follow: false,
        }
    }
    /// `GET path`: add headers and a body, then `.await` it.
    pub fn get(&self, path: &str) -> TestRequest {
        self.request(Method::GET, path)
    }
    /// `HEAD path`: add headers and a body, then `.await` it.
    pub fn head(&self, path: &str) -> TestRequest {
        self.request(Method::HEAD, path)
    }
    /// `POST path`: add headers and a body, then `.await` it.
    pub fn post(&self, path: &str) -> TestRequest {
        self.request(Method::POST, path)
    }
    /// `PUT path`: add headers and a body, then `.await` it.
    pub fn put(&self, path: &str) -> TestRequest {
        self.request(Method::PUT, path)
    }
    /// `PATCH path`: add headers and a body, then `.await` it.
    pub fn patch(&self, path: &str) -> TestRequest {
        self.request(Method::PATCH, path)
    }
    /// `DELETE path`: add headers and a body, then `.await` it.
    pub fn delete(&self, path: &str) -> TestRequest {
        self.request(Method::DELETE, path)
    }
    /// `OPTIONS path`: add headers and a body, then `.await` it.
    pub fn options(&self, path: &str) -> TestRequest {
        self.request(Method::OPTIONS, path)
    }
    /// `POST` with a JSON body and `Content-Type: application/json`.
    pub fn post_json<T: Serialize>(&self, path: &str, value: &T) -> TestRequest {
        self.post(path).json(value)
    }
}

/// A request being built; `.await` it to send.
pub struct TestRequest {
    service: CanterService,
    cookies: CookieJar,
    builder: http::request::Builder,
    body: Body,
    follow: bool,
}

/// Redirects followed at most (Django's client stops a loop the same way).
const MAX_REDIRECTS: usize = 20;

impl TestRequest {
    /// Sets a header (replacing `Host` if given).
    pub fn header(mut self, name: &str, value: &str) -> Self {
        let name = HeaderName::from_bytes(name.as_bytes()).expect("a valid header name");
        let value = HeaderValue::from_str(value).expect("a valid header value");
        if let Some(headers) = self.builder.headers_mut() {
            headers.insert(name, value);
        }
        self
    }
    /// Sets the body (bytes, a string, or any [`Body`]).
    pub fn body(mut self, body: impl Into<Body>) -> Self {
        self.body = body.into();
        self
    }
    /// `value` as a JSON body, with `Content-Type: application/json`.
    pub fn json<T: Serialize>(self, value: &T) -> Self {
        let bytes = serde_json::to_vec(value).expect("serializable test data");
        self.header("content-type", "application/json").body(bytes)
    }
    /// An urlencoded form body (`a=1&b=2`), as a browser posts a form without files.
    pub fn form(self, pairs: &[(&str, &str)]) -> Self {
        let encoded: Vec<String> = pairs
            .iter()
            .map(|(k, v)| {
                format!(
                    "{}={}",
                    crate::routing::percent_encode_path(k),
                    crate::routing::percent_encode_path(v)
                )
            })
            .collect();
        self.header("content-type", "application/x-www-form-urlencoded")
            .body(encoded.join("&"))
    }

    /// A `multipart/form-data` body, as a browser sends a form with files: `fields` as text
    /// parts, `files` as `(field, file name, content)` parts (Django's test client posts this
    /// way by default).
    pub fn multipart(self, fields: &[(&str, &str)], files: &[(&str, &str, &[u8])]) -> Self {
        const BOUNDARY: &str = "canter-test-boundary-7MA4YWxkTrZu0gW";
        let mut body = Vec::new();
        for (name, value) in fields {
            body.extend_from_slice(
                format!(
                    "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
                )
                .as_bytes(),
            );
        }
        for (name, file_name, content) in files {
            body.extend_from_slice(
                format!(
                    "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{file_name}\"\r\n\
                     Content-Type: application/octet-stream\r\n\r\n"
                )
                .as_bytes(),
            );
            body.extend_from_slice(content);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
        self.header(
            "content-type",
            &format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .body(body)
    }

    /// Follows redirects (Django's `follow=True`): the response is the last one, and
    /// [`TestResponse::redirect_chain`] lists the hops. A 301, 302 or 303 turns the request
    /// into a `GET` without a body; 307 and 308 keep the method (with no body: the test
    /// client does not resend it).
    pub fn follow(mut self, follow: bool) -> Self {
        self.follow = follow;
        self
    }

    async fn send(self) -> TestResponse {
        let follow = self.follow;
        let request = self.builder.body(self.body).expect("a valid test request");
        let (method, mut headers) = (request.method().clone(), request.headers().clone());
        let mut response = send_one(&self.service, &self.cookies, request).await;
        let mut chain = Vec::new();
        let mut method = method;
        while follow && response.status.is_redirection() && chain.len() < MAX_REDIRECTS {
            let Some(location) = response.header("location").map(str::to_owned) else {
                break;
            };
            chain.push((location.clone(), response.status));
            if !matches!(response.status.as_u16(), 307 | 308) {
                method = Method::GET;
                headers.remove(http::header::CONTENT_TYPE);
            }
            let mut next = http::Request::new(Body::empty());
            *next.method_mut() = method.clone();
            *next.uri_mut() = local_path(&location).parse().expect("a redirect location");
            *next.headers_mut() = headers.clone();
            response = send_one(&self.service, &self.cookies, next).await;
        }
        response.redirect_chain = chain;
        response
    }
}

/// A redirect's location as a path on the test server (`http://testserver/x/` → `/x/`).
fn local_path(location: &str) -> &str {
    for scheme in ["http://", "https://"] {
        if let Some(rest) = location.strip_prefix(scheme) {
            return rest.find('/').map(|i| &rest[i..]).unwrap_or("/");
        }
    }
    location
}

/// Sends one request with the jar's cookies (unless the test set a `Cookie` header itself),
/// and keeps the cookies of the response.
async fn send_one(
    service: &CanterService,
    cookies: &CookieJar,
    mut request: crate::Request,
) -> TestResponse {
    if !request.headers().contains_key(http::header::COOKIE) {
        if let Some(header) = cookies
            .header()
            .and_then(|h| HeaderValue::from_str(&h).ok())
        {
            request.headers_mut().insert(http::header::COOKIE, header);
        }
    }
    let response = service.handle(request).await;
    let (parts, body) = response.into_parts();
    cookies.update(&parts.headers);
    let body = body
        .collect()
        .await
        .map(|c| c.to_bytes())
        .unwrap_or_default();
    TestResponse {
        status: parts.status,
        headers: parts.headers,
        body,
        redirect_chain: Vec::new(),
    }
}

impl IntoFuture for TestRequest {
    type Output = TestResponse;
    type IntoFuture = Pin<Box<dyn Future<Output = TestResponse> + Send>>;
    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.send())
    }
}

/// A finished response, body read.
#[derive(Debug)]
pub struct TestResponse {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
    redirect_chain: Vec<(String, StatusCode)>,
}

impl TestResponse {
    /// The response's status.
    pub fn status(&self) -> StatusCode {
        self.status
    }
    /// Every header of the response.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }
    /// A header as text (`None` if absent or not text).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
    /// The body, as received.
    pub fn bytes(&self) -> &Bytes {
        &self.body
    }
    /// The redirects followed to get here (location and status each), with
    /// [`TestRequest::follow`]; empty otherwise.
    pub fn redirect_chain(&self) -> &[(String, StatusCode)] {
        &self.redirect_chain
    }
    /// The cookies this response sets (name and value; a deletion has an empty value).
    pub fn set_cookies(&self) -> Vec<crate::cookies::Cookie<'static>> {
        self.headers
            .get_all(http::header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .filter_map(|text| crate::cookies::Cookie::parse(text.to_owned()).ok())
            .collect()
    }
    /// The body as text (invalid UTF-8 replaced).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    /// The body as JSON; panics with the body shown if it is not.
    pub fn json<T: DeserializeOwned>(&self) -> T {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("response is not the expected JSON ({e}): {}", self.text()))
    }
}

/// The URL of an external service a test needs (`DATABASE_URL`, `REDIS_URL`, …).
///
/// Present → `Some(url)`. Absent → the test should return early: this prints why it is
/// skipped, and returns `None` — unless `CANTER_REQUIRE_SERVICES=1` (set by `.ci/run`), where a
/// missing service is a failure, not a skip.
///
/// ```
/// # fn test() {
/// let Some(url) = canter_core::test::require_service("DATABASE_URL") else { return };
/// # }
/// ```
pub fn require_service(variable: &str) -> Option<String> {
    match std::env::var(variable) {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ => {
            let required = std::env::var("CANTER_REQUIRE_SERVICES")
                .map(|v| v == "1" || v == "true")
                .unwrap_or(false);
            if required {
                panic!("{variable} is not set and CANTER_REQUIRE_SERVICES=1: this test needs that service");
            }
            eprintln!(
                "skipped: {variable} is not set (set it to run this test against a real service)"
            );
            skips::record(&format!("{variable} is not set"));
            None
        }
    }
}

/// A free TCP port on 127.0.0.1 (for a service a test starts itself).
pub fn spare_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port on 127.0.0.1")
}

/// A `redis-server` of the test's own on a spare port (never the machine's: tests that stop
/// or restart Redis use one of these), stopped when dropped.
pub struct RedisServer {
    child: std::process::Child,
    /// The port it listens on (127.0.0.1).
    pub port: u16,
}

impl RedisServer {
    /// Whether `redis-server` can be run here. Without it the test should return early: this
    /// prints why it is skipped, or panics under `CANTER_REQUIRE_SERVICES=1`.
    pub fn available() -> bool {
        if std::process::Command::new("redis-server")
            .arg("--version")
            .output()
            .is_ok()
        {
            return true;
        }
        if std::env::var("CANTER_REQUIRE_SERVICES").as_deref() == Ok("1") {
            panic!("redis-server is not installed and CANTER_REQUIRE_SERVICES=1");
        }
        eprintln!("skipped: redis-server is not installed");
        skips::record("redis-server is not installed");
        false
    }

    /// Starts one on `port` with `args` added (e.g. `--appendonly yes --dir DIR` to keep data
    /// across a restart; by default it keeps nothing) and waits until it accepts connections.
    pub fn start(port: u16, args: &[&str]) -> RedisServer {
        let child = std::process::Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
            ])
            .args(args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("redis-server starts");
        let server = RedisServer { child, port }; // stopped however the test ends
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return server;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        panic!("redis-server did not start on port {port}");
    }

    /// `redis://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
