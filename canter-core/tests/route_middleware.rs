//! Per-route middleware and tags on `path(...)` / `include(...)`, and the test client's
//! cookies and redirects.

use canter_core::cookies::{Cookie, CookiesExt, ResponseCookies};
use canter_core::middleware::from_fn;
use canter_core::prelude::*;
use canter_core::test::TestClient;

#[derive(Clone, Debug, PartialEq)]
struct Exempt(&'static str);

/// A middleware that appends `name` to the `x-trail` header of the response.
fn trail(name: &'static str) -> impl Middleware {
    from_fn(move |req: Request, next: Next| async move {
        let mut response = next.run(req).await;
        let before = response
            .headers()
            .get("x-trail")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let value = format!("{before}{name};");
        response
            .headers_mut()
            .insert("x-trail", value.parse().unwrap());
        response
    })
}

async fn tag_of(req: Request) -> String {
    format!("{:?}", req.route_tag::<Exempt>())
}

fn urls() -> Vec<canter_core::routing::UrlPattern> {
    vec![
        path("plain/", tag_of),
        path("own/", tag_of)
            .middleware(trail("own"))
            .tag(Exempt("own")),
        include(
            "api/",
            vec![
                path("a/", tag_of).middleware(trail("a")),
                path("b/", tag_of).tag(Exempt("b")),
            ],
        )
        .middleware(trail("api"))
        .tag(Exempt("api")),
    ]
}

#[tokio::test]
async fn route_middleware_runs_inner_to_outer_and_tags_inherit() {
    // An app middleware reads the tag before routing.
    let seen = from_fn(|req: Request, next: Next| async move {
        let tag = format!("{:?}", req.route_tag::<Exempt>());
        let mut response = next.run(req).await;
        response
            .headers_mut()
            .insert("x-before-routing", tag.parse().unwrap());
        response
    });
    let client = TestClient::new(App::new().urls(urls()).middleware(seen));
    let r = client.get("/plain/").await;
    assert_eq!(r.text(), "None");
    assert_eq!(r.header("x-trail"), None);
    let r = client.get("/own/").await;
    assert_eq!(r.text(), "Some(Exempt(\"own\"))");
    assert_eq!(r.header("x-trail"), Some("own;"));
    assert_eq!(r.header("x-before-routing"), Some("Some(Exempt(\"own\"))"));
    let r = client.get("/api/a/").await;
    assert_eq!(
        r.header("x-trail"),
        Some("a;api;"),
        "the include's runs outside"
    );
    assert_eq!(r.text(), "Some(Exempt(\"api\"))");
    let r = client.get("/api/b/").await;
    assert_eq!(r.text(), "Some(Exempt(\"b\"))", "the route's own tag wins");
    assert_eq!(r.header("x-before-routing"), Some("Some(Exempt(\"b\"))"));
    let r = client.get("/nowhere/").await;
    assert_eq!(r.status(), 404);
    assert_eq!(r.header("x-before-routing"), Some("None"));
}

async fn count(req: Request) -> Response {
    let n: u32 = req.cookie("n").and_then(|v| v.parse().ok()).unwrap_or(0);
    let mut response = format!("{n}").into_response();
    if n >= 2 {
        response.delete_cookie("n", "/", None);
    } else {
        response.set_cookie(Cookie::build(("n", (n + 1).to_string())).path("/").build());
    }
    response
}

async fn hop(req: Request) -> Response {
    let to = req.query_param("to").unwrap_or_else(|| "/count/".into());
    Redirect::to(&to).into_response()
}

#[tokio::test]
async fn test_client_keeps_cookies_and_follows_redirects() {
    let client = TestClient::new(App::new().urls(vec![
        path("count/", count),
        path("hop/", hop),
        path("loop/", |_: Request| async { Redirect::to("/loop/") }),
    ]));
    assert_eq!(client.get("/count/").await.text(), "0");
    assert_eq!(client.cookie("n").as_deref(), Some("1"));
    assert_eq!(client.get("/count/").await.text(), "1");
    assert_eq!(client.get("/count/").await.text(), "2");
    assert_eq!(client.cookie("n"), None, "a deleted cookie is forgotten");
    client.set_cookie("n", "1");
    let r = client.post("/hop/").follow(true).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.text(), "1");
    assert_eq!(r.redirect_chain().len(), 1);
    assert_eq!(r.redirect_chain()[0].0, "/count/");
    let r = client.get("/hop/").await;
    assert!(r.status().is_redirection(), "not followed unless asked");
    let r = client.get("/loop/").follow(true).await;
    assert_eq!(r.redirect_chain().len(), 20, "a loop stops");
}
