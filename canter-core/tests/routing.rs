//! URL routing through the whole app: include and namespaces, reverse from a view, custom
//! converters, APPEND_SLASH, 404 pages, and bad URL confs reported at build time.

use canter_core::prelude::*;
use canter_core::routing::FnConverter;
use canter_core::settings::Settings;
use canter_core::test::TestClient;
use serde_json::Value;

async fn show(req: Request) -> String {
    format!("{}|{}", req.route_name().unwrap_or("-"), req.path())
}

async fn links(req: Request) -> Result<String> {
    let a = req.reverse("api:item", &[("id", "42".into())])?;
    let b = req.reverse(
        "articles:detail",
        &[("year", "2024".into()), ("slug", "hi".into())],
    )?;
    Ok(format!("{a} {b}"))
}

async fn bad_link(req: Request) -> Result<String> {
    req.reverse("does-not-exist", &[])
}

async fn year(Path(y): Path<i64>) -> String {
    format!("year {y}")
}

fn app() -> App {
    let api = vec![
        path("items/<int:id>/", show).name("item"),
        path("items/", show).name("items"),
    ];
    let articles = vec![path("<int:year>/<slug:slug>/", show).name("detail")];
    App::new()
        .converter(
            "yyyy",
            FnConverter::new("[0-9]{4}", |raw| {
                raw.parse::<i64>()
                    .map(Value::from)
                    .map_err(|e| e.to_string())
            }),
        )
        .urls(vec![
            path("", show).name("home"),
            path("links/", links),
            path("bad-link/", bad_link),
            path("archive/<yyyy:y>/", year).name("archive"),
            path("files/<path:rest>", show).name("files"),
            include("api/", api).namespace("api"),
            include("articles/", articles).namespace("articles"),
            path("no-slash", show).name("no-slash"),
        ])
}

#[tokio::test]
async fn include_routes_resolve_with_namespaced_names() {
    let client = TestClient::new(app());
    assert_eq!(
        client.get("/api/items/7/").await.text(),
        "api:item|/api/items/7/"
    );
    assert_eq!(
        client.get("/api/items/").await.text(),
        "api:items|/api/items/"
    );
    assert_eq!(client.get("/").await.text(), "home|/");
    assert_eq!(
        client.get("/files/a/b/c.txt").await.text(),
        "files|/files/a/b/c.txt"
    );
}

#[tokio::test]
async fn reverse_from_a_view() {
    let client = TestClient::new(app());
    assert_eq!(
        client.get("/links/").await.text(),
        "/api/items/42/ /articles/2024/hi/"
    );
    let r = client.get("/bad-link/").await;
    assert_eq!(r.status(), 500);
    assert!(r.text().contains("Reverse for"), "{}", r.text());
}

#[tokio::test]
async fn user_defined_converters() {
    let client = TestClient::new(app());
    assert_eq!(client.get("/archive/2024/").await.text(), "year 2024");
    assert_eq!(client.get("/archive/24/").await.status(), 404);
}

#[tokio::test]
async fn append_slash_redirects_only_to_existing_routes() {
    let client = TestClient::new(app());
    let r = client.get("/api/items/7?x=1").await;
    assert_eq!(r.status(), 301);
    assert_eq!(r.header("location"), Some("/api/items/7/?x=1"));
    let r = client.post("/api/items/7").await;
    assert_eq!(r.status(), 308, "other methods keep method and body");
    assert_eq!(client.get("/nowhere").await.status(), 404);
    assert_eq!(client.get("/no-slash").await.status(), 200);

    let settings = Settings {
        append_slash: false,
        ..Settings::for_tests()
    };
    let client = TestClient::with_settings(app(), settings);
    assert_eq!(client.get("/api/items/7").await.status(), 404);
}

#[tokio::test]
async fn not_found_pages() {
    let r = TestClient::new(app()).get("/missing/").await;
    assert_eq!(r.status(), 404);
    assert!(
        r.text().contains("api/items/&lt;int:id&gt;/"),
        "debug lists the patterns tried: {}",
        r.text()
    );

    let settings = Settings {
        debug: false,
        ..Settings::for_tests()
    };
    let r = TestClient::with_settings(app(), settings)
        .get("/missing/")
        .await;
    assert_eq!(r.status(), 404);
    assert!(
        !r.text().contains("api/items"),
        "production does not list patterns"
    );
}

#[tokio::test]
async fn percent_encoded_paths_are_decoded_before_matching() {
    let client = TestClient::new(app());
    assert_eq!(
        client.get("/files/caf%C3%A9%20menu.txt").await.text(),
        "files|/files/café menu.txt"
    );
    assert_eq!(client.get("/files/%FF").await.status(), 400);
}

#[tokio::test]
async fn a_query_string_has_at_most_max_number_fields() {
    let client = TestClient::new(app());
    let fields = |n: usize| vec!["id=1"; n].join("&");
    assert_eq!(
        client.get(&format!("/?{}", fields(1000))).await.status(),
        200
    );
    // Empty fields (`&&`) are not counted, as Django does not count them.
    let sparse = format!("/?{}&&&&", fields(1000));
    assert_eq!(client.get(&sparse).await.status(), 200);
    let r = client.get(&format!("/?{}", fields(1001))).await;
    assert_eq!(r.status(), 400);
    assert!(r.text().contains("more than 1000 fields"), "{}", r.text());
    let settings = Settings {
        server: canter_core::settings::ServerSettings {
            max_number_fields: 2,
            ..Default::default()
        },
        ..Settings::for_tests()
    };
    let client = TestClient::with_settings(app(), settings);
    assert_eq!(client.get("/?a=1&b=2").await.status(), 200);
    assert_eq!(client.get("/?a=1&b=2&c").await.status(), 400);
}

#[test]
fn bad_url_confs_fail_the_build_naming_the_pattern() {
    let err = App::new()
        .urls(vec![path("x/<bogus:y>/", show)])
        .build(Settings::for_tests())
        .err()
        .unwrap();
    assert!(err.to_string().contains("x/<bogus:y>/"), "{err}");
    assert!(err.to_string().contains("unknown converter"), "{err}");
    let err = App::new()
        .urls(vec![include("x/", vec![]).name("n")])
        .build(Settings::for_tests())
        .err()
        .unwrap();
    assert!(err.to_string().contains("namespace()"), "{err}");
}

/// A converter that panics (a bug in user code, run while the path is resolved) answers 500,
/// and the app keeps serving.
#[tokio::test]
async fn a_panicking_converter_is_a_500() {
    let app = App::new()
        .converter(
            "fragile",
            FnConverter::new("[a-z]+", |raw| {
                if raw == "boom" {
                    panic!("converter bug");
                }
                Ok(Value::from(raw))
            }),
        )
        .urls(vec![path("f/<fragile:word>/", show).name("fragile")]);
    let client = TestClient::new(app);
    let response = client.get("/f/boom/").await;
    assert_eq!(response.status(), 500);
    let response = client.get("/f/fine/").await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.text(), "fragile|/f/fine/");
}
