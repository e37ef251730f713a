//! canter's ORM against hand-written sqlx, in one process, on the same pool settings.
//!
//! For SQLite (a temp file) and PostgreSQL (`BENCH_POSTGRES_URL`, default
//! `postgres://postgres@127.0.0.1:5432/test`; the table lives in its own schema `canter_bench`,
//! reached with `?options=-c search_path=canter_bench`), the table `bench_mymodel` is dropped,
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
//!   `orm_bench [--n 2000] [--bulk-reps 5] [--warmup 200] [--only sqlite|postgres]`
//!   `orm_bench seed --url URL [--rows 10000]`: empties the demo's table `demo_mymodel` (made
//!   by `demo migrate`) and fills it with `--rows` rows, every second one active
//!   `orm_bench reset-schema --url POSTGRES_URL --schema NAME`: drops the schema (CASCADE) and
//!   creates it empty
//!
//! Output: one `COMPILE ...` line per backend (ns of CPU to build and compile the `first` query,
//! no database), one `RESULT ...` line per backend and operation (latencies in µs), then a
//! table.

use std::future::Future;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use canter::orm::schema::{create_table, drop_table};
use canter::orm::{Databases, Model};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Connection, QueryBuilder, Row as _};

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

// The raw SQL, written by hand; checked against the ORM's at run time.
const SQLITE_FIRST: &str = r#"SELECT "bench_mymodel"."id", "bench_mymodel"."name", "bench_mymodel"."active" FROM "bench_mymodel" WHERE "bench_mymodel"."active" = ? ORDER BY "bench_mymodel"."id" ASC LIMIT ?"#;
const PG_FIRST: &str = r#"SELECT "bench_mymodel"."id", "bench_mymodel"."name", "bench_mymodel"."active" FROM "bench_mymodel" WHERE "bench_mymodel"."active" = $1 ORDER BY "bench_mymodel"."id" ASC LIMIT $2"#;
const SQLITE_INSERT: &str =
    r#"INSERT INTO "bench_mymodel" ("name", "active") VALUES (?, ?) RETURNING "id""#;
const PG_INSERT: &str =
    r#"INSERT INTO "bench_mymodel" ("name", "active") VALUES ($1, $2) RETURNING "id""#;

#[derive(Clone, Copy, PartialEq, Debug)]
enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// The reference: a plain sqlx pool with the options canter's backend uses.
#[derive(Clone)]
enum RawPool {
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool),
}

fn raw_pool(backend: Backend, url: &str) -> RawPool {
    match backend {
        // canter-orm/src/backends/sqlite/mod.rs: connect()
        Backend::Sqlite => {
            let options = SqliteConnectOptions::from_str(url)
                .expect("sqlite url")
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(5))
                .with_regexp();
            RawPool::Sqlite(
                SqlitePoolOptions::new()
                    .max_connections(8)
                    .acquire_timeout(Duration::from_secs(5))
                    .connect_lazy_with(options),
            )
        }
        // canter-orm/src/backends/postgres/mod.rs: connect()
        Backend::Postgres => {
            let options = PgConnectOptions::from_str(url).expect("postgres url");
            RawPool::Postgres(
                PgPoolOptions::new()
                    .max_connections(10)
                    .acquire_timeout(Duration::from_secs(5))
                    .connect_lazy_with(options),
            )
        }
    }
}

// --- the raw operations (what one would write by hand with sqlx) ----------------------------

async fn raw_fetch(pool: &RawPool, limit: i64) -> Vec<MyModel> {
    match pool {
        RawPool::Sqlite(p) => sqlx::query_as::<_, (i64, String, bool)>(SQLITE_FIRST)
            .bind(true)
            .bind(limit)
            .fetch_all(p)
            .await
            .expect("raw select"),
        RawPool::Postgres(p) => sqlx::query_as::<_, (i64, String, bool)>(PG_FIRST)
            .bind(true)
            .bind(limit)
            .fetch_all(p)
            .await
            .expect("raw select"),
    }
    .into_iter()
    .map(|(id, name, active)| MyModel { id, name, active })
    .collect()
}

async fn raw_first(pool: &RawPool) -> Option<MyModel> {
    raw_fetch(pool, 1).await.pop()
}

async fn raw_create(pool: &RawPool, mut obj: MyModel) -> MyModel {
    obj.id = match pool {
        RawPool::Sqlite(p) => sqlx::query(SQLITE_INSERT)
            .bind(&obj.name)
            .bind(obj.active)
            .fetch_one(p)
            .await
            .expect("raw insert")
            .get::<i64, _>(0),
        RawPool::Postgres(p) => sqlx::query(PG_INSERT)
            .bind(&obj.name)
            .bind(obj.active)
            .fetch_one(p)
            .await
            .expect("raw insert")
            .get::<i64, _>(0),
    };
    obj
}

fn bulk_builder<DB: sqlx::Database>(chunk: &[MyModel]) -> QueryBuilder<DB>
where
    for<'q> &'q str: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> bool: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    let mut qb = QueryBuilder::<DB>::new(r#"INSERT INTO "bench_mymodel" ("name", "active") "#);
    qb.push_values(chunk, |mut row, obj| {
        row.push_bind(obj.name.as_str()).push_bind(obj.active);
    });
    qb.push(r#" RETURNING "id""#);
    qb
}

async fn raw_bulk_create(pool: &RawPool, mut objs: Vec<MyModel>) -> Vec<MyModel> {
    for chunk in objs.chunks_mut(BULK_BATCH) {
        let ids: Vec<i64> = match pool {
            RawPool::Sqlite(p) => bulk_builder::<sqlx::Sqlite>(chunk)
                .build()
                .fetch_all(p)
                .await
                .expect("raw bulk insert")
                .iter()
                .map(|r| r.get::<i64, _>(0))
                .collect(),
            RawPool::Postgres(p) => bulk_builder::<sqlx::Postgres>(chunk)
                .build()
                .fetch_all(p)
                .await
                .expect("raw bulk insert")
                .iter()
                .map(|r| r.get::<i64, _>(0))
                .collect(),
        };
        for (obj, id) in chunk.iter_mut().zip(ids) {
            obj.id = id;
        }
    }
    objs
}

/// The SQL of the first multi-row INSERT the raw side sends (for the check against the ORM's).
fn raw_bulk_sql(backend: Backend, chunk: &[MyModel]) -> String {
    match backend {
        Backend::Sqlite => bulk_builder::<sqlx::Sqlite>(chunk).into_string(),
        Backend::Postgres => bulk_builder::<sqlx::Postgres>(chunk).into_string(),
    }
}

async fn raw_execute(pool: &RawPool, sql: &'static str) {
    match pool {
        RawPool::Sqlite(p) => {
            sqlx::query(sql).execute(p).await.expect(sql);
        }
        RawPool::Postgres(p) => {
            sqlx::query(sql).execute(p).await.expect(sql);
        }
    }
}

// --- timing ---------------------------------------------------------------------------------

/// Latencies in µs, one list per side: the ORM, raw sqlx on its own pool (the reference), and
/// raw sqlx on the ORM's own pool ("shared": same connection, same prepared statement, same
/// SQLite worker thread, so only the ORM's own code differs).
#[derive(Default)]
struct Samples {
    orm: Vec<f64>,
    raw: Vec<f64>,
    shared: Vec<f64>,
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    // Nearest rank.
    let rank = ((p / 100.0) * sorted.len() as f64).ceil().max(1.0) as usize;
    sorted[rank.min(sorted.len()) - 1]
}

fn median(sorted: &[f64]) -> f64 {
    let n = sorted.len();
    if n == 0 {
        return f64::NAN;
    }
    if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
    }
}

struct Stats {
    p50: f64,
    p90: f64,
    mean: f64,
    min: f64,
}

fn stats(samples: &[f64]) -> Stats {
    let mut s = samples.to_vec();
    s.sort_by(|a, b| a.partial_cmp(b).expect("no NaN"));
    Stats {
        p50: median(&s),
        p90: percentile(&s, 90.0),
        mean: s.iter().sum::<f64>() / s.len().max(1) as f64,
        min: s.first().copied().unwrap_or(f64::NAN),
    }
}

async fn time<F: Future>(f: F) -> (F::Output, f64) {
    let start = Instant::now();
    let out = f.await;
    (out, start.elapsed().as_secs_f64() * 1e6)
}

/// The order of the three sides (0 ORM, 1 raw, 2 shared) in round `i`: all six permutations in
/// turn, so each side runs equally often first, second and third, and after each other side.
const ORDERS: [[usize; 3]; 6] = [
    [0, 1, 2],
    [1, 2, 0],
    [2, 0, 1],
    [0, 2, 1],
    [2, 1, 0],
    [1, 0, 2],
];

/// Runs `warmup` untimed rounds, then `n` timed rounds; each round calls every side once, in
/// the order `ORDERS[i % 6]`. Each round's results go to `check` (untimed).
async fn interleave<O, R, S, FO, FR, FS, T>(
    n: usize,
    warmup: usize,
    mut orm: O,
    mut raw: R,
    mut shared: S,
    mut check: impl FnMut(&T, &T, &T),
) -> Samples
where
    O: FnMut(usize) -> FO,
    R: FnMut(usize) -> FR,
    S: FnMut(usize) -> FS,
    FO: Future<Output = T>,
    FR: Future<Output = T>,
    FS: Future<Output = T>,
{
    let mut samples = Samples::default();
    for i in 0..warmup + n {
        let mut out: [Option<(T, f64)>; 3] = [None, None, None];
        for side in ORDERS[i % 6] {
            out[side] = Some(match side {
                0 => time(orm(i)).await,
                1 => time(raw(i)).await,
                _ => time(shared(i)).await,
            });
        }
        let [Some((a, ta)), Some((b, tb)), Some((c, tc))] = out else {
            unreachable!("every side ran")
        };
        check(&a, &b, &c);
        if i >= warmup {
            samples.orm.push(ta);
            samples.raw.push(tb);
            samples.shared.push(tc);
        }
    }
    samples
}

struct Line {
    backend: &'static str,
    op: &'static str,
    n: usize,
    orm: Stats,
    raw: Stats,
    shared: Stats,
}

fn report(backend: Backend, op: &'static str, samples: &Samples) -> Line {
    let line = Line {
        backend: backend.name(),
        op,
        n: samples.orm.len(),
        orm: stats(&samples.orm),
        raw: stats(&samples.raw),
        shared: stats(&samples.shared),
    };
    let (o, r, sh) = (&line.orm, &line.raw, &line.shared);
    println!(
        "RESULT backend={} op={op} n={} orm_p50_us={:.2} orm_p90_us={:.2} orm_mean_us={:.2} orm_min_us={:.2} raw_p50_us={:.2} raw_p90_us={:.2} raw_mean_us={:.2} raw_min_us={:.2} shared_p50_us={:.2} shared_p90_us={:.2} shared_mean_us={:.2} shared_min_us={:.2} ratio_p50={:.3} ratio_p90={:.3} ratio_mean={:.3} ratio_shared_p50={:.3} ratio_shared_p90={:.3}",
        line.backend,
        line.n,
        o.p50,
        o.p90,
        o.mean,
        o.min,
        r.p50,
        r.p90,
        r.mean,
        r.min,
        sh.p50,
        sh.p90,
        sh.mean,
        sh.min,
        o.p50 / r.p50,
        o.p90 / r.p90,
        o.mean / r.mean,
        o.p50 / sh.p50,
        o.p90 / sh.p90,
    );
    line
}

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
        }

        // The raw SELECT is the ORM's SELECT.
        let (first_sql, raw_first_sql) = (
            MyModel::objects()
                .filter(MyModel::active.eq(true))
                .order_by([MyModel::id.asc()])
                .limit(1)
                .sql()
                .expect("sql"),
            match backend {
                Backend::Sqlite => SQLITE_FIRST,
                Backend::Postgres => PG_FIRST,
            },
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
            #[allow(unreachable_patterns)]
            other => panic!("no raw-sqlx side for {other:?} in this benchmark"),
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
        let raw_insert = match backend {
            Backend::Sqlite => SQLITE_INSERT,
            Backend::Postgres => PG_INSERT,
        };
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

        if backend == Backend::Postgres {
            drop_table::<MyModel>("default").await.ok();
        }
        match raw {
            RawPool::Sqlite(p) => p.close().await,
            RawPool::Postgres(p) => p.close().await,
        }
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
        "usage: orm_bench [--n N] [--warmup N] [--bulk-reps N] [--only sqlite|postgres]\n       orm_bench seed --url URL [--rows N]\n       orm_bench reset-schema --url POSTGRES_URL --schema NAME"
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
