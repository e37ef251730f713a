//! Views: function views with the whole request or typed pieces, response helpers, errors
//! (Http404, a view's `Err`, a panic) and class-based views.

use std::collections::HashMap;
use std::time::Duration;

use bytes::Bytes;
use canter_core::prelude::*;
use canter_core::settings::Settings;
use canter_core::test::TestClient;
use serde::Deserialize;
use serde_json::{json, Value};

async fn whole_request(req: Request) -> JsonResponse {
    JsonResponse::new(json!({
        "method": req.method().as_str(),
        "path": req.path(),
        "q": req.query_param("q"),
        "route": req.route_name(),
    }))
}

async fn typed(
    Path((year, slug)): Path<(i64, String)>,
    Query(query): Query<HashMap<String, String>>,
) -> JsonResponse {
    JsonResponse::new(json!({"year": year, "slug": slug, "query": query}))
}

#[derive(Deserialize)]
struct Item {
    name: String,
    qty: u32,
}

async fn create(Json(item): Json<Item>) -> (StatusCode, Json<Value>) {
    (
        StatusCode::CREATED,
        Json(json!({"name": item.name, "qty": item.qty})),
    )
}

async fn form(Form(data): Form<HashMap<String, String>>) -> String {
    format!("hello {}", data.get("who").cloned().unwrap_or_default())
}

struct Counter(std::sync::atomic::AtomicU64);

async fn counter(State(counter): State<Counter>) -> String {
    let n = counter.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
    n.to_string()
}

async fn missing_state(State(_missing): State<String>) -> &'static str {
    "unreachable"
}

async fn not_found(_req: Request) -> Result<String> {
    Err(Error::not_found("no article with that secret id 42"))
}

#[derive(Debug, thiserror::Error)]
#[error("database exploded: secret dsn postgres://user:pw@db")]
struct Boom;

async fn failing(_req: Request) -> Result<String> {
    Err(Boom)?
}

async fn panicking(_req: Request) -> String {
    panic!("view panicked on purpose")
}

async fn redirect(_req: Request) -> Redirect {
    Redirect::to("/target/")
}

async fn html(_req: Request) -> Html<&'static str> {
    Html("<p>hi</p>")
}

async fn streaming(_req: Request) -> impl IntoResponse {
    let stream = futures_util::stream::iter(
        (0..3).map(|i| Ok::<_, std::io::Error>(Bytes::from(format!("part{i};")))),
    );
    StreamingResponse::new(stream).content_type("text/plain")
}

async fn file(Query(q): Query<HashMap<String, String>>) -> Result<FileResponse> {
    let path = q.get("path").cloned().unwrap_or_default();
    Ok(FileResponse::open(path).await?.as_attachment("report.txt"))
}

async fn body_echo(mut req: Request) -> Result<String> {
    let text = req.text().await?;
    Ok(format!("{} bytes", text.len()))
}

async fn json_method(mut req: Request) -> Result<JsonResponse> {
    let value: Value = req.json().await?;
    Ok(JsonResponse::new(json!({"got": value})).status(202))
}

async fn params(req: Request) -> Result<String> {
    let id: uuid::Uuid = req.param("id")?;
    Ok(id.to_string())
}

async fn bridge(_req: Request) -> Result<String> {
    let value = sync_to_async(|| {
        std::thread::sleep(Duration::from_millis(5));
        7
    })
    .await?;
    Ok(value.to_string())
}

fn app() -> App {
    App::new()
        .state(Counter(std::sync::atomic::AtomicU64::new(0)))
        .urls(vec![
            path("whole/", whole_request).name("whole"),
            path("typed/<int:year>/<slug:slug>/", typed),
            path("items/", create),
            path("form/", form),
            path("counter/", counter),
            path("missing-state/", missing_state),
            path("not-found/", not_found),
            path("failing/", failing),
            path("panicking/", panicking),
            path("redirect/", redirect),
            path("html/", html),
            path("stream/", streaming),
            path("file/", file),
            path("body/", body_echo),
            path("json/", json_method),
            path("uuid/<uuid:id>/", params),
            path("bridge/", bridge),
        ])
}

fn production() -> Settings {
    Settings {
        debug: false,
        secret_key: Some("x".repeat(50)),
        allowed_hosts: vec!["testserver".into()],
        ..Settings::default()
    }
}

#[tokio::test]
async fn a_view_takes_the_whole_request() {
    let client = TestClient::new(app());
    let r = client.get("/whole/?q=caf%C3%A9+au+lait").await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(
        r.json::<Value>(),
        json!({"method": "GET", "path": "/whole/", "q": "café au lait", "route": "whole"})
    );
}

#[tokio::test]
async fn typed_pieces_path_query_json_form_state() {
    let client = TestClient::new(app());
    let r = client.get("/typed/2024/hello-world/?a=1").await;
    assert_eq!(
        r.json::<Value>(),
        json!({"year": 2024, "slug": "hello-world", "query": {"a": "1"}})
    );

    let r = client
        .post_json("/items/", &json!({"name": "pen", "qty": 3}))
        .await;
    assert_eq!(r.status(), 201);
    assert_eq!(r.json::<Value>(), json!({"name": "pen", "qty": 3}));

    let r = client.post("/form/").form(&[("who", "ada lovelace")]).await;
    assert_eq!(r.text(), "hello ada lovelace");

    assert_eq!(client.get("/counter/").await.text(), "1");
    assert_eq!(client.get("/counter/").await.text(), "2");

    let r = client
        .get("/uuid/6ba7b810-9dad-11d1-80b4-00c04fd430c8/")
        .await;
    assert_eq!(r.text(), "6ba7b810-9dad-11d1-80b4-00c04fd430c8");
}

#[tokio::test]
async fn json_input_errors_are_client_errors() {
    let client = TestClient::new(app());
    let r = client
        .post("/items/")
        .header("content-type", "application/json")
        .body("{\"name\": ")
        .await;
    assert_eq!(r.status(), 400, "{}", r.text());
    assert!(r.text().contains("JSON"), "{}", r.text());
    let r = client.post_json("/items/", &json!({"name": "pen"})).await;
    assert_eq!(r.status(), 422, "missing field: {}", r.text());
    assert!(r.text().contains("qty"));
    let r = client.post("/items/").body("{}").await;
    assert_eq!(r.status(), 415, "no content type");
    let r = client.post("/json/").body("not json").await;
    assert_eq!(r.status(), 400);
    assert!(r.text().contains("invalid JSON"), "{}", r.text());
    let r = client.post("/json/").body("[1,2]").await;
    assert_eq!(r.status(), 202);
    assert_eq!(r.json::<Value>(), json!({"got": [1, 2]}));
    let r = client.post("/body/").body(vec![0xff, 0xfe]).await;
    assert_eq!(r.status(), 400, "invalid UTF-8 body for a text view");
}

#[tokio::test]
async fn http404_from_a_view() {
    let debug = TestClient::new(app());
    let r = debug.get("/not-found/").await;
    assert_eq!(r.status(), 404);
    assert!(
        r.text().contains("no article with that secret id 42"),
        "debug shows the message"
    );

    let prod = TestClient::with_settings(app(), production());
    let r = prod.get("/not-found/").await;
    assert_eq!(r.status(), 404);
    assert!(
        !r.text().contains("secret id"),
        "production hides the message: {}",
        r.text()
    );
    assert!(r.text().contains("Not Found"));
}

#[tokio::test]
async fn a_views_error_is_a_500_with_details_only_in_debug() {
    let debug = TestClient::new(app());
    let r = debug.get("/failing/").await;
    assert_eq!(r.status(), 500);
    assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
    assert!(r.text().contains("database exploded"));
    assert!(r.text().contains("failing"), "names the view");

    let prod = TestClient::with_settings(app(), production());
    let r = prod.get("/failing/").await;
    assert_eq!(r.status(), 500);
    assert!(!r.text().contains("secret dsn"), "{}", r.text());
    assert!(!r.text().contains("views.rs"));
    assert!(r.text().contains("Server Error (500)"));
}

#[tokio::test]
async fn a_panicking_view_is_a_500_and_the_app_keeps_serving() {
    let client = TestClient::with_settings(app(), production());
    let r = client.get("/panicking/").await;
    assert_eq!(r.status(), 500);
    assert!(!r.text().contains("on purpose"));
    assert_eq!(client.get("/counter/").await.status(), 200);
}

#[tokio::test]
async fn missing_state_is_a_clear_500() {
    let r = TestClient::new(app()).get("/missing-state/").await;
    assert_eq!(r.status(), 500);
    assert!(r.text().contains("App::state"), "{}", r.text());
}

#[tokio::test]
async fn response_helpers() {
    let client = TestClient::new(app());
    let r = client.get("/redirect/").await;
    assert_eq!(r.status(), 303);
    assert_eq!(r.header("location"), Some("/target/"));

    let r = client.get("/html/").await;
    assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
    assert_eq!(r.text(), "<p>hi</p>");

    let r = client.get("/stream/").await;
    assert_eq!(r.text(), "part0;part1;part2;");
    assert_eq!(r.header("content-type"), Some("text/plain"));

    let file = std::env::temp_dir().join(format!("canter-file-{}.txt", std::process::id()));
    std::fs::write(&file, "x".repeat(200_000)).unwrap();
    let r = client.get(&format!("/file/?path={}", file.display())).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.bytes().len(), 200_000);
    assert_eq!(r.header("content-type"), Some("text/plain; charset=utf-8"));
    assert_eq!(
        r.header("content-disposition"),
        Some("attachment; filename=\"report.txt\"")
    );
    std::fs::remove_file(&file).unwrap();
    let r = client.get("/file/?path=/definitely/not/here.txt").await;
    assert_eq!(r.status(), 404);
}

#[tokio::test]
async fn sync_to_async_in_a_view() {
    assert_eq!(TestClient::new(app()).get("/bridge/").await.text(), "7");
}

// ---- class-based views ----

struct Article {
    title: &'static str,
}

#[view(crate = canter_core)]
impl Article {
    async fn get(&self, req: Request) -> Result<String> {
        let id: i64 = req.param("id")?;
        Ok(format!("{} #{id}", self.title))
    }

    async fn put(&self, mut req: Request) -> Result<JsonResponse> {
        let body: Value = req.json().await?;
        Ok(JsonResponse::new(json!({"updated": body})))
    }

    async fn delete(&self, _req: Request) -> StatusCode {
        StatusCode::NO_CONTENT
    }
}

struct PostOnly;

#[view(crate = canter_core)]
impl PostOnly {
    async fn post(&self, _req: Request) -> &'static str {
        "posted"
    }
}

fn cbv_app() -> App {
    App::new().urls(vec![
        path(
            "articles/<int:id>/",
            Article {
                title: "Async Django",
            }
            .as_view(),
        )
        .name("article"),
        path("post-only/", PostOnly.as_view()),
    ])
}

#[tokio::test]
async fn class_based_views_dispatch_by_method() {
    let client = TestClient::new(cbv_app());
    assert_eq!(client.get("/articles/3/").await.text(), "Async Django #3");
    let r = client.put("/articles/3/").json(&json!({"t": 1})).await;
    assert_eq!(r.json::<Value>(), json!({"updated": {"t": 1}}));
    assert_eq!(client.delete("/articles/3/").await.status(), 204);
    let r = client.head("/articles/3/").await;
    assert_eq!(r.status(), 200, "HEAD falls back to get");
}

#[tokio::test]
async fn class_based_views_answer_405_with_allow() {
    let client = TestClient::new(cbv_app());
    let r = client.post("/articles/3/").await;
    assert_eq!(r.status(), 405);
    assert_eq!(r.header("allow"), Some("GET, PUT, DELETE, HEAD, OPTIONS"));
    let r = client.patch("/articles/3/").await;
    assert_eq!(r.status(), 405);

    let r = client.options("/articles/3/").await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.header("allow"), Some("GET, PUT, DELETE, HEAD, OPTIONS"));

    let r = client.get("/post-only/").await;
    assert_eq!(r.status(), 405);
    assert_eq!(r.header("allow"), Some("POST, OPTIONS"));
    assert_eq!(client.post("/post-only/").await.text(), "posted");
}

#[tokio::test]
async fn function_views_restricted_to_methods() {
    let app = App::new().urls(vec![path("only-get/", whole_request).methods([Method::GET])]);
    let client = TestClient::new(app);
    assert_eq!(client.get("/only-get/").await.status(), 200);
    assert_eq!(client.head("/only-get/").await.status(), 200);
    let r = client.post("/only-get/").await;
    assert_eq!(r.status(), 405);
    assert_eq!(r.header("allow"), Some("GET, HEAD"));
}
