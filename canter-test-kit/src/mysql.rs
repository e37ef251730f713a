//! A MariaDB database of a test's own.

use crate::block_on;

/// A database of the test's own on the server of `CANTER_TEST_MYSQL_URL`, dropped (with all it
/// holds) when this is dropped. [`url`](Self::url) names it.
pub struct MysqlDatabase {
    admin: String,
    /// The database's name (`<tag>_<random>`).
    pub name: String,
    /// The server's URL with this database as its path.
    pub url: String,
}

impl MysqlDatabase {
    /// A database named `<tag>_<random>`; `None` (the test skips, printing why) when
    /// `CANTER_TEST_MYSQL_URL` is unset, a panic then under `CANTER_REQUIRE_SERVICES=1`.
    pub fn create(tag: &str) -> Option<MysqlDatabase> {
        let admin = canter_core::test::require_service("CANTER_TEST_MYSQL_URL")?;
        let name = format!("{tag}_{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
        execute_mysql(&admin, &format!("CREATE DATABASE {name}"));
        let (base, query) = match admin.split_once('?') {
            Some((base, query)) => (base, format!("?{query}")),
            None => (admin.as_str(), String::new()),
        };
        // The server's URL with its path (the database) replaced.
        let after_scheme = base.find("://").map(|i| i + 3).unwrap_or(0);
        let server = match base[after_scheme..].find('/') {
            Some(slash) => &base[..after_scheme + slash],
            None => base,
        };
        let url = format!("{server}/{name}{query}");
        Some(MysqlDatabase { admin, name, url })
    }
}

impl Drop for MysqlDatabase {
    fn drop(&mut self) {
        execute_mysql(
            &self.admin,
            &format!("DROP DATABASE IF EXISTS {}", self.name),
        );
    }
}

/// Runs raw SQL (any number of statements) on the MariaDB database at `url`.
pub fn execute_mysql(url: &str, sql: &str) {
    let (url, sql) = (url.to_owned(), sql.to_owned());
    block_on(async move {
        let pool = sqlx::MySqlPool::connect(&url).await.expect("connects");
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
            .execute(&pool)
            .await
            .expect("the statement runs");
        pool.close().await;
    })
}

/// The rows of a query whose columns are all text, on the MariaDB database at `url`.
pub fn text_rows_mysql(url: &str, sql: &str) -> Vec<Vec<String>> {
    use sqlx::Row;
    let (url, sql) = (url.to_owned(), sql.to_owned());
    block_on(async move {
        let pool = sqlx::MySqlPool::connect(&url).await.expect("connects");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .fetch_all(&pool)
            .await
            .expect("the query runs");
        pool.close().await;
        // Unchecked: text in a binary collation (the ORM's tables) is reported as binary.
        rows.iter()
            .map(|r| {
                (0..r.len())
                    .map(|i| r.try_get_unchecked::<String, _>(i).expect("text"))
                    .collect()
            })
            .collect()
    })
}
