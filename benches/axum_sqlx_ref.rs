//! The reference for the demo's `/mymodel/first-active/` view: bare axum + sqlx, no ORM, no
//! middleware, no settings. One route running the SQL canter's ORM runs for
//! `MyModel::objects().filter(MyModel::active.eq(true)).first()` on the demo's table, returning
//! the same JSON (`{"id":..,"name":..,"active":..}`, 404 `{"error":"no active MyModel"}` when
//! there is none).
//!
//! Usage: `DATABASE_URL=sqlite://demo.sqlite3|postgres://...|mysql://... axum_sqlx_ref [ADDR]` (default
//! 127.0.0.1:0, an ephemeral port). Prints `listening on ADDR` on stdout once bound; stops on
//! SIGINT/SIGTERM.
//!
//! Pools as canter's backends make them (canter-orm/src/backends/*/mod.rs): SQLite with WAL,
//! synchronous NORMAL, foreign keys, busy_timeout 5 s, at most 8 connections; PostgreSQL at most
//! 10 connections; MariaDB at most 10 connections in utf8mb4_nopad_bin and UTC, each set to
//! ANSI_QUOTES once when it opens, as the ORM's are;
//! acquire timeout 5 s on all. Multi-threaded tokio runtime, as canter's.

use std::io::Write;
use std::str::FromStr;
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use sqlx::mysql::{MySqlConnectOptions, MySqlPoolOptions};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::Executor as _;

#[derive(Serialize)]
struct MyModel {
    id: i64,
    name: String,
    active: bool,
}

// The ORM's SQL for the demo's table (checked by benches/orm_bench.rs for its own table).
const SQLITE_FIRST: &str = r#"SELECT "demo_mymodel"."id", "demo_mymodel"."name", "demo_mymodel"."active" FROM "demo_mymodel" WHERE "demo_mymodel"."active" = ? ORDER BY "demo_mymodel"."id" ASC LIMIT ?"#;
const PG_FIRST: &str = r#"SELECT "demo_mymodel"."id", "demo_mymodel"."name", "demo_mymodel"."active" FROM "demo_mymodel" WHERE "demo_mymodel"."active" = $1 ORDER BY "demo_mymodel"."id" ASC LIMIT $2"#;
// MariaDB's: `?` placeholders and backquoted names (sea-query's MySQL dialect).
const MYSQL_FIRST: &str = "SELECT `demo_mymodel`.`id`, `demo_mymodel`.`name`, `demo_mymodel`.`active` FROM `demo_mymodel` WHERE `demo_mymodel`.`active` = ? ORDER BY `demo_mymodel`.`id` ASC LIMIT ?";

#[derive(Clone)]
enum Db {
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool),
    Mysql(sqlx::MySqlPool),
}

impl Db {
    fn connect(url: &str) -> Result<Db, String> {
        if url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(url)
                .map_err(|e| e.to_string())?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(5));
            Ok(Db::Sqlite(
                SqlitePoolOptions::new()
                    .max_connections(8)
                    .acquire_timeout(Duration::from_secs(5))
                    .connect_lazy_with(options),
            ))
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let options = PgConnectOptions::from_str(url).map_err(|e| e.to_string())?;
            Ok(Db::Postgres(
                PgPoolOptions::new()
                    .max_connections(10)
                    .acquire_timeout(Duration::from_secs(5))
                    .connect_lazy_with(options),
            ))
        } else if url.starts_with("mysql://") || url.starts_with("mariadb://") {
            let options = MySqlConnectOptions::from_str(url)
                .map_err(|e| e.to_string())?
                .charset("utf8mb4")
                .collation("utf8mb4_nopad_bin")
                .timezone(Some("+00:00".to_owned()));
            Ok(Db::Mysql(
                MySqlPoolOptions::new()
                    .max_connections(10)
                    .acquire_timeout(Duration::from_secs(5))
                    .after_connect(|conn, _| {
                        Box::pin(async move {
                            conn.execute(
                                "SET SESSION sql_mode = CONCAT(@@sql_mode, ',ANSI_QUOTES')",
                            )
                            .await
                            .map(drop)
                        })
                    })
                    .connect_lazy_with(options),
            ))
        } else {
            Err(format!(
                "unsupported DATABASE_URL {url:?} (sqlite:…, postgres://… or mysql://…)"
            ))
        }
    }

    async fn first_active(&self) -> Result<Option<MyModel>, sqlx::Error> {
        let row = match self {
            Db::Sqlite(pool) => {
                sqlx::query_as::<_, (i64, String, bool)>(SQLITE_FIRST)
                    .bind(true)
                    .bind(1i64)
                    .fetch_optional(pool)
                    .await?
            }
            Db::Postgres(pool) => {
                sqlx::query_as::<_, (i64, String, bool)>(PG_FIRST)
                    .bind(true)
                    .bind(1i64)
                    .fetch_optional(pool)
                    .await?
            }
            Db::Mysql(pool) => {
                sqlx::query_as::<_, (i64, String, bool)>(MYSQL_FIRST)
                    .bind(true)
                    .bind(1i64)
                    .fetch_optional(pool)
                    .await?
            }
        };
        Ok(row.map(|(id, name, active)| MyModel { id, name, active }))
    }
}

async fn first_active(State(db): State<Db>) -> Response {
    match db.first_active().await {
        Ok(Some(row)) => Json(row).into_response(),
        Ok(None) => (
            StatusCode::NOT_FOUND,
            Json(serde_json::json!({"error": "no active MyModel"})),
        )
            .into_response(),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(serde_json::json!({"error": e.to_string()})),
        )
            .into_response(),
    }
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("SIGTERM handler");
    tokio::select! {
        _ = ctrl_c => {}
        _ = term.recv() => {}
    }
}

#[tokio::main]
async fn main() {
    let url = std::env::var("DATABASE_URL").unwrap_or_else(|_| {
        eprintln!("set DATABASE_URL (sqlite://…, postgres://… or mysql://…)");
        std::process::exit(2)
    });
    let db = Db::connect(&url).unwrap_or_else(|e| {
        eprintln!("{e}");
        std::process::exit(2)
    });
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:0".into());
    let app = Router::new()
        .route("/mymodel/first-active/", get(first_active))
        .with_state(db);
    let listener = tokio::net::TcpListener::bind(&addr)
        .await
        .unwrap_or_else(|e| panic!("cannot listen on {addr}: {e}"));
    println!(
        "listening on {}",
        listener.local_addr().expect("local addr")
    );
    std::io::stdout().flush().ok();
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await
        .expect("serve");
}
