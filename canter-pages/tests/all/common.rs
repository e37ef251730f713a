//! The test app: the fixtures' templates and static files as an app's, a view per template.

use canter_core::prelude::*;
use canter_core::settings::Settings;
use canter_core::test::TestClient;
use canter_pages::{embed_dir, render, Pages};
use serde_json::json;

pub async fn list(req: Request) -> Result<Html<String>> {
    render(
        &req,
        "pages/list.html",
        json!({"title": "Notes", "items": ["one", "<script>alert(1)</script>", "\" onmouseover=\"x"], "total": 1234567}),
    )
}

pub async fn named(req: Request) -> Result<Html<String>> {
    let name: String = req.param("name")?;
    let payload = req.query_param("payload").unwrap_or_default();
    render(&req, &name, json!({"when": "not a date", "word": payload}))
}

pub async fn article(_req: Request) -> &'static str {
    "article"
}

pub fn pages() -> Pages {
    Pages::new()
        .app(
            "fixtures",
            embed_dir!("tests/fixtures/templates"),
            embed_dir!("tests/fixtures/static"),
        )
        .environment(|env| {
            env.add_filter("shout", |text: String| format!("{}!", text.to_uppercase()));
        })
}

pub fn app_with(pages: Pages) -> App {
    App::new()
        .urls(vec![
            path("list/", list),
            path("t/<path:name>", named),
            path("articles/<int:year>/<slug:slug>/", article).name("article"),
        ])
        .install(canter_pages::install(pages))
}

/// Test settings with the static middleware, DEBUG as given, and `extra` TOML merged in.
pub fn settings(debug: bool, extra: &str) -> Settings {
    let mut settings = Settings::from_toml(&format!(
        "debug = {debug}\nsecret_key = \"test\"\nallowed_hosts = [\"testserver\"]\nmiddleware = [\"canter.static\"]\n{extra}"
    ))
    .expect("valid test settings");
    settings.allowed_hosts = vec!["testserver".into()];
    settings
}

pub async fn client(debug: bool, extra: &str) -> TestClient {
    TestClient::start_with_settings(app_with(pages()), settings(debug, extra)).await
}
