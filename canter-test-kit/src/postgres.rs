//! A PostgreSQL schema of a test's own, and raw SQL on any test database.

use crate::block_on;

/// A schema of the test's own on `CANTER_TEST_POSTGRES_URL`, dropped (with all it holds) when
/// this is dropped. [`url`](Self::url) puts it first on the search path, so the tables a test
/// makes land in it.
pub struct PgSchema {
    admin: String,
    /// The schema's name (`<tag>_<random>`).
    pub name: String,
    /// The server's URL with the schema first on its `search_path`.
    pub url: String,
}

impl PgSchema {
    /// A schema named `<tag>_<random>`; `None` (the test skips, printing why) when
    /// `CANTER_TEST_POSTGRES_URL` is unset, a panic then under `CANTER_REQUIRE_SERVICES=1`.
    pub fn create(tag: &str) -> Option<PgSchema> {
        let admin = canter_core::test::require_service("CANTER_TEST_POSTGRES_URL")?;
        let name = format!("{tag}_{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
        execute(&admin, &format!("CREATE SCHEMA {name}"));
        let separator = if admin.contains('?') { '&' } else { '?' };
        let url = format!("{admin}{separator}options=-c%20search_path%3D{name}");
        Some(PgSchema { admin, name, url })
    }
}

impl Drop for PgSchema {
    fn drop(&mut self) {
        execute(
            &self.admin,
            &format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name),
        );
    }
}

/// Runs raw SQL (any number of statements) on the database at `url`: SQLite, PostgreSQL, or
/// MariaDB with the `mysql` feature.
pub fn execute(url: &str, sql: &str) {
    #[cfg(feature = "mysql")]
    if url.starts_with("mysql:") {
        return crate::mysql::execute_mysql(url, sql);
    }
    let (url, sql) = (url.to_owned(), sql.to_owned());
    block_on(async move {
        if url.starts_with("sqlite:") {
            let pool = sqlx::SqlitePool::connect(&url).await.expect("connects");
            sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                .execute(&pool)
                .await
                .expect("the statement runs");
            pool.close().await;
        } else {
            let pool = sqlx::PgPool::connect(&url).await.expect("connects");
            sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                .execute(&pool)
                .await
                .expect("the statement runs");
            pool.close().await;
        }
    })
}

/// The rows of a query whose columns are all text, on the database at `url` (SQLite,
/// PostgreSQL, or MariaDB with the `mysql` feature).
pub fn text_rows(url: &str, sql: &str) -> Vec<Vec<String>> {
    use sqlx::Row;
    #[cfg(feature = "mysql")]
    if url.starts_with("mysql:") {
        return crate::mysql::text_rows_mysql(url, sql);
    }
    let (url, sql) = (url.to_owned(), sql.to_owned());
    block_on(async move {
        if url.starts_with("sqlite:") {
            let pool = sqlx::SqlitePool::connect(&url).await.expect("connects");
            let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
                .fetch_all(&pool)
                .await
                .expect("the query runs");
            pool.close().await;
            rows.iter()
                .map(|r| (0..r.len()).map(|i| r.get::<String, _>(i)).collect())
                .collect()
        } else {
            let pool = sqlx::PgPool::connect(&url).await.expect("connects");
            let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
                .fetch_all(&pool)
                .await
                .expect("the query runs");
            pool.close().await;
            rows.iter()
                .map(|r| (0..r.len()).map(|i| r.get::<String, _>(i)).collect())
                .collect()
        }
    })
}
