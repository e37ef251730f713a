//! Three middlewares, Django's `MIDDLEWARE` list in Rust: one that times every response, one
//! that refuses requests without an API key (answering before the view), and built-ins named
//! in the settings.
//!
//! `cargo run -p example-middleware -- runserver`, then `curl -i -H 'x-api-key: secret' localhost:8000/`.

use canter::middleware;
use canter::prelude::*;

/// Django's `def timing(get_response)`: code around `next.run` (`get_response(request)`).
struct Timing;

impl Middleware for Timing {
    async fn call(&self, req: Request, next: Next) -> Response {
        let start = std::time::Instant::now();
        let mut response = next.run(req).await;
        let header = format!("app;dur={:.2}", start.elapsed().as_secs_f64() * 1000.0);
        response
            .headers_mut()
            .insert("server-timing", header.parse().unwrap());
        response
    }
}

async fn index(_req: Request) -> &'static str {
    "the key fits"
}

fn app() -> App {
    App::new()
        // Built-ins by name, outermost first, as in Django's settings.py.
        .settings_toml(
            r#"debug = true
middleware = ["canter.request_id", "canter.security"]"#,
        )
        .urls(vec![path("", index).name("index")])
        // Then these, in the order added: Timing wraps the key check.
        .middleware(Timing)
        .middleware(middleware::from_fn(|req: Request, next: Next| async move {
            if req
                .headers()
                .get("x-api-key")
                .is_none_or(|key| key != "secret")
            {
                return (StatusCode::UNAUTHORIZED, "an x-api-key header, please").into_response();
            }
            next.run(req).await
        }))
}

fn main() -> std::process::ExitCode {
    app().main()
}

#[cfg(test)]
mod tests {
    use canter::test::TestClient;

    #[tokio::test]
    async fn the_key_is_checked_and_every_response_is_timed() {
        let client = TestClient::new(super::app());
        let refused = client.get("/").await;
        assert_eq!(refused.status(), 401);
        assert!(refused
            .header("server-timing")
            .unwrap()
            .starts_with("app;dur="));

        let r = client.get("/").header("x-api-key", "secret").await;
        assert_eq!(
            (r.status().as_u16(), r.text().as_str()),
            (200, "the key fits")
        );
        assert!(r.header("server-timing").is_some());
        assert!(r.header("x-request-id").is_some()); // canter.request_id
        assert_eq!(r.header("x-content-type-options"), Some("nosniff")); // canter.security
    }
}
