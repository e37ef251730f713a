//! canter's ORM against hand-written sqlx, in one process, on the same pool settings.
//!
//! For SQLite (a temp file), PostgreSQL (`BENCH_POSTGRES_URL`, default
//! `postgres://postgres@127.0.0.1:5432/test`; the table lives in its own schema `canter_bench`,
//! reached with `?options=-c search_path=canter_bench`) and MariaDB (`BENCH_MYSQL_URL`, default
//! `mysql://root@127.0.0.1:3306/test`; the table lives in a database `canter_bench` of its own,
//! dropped and made anew each run), the table `bench_mymodel` is dropped,
//! recreated and seeded with 10,000 rows (every second row active); then each operation is timed
//! with the ORM and with plain `sqlx::query(...)` running the same SQL on a sqlx pool of its own
//! with the same options, interleaved call by call (every order of the sides in turn):
//!
//! * `first`:  `MyModel::objects().filter(MyModel::active.eq(true)).first()` (the article's query)
//! * `list100`: `.filter(active = true).order_by([id.asc()]).limit(100)` → `Vec<MyModel>`
//! * `create`: `MyModel::objects().create(obj)` (`INSERT ... RETURNING "id"`)
//! * `bulk10k`: `bulk_create` of 10,000 rows; raw = the same multi-row INSERTs (1,000 rows per
//!   statement, the ORM's batch for this model) built with `sqlx::QueryBuilder::push_values`.
//!   Before each timed bulk insert, the rows of the previous one are deleted (untimed) through
//!   the same side's pool (on SQLite another connection's write drops a connection's page
//!   cache; deleting through the other pool made the ORM look 1.65x slower than it is).
//!
//! A third side, "raw-shared", runs the same raw sqlx calls on the ORM's own pool (same
//! connection, same prepared statement, same SQLite worker thread): against it only the ORM's
//! own code differs, while the separate-pool reference also carries differences between two
//! pools (which connection's thread the scheduler favours), which on SQLite swing a run's
//! ratios by tens of percent either way.
//!
//! Each raw statement is checked to be the ORM's own SQL, byte for byte: the SELECTs against
//! `QuerySet::sql()` before measuring, the INSERTs (captured from the ORM's `canter::orm::sql`
//! debug event) after measuring, so no tracing subscriber is active while timing.
//!
//! Usage:
//!   `orm_bench [--n 2000] [--bulk-reps 5] [--warmup 200] [--only sqlite|postgres|mariadb]`
//!   `orm_bench seed --url URL [--rows 10000]`: empties the demo's table `demo_mymodel` (made
//!   by `demo migrate`) and fills it with `--rows` rows, every second one active
//!   `orm_bench reset-schema --url POSTGRES_URL --schema NAME`: drops the schema (CASCADE) and
//!   creates it empty
//!   `orm_bench reset-database --url MYSQL_URL --database NAME`: drops the MariaDB database and
//!   creates it empty
//!
//! Output: one `COMPILE ...` line per backend (ns of CPU to build and compile the `first` query,
//! no database), one `RESULT ...` line per backend and operation (latencies in µs), then a
//! table.

#[path = "orm_bench/raw.rs"]
mod raw;
#[path = "orm_bench/timing.rs"]
mod timing;

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use canter::orm::schema::{create_table, drop_table};
use canter::orm::{Databases, Model};
use sqlx::Connection;

use raw::{
    raw_bulk_create, raw_bulk_sql, raw_create, raw_execute, raw_fetch, raw_first, raw_pool,
    Backend, RawPool,
};
use timing::{interleave, report, time, Line, Samples, ORDERS};

/// The benchmark's model: the article's `MyModel`, in app `bench` (table `bench_mymodel`).
#[derive(canter::orm::Model, Debug, Clone, PartialEq, serde::Serialize)]
#[model(app = "bench")]
struct MyModel {
    id: i64,
    #[field(max_length = 100)]
    name: String,
    active: bool,
}

/// The demo's model (examples/demo/src/models.rs), same fields, for `seed`.
#[derive(canter::orm::Model, Debug, Clone, PartialEq, serde::Serialize)]
#[model(app = "demo", table = "demo_mymodel")]
struct DemoModel {
    id: i64,
    #[field(max_length = 100)]
    name: String,
    active: bool,
}

const SEED_ROWS: usize = 10_000;
/// The ORM's `bulk_create` batch for a 3-field model: min(32766 / 3, 1000) rows.
const BULK_BATCH: usize = 1000;

// --- capturing the ORM's SQL (only outside the timed parts) ---------------------------------

#[derive(Clone, Default)]
struct SqlLog(Arc<Mutex<Vec<String>>>);

struct MessageVisitor<'a>(&'a mut Option<String>);

impl tracing::field::Visit for MessageVisitor<'_> {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            *self.0 = Some(format!("{value:?}"));
        }
    }
}

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for SqlLog {
    fn on_event(
        &self,
        event: &tracing::Event<'_>,
        _ctx: tracing_subscriber::layer::Context<'_, S>,
    ) {
        if event.metadata().target() == "canter::orm::sql" {
            let mut message = None;
            event.record(&mut MessageVisitor(&mut message));
            if let Some(m) = message {
                self.0.lock().expect("sql log").push(m);
            }
        }
    }
}

/// Runs `f` with a thread-local subscriber that records the ORM's SQL; returns the statements.
/// (The main future is polled on this thread by `block_on`, so its events land here.)
async fn capture_sql<F: Future>(f: F) -> (F::Output, Vec<String>) {
    use tracing_subscriber::layer::SubscriberExt as _;
    let log = SqlLog::default();
    let subscriber = tracing_subscriber::registry().with(log.clone());
    let guard = tracing::subscriber::set_default(subscriber);
    let out = f.await;
    drop(guard);
    let statements = std::mem::take(&mut *log.0.lock().expect("sql log"));
    (out, statements)
}

// --- one backend ----------------------------------------------------------------------------

fn model(i: usize, prefix: &str) -> MyModel {
    MyModel {
        id: 0,
        name: format!("{prefix}-{i}"),
        active: (i & 1) == 0, // every second row
    }
}

fn with_search_path(url: &str, schema: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}options=-c%20search_path%3D{schema}")
}

/// `mysql://user@host:port/any?x` → `mysql://user@host:port/{database}?x`.
fn with_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, format!("?{query}")),
        None => (url, String::new()),
    };
    let authority_end = base.find("://").map_or(0, |i| i + 3);
    let host_end = base[authority_end..]
        .find('/')
        .map_or(base.len(), |i| authority_end + i);
    format!("{}/{database}{query}", &base[..host_end])
}

/// Drops MariaDB database `database` (if it is there) and creates it empty, through `url`.
async fn reset_database(url: &str, database: &str) {
    let mut conn = sqlx::MySqlConnection::connect(url)
        .await
        .unwrap_or_else(|e| panic!("cannot connect to {url}: {e}"));
    for sql in [
        format!("DROP DATABASE IF EXISTS `{database}`"),
        format!("CREATE DATABASE `{database}` CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin"),
    ] {
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
            .execute(&mut conn)
            .await
            .expect("database");
    }
    conn.close().await.ok();
    println!("database {database} reset");
}

struct Config {
    n: usize,
    warmup: usize,
    bulk_reps: usize,
}

// Long on purpose: the benchmark's script, one measured query after another in the order
// BENCHMARKS.md lists them; split, it would read as a maze of one-call helpers.
async fn bench_backend(backend: Backend, base_url: &str, config: &Config) -> Vec<Line> {
    let url = match backend {
        Backend::Sqlite => base_url.to_owned(),
        Backend::Postgres => {
            let mut conn = sqlx::PgConnection::connect(base_url)
                .await
                .unwrap_or_else(|e| panic!("cannot connect to {base_url}: {e}"));
            sqlx::query("CREATE SCHEMA IF NOT EXISTS canter_bench")
                .execute(&mut conn)
                .await
                .expect("create schema");
            conn.close().await.ok();
            with_search_path(base_url, "canter_bench")
        }
        Backend::Mariadb => {
            reset_database(base_url, "canter_bench").await;
            with_database(base_url, "canter_bench")
        }
    };
    eprintln!("== {}: {url}", backend.name());
    let dbs = std::sync::Arc::new(Databases::single(&url).expect("ORM databases"));
    dbs.scope(async move {
        let raw = raw_pool(backend, &url);

        // Fresh table, seeded.
        drop_table::<MyModel>("default").await.expect("drop table");
        create_table::<MyModel>("default")
            .await
            .expect("create table");
        let seeded = MyModel::objects()
            .bulk_create((1..=SEED_ROWS).map(|i| model(i, "seed")).collect())
            .await
            .expect("seed");
        let seed_max = seeded.last().expect("seeded").id;
        let delete_extra: &'static str = Box::leak(
            format!(r#"DELETE FROM "bench_mymodel" WHERE "id" > {seed_max}"#).into_boxed_str(),
        );
        match &raw {
            RawPool::Sqlite(_) => raw_execute(&raw, "ANALYZE").await,
            RawPool::Postgres(_) => raw_execute(&raw, "ANALYZE \"bench_mymodel\"").await,
            RawPool::Mysql(_) => raw_execute(&raw, "ANALYZE TABLE \"bench_mymodel\"").await,
        }

        // The raw SELECT is the ORM's SELECT.
        let (first_sql, raw_first_sql) = (
            MyModel::objects()
                .filter(MyModel::active.eq(true))
                .order_by([MyModel::id.asc()])
                .limit(1)
                .sql()
                .expect("sql"),
            backend.first_sql(),
        );
        assert_eq!(first_sql.0, raw_first_sql, "first(): raw SQL differs");
        let list_sql = MyModel::objects()
            .filter(MyModel::active.eq(true))
            .order_by([MyModel::id.asc()])
            .limit(100)
            .sql()
            .expect("sql");
        assert_eq!(list_sql.0, raw_first_sql, "list100: raw SQL differs");
        eprintln!(
            "SQL (ORM = raw, checked): {} -- values {:?} / {:?}",
            first_sql.0, first_sql.1, list_sql.1
        );

        // The ORM's own CPU per query, without the database: building the queryset and compiling
        // it (`sql()` also formats the bound values with Debug, which `first()` does not).
        let iters = 20_000u32;
        let start = Instant::now();
        for _ in 0..iters {
            std::hint::black_box(
                MyModel::objects()
                    .filter(MyModel::active.eq(true))
                    .order_by([MyModel::id.asc()])
                    .limit(1)
                    .sql()
                    .expect("sql"),
            );
        }
        println!(
            "COMPILE backend={} op=first_sql ns_per_call={:.0}",
            backend.name(),
            start.elapsed().as_nanos() as f64 / f64::from(iters)
        );

        // The third side: raw sqlx on the ORM's own pool.
        let shared = match canter::orm::database("default")
            .expect("ORM database")
            .pool()
            .clone()
        {
            canter::orm::backends::Pool::Sqlite(p) => RawPool::Sqlite(p),
            canter::orm::backends::Pool::Postgres(p) => RawPool::Postgres(p),
            canter::orm::backends::Pool::Mysql(p) => RawPool::Mysql(p),
        };

        let mut lines = Vec::new();

        // (a) first
        let s = interleave(
            config.n,
            config.warmup,
            |_| async {
                MyModel::objects()
                    .filter(MyModel::active.eq(true))
                    .first()
                    .await
                    .expect("orm first")
            },
            |_| raw_first(&raw),
            |_| raw_first(&shared),
            |a: &Option<MyModel>, b: &Option<MyModel>, c: &Option<MyModel>| {
                assert!(a.is_some() && a == b && a == c, "first differs")
            },
        )
        .await;
        lines.push(report(backend, "first", &s));

        // (b) 100 rows
        let s = interleave(
            config.n,
            config.warmup,
            |_| async {
                MyModel::objects()
                    .filter(MyModel::active.eq(true))
                    .order_by([MyModel::id.asc()])
                    .limit(100)
                    .await
                    .expect("orm list")
            },
            |_| raw_fetch(&raw, 100),
            |_| raw_fetch(&shared, 100),
            |a: &Vec<MyModel>, b: &Vec<MyModel>, c: &Vec<MyModel>| {
                assert_eq!(a.len(), 100);
                assert!(a == b && a == c, "list differs")
            },
        )
        .await;
        lines.push(report(backend, "list100", &s));

        // (c) insert one row
        let s = interleave(
            config.n,
            config.warmup,
            |i| {
                let obj = model(i, "orm");
                async move { MyModel::objects().create(obj).await.expect("orm create") }
            },
            |i| raw_create(&raw, model(i, "raw")),
            |i| raw_create(&shared, model(i, "shared")),
            |a: &MyModel, b: &MyModel, c: &MyModel| {
                assert!(a.id > seed_max && b.id > seed_max && c.id > seed_max);
                assert!(a.id != b.id && b.id != c.id && a.id != c.id);
            },
        )
        .await;
        lines.push(report(backend, "create", &s));
        raw_execute(&raw, delete_extra).await;

        // (d) bulk insert 10,000 rows (one untimed warm-up round)
        let mut samples = Samples::default();
        for rep in 0..config.bulk_reps + 1 {
            let objs: Vec<MyModel> = (0..SEED_ROWS).map(|i| model(i, "bulk")).collect();
            let mut t = [0.0; 3];
            for side in ORDERS[rep % 6] {
                // Each side first deletes the previous rows through its own pool (untimed): on
                // SQLite a connection's page cache is dropped when another connection has written
                // the file, so a side that ran right after another pool's DELETE would pay for
                // re-reading pages that side had cached.
                let (out, us) = match side {
                    0 => {
                        MyModel::objects()
                            .filter(MyModel::id.gt(seed_max))
                            .delete()
                            .await
                            .expect("orm delete");
                        let (out, us) = time(MyModel::objects().bulk_create(objs.clone())).await;
                        (out.expect("orm bulk_create"), us)
                    }
                    1 => {
                        raw_execute(&raw, delete_extra).await;
                        time(raw_bulk_create(&raw, objs.clone())).await
                    }
                    _ => {
                        raw_execute(&shared, delete_extra).await;
                        time(raw_bulk_create(&shared, objs.clone())).await
                    }
                };
                assert!(out.iter().all(|o| o.id > seed_max) && out.len() == SEED_ROWS);
                t[side] = us;
            }
            if rep > 0 {
                samples.orm.push(t[0]);
                samples.raw.push(t[1]);
                samples.shared.push(t[2]);
            }
        }
        raw_execute(&raw, delete_extra).await;
        for (label, v) in [
            ("orm", &samples.orm),
            ("raw", &samples.raw),
            ("shared", &samples.shared),
        ] {
            eprintln!(
                "bulk10k {} runs (ms): {}",
                label,
                v.iter()
                    .map(|us| format!("{:.1}", us / 1000.0))
                    .collect::<Vec<_>>()
                    .join(" / ")
            );
        }
        lines.push(report(backend, "bulk10k", &samples));

        // The raw INSERTs are the ORM's INSERTs (captured after timing).
        let (created, captured) =
            capture_sql(async { MyModel::objects().create(model(0, "check")).await }).await;
        created.expect("check create");
        let raw_insert = backend.insert_sql();
        assert_eq!(
            captured,
            vec![raw_insert.to_owned()],
            "create: raw SQL differs"
        );
        let objs: Vec<MyModel> = (0..SEED_ROWS).map(|i| model(i, "check")).collect();
        let (bulk, captured) =
            capture_sql(async { MyModel::objects().bulk_create(objs.clone()).await }).await;
        bulk.expect("check bulk");
        let expected: Vec<String> = objs
            .chunks(BULK_BATCH)
            .map(|c| raw_bulk_sql(backend, c))
            .collect();
        assert_eq!(captured.len(), SEED_ROWS / BULK_BATCH, "bulk batch size");
        assert!(captured == expected, "bulk_create: raw SQL differs");
        eprintln!(
            "SQL (ORM = raw, checked): {raw_insert}; bulk: {} statements of {BULK_BATCH} rows",
            captured.len()
        );
        raw_execute(&raw, delete_extra).await;

        if backend != Backend::Sqlite {
            drop_table::<MyModel>("default").await.ok();
        }
        raw::close(raw).await;
        lines
    })
    .await
}

// --- seeding the demo's table ---------------------------------------------------------------

/// Fills the demo's table (created by `demo migrate`) with `rows` rows, every second one active,
/// after deleting what it held.
async fn seed(url: &str, rows: usize) {
    let dbs = std::sync::Arc::new(Databases::single(url).expect("ORM databases"));
    dbs.scope(async move {
        DemoModel::objects().delete().await.expect("delete");
        let objs = (1..=rows)
            .map(|i| DemoModel {
                id: 0,
                name: format!("item-{i}"),
                active: (i & 1) == 0, // every second row
            })
            .collect();
        DemoModel::objects().bulk_create(objs).await.expect("seed");
        let count = DemoModel::objects().count().await.expect("count");
        let first = DemoModel::objects()
            .filter(DemoModel::active.eq(true))
            .first()
            .await
            .expect("first");
        println!(
            "seeded {} with {count} rows; first active: {}",
            DemoModel::meta().table,
            serde_json::to_string(&first).expect("json")
        );
    })
    .await
}

/// Drops PostgreSQL schema `schema` (and all in it) and creates it empty.
async fn reset_schema(url: &str, schema: &str) {
    let mut conn = sqlx::PgConnection::connect(url).await.expect("connect");
    for sql in [
        format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"),
        format!("CREATE SCHEMA \"{schema}\""),
    ] {
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(&mut conn)
            .await
            .expect("schema");
    }
    conn.close().await.ok();
    println!("schema {schema} reset");
}

fn usage() -> ! {
    eprintln!(
        "usage: orm_bench [--n N] [--warmup N] [--bulk-reps N] [--only sqlite|postgres|mariadb]\n       orm_bench seed --url URL [--rows N]\n       orm_bench reset-schema --url POSTGRES_URL --schema NAME\n       orm_bench reset-database --url MYSQL_URL --database NAME"
    );
    std::process::exit(2)
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let value = |name: &str| -> Option<String> {
        args.iter()
            .position(|a| a == name)
            .map(|i| args.get(i + 1).cloned().unwrap_or_else(|| usage()))
    };
    let number = |name: &str, default: usize| -> usize {
        value(name)
            .map(|v| v.parse().unwrap_or_else(|_| usage()))
            .unwrap_or(default)
    };

    match args.first().map(String::as_str) {
        Some("seed") => {
            let url = value("--url").unwrap_or_else(|| usage());
            seed(&url, number("--rows", SEED_ROWS)).await;
            return;
        }
        Some("reset-database") => {
            let url = value("--url").unwrap_or_else(|| usage());
            let database = value("--database").unwrap_or_else(|| usage());
            reset_database(&url, &database).await;
            return;
        }
        Some("reset-schema") => {
            let url = value("--url").unwrap_or_else(|| usage());
            let schema = value("--schema").unwrap_or_else(|| usage());
            reset_schema(&url, &schema).await;
            return;
        }
        _ => {}
    }

    let config = Config {
        n: number("--n", 2000),
        warmup: number("--warmup", 200),
        bulk_reps: number("--bulk-reps", 5),
    };
    let only = value("--only");
    let pg_url = std::env::var("BENCH_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let mysql_url = std::env::var("BENCH_MYSQL_URL")
        .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/test".into());
    let dir = std::env::temp_dir().join(format!("canter-orm-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let sqlite_url = format!("sqlite://{}", dir.join("bench.sqlite3").display());

    println!(
        "orm_bench: n={} (+{} warm-up) per op and side for first/list100/create, {} reps (+1 warm-up) for bulk10k; interleaved ORM/raw/raw-shared; {} worker threads",
        config.n,
        config.warmup,
        config.bulk_reps,
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
    );
    let mut lines = Vec::new();
    if only.as_deref().is_none_or(|o| o == "sqlite") {
        lines.extend(bench_backend(Backend::Sqlite, &sqlite_url, &config).await);
    }
    if only.as_deref().is_none_or(|o| o == "postgres") {
        lines.extend(bench_backend(Backend::Postgres, &pg_url, &config).await);
    }
    if only.as_deref().is_none_or(|o| o == "mariadb") {
        lines.extend(bench_backend(Backend::Mariadb, &mysql_url, &config).await);
    }
    std::fs::remove_dir_all(&dir).ok();

    println!();
    println!("backend | op | n | ORM p50 µs | ORM p90 µs | raw p50 µs | raw p90 µs | raw-shared p50 µs | raw-shared p90 µs | ORM/raw p50 | ORM/raw p90 | ORM/raw mean | ORM/raw-shared p50 | ORM/raw-shared p90 | ≤ 1.15× raw (p50)");
    println!("---|---|---|---|---|---|---|---|---|---|---|---|---|---|---");
    for l in &lines {
        let ratio = l.orm.p50 / l.raw.p50;
        println!(
            "{} | {} | {} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} | {}",
            l.backend,
            l.op,
            l.n,
            l.orm.p50,
            l.orm.p90,
            l.raw.p50,
            l.raw.p90,
            l.shared.p50,
            l.shared.p90,
            ratio,
            l.orm.p90 / l.raw.p90,
            l.orm.mean / l.raw.mean,
            l.orm.p50 / l.shared.p50,
            l.orm.p90 / l.shared.p90,
            if ratio <= 1.15 { "yes" } else { "NO" }
        );
    }
}
