//! Templates: inheritance, includes, macros, escaping, Django's globals and filters, errors,
//! and DEBUG's reloading against production's compiled-once templates.

use canter_test_kit::TempDir;

use crate::common::{app_with, client, pages, settings};

#[tokio::test]
async fn a_page_extends_its_base_includes_and_calls_macros_with_djangos_globals() {
    let client = client(true, "").await;
    let page = client.get("/list/?q=a%20b").await;
    assert_eq!(page.status(), 200, "{}", page.text());
    assert_eq!(
        page.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    let html = page.text();
    assert!(html.contains("<title>Notes · canter</title>"), "{html}");
    assert!(
        html.contains("<p class=\"note\">no note</p>"),
        "include: {html}"
    );
    assert!(
        html.contains("<li data-name=\"one\">one</li>"),
        "macro: {html}"
    );
    assert!(
        html.contains("3 items, 1,234,567 in all, at /list/?q=a b"),
        "{html}"
    );
    assert!(
        html.contains("<a href=\"/articles/2026/hello/\">article</a>"),
        "url(): {html}"
    );
    assert!(
        html.contains("href=\"/static/css/site.css\""),
        "static() in DEBUG: {html}"
    );
}

#[tokio::test]
async fn script_and_attribute_injection_come_out_escaped() {
    let client = client(true, "").await;
    let html = client.get("/list/").await.text();
    assert!(!html.contains("<script>"), "{html}");
    assert!(
        html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{html}"
    );
    assert!(!html.contains("\" onmouseover=\"x"), "{html}");
    assert!(html.contains("&quot; onmouseover=&quot;x"), "{html}");
    // A user filter's output is escaped too.
    let html = client
        .get("/t/shout.html?payload=%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E")
        .await
        .text();
    assert!(
        html.contains("&lt;IMG SRC=X ONERROR=ALERT(1)&gt;!"),
        "{html}"
    );
}

#[tokio::test]
async fn a_template_error_is_a_500_naming_template_and_line_in_debug_only_and_serving_goes_on() {
    let client = client(true, "").await;
    let broken = client.get("/t/broken.html").await;
    assert_eq!(broken.status(), 500);
    let page = broken.text();
    assert!(page.contains("broken.html"), "{page}");
    assert!(page.contains("line 3"), "{page}");
    assert!(page.contains("oops("), "the failing line is shown: {page}");
    let failing = client.get("/t/fails.html").await;
    assert_eq!(failing.status(), 500);
    assert!(
        failing.text().contains("is not a date"),
        "{}",
        failing.text()
    );
    let missing = client.get("/t/nope.html").await;
    assert_eq!(missing.status(), 500);
    assert!(missing.text().contains("nope.html"), "{}", missing.text());
    assert_eq!(
        client.get("/list/").await.status(),
        200,
        "the server serves on"
    );

    let production = crate::common::client(false, "").await;
    let broken = production.get("/t/broken.html").await;
    assert_eq!(broken.status(), 500);
    assert!(!broken.text().contains("oops"), "{}", broken.text());
}

#[tokio::test]
async fn a_name_that_leaves_the_template_folders_is_not_found() {
    let client = client(true, "").await;
    for name in [
        "../Cargo.toml",
        "pages/../../Cargo.toml",
        "%2e%2e/Cargo.toml",
        "/etc/passwd",
    ] {
        let response = client.get(&format!("/t/{name}")).await;
        assert_eq!(response.status(), 500, "{name}");
        assert!(
            !response.text().contains("[package]"),
            "{name}: {}",
            response.text()
        );
    }
}

#[tokio::test]
async fn debug_reloads_an_edited_template_and_production_keeps_the_compiled_one() {
    let dir = TempDir::new("pages-reload");
    std::fs::write(dir.join("live.html"), "first").unwrap();
    let extra = format!(
        "[templates]\ndirs = [{:?}]\n",
        dir.path().display().to_string()
    );
    let debug = canter_core::test::TestClient::start_with_settings(
        app_with(pages()),
        settings(true, &extra),
    )
    .await;
    let production = canter_core::test::TestClient::start_with_settings(
        app_with(pages()),
        settings(false, &extra),
    )
    .await;
    assert_eq!(debug.get("/t/live.html").await.text(), "first");
    assert_eq!(production.get("/t/live.html").await.text(), "first");
    std::fs::write(dir.join("live.html"), "second").unwrap();
    assert_eq!(debug.get("/t/live.html").await.text(), "second");
    assert_eq!(production.get("/t/live.html").await.text(), "first");
    // The project's folder comes before the apps': it overrides an app's template.
    std::fs::write(dir.join("shout.html"), "project's own").unwrap();
    assert_eq!(
        debug.get("/t/shout.html?payload=x").await.text(),
        "project's own"
    );
}

#[tokio::test]
async fn outside_debug_404_html_and_500_html_are_the_error_pages() {
    let client = client(false, "[staticfiles]\nroot = \"/nonexistent\"").await;
    let page = client.get("/no/%3Cscript%3Ealert(1)%3C/script%3E/").await;
    assert_eq!(page.status(), 404);
    let html = page.text();
    assert!(html.contains("<h1>Nothing here</h1>"), "{html}");
    assert!(
        html.contains("No page at /no/&lt;script&gt;alert(1)&lt;/script&gt;/."),
        "the path is escaped: {html}"
    );
    // A view's own 404 and a failing template's 500.
    let page = client.get("/t/missing.html").await;
    assert_eq!(page.status(), 500);
    assert!(
        page.text().contains("Something broke on our side"),
        "{}",
        page.text()
    );
    // DEBUG keeps the technical pages.
    let debug = client_debug().await;
    let page = debug.get("/no/such/").await;
    assert_eq!(page.status(), 404);
    assert!(
        page.text().contains("Page not found (404)"),
        "{}",
        page.text()
    );
}

async fn client_debug() -> canter_core::test::TestClient {
    client(true, "").await
}

#[tokio::test]
async fn middleware_globals_reach_templates_and_the_views_context_wins() {
    use canter_core::middleware::from_fn;
    use canter_core::prelude::*;
    use canter_core::template_globals::{TemplateGlobals, TemplateValue};
    let offer = from_fn(|mut req: Request, next: Next| async move {
        TemplateGlobals::add(&mut req, "csrf_input", || {
            TemplateValue::SafeHtml("<input type=\"hidden\" value=\"t\">".into())
        });
        TemplateGlobals::add(&mut req, "csrf_token", || TemplateValue::Json("<t>".into()));
        TemplateGlobals::add(&mut req, "user", || {
            TemplateValue::Json(serde_json::json!({"username": "ann<b>"}))
        });
        TemplateGlobals::add(&mut req, "word", || TemplateValue::Json("global".into()));
        next.run(req).await
    });
    let app = app_with(pages()).middleware(offer);
    let client = canter_core::test::TestClient::start_with_settings(app, settings(true, "")).await;
    let page = client.get("/t/globals.html?payload=view").await;
    assert_eq!(
        page.text().trim(),
        "<input type=\"hidden\" value=\"t\">|ann&lt;b&gt;|view|&lt;t&gt;"
    );
}

/// A global is made only when a template reads it (Django's `get_token` runs only for
/// `{% csrf_token %}`): a page that never mentions `csrf_token` makes no token, so the CSRF
/// middleware sends no cookie with it.
#[tokio::test]
async fn globals_are_made_only_when_a_template_reads_them() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use canter_core::middleware::from_fn;
    use canter_core::prelude::*;
    use canter_core::template_globals::{TemplateGlobals, TemplateValue};
    let made = Arc::new(AtomicUsize::new(0));
    let counter = made.clone();
    let offer = from_fn(move |mut req: Request, next: Next| {
        let counter = counter.clone();
        async move {
            TemplateGlobals::add(&mut req, "csrf_token", move || {
                counter.fetch_add(1, Ordering::SeqCst);
                TemplateValue::Json("t".into())
            });
            // The rest of what globals.html reads.
            for name in ["csrf_input", "user", "word"] {
                TemplateGlobals::add(&mut req, name, || {
                    TemplateValue::Json(serde_json::json!({"username": "ann"}))
                });
            }
            next.run(req).await
        }
    });
    let app = app_with(pages()).middleware(offer);
    let client = canter_core::test::TestClient::start_with_settings(app, settings(true, "")).await;
    let page = client.get("/t/base.html").await;
    assert_eq!(page.status(), 200, "{}", page.text());
    assert_eq!(
        made.load(Ordering::SeqCst),
        0,
        "a page without the global made it"
    );
    let page = client.get("/t/globals.html").await;
    assert!(page.text().trim_end().ends_with("|t"), "{}", page.text());
    assert_eq!(made.load(Ordering::SeqCst), 1);
}
