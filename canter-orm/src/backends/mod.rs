//! Database backends, one folder each (Django's `db/backends/<vendor>/`): connecting, binding
//! values and running statements (here), and behind the [`Backend`] trait ([`base`]) each
//! vendor's `operations` (how statements and lookups are spelled), `features`, `schema` (its
//! schema editor) and `introspection`. Generic code asks a database's [`Database::backend`];
//! only this module and its folders name a vendor. Statements run on the current
//! transaction's connection when inside `atomic` for that database, else on the pool.

/// Adds sea-query values to a backend's sqlx arguments (the same code for each backend; the
/// argument types differ).
macro_rules! bind_values {
    ($args:expr, $values:expr) => {{
        use sea_query::Value as V;
        use sqlx::Arguments as _;
        let mut args = $args;
        for value in $values.0 {
            let added = match value {
                V::Bool(v) => args.add(v),
                V::TinyInt(v) => args.add(v.map(i16::from)),
                V::SmallInt(v) => args.add(v),
                V::Int(v) => args.add(v),
                V::BigInt(v) => args.add(v),
                V::TinyUnsigned(v) => args.add(v.map(i16::from)),
                V::SmallUnsigned(v) => args.add(v.map(i32::from)),
                V::Unsigned(v) => args.add(v.map(i64::from)),
                V::BigUnsigned(v) => args.add(v.map(|n| i64::try_from(n).unwrap_or(i64::MAX))),
                V::Float(v) => args.add(v),
                V::Double(v) => args.add(v),
                V::String(v) => args.add(v),
                V::Char(v) => args.add(v.map(|c| c.to_string())),
                V::Bytes(v) => args.add(v),
                V::Json(v) => args.add(v.map(|j| sqlx::types::Json(*j))),
                V::ChronoDate(v) => args.add(v),
                V::ChronoTime(v) => args.add(v),
                V::ChronoDateTime(v) => args.add(v),
                V::ChronoDateTimeUtc(v) => args.add(v),
                V::ChronoDateTimeLocal(v) => args.add(v.map(|d| d.with_timezone(&chrono::Utc))),
                V::ChronoDateTimeWithTimeZone(v) => {
                    args.add(v.map(|d| d.with_timezone(&chrono::Utc)))
                }
                V::Uuid(v) => args.add(v),
                V::Decimal(v) => bind_decimal!(args, v),
                #[allow(unreachable_patterns)]
                other => Err(format!("unsupported value {other:?}").into()),
            };
            added.map_err(sqlx::Error::Encode)?;
        }
        args
    }};
}

/// The [`Operations`] methods that only name the backend's sea-query dialect: the same bodies
/// for each backend, which a trait default cannot hold (sea-query's builders are generic, not
/// objects, and `dyn Backend` rules out an associated type).
macro_rules! sea_query_dialect {
    ($builder:ident) => {
        fn build_select(
            &self,
            statement: &sea_query::SelectStatement,
        ) -> (String, sea_query::Values) {
            statement.build(sea_query::$builder)
        }

        fn build_insert(
            &self,
            statement: &sea_query::InsertStatement,
        ) -> (String, sea_query::Values) {
            statement.build(sea_query::$builder)
        }

        fn build_update(
            &self,
            statement: &sea_query::UpdateStatement,
        ) -> (String, sea_query::Values) {
            statement.build(sea_query::$builder)
        }

        fn build_delete(
            &self,
            statement: &sea_query::DeleteStatement,
        ) -> (String, sea_query::Values) {
            statement.build(sea_query::$builder)
        }

        fn value_literal(&self, value: &sea_query::Value) -> String {
            sea_query::QueryBuilder::value_to_string(&sea_query::$builder, value)
        }
    };
}

/// A driver's statement functions, the same for each backend but for sqlx's types: `arguments`
/// (sea-query values bound as the driver's arguments, with the module's `bind_decimal!`),
/// `$execute` and `$fetch_all` (one statement on any executor of the driver) and
/// `fetch_stream` (rows as they come, from the pool).
macro_rules! driver_statements {
    ($db:ty, $arguments:ty, $variant:ident, execute: $execute:ident, fetch_all: $fetch_all:ident) => {
        fn arguments(values: sea_query::Values) -> Result<$arguments, sqlx::Error> {
            Ok(bind_values!(<$arguments>::default(), values))
        }

        pub(crate) async fn $execute<'e, E: sqlx::Executor<'e, Database = $db>>(
            executor: E,
            sql: &str,
            values: sea_query::Values,
        ) -> Result<u64, sqlx::Error> {
            let args = arguments(values)?;
            let result = sqlx::query_with(sqlx::AssertSqlSafe(sql.to_owned()), args)
                .execute(executor)
                .await?;
            Ok(result.rows_affected())
        }

        pub(crate) async fn $fetch_all<'e, E: sqlx::Executor<'e, Database = $db>>(
            executor: E,
            sql: &str,
            values: sea_query::Values,
        ) -> Result<Vec<Row>, sqlx::Error> {
            let args = arguments(values)?;
            let rows = sqlx::query_with(sqlx::AssertSqlSafe(sql.to_owned()), args)
                .fetch_all(executor)
                .await?;
            Ok(rows
                .into_iter()
                .map(|r| Row {
                    inner: RowInner::$variant(r),
                })
                .collect())
        }

        pub(crate) fn fetch_stream(
            pool: sqlx::Pool<$db>,
            sql: String,
            values: sea_query::Values,
            db: std::sync::Arc<Database>,
        ) -> impl futures_util::Stream<Item = Result<Row, crate::OrmError>> + Send + 'static {
            super::stream_rows(
                pool,
                sql,
                arguments(values),
                |row| Row {
                    inner: RowInner::$variant(row),
                },
                db,
            )
        }
    };
}

pub mod base;
#[cfg(feature = "mysql")]
mod mysql;
#[cfg(feature = "postgres")]
mod postgres;
mod row;
#[cfg(feature = "sqlite")]
mod sqlite;

pub use base::{Backend, Features, Introspection, Operations};
pub use row::Row;
#[doc(hidden)]
pub use row::{MySqlDecode, PgDecode, SqliteDecode};

use futures_util::stream::BoxStream;
use futures_util::StreamExt;
use sea_query::Values;

use crate::db::DatabaseConfig;
use crate::error::OrmError;
use row::RowInner;

/// Which database a backend is (those compiled in: the crate's `sqlite`, `postgres` and
/// `mysql` features).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Vendor {
    #[cfg(feature = "sqlite")]
    Sqlite,
    #[cfg(feature = "postgres")]
    Postgres,
    /// MariaDB (10.5 or later), through MySQL's protocol.
    #[cfg(feature = "mysql")]
    Mysql,
}

impl Vendor {
    /// The backend of this vendor.
    pub fn backend(self) -> &'static dyn Backend {
        match self {
            #[cfg(feature = "sqlite")]
            Vendor::Sqlite => &sqlite::BACKEND,
            #[cfg(feature = "postgres")]
            Vendor::Postgres => &postgres::BACKEND,
            #[cfg(feature = "mysql")]
            Vendor::Mysql => &mysql::BACKEND,
        }
    }

    /// The vendor a database URL names (`sqlite:…`, `postgres://…`, `mysql://…`), if compiled
    /// in.
    pub fn from_url(url: &str) -> Result<Vendor, String> {
        let scheme = url.split(':').next().unwrap_or_default();
        match scheme {
            #[cfg(feature = "sqlite")]
            "sqlite" => Ok(Vendor::Sqlite),
            #[cfg(feature = "postgres")]
            "postgres" | "postgresql" => Ok(Vendor::Postgres),
            #[cfg(feature = "mysql")]
            "mysql" | "mariadb" => Ok(Vendor::Mysql),
            #[allow(unreachable_patterns)]
            "sqlite" | "postgres" | "postgresql" | "mysql" | "mariadb" => Err(format!(
                "{scheme} support is not compiled in (canter-orm's `{}` feature)",
                match scheme {
                    "sqlite" => "sqlite",
                    "mysql" | "mariadb" => "mysql",
                    _ => "postgres",
                }
            )),
            _ => Err("unsupported URL (use sqlite://…, postgres://… or mysql://…)".into()),
        }
    }
}

/// A lazily connecting pool for `config`, on the backend its URL names.
pub(crate) fn connect(config: &DatabaseConfig) -> Result<(Vendor, Pool), String> {
    let vendor = Vendor::from_url(config.url.trim())?;
    let pool = match vendor {
        #[cfg(feature = "sqlite")]
        Vendor::Sqlite => sqlite::connect(config),
        #[cfg(feature = "postgres")]
        Vendor::Postgres => postgres::connect(config),
        #[cfg(feature = "mysql")]
        Vendor::Mysql => mysql::connect(config),
    }?;
    Ok((vendor, pool))
}

/// A connection pool of one backend.
#[derive(Clone, Debug)]
pub enum Pool {
    #[cfg(feature = "sqlite")]
    Sqlite(sqlx::SqlitePool),
    #[cfg(feature = "postgres")]
    Postgres(sqlx::PgPool),
    #[cfg(feature = "mysql")]
    Mysql(sqlx::MySqlPool),
}

/// One connection taken from a pool (held by a transaction).
pub(crate) enum Connection {
    #[cfg(feature = "sqlite")]
    Sqlite(sqlx::pool::PoolConnection<sqlx::Sqlite>),
    #[cfg(feature = "postgres")]
    Postgres(sqlx::pool::PoolConnection<sqlx::Postgres>),
    #[cfg(feature = "mysql")]
    Mysql(sqlx::pool::PoolConnection<sqlx::MySql>),
}

/// Runs a backend function on the current transaction's connection for this database (inside
/// `atomic`), else on the pool; counts and logs the statement, and names the alias in errors.
macro_rules! on_connection {
    ($db:expr, $sql:expr, $values:expr, $sqlite:path, $pg:path, $pg_pool:path, $mysql:path) => {{
        let db = $db;
        log_sql(&db.alias, $sql);
        db.count_query();
        match crate::transaction::current_connection(&db.alias) {
            Some(conn) => {
                let mut conn = conn.lock().await;
                match &mut *conn {
                    #[cfg(feature = "sqlite")]
                    Connection::Sqlite(c) => $sqlite(&mut **c, $sql, $values).await,
                    #[cfg(feature = "postgres")]
                    Connection::Postgres(c) => $pg(&mut **c, $sql, $values).await,
                    #[cfg(feature = "mysql")]
                    Connection::Mysql(c) => $mysql(&mut **c, $sql, $values).await,
                }
            }
            None => match &db.pool {
                #[cfg(feature = "sqlite")]
                Pool::Sqlite(pool) => $sqlite(pool, $sql, $values).await,
                #[cfg(feature = "postgres")]
                Pool::Postgres(pool) => $pg_pool(pool, $sql, $values).await,
                #[cfg(feature = "mysql")]
                Pool::Mysql(pool) => $mysql(pool, $sql, $values).await,
            },
        }
        .map_err(|e| db.err(e))
    }};
}

impl Connection {
    /// Runs SQL without parameters (transaction control, `PRAGMA`, …).
    pub(crate) async fn execute_raw(&mut self, sql: &str) -> Result<(), sqlx::Error> {
        let sql = sqlx::AssertSqlSafe(sql.to_owned());
        match self {
            #[cfg(feature = "sqlite")]
            Connection::Sqlite(c) => sqlx::raw_sql(sql).execute(&mut **c).await.map(drop),
            #[cfg(feature = "postgres")]
            Connection::Postgres(c) => sqlx::raw_sql(sql).execute(&mut **c).await.map(drop),
            #[cfg(feature = "mysql")]
            Connection::Mysql(c) => sqlx::raw_sql(sql).execute(&mut **c).await.map(drop),
        }
    }

    /// How many rows a query without parameters returns.
    pub(crate) async fn count_rows(&mut self, sql: &str) -> Result<usize, sqlx::Error> {
        let sql = sqlx::AssertSqlSafe(sql.to_owned());
        match self {
            #[cfg(feature = "sqlite")]
            Connection::Sqlite(c) => sqlx::query(sql).fetch_all(&mut **c).await.map(|r| r.len()),
            #[cfg(feature = "postgres")]
            Connection::Postgres(c) => sqlx::query(sql).fetch_all(&mut **c).await.map(|r| r.len()),
            #[cfg(feature = "mysql")]
            Connection::Mysql(c) => sqlx::query(sql).fetch_all(&mut **c).await.map(|r| r.len()),
        }
    }

    /// The first column of the first row of a query without parameters, as an integer
    /// (`SELECT GET_LOCK(…)`'s answer); `None` for no row or NULL.
    pub(crate) async fn first_integer(&mut self, sql: &str) -> Result<Option<i64>, sqlx::Error> {
        let sql = sqlx::AssertSqlSafe(sql.to_owned());
        match self {
            #[cfg(feature = "sqlite")]
            Connection::Sqlite(c) => sqlx::query_scalar::<_, Option<i64>>(sql)
                .fetch_optional(&mut **c)
                .await
                .map(Option::flatten),
            #[cfg(feature = "postgres")]
            Connection::Postgres(c) => sqlx::query_scalar::<_, Option<i64>>(sql)
                .fetch_optional(&mut **c)
                .await
                .map(Option::flatten),
            #[cfg(feature = "mysql")]
            Connection::Mysql(c) => sqlx::query_scalar::<_, Option<i64>>(sql)
                .fetch_optional(&mut **c)
                .await
                .map(Option::flatten),
        }
    }

    /// Closes the connection when it is dropped instead of returning it to the pool.
    pub(crate) fn close_on_drop(&mut self) {
        match self {
            #[cfg(feature = "sqlite")]
            Connection::Sqlite(c) => c.close_on_drop(),
            #[cfg(feature = "postgres")]
            Connection::Postgres(c) => c.close_on_drop(),
            #[cfg(feature = "mysql")]
            Connection::Mysql(c) => c.close_on_drop(),
        }
    }
}

/// A configured database: alias, pool and the URL with its password hidden.
#[derive(Debug)]
pub struct Database {
    pub alias: String,
    pub vendor: Vendor,
    /// The URL with any password replaced by `***`, safe for messages.
    pub display_url: String,
    pub(crate) pool: Pool,
    /// Statements run so far (Django's `connection.queries`, counted): tests assert "no N+1".
    pub(crate) queries: std::sync::atomic::AtomicU64,
}

impl Database {
    pub(crate) fn err(&self, err: sqlx::Error) -> OrmError {
        OrmError::from_sqlx(&self.alias, &self.display_url, err)
    }

    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// How this database spells SQL, what it can do, its schema editor and introspection.
    pub fn backend(&self) -> &'static dyn Backend {
        self.vendor.backend()
    }

    /// What this database can do.
    pub fn features(&self) -> &'static Features {
        self.backend().features()
    }

    /// How many statements this database has run (Django's `assertNumQueries` counts these).
    pub fn query_count(&self) -> u64 {
        self.queries.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn count_query(&self) {
        self.queries
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    pub(crate) async fn acquire(&self) -> Result<Connection, OrmError> {
        Ok(match &self.pool {
            #[cfg(feature = "sqlite")]
            Pool::Sqlite(pool) => {
                Connection::Sqlite(pool.acquire().await.map_err(|e| self.err(e))?)
            }
            #[cfg(feature = "postgres")]
            Pool::Postgres(pool) => {
                Connection::Postgres(pool.acquire().await.map_err(|e| self.err(e))?)
            }
            #[cfg(feature = "mysql")]
            Pool::Mysql(pool) => Connection::Mysql(pool.acquire().await.map_err(|e| self.err(e))?),
        })
    }

    /// Runs a statement; returns the number of rows affected.
    pub(crate) async fn execute(&self, sql: &str, values: Values) -> Result<u64, OrmError> {
        on_connection!(
            self,
            sql,
            values,
            sqlite::execute,
            postgres::execute,
            postgres::execute_pool,
            mysql::execute
        )
    }

    /// Runs a query; returns every row.
    pub(crate) async fn fetch_all(&self, sql: &str, values: Values) -> Result<Vec<Row>, OrmError> {
        on_connection!(
            self,
            sql,
            values,
            sqlite::fetch_all,
            postgres::fetch_all,
            postgres::fetch_all_pool,
            mysql::fetch_all
        )
    }

    /// Streams rows as the database sends them (inside a transaction, rows are read first:
    /// the transaction's one connection cannot be lent out to a stream).
    pub(crate) fn fetch_stream(
        self: std::sync::Arc<Self>,
        sql: String,
        values: Values,
    ) -> BoxStream<'static, Result<Row, OrmError>> {
        if crate::transaction::current_connection(&self.alias).is_some() {
            let db = self.clone();
            return futures_util::stream::once(async move { db.fetch_all(&sql, values).await })
                .flat_map(|result| match result {
                    Ok(rows) => futures_util::stream::iter(rows.into_iter().map(Ok)).boxed(),
                    Err(e) => futures_util::stream::once(async move { Err(e) }).boxed(),
                })
                .boxed();
        }
        log_sql(&self.alias, &sql);
        match self.pool.clone() {
            #[cfg(feature = "sqlite")]
            Pool::Sqlite(pool) => sqlite::fetch_stream(pool, sql, values, self).boxed(),
            #[cfg(feature = "postgres")]
            Pool::Postgres(pool) => postgres::fetch_stream(pool, sql, values, self).boxed(),
            #[cfg(feature = "mysql")]
            Pool::Mysql(pool) => mysql::fetch_stream(pool, sql, values, self).boxed(),
        }
    }
}

/// Streams a query's rows from a pool connection. The sqlx stream borrows its connection, so
/// it runs in a task that hands rows over a small channel: the returned stream is `'static`,
/// rows arrive as the database sends them, and dropping the stream ends the task (and returns
/// the connection).
pub(crate) fn stream_rows<DB>(
    pool: sqlx::Pool<DB>,
    sql: String,
    args: Result<DB::Arguments, sqlx::Error>,
    wrap: fn(DB::Row) -> Row,
    db: std::sync::Arc<Database>,
) -> impl futures_util::Stream<Item = Result<Row, OrmError>> + Send + 'static
where
    DB: sqlx::Database,
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
    DB::Arguments: sqlx::IntoArguments<DB> + Send + 'static,
{
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Result<DB::Row, sqlx::Error>>(64);
    tokio::spawn(async move {
        let args = match args {
            Ok(args) => args,
            Err(e) => {
                let _ = tx.send(Err(e)).await;
                return;
            }
        };
        let mut conn = match pool.acquire().await {
            Ok(conn) => conn,
            Err(e) => {
                let _ = tx.send(Err(e)).await;
                return;
            }
        };
        let mut rows = sqlx::query_with(sqlx::AssertSqlSafe(sql), args).fetch(&mut *conn);
        while let Some(row) = rows.next().await {
            if tx.send(row).await.is_err() {
                break;
            }
        }
    });
    futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx))
        .map(move |row| row.map(wrap).map_err(|e| db.err(e)))
}

fn log_sql(alias: &str, sql: &str) {
    tracing::debug!(target: "canter::orm::sql", alias, "{sql}");
}

/// Hides the secrets of a database URL: the password in its userinfo (`u:***@h`) and the
/// values of query parameters naming one (`?password=***`, `sslpassword`, `passfile`…).
pub(crate) fn display_url(url: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let mut shown = match base.split_once("://") {
        Some((scheme, rest)) => {
            // The userinfo ends at the authority's last '@' (a raw '@' may be in a password).
            let authority_end = rest.find('/').unwrap_or(rest.len());
            match rest[..authority_end].rfind('@') {
                Some(at) => {
                    let (userinfo, host) = (&rest[..at], &rest[at..]);
                    match userinfo.split_once(':') {
                        Some((user, _)) => format!("{scheme}://{user}:***{host}"),
                        None => base.to_owned(),
                    }
                }
                None => base.to_owned(),
            }
        }
        None => base.to_owned(),
    };
    if let Some(query) = query {
        let params: Vec<String> = query
            .split('&')
            .map(|param| match param.split_once('=') {
                Some((key, _)) if is_secret_param(key) => format!("{key}=***"),
                _ => param.to_owned(),
            })
            .collect();
        shown.push('?');
        shown.push_str(&params.join("&"));
    }
    shown
}

/// Query parameters whose value is a secret (libpq's `password`, `sslpassword`, and the like).
fn is_secret_param(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    ["pass", "pwd", "secret", "token", "key"]
        .iter()
        .any(|word| key.contains(word))
}

#[cfg(test)]
mod tests {
    #[test]
    fn passwords_are_hidden() {
        assert_eq!(
            super::display_url("postgres://u:secret@h:5432/db"),
            "postgres://u:***@h:5432/db"
        );
        assert_eq!(super::display_url("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(super::display_url("sqlite://x.db"), "sqlite://x.db");
    }

    #[test]
    fn query_string_passwords_are_hidden() {
        let cases = [
            (
                "postgres://u@h/db?password=secret",
                "postgres://u@h/db?password=***",
            ),
            (
                "postgres://u@h/db?sslmode=require&PASSWORD=secret&application_name=x",
                "postgres://u@h/db?sslmode=require&PASSWORD=***&application_name=x",
            ),
            (
                "postgres://u:p@ss@h/db?sslpassword=secret&sslkey=/k/secret.key",
                "postgres://u:***@h/db?sslpassword=***&sslkey=***",
            ),
            (
                "postgres://h/db?user=u&password=secret",
                "postgres://h/db?user=u&password=***",
            ),
            (
                "postgres://u@h/db?options=-c%20search_path%3Ds",
                "postgres://u@h/db?options=-c%20search_path%3Ds",
            ),
        ];
        for (url, shown) in cases {
            assert_eq!(super::display_url(url), shown, "{url}");
            assert!(!super::display_url(url).contains("secret"), "{url}");
        }
    }
}
