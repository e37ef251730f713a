//! CSRF: each hostile case of issue 15 is a 403 that changes nothing.

use crate::common::{site, FAST};

async fn session_value(client: &canter_core::test::TestClient) -> serde_json::Value {
    client.get("/session/get/").await.json()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsafe_requests_without_a_good_token_or_origin_are_403_and_change_nothing() {
    let site = site(FAST).await;
    let client = &site.client;
    let token = client.get("/token/").await.text();
    assert_eq!(token.len(), 64);
    // Without a token.
    let r = client.post("/session/set/").form(&[("k", "v")]).await;
    assert_eq!(r.status(), 403);
    assert!(r.text().contains("CSRF token missing."), "{}", r.text());
    // With another session's token (another browser's cookie and page).
    let other = site.other_client();
    let foreign = other.get("/token/").await.text();
    let r = client
        .post("/session/set/")
        .form(&[("k", "v"), ("csrfmiddlewaretoken", &foreign)])
        .await;
    assert_eq!(r.status(), 403);
    assert!(r.text().contains("CSRF token from POST incorrect."));
    // With a wrong Origin (and a good token).
    let r = client
        .post("/session/set/")
        .header("origin", "http://evil.example")
        .form(&[("k", "v"), ("csrfmiddlewaretoken", &token)])
        .await;
    assert_eq!(r.status(), 403);
    assert!(r.text().contains(
        "Origin checking failed - http://evil.example does not match any trusted origins."
    ));
    // Without the cookie.
    let r = site
        .other_client()
        .post("/session/set/")
        .header("cookie", "")
        .form(&[("k", "v"), ("csrfmiddlewaretoken", &token)])
        .await;
    assert!(r.text().contains("CSRF cookie not set."), "{}", r.text());
    // A malformed token.
    let r = client
        .post("/session/set/")
        .form(&[("k", "v"), ("csrfmiddlewaretoken", "<script>")])
        .await;
    assert!(r
        .text()
        .contains("CSRF token from POST has incorrect length."));
    assert!(!r.text().contains("<script>"));
    assert_eq!(
        session_value(client).await,
        serde_json::json!({}),
        "nothing changed"
    );
    // The right token, in the field, the header (masked or the raw cookie), from the host.
    let r = client
        .post("/session/set/")
        .header("origin", "http://testserver")
        .form(&[("k", "v"), ("csrfmiddlewaretoken", &token)])
        .await;
    assert_eq!(r.status(), 200, "{}", r.text());
    let r = client
        .post("/session/set/")
        .header("x-csrftoken", &token)
        .body("k=w")
        .await;
    assert_eq!(r.status(), 200, "{}", r.text());
    let raw = client.cookie("csrftoken").unwrap();
    let r = client
        .put("/session/set/")
        .header("x-csrftoken", &raw)
        .await;
    assert_eq!(r.status(), 200);
    let r = client
        .put("/session/set/")
        .header("x-csrftoken", &"a".repeat(64))
        .await;
    assert!(r
        .text()
        .contains("CSRF token from the 'X-Csrftoken' HTTP header incorrect."));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exempt_routes_trusted_origins_and_https_referers() {
    let site = site(&format!(
        "{FAST}[csrf]\ntrusted_origins = [\"https://*.example.com\"]\n[security]\nproxy_ssl_header = [\"X-Forwarded-Proto\", \"https\"]\n"
    ))
    .await;
    let client = &site.client;
    let r = client.post("/api/echo/").body("hi").await;
    assert_eq!(r.status(), 200, "an exempt API view");
    assert_eq!(r.text(), "hi");
    let token = client.get("/token/").await.text();
    let post = |origin: Option<&'static str>, referer: Option<&'static str>| {
        let mut request = client
            .post("/session/set/")
            .header("x-forwarded-proto", "https")
            .header("x-csrftoken", &token);
        if let Some(origin) = origin {
            request = request.header("origin", origin);
        }
        if let Some(referer) = referer {
            request = request.header("referer", referer);
        }
        request.body("a=1")
    };
    assert_eq!(
        post(Some("https://app.example.com"), None).await.status(),
        200
    );
    assert_eq!(post(Some("https://testserver"), None).await.status(), 200);
    let r = post(None, None).await;
    assert!(r.text().contains("Referer checking failed - no Referer."));
    let r = post(None, Some("http://testserver/")).await;
    assert!(r
        .text()
        .contains("Referer is insecure while host is secure."));
    let r = post(None, Some("https://evil.org/x")).await;
    assert!(r.text().contains("does not match any trusted origins"));
    assert_eq!(
        post(None, Some("https://testserver/form/")).await.status(),
        200
    );
    assert_eq!(
        post(None, Some("https://a.example.com/")).await.status(),
        200
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outside_debug_the_403_says_no_reason_and_old_tokens_die_at_login() {
    let site = site(FAST).await;
    let client = &site.client;
    let token = client.get("/token/").await.text();
    site.user("ann", 1000).await;
    let r = client
        .post("/login/")
        .form(&[
            ("username", "ann"),
            ("password", crate::common::PASSWORD),
            ("csrfmiddlewaretoken", &token),
        ])
        .await;
    assert_eq!(r.status(), 302);
    let r = client
        .post("/session/set/")
        .form(&[("k", "v"), ("csrfmiddlewaretoken", &token)])
        .await;
    assert_eq!(r.status(), 403, "a token of the secret before login");
    let quiet = canter_core::test::TestClient::start_with_settings(crate::common::app(), {
        let mut s = crate::common::settings(FAST);
        s.debug = false;
        s
    })
    .await;
    let r = quiet.post("/session/set/").await;
    assert_eq!(r.status(), 403);
    assert!(r.text().contains("CSRF verification failed."));
    assert!(!r.text().contains("Reason"), "{}", r.text());
}
