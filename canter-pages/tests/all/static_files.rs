//! Static files in DEBUG: served from the apps' folders with their types, validators and
//! ranges; nothing outside the folders, however the name is spelled.

use crate::common::client;

const CSS: &[u8] = include_bytes!("../fixtures/static/css/site.css");
const JS: &[u8] = include_bytes!("../fixtures/static/js/app.js");

#[tokio::test]
async fn debug_serves_an_apps_static_files_with_their_types() {
    let client = client(true, "").await;
    let css = client.get("/static/css/site.css").await;
    assert_eq!(css.status(), 200);
    assert_eq!(css.header("content-type"), Some("text/css; charset=utf-8"));
    assert_eq!(css.bytes().as_ref(), CSS);
    let png = client.get("/static/img/dot.png").await;
    assert_eq!(png.header("content-type"), Some("image/png"));
    let js = client.get("/static/js/app.js").await;
    assert!(
        js.header("content-type").unwrap().contains("javascript"),
        "{:?}",
        js.headers()
    );
    let head = client.head("/static/js/app.js").await;
    assert_eq!(head.status(), 200);
    assert!(head.bytes().is_empty());
    assert_eq!(client.get("/static/nope.css").await.status(), 404);
    assert_eq!(client.post("/static/css/site.css").await.status(), 405);
    // Outside the prefix the app's own routes answer.
    assert_eq!(client.get("/list/").await.status(), 200);
}

#[tokio::test]
async fn an_etag_answers_a_conditional_get_with_304() {
    let client = client(true, "").await;
    let first = client.get("/static/css/site.css").await;
    let etag = first.header("etag").expect("an ETag").to_owned();
    let again = client
        .get("/static/css/site.css")
        .header("if-none-match", &etag)
        .await;
    assert_eq!(again.status(), 304);
    assert!(again.bytes().is_empty());
    let changed = client
        .get("/static/css/site.css")
        .header("if-none-match", "\"something-else\"")
        .await;
    assert_eq!(changed.status(), 200);
}

#[tokio::test]
async fn byte_ranges_are_served_and_an_unsatisfiable_one_is_416() {
    let client = client(true, "").await;
    let part = client
        .get("/static/js/app.js")
        .header("range", "bytes=10-19")
        .await;
    assert_eq!(part.status(), 206);
    assert_eq!(part.bytes().as_ref(), &JS[10..20]);
    assert_eq!(
        part.header("content-range"),
        Some(format!("bytes 10-19/{}", JS.len()).as_str())
    );
    let tail = client
        .get("/static/js/app.js")
        .header("range", "bytes=-5")
        .await;
    assert_eq!(tail.bytes().as_ref(), &JS[JS.len() - 5..]);
    let past = client
        .get("/static/js/app.js")
        .header("range", &format!("bytes={}-", JS.len()))
        .await;
    assert_eq!(past.status(), 416);
    assert_eq!(
        past.header("content-range"),
        Some(format!("bytes */{}", JS.len()).as_str())
    );
    let several = client
        .get("/static/js/app.js")
        .header("range", "bytes=0-1,4-5")
        .await;
    assert_eq!(several.status(), 200, "several ranges: the whole file");
    assert_eq!(several.bytes().len(), JS.len());
}

#[tokio::test]
async fn traversal_in_any_spelling_is_404_never_a_file_outside_the_folder() {
    let client = client(true, "").await;
    for target in [
        "/static/../Cargo.toml",
        "/static/css/../../../Cargo.toml",
        "/static/%2e%2e/%2e%2e/Cargo.toml",
        "/static/%2e%2e%2f%2e%2e%2fCargo.toml",
        "/static/css/..%5c..%5cCargo.toml",
        "/static/css%5c..%5c..%5cCargo.toml",
        "/static/css/site.css%00.png",
        "/static/%00",
        "/static/",
        "/static//etc/passwd",
        "/static/.hidden",
        "/static/%252e%252e/Cargo.toml",
    ] {
        let response = client.get(target).await;
        assert!(
            response.status() == 404 || response.status() == 400,
            "{target}: {}",
            response.status()
        );
        assert!(!response.text().contains("[package]"), "{target}");
    }
}
