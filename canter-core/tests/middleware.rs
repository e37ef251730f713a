//! Async middleware: order, changing the request and the response, answering early, tower
//! layers, and the built-ins.

use std::io::Read;
use std::sync::{Arc, Mutex};

use canter_core::middleware::{from_fn, BodyLimit};
use canter_core::prelude::*;
use canter_core::settings::Settings;
use canter_core::test::TestClient;
use http::HeaderValue;

/// Records its name on the way in and out.
struct Trace {
    name: &'static str,
    log: Arc<Mutex<Vec<String>>>,
}

impl Middleware for Trace {
    async fn call(&self, req: Request, next: Next) -> Response {
        self.log.lock().unwrap().push(format!("{} in", self.name));
        let response = next.run(req).await;
        self.log.lock().unwrap().push(format!("{} out", self.name));
        response
    }
}

/// Changes the request (adds a header the view reads) and the response (adds a header).
struct Tag;

impl Middleware for Tag {
    async fn call(&self, mut req: Request, next: Next) -> Response {
        req.headers_mut()
            .insert("x-user", HeaderValue::from_static("ada"));
        let mut response = next.run(req).await;
        response
            .headers_mut()
            .insert("x-tagged", HeaderValue::from_static("yes"));
        response
    }
}

/// Answers without calling the rest of the chain when there is no token.
struct RequireToken;

impl Middleware for RequireToken {
    async fn call(&self, req: Request, next: Next) -> Response {
        if req.headers().get("authorization").is_none() {
            return (StatusCode::UNAUTHORIZED, "token required").into_response();
        }
        next.run(req).await
    }
}

async fn whoami(req: Request) -> String {
    req.headers()
        .get("x-user")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("nobody")
        .to_owned()
}

async fn big(_req: Request) -> String {
    "canter ".repeat(500)
}

async fn boom(_req: Request) -> String {
    panic!("view panic")
}

async fn request_id(req: Request) -> String {
    req.request_id().unwrap_or("none").to_owned()
}

async fn read_body(mut req: Request) -> Result<String> {
    Ok(format!("{} bytes", req.bytes().await?.len()))
}

/// The test settings with the `middleware` setting set to `names`, outermost first.
fn with_middleware(names: &[&str]) -> Settings {
    Settings {
        middleware: names.iter().map(|name| name.to_string()).collect(),
        ..Settings::for_tests()
    }
}

fn urls() -> Vec<canter_core::routing::UrlPattern> {
    vec![
        path("whoami/", whoami),
        path("big/", big),
        path("boom/", boom),
        path("id/", request_id),
        path("body/", read_body),
    ]
}

#[tokio::test]
async fn settings_middleware_is_outermost_then_code_order() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let (l1, l2, l3) = (log.clone(), log.clone(), log.clone());
    let app = App::new()
        .urls(urls())
        .register_middleware("test.outer", move |_s: &Settings| {
            Ok(Trace {
                name: "outer",
                log: l1.clone(),
            })
        })
        .middleware(Trace {
            name: "first",
            log: l2,
        })
        .middleware(Trace {
            name: "second",
            log: l3,
        });
    let settings = with_middleware(&["test.outer"]);
    let client = TestClient::with_settings(app, settings);
    assert_eq!(client.get("/whoami/").await.status(), 200);
    assert_eq!(
        *log.lock().unwrap(),
        vec![
            "outer in",
            "first in",
            "second in",
            "second out",
            "first out",
            "outer out"
        ]
    );
}

#[tokio::test]
async fn middleware_changes_request_and_response() {
    let client = TestClient::new(App::new().urls(urls()).middleware(Tag));
    let r = client.get("/whoami/").await;
    assert_eq!(r.text(), "ada");
    assert_eq!(r.header("x-tagged"), Some("yes"));
    let r = client.get("/nowhere/").await;
    assert_eq!(r.status(), 404);
    assert_eq!(
        r.header("x-tagged"),
        Some("yes"),
        "middleware sees 404s too"
    );
}

#[tokio::test]
async fn middleware_answers_early() {
    let client = TestClient::new(
        App::new()
            .urls(urls())
            .middleware(RequireToken)
            .middleware(Tag),
    );
    let r = client.get("/whoami/").await;
    assert_eq!(r.status(), 401);
    assert_eq!(r.header("x-tagged"), None, "inner middleware never ran");
    let r = client.get("/whoami/").header("authorization", "t").await;
    assert_eq!(r.text(), "ada");
}

#[tokio::test]
async fn middleware_sees_a_500_for_a_panicking_view() {
    let seen = Arc::new(Mutex::new(None));
    let seen2 = seen.clone();
    let app = App::new()
        .urls(urls())
        .middleware(from_fn(move |req, next: Next| {
            let seen = seen2.clone();
            async move {
                let response = next.run(req).await;
                *seen.lock().unwrap() = Some(response.status());
                response
            }
        }));
    let r = TestClient::new(app).get("/boom/").await;
    assert_eq!(r.status(), 500);
    assert_eq!(
        *seen.lock().unwrap(),
        Some(StatusCode::INTERNAL_SERVER_ERROR)
    );
}

#[tokio::test]
async fn a_panicking_middleware_is_a_500() {
    let app = App::new()
        .urls(urls())
        .middleware(from_fn(|_req, _next| async { panic!("middleware bug") }));
    let client = TestClient::new(app);
    let r = client.get("/whoami/").await;
    assert_eq!(r.status(), 500);
}

#[tokio::test]
async fn tower_layers_join_the_chain() {
    let app = App::new()
        .urls(urls())
        .layer(tower::util::MapResponseLayer::new(
            |mut r: http::Response<canter_core::Body>| {
                r.headers_mut()
                    .insert("x-from-tower", HeaderValue::from_static("1"));
                r
            },
        ));
    let r = TestClient::new(app).get("/whoami/").await;
    assert_eq!(r.header("x-from-tower"), Some("1"));
}

#[tokio::test]
async fn request_id_builtin() {
    let settings = with_middleware(&["canter.request_id"]);
    let client = TestClient::with_settings(App::new().urls(urls()), settings);
    let r = client.get("/id/").await;
    assert_eq!(r.text().len(), 36, "a fresh UUID");
    assert_eq!(r.header("x-request-id"), Some(r.text().as_str()));
    let r = client.get("/id/").header("x-request-id", "abc-123").await;
    assert_eq!(r.text(), "abc-123");
    let r = client
        .get("/id/")
        .header("x-request-id", "bad id <script>")
        .await;
    assert_ne!(
        r.text(),
        "bad id <script>",
        "unsafe incoming ids are replaced"
    );
}

#[tokio::test]
async fn security_headers_builtin() {
    let mut settings = with_middleware(&["canter.security"]);
    settings.security.hsts_seconds = 3600;
    let r = TestClient::with_settings(App::new().urls(urls()), settings)
        .get("/whoami/")
        .await;
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(r.header("x-frame-options"), Some("DENY"));
    assert_eq!(r.header("referrer-policy"), Some("same-origin"));
    // As Django: HSTS only on HTTPS responses (here, through the trusted proxy's header).
    assert_eq!(r.header("strict-transport-security"), None);
}

#[tokio::test]
async fn security_https_redirect_proxy_header_and_csp() {
    let mut settings = with_middleware(&["canter.security"]);
    settings.security.hsts_seconds = 3600;
    settings.security.hsts_preload = true;
    settings.security.ssl_redirect = true;
    settings.security.proxy_ssl_header = Some(("X-Forwarded-Proto".into(), "https".into()));
    settings.security.content_security_policy = "default-src 'self'".into();
    let client = TestClient::with_settings(App::new().urls(urls()), settings);
    let r = client.get("/whoami/?a=1").await;
    assert_eq!(r.status(), 301);
    assert_eq!(r.header("location"), Some("https://testserver/whoami/?a=1"));
    let r = client
        .get("/whoami/")
        .header("x-forwarded-proto", "https")
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.header("strict-transport-security"),
        Some("max-age=3600; preload")
    );
    assert_eq!(
        r.header("content-security-policy"),
        Some("default-src 'self'")
    );
    // Another value of the header is not HTTPS.
    let r = client
        .get("/whoami/")
        .header("x-forwarded-proto", "http")
        .await;
    assert_eq!(r.status(), 301);
}

#[tokio::test]
async fn gzip_builtin() {
    let settings = with_middleware(&["canter.gzip"]);
    let client = TestClient::with_settings(App::new().urls(urls()), settings);
    let r = client.get("/big/").header("accept-encoding", "gzip").await;
    assert_eq!(r.header("content-encoding"), Some("gzip"));
    let mut decoded = String::new();
    flate2::read::GzDecoder::new(&r.bytes()[..])
        .read_to_string(&mut decoded)
        .unwrap();
    assert_eq!(decoded, "canter ".repeat(500));
    let r = client.get("/big/").await;
    assert_eq!(
        r.header("content-encoding"),
        None,
        "no Accept-Encoding, no compression"
    );
    let r = client.get("/big/").header("accept-encoding", "br").await;
    assert_eq!(r.header("content-encoding"), Some("br"));
}

/// A request without `Accept-Encoding` skips tower-http's layer (Django's middleware returns
/// early too), and gets what the layer gives a client that accepts no encoding: the same
/// body, and `Vary: accept-encoding` exactly when the response is one the layer compresses.
#[tokio::test]
async fn gzip_without_accept_encoding_matches_the_layer() {
    let settings = with_middleware(&["canter.gzip"]);
    let client = TestClient::with_settings(App::new().urls(urls()), settings);
    for path in ["/big/", "/whoami/"] {
        let skipped = client.get(path).await;
        let layered = client.get(path).header("accept-encoding", "identity").await;
        assert_eq!(skipped.status(), layered.status(), "{path}");
        assert_eq!(skipped.header("content-encoding"), None, "{path}");
        assert_eq!(layered.header("content-encoding"), None, "{path}");
        assert_eq!(skipped.header("vary"), layered.header("vary"), "{path}");
        assert_eq!(skipped.bytes(), layered.bytes(), "{path}");
    }
    assert_eq!(
        client.get("/big/").await.header("vary"),
        Some("accept-encoding"),
        "a compressible response varies on Accept-Encoding"
    );
}

#[tokio::test]
async fn cors_builtin() {
    let mut settings = with_middleware(&["canter.cors"]);
    settings.cors.allowed_origins = vec!["https://app.example".into()];
    let client = TestClient::with_settings(App::new().urls(urls()), settings);
    let r = client
        .options("/whoami/")
        .header("origin", "https://app.example")
        .header("access-control-request-method", "POST")
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("https://app.example")
    );
    assert!(r
        .header("access-control-allow-methods")
        .unwrap()
        .contains("POST"));
    let r = client
        .get("/whoami/")
        .header("origin", "https://evil.example")
        .await;
    assert_eq!(r.header("access-control-allow-origin"), None);
}

#[tokio::test]
async fn body_limits() {
    let settings = Settings {
        server: canter_core::settings::ServerSettings {
            max_body_size: 1000,
            ..Default::default()
        },
        ..Settings::for_tests()
    };
    let client = TestClient::with_settings(App::new().urls(urls()), settings);
    assert_eq!(
        client.post("/body/").body(vec![b'a'; 1000]).await.text(),
        "1000 bytes"
    );
    let r = client.post("/body/").body(vec![b'a'; 1001]).await;
    assert_eq!(r.status(), 413);
    // A multipart body (file uploads) is held to server.max_upload_size instead.
    let multipart = "multipart/form-data; boundary=x";
    let r = client
        .post("/body/")
        .header("content-type", multipart)
        .body(vec![b'a'; 5000])
        .await;
    assert_eq!(r.text(), "5000 bytes");
    let settings = Settings {
        server: canter_core::settings::ServerSettings {
            max_body_size: 1000,
            max_upload_size: 100,
            ..Default::default()
        },
        ..Settings::for_tests()
    };
    let client = TestClient::with_settings(App::new().urls(urls()), settings);
    let r = client
        .post("/body/")
        .header("content-type", multipart)
        .body(vec![b'a'; 101])
        .await;
    assert_eq!(r.status(), 413);
    assert_eq!(
        client.post("/body/").body(vec![b'a'; 101]).await.status(),
        200
    );

    let strict = TestClient::new(App::new().urls(urls()).middleware(BodyLimit::new(10)));
    assert_eq!(strict.post("/body/").body("0123456789").await.status(), 200);
    assert_eq!(
        strict.post("/body/").body("0123456789x").await.status(),
        413
    );
}

#[tokio::test]
async fn logging_builtin_passes_responses_through() {
    let settings = with_middleware(&["canter.request_id", "canter.logging"]);
    let client = TestClient::with_settings(App::new().urls(urls()), settings);
    assert_eq!(client.get("/whoami/").await.text(), "nobody");
    assert_eq!(client.get("/boom/").await.status(), 500);
}

#[test]
fn unknown_middleware_names_are_reported_with_the_key() {
    let settings = with_middleware(&["canter.security", "canter.nope"]);
    let err = App::new().build(settings).err().unwrap().to_string();
    assert!(err.contains("middleware[1]"), "{err}");
    assert!(err.contains("canter.nope"), "{err}");
}

#[test]
fn bad_cors_settings_are_reported() {
    let mut settings = with_middleware(&["canter.cors"]);
    settings.cors.allowed_origins = vec!["*".into()];
    settings.cors.allow_credentials = true;
    let err = App::new().build(settings).err().unwrap().to_string();
    assert!(err.contains("cors.allowed_origins"), "{err}");
}
