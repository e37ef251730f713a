//! The admin's change list on a 100,000-row SQLite table (issue 20's benchmark): a search, a
//! filter and page 500 at once (`?q=book&published__exact=1&p=500`, 100 rows a page, a
//! foreign key among the columns), in-process (no sockets: canter's and SQLite's work only),
//! a staff session on every request. Prints the median of each round's per-request time, the
//! queries per request and, for scale, the plain first page.
//!
//! ```sh
//! cargo bench -p canter-admin --bench changelist
//! ```
//! (`benches/admin_run.sh` runs it and prints the line for BENCHMARKS.md.)

use std::sync::Arc;
use std::time::{Duration, Instant};

use canter_accounts::models::User;
use canter_accounts::testing::ForceLogin;
use canter_admin::{Admin, ModelAdmin};
use canter_core::app::CanterService;
use canter_core::prelude::*;
use canter_core::settings::Settings;
use canter_core::test::TestClient;
use canter_orm::chrono::Utc;
use canter_orm::{Databases, ForeignKey, Model};

const ROWS: usize = 100_000;
const REQUESTS: usize = 20;
const ROUNDS: usize = 7;

#[derive(Model, Clone, Default)]
#[model(crate = canter_orm, app = "library")]
struct Author {
    id: i64,
    #[field(max_length = 100)]
    name: String,
}

/// An index on (published, title), the filter's and the search's columns, lets the count read
/// the index alone (the advice Django's docs give for `list_filter`); without it the median
/// was 174 ms (BENCHMARKS.md).
#[derive(Model, Clone, Default)]
#[model(crate = canter_orm, app = "library")]
#[model(index(fields = ["published", "title"]))]
struct Book {
    id: i64,
    #[field(max_length = 100, db_index)]
    title: String,
    author: ForeignKey<Author>,
    #[field(db_index)]
    published: bool,
}

fn app() -> App {
    let admin = Admin::new()
        .register::<Author>(ModelAdmin::new().display(|a: &Author| a.name.clone()))
        .register::<Book>(
            ModelAdmin::new()
                .list_display(["title", "author", "published"])
                .search_fields(["^title"])
                .list_filter(["published", "author"])
                .list_per_page(100)
                .display(|b: &Book| b.title.clone()),
        );
    App::new()
        .urls(vec![admin.urls("admin/")])
        .install(canter_accounts::install(canter_accounts::Accounts::new()))
        .install(canter_pages::install(canter_admin::pages(
            canter_pages::Pages::new(),
        )))
}

/// Production settings (no DEBUG: templates compiled once), the static files collected under
/// `dir` (the admin's pages name them by their hashed names).
fn settings(dir: &std::path::Path) -> Settings {
    let mut settings = Settings::from_toml(&format!(
        "secret_key = \"bench\"\nmiddleware = [\"canter.sessions\", \"canter.auth\", \"canter.csrf\"]\n[staticfiles]\nroot = {:?}\n",
        dir.join("collected").display().to_string()
    ))
    .unwrap();
    settings.allowed_hosts = vec!["testserver".into()];
    settings
}

async fn seed() {
    canter_accounts::models::create_tables("default")
        .await
        .unwrap();
    canter_admin::models::create_tables("default")
        .await
        .unwrap();
    canter_orm::schema::create_table::<Author>("default")
        .await
        .unwrap();
    canter_orm::schema::create_table::<Book>("default")
        .await
        .unwrap();
    let authors: Vec<Author> = (0..100)
        .map(|i| Author {
            id: 0,
            name: format!("Author {i}"),
        })
        .collect();
    let authors = Author::objects().bulk_create(authors).await.unwrap();
    let mut batch = Vec::with_capacity(10_000);
    for i in 0..ROWS {
        batch.push(Book {
            id: 0,
            title: format!("Book {i:06}"),
            author: ForeignKey::new(authors[i % authors.len()].id),
            published: i % 2 == 0,
        });
        if batch.len() == 10_000 {
            Book::objects()
                .bulk_create(std::mem::take(&mut batch))
                .await
                .unwrap();
        }
    }
}

/// `REQUESTS` GETs of `path`; the time per request.
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
        assert_eq!(response.status(), 200, "{path}");
    }
    start.elapsed() / REQUESTS as u32
}

fn median(mut values: Vec<Duration>) -> Duration {
    values.sort();
    values[values.len() / 2]
}

#[tokio::main]
async fn main() {
    let dir = std::env::temp_dir().join(format!("canter-admin-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let url = format!("sqlite://{}", dir.join("bench.sqlite3").display());
    let dbs = Arc::new(Databases::single(&url).unwrap());
    dbs.clone()
        .scope(async {
            let seeded = Instant::now();
            seed().await;
            eprintln!("seeded {ROWS} rows in {:.1} s", seeded.elapsed().as_secs_f64());
            let user = User::objects()
                .create(User {
                    username: "bench".into(),
                    is_active: true,
                    is_staff: true,
                    is_superuser: true,
                    date_joined: Utc::now(),
                    ..Default::default()
                })
                .await
                .unwrap();
            let first = TestClient::start_with_settings(app(), settings(&dir)).await;
            let files: Arc<canter_pages::StaticFiles> =
                first.service().services().get_shared().expect("static files");
            canter_pages::staticfiles::collectstatic(&files, true).expect("collectstatic");
            // Started again, so the manifest just written is read.
            let client = TestClient::start_with_settings(app(), settings(&dir)).await;
            client.force_login(&user).await;
            let cookie = format!("sessionid={}", client.cookie("sessionid").unwrap());
            let service = client.service().clone();
            let heavy = "/admin/library/book/?q=book&published__exact=1&p=500";
            let plain = "/admin/library/book/";
            let response = client.get(heavy).await;
            assert_eq!(response.status(), 200, "{}", response.text());
            let page = response.text();
            assert!(page.contains("50000 results") && page.contains(">Book 000000<"), "page 500 of the even books: the last");
            let db = dbs.get("default").unwrap();
            let before = db.query_count();
            per_request(&service, heavy, &cookie).await;
            let queries = (db.query_count() - before) as f64 / REQUESTS as f64;
            let (mut heavy_times, mut plain_times) = (Vec::new(), Vec::new());
            for _ in 0..ROUNDS {
                heavy_times.push(per_request(&service, heavy, &cookie).await);
                plain_times.push(per_request(&service, plain, &cookie).await);
            }
            println!(
                "admin change list, {ROWS} rows, SQLite: search+filter+page 500 median {:.2} ms ({queries} queries/request); first page {:.2} ms",
                median(heavy_times).as_secs_f64() * 1e3,
                median(plain_times).as_secs_f64() * 1e3,
            );
        })
        .await;
    let _ = std::fs::remove_dir_all(&dir);
}
