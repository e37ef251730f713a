//! The cost of a database session read + user load per request (issue 15's benchmark): the
//! same view in-process (no sockets, so only canter's work shows), with and without the
//! `canter.sessions` + `canter.auth` middleware, on SQLite and PostgreSQL. The view answers
//! `{"username": …}`: from `req.user()` (one `django_session` row and one `auth_user` row per
//! request) or a constant. Rounds are interleaved, so a noisy machine affects both alike;
//! medians of the per-request time are printed.
//!
//! ```sh
//! cargo bench -p canter-accounts --bench session_user
//! CANTER_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test cargo bench -p canter-accounts --bench session_user
//! ```

use std::sync::Arc;
use std::time::{Duration, Instant};

use canter_accounts::auth::RequestUser;
use canter_accounts::hashers::{make_password_with, Hasher};
use canter_accounts::models::User;
use canter_accounts::testing::ForceLogin;
use canter_core::app::CanterService;
use canter_core::prelude::*;
use canter_core::settings::Settings;
use canter_core::test::TestClient;
use canter_orm::chrono::Utc;
use canter_orm::Databases;
use serde_json::json;

const REQUESTS: usize = 2_000;
const ROUNDS: usize = 9;

async fn me(req: Request) -> Response {
    let name = req.user().await.map(|u| u.username);
    JsonResponse::new(json!({ "username": name })).into_response()
}

async fn constant(_req: Request) -> Response {
    JsonResponse::new(json!({ "username": "ann" })).into_response()
}

fn settings(middleware: &str) -> Settings {
    let mut settings = Settings::from_toml(&format!(
        "secret_key = \"bench\"\nmiddleware = [{middleware}]\n"
    ))
    .unwrap();
    settings.allowed_hosts = vec!["testserver".into()];
    settings
}

/// Runs `REQUESTS` GETs of `path` with `cookie`; the time per request.
async fn per_request(service: &CanterService, path: &str, cookie: &str) -> Duration {
    let start = Instant::now();
    for _ in 0..REQUESTS {
        let req = http::Request::builder()
            .uri(path)
            .header("host", "testserver")
            .header("cookie", cookie)
            .body(canter_core::Body::empty())
            .unwrap();
        let response = service.handle(req).await;
        assert_eq!(response.status(), 200);
    }
    start.elapsed() / REQUESTS as u32
}

fn median(mut values: Vec<Duration>) -> Duration {
    values.sort();
    values[values.len() / 2]
}

async fn run(label: &str, url: &str) {
    let dbs = Arc::new(Databases::single(url).unwrap());
    dbs.clone()
        .scope(async {
            canter_accounts::models::create_tables("default").await.unwrap();
            let user = User {
                username: format!("ann{}", std::process::id()),
                password: make_password_with("pw", &Hasher::Pbkdf2Sha256 { iterations: 1000 }),
                is_active: true,
                date_joined: Utc::now(),
                ..Default::default()
            };
            let user = User::objects().create(user).await.unwrap();
            let with = App::new()
                .urls(vec![path("me/", me)])
                .install(canter_accounts::install(canter_accounts::Accounts::new()));
            let with = TestClient::start_with_settings(
                with,
                settings("\"canter.sessions\", \"canter.auth\""),
            )
            .await;
            with.force_login(&user).await;
            let cookie = format!("sessionid={}", with.cookie("sessionid").unwrap());
            let without = App::new().urls(vec![path("me/", constant)]);
            let without = TestClient::start_with_settings(without, settings("")).await;
            let (mut a, mut b) = (Vec::new(), Vec::new());
            for _ in 0..ROUNDS {
                a.push(per_request(with.service(), "/me/", &cookie).await);
                b.push(per_request(without.service(), "/me/", &cookie).await);
            }
            let (a, b) = (median(a), median(b));
            println!(
                "{label:<10} session + user: {:>8.1} µs/request   without: {:>6.1} µs/request   cost: {:>8.1} µs",
                a.as_secs_f64() * 1e6,
                b.as_secs_f64() * 1e6,
                (a.as_secs_f64() - b.as_secs_f64()) * 1e6
            );
            User::objects().delete().await.ok();
        })
        .await;
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let file =
            std::env::temp_dir().join(format!("accounts-bench-{}.sqlite3", std::process::id()));
        run("SQLite", &format!("sqlite://{}", file.display())).await;
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", file.display()));
        }
        if std::env::var("CANTER_TEST_POSTGRES_URL").is_ok() {
            // A schema of its own, dropped afterwards.
            let schema = canter_test_kit::PgSchema::create("accounts_bench").unwrap();
            run("PostgreSQL", &schema.url).await;
        } else {
            println!("PostgreSQL: skipped (set CANTER_TEST_POSTGRES_URL)");
        }
    });
}
