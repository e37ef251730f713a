//! The reference side: hand-written sqlx on a pool of its own with the options canter's backend
//! uses, for each database, and the SQL it runs (checked against the ORM's at run time).

use std::str::FromStr;
use std::time::Duration;

use sqlx::mysql::{MySqlConnectOptions, MySqlPoolOptions};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Executor as _, QueryBuilder, Row as _};

use super::{MyModel, BULK_BATCH};

// The raw SQL, written by hand; checked against the ORM's at run time. MariaDB's SELECT has
// SQLite's `?` placeholders and backquoted names (sea-query's MySQL dialect); its INSERTs are
// SQLite's (the ORM renders them itself, double-quoted: its connections, and these, run with
// ANSI_QUOTES).
pub(crate) const SQLITE_FIRST: &str = r#"SELECT "bench_mymodel"."id", "bench_mymodel"."name", "bench_mymodel"."active" FROM "bench_mymodel" WHERE "bench_mymodel"."active" = ? ORDER BY "bench_mymodel"."id" ASC LIMIT ?"#;
pub(crate) const PG_FIRST: &str = r#"SELECT "bench_mymodel"."id", "bench_mymodel"."name", "bench_mymodel"."active" FROM "bench_mymodel" WHERE "bench_mymodel"."active" = $1 ORDER BY "bench_mymodel"."id" ASC LIMIT $2"#;
pub(crate) const SQLITE_INSERT: &str =
    r#"INSERT INTO "bench_mymodel" ("name", "active") VALUES (?, ?) RETURNING "id""#;
pub(crate) const PG_INSERT: &str =
    r#"INSERT INTO "bench_mymodel" ("name", "active") VALUES ($1, $2) RETURNING "id""#;
pub(crate) const MYSQL_FIRST: &str = "SELECT `bench_mymodel`.`id`, `bench_mymodel`.`name`, `bench_mymodel`.`active` FROM `bench_mymodel` WHERE `bench_mymodel`.`active` = ? ORDER BY `bench_mymodel`.`id` ASC LIMIT ?";

#[derive(Clone, Copy, PartialEq, Debug)]
pub(crate) enum Backend {
    Sqlite,
    Postgres,
    Mariadb,
}

impl Backend {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
            Backend::Mariadb => "mariadb",
        }
    }
    /// The SELECT of `first` and `list100`.
    pub(crate) fn first_sql(self) -> &'static str {
        match self {
            Backend::Sqlite => SQLITE_FIRST,
            Backend::Postgres => PG_FIRST,
            Backend::Mariadb => MYSQL_FIRST,
        }
    }
    /// The INSERT of `create`.
    pub(crate) fn insert_sql(self) -> &'static str {
        match self {
            Backend::Sqlite => SQLITE_INSERT,
            Backend::Postgres => PG_INSERT,
            // The ORM writes INSERTs itself, double-quoted (its connections run with ANSI_QUOTES).
            Backend::Mariadb => SQLITE_INSERT,
        }
    }
}

/// The reference: a plain sqlx pool with the options canter's backend uses.
#[derive(Clone)]
pub(crate) enum RawPool {
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool),
    Mysql(sqlx::MySqlPool),
}

pub(crate) fn raw_pool(backend: Backend, url: &str) -> RawPool {
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
        // canter-orm/src/backends/mysql/mod.rs: connect()
        Backend::Mariadb => {
            let options = MySqlConnectOptions::from_str(url)
                .expect("mysql url")
                .charset("utf8mb4")
                .collation("utf8mb4_nopad_bin")
                .timezone(Some("+00:00".to_owned()));
            RawPool::Mysql(
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
            )
        }
    }
}

/// `body` once per driver, with `$p` that driver's pool and `$db` its sqlx database type (the
/// types differ, the calls do not).
macro_rules! each_pool {
    ($pool:expr, $p:ident: $db:ident => $body:expr) => {
        match $pool {
            RawPool::Sqlite($p) => {
                #[allow(dead_code)]
                type $db = sqlx::Sqlite;
                $body
            }
            RawPool::Postgres($p) => {
                #[allow(dead_code)]
                type $db = sqlx::Postgres;
                $body
            }
            RawPool::Mysql($p) => {
                #[allow(dead_code)]
                type $db = sqlx::MySql;
                $body
            }
        }
    };
}

impl RawPool {
    fn backend(&self) -> Backend {
        match self {
            RawPool::Sqlite(_) => Backend::Sqlite,
            RawPool::Postgres(_) => Backend::Postgres,
            RawPool::Mysql(_) => Backend::Mariadb,
        }
    }
}

pub(crate) async fn raw_fetch(pool: &RawPool, limit: i64) -> Vec<MyModel> {
    let sql = pool.backend().first_sql();
    each_pool!(pool, p: Db => sqlx::query_as::<Db, (i64, String, bool)>(sql)
        .bind(true)
        .bind(limit)
        .fetch_all(p)
        .await
        .expect("raw select"))
    .into_iter()
    .map(|(id, name, active)| MyModel { id, name, active })
    .collect()
}

pub(crate) async fn raw_first(pool: &RawPool) -> Option<MyModel> {
    raw_fetch(pool, 1).await.pop()
}

pub(crate) async fn raw_create(pool: &RawPool, mut obj: MyModel) -> MyModel {
    let sql = pool.backend().insert_sql();
    obj.id = each_pool!(pool, p: Db => sqlx::query::<Db>(sql)
        .bind(&obj.name)
        .bind(obj.active)
        .fetch_one(p)
        .await
        .expect("raw insert")
        .get::<i64, _>(0));
    obj
}

/// The multi-row INSERT, as the ORM writes it.
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

pub(crate) async fn raw_bulk_create(pool: &RawPool, mut objs: Vec<MyModel>) -> Vec<MyModel> {
    for chunk in objs.chunks_mut(BULK_BATCH) {
        let ids: Vec<i64> = each_pool!(pool, p: Db => bulk_builder::<Db>(chunk)
            .build()
            .fetch_all(p)
            .await
            .expect("raw bulk insert")
            .iter()
            .map(|r| r.get::<i64, _>(0))
            .collect());
        for (obj, id) in chunk.iter_mut().zip(ids) {
            obj.id = id;
        }
    }
    objs
}

/// The SQL of the first multi-row INSERT the raw side sends (for the check against the ORM's).
pub(crate) fn raw_bulk_sql(backend: Backend, chunk: &[MyModel]) -> String {
    match backend {
        Backend::Sqlite => bulk_builder::<sqlx::Sqlite>(chunk).into_string(),
        Backend::Postgres => bulk_builder::<sqlx::Postgres>(chunk).into_string(),
        Backend::Mariadb => bulk_builder::<sqlx::MySql>(chunk).into_string(),
    }
}

pub(crate) async fn raw_execute(pool: &RawPool, sql: &'static str) {
    each_pool!(pool, p: Db => {
        sqlx::query::<Db>(sql).execute(p).await.expect(sql);
    })
}

/// Closes the pool.
pub(crate) async fn close(pool: RawPool) {
    each_pool!(pool, p: Db => p.close().await)
}
