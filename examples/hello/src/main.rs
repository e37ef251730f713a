//! The smallest canter app: two views, their URLs, and `main` as Django's `manage.py`.
//!
//! `cargo run -p example-hello -- runserver`, then open <http://127.0.0.1:8000/>.

use canter::prelude::*;

/// `GET /`: plain text (a `&str` is a 200 `text/plain` response).
async fn index(_req: Request) -> &'static str {
    "Hello, world!"
}

/// `GET /hello/<name>/`: the URL's parameter, typed.
async fn greet(Path(name): Path<String>) -> String {
    format!("Hello, {name}!")
}

/// The app: URL patterns (Django's urls.py). Tests build the same app.
fn app() -> App {
    App::new()
        .settings_toml("debug = true") // a development server: no secret key needed
        .urls(vec![
            path("", index).name("index"),
            path("hello/<str:name>/", greet).name("greet"),
        ])
}

/// `runserver`, `check`, `routes` and `--help`, as `manage.py` has them.
fn main() -> std::process::ExitCode {
    app().main()
}

#[cfg(test)]
mod tests {
    use canter::test::TestClient;

    #[tokio::test]
    async fn says_hello() {
        let client = TestClient::new(super::app());
        let r = client.get("/").await;
        assert_eq!(r.status(), 200);
        assert_eq!(r.text(), "Hello, world!");
        assert_eq!(client.get("/hello/ada/").await.text(), "Hello, ada!");
        assert_eq!(client.get("/nowhere/").await.status(), 404);
    }
}
