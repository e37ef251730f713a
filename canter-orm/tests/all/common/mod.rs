//! Test databases: a fresh SQLite file per test, always; a fresh PostgreSQL schema per test
//! when `CANTER_TEST_POSTGRES_URL` is set, and with the `mysql` feature a fresh MariaDB
//! database per test when `CANTER_TEST_MYSQL_URL` is set (each skipped with a printed reason
//! otherwise, a failure under `CANTER_REQUIRE_SERVICES=1`). The places themselves are canter-test-kit's fixtures,
//! removed when the `TestDb` is dropped (also when the test panicked).

#![allow(dead_code)]

use std::any::Any;
use std::future::Future;
use std::sync::Arc;

use canter_orm::{Databases, Vendor};
use canter_test_kit::{PgSchema, SqliteFile};

pub struct TestDb {
    pub vendor: Vendor,
    pub dbs: Arc<Databases>,
    /// The fixture holding the database (a file, a schema): removed when dropped.
    _place: Box<dyn Any + Send>,
}

pub async fn sqlite() -> TestDb {
    let file = SqliteFile::new("canter-orm");
    TestDb {
        vendor: Vendor::Sqlite,
        dbs: Arc::new(Databases::single(&file.url).unwrap()),
        _place: Box::new(file),
    }
}

pub async fn postgres() -> Option<TestDb> {
    let schema = PgSchema::create("canter_test")?;
    Some(TestDb {
        vendor: Vendor::Postgres,
        dbs: Arc::new(Databases::single(&schema.url).unwrap()),
        _place: Box::new(schema),
    })
}

/// A fresh MariaDB database (the `mysql` feature; `None` without it).
pub async fn mysql() -> Option<TestDb> {
    #[cfg(feature = "mysql")]
    {
        let database = canter_test_kit::MysqlDatabase::create("canter_test")?;
        Some(TestDb {
            vendor: Vendor::Mysql,
            dbs: Arc::new(Databases::single(&database.url).unwrap()),
            _place: Box::new(database),
        })
    }
    #[cfg(not(feature = "mysql"))]
    None
}

/// Whether `vendor` is MariaDB (never without the `mysql` feature).
pub fn is_mysql(vendor: Vendor) -> bool {
    #[cfg(feature = "mysql")]
    return vendor == Vendor::Mysql;
    #[cfg(not(feature = "mysql"))]
    {
        let _ = vendor;
        false
    }
}

/// Runs a raw statement on the current default database.
pub async fn raw(sql: &str) {
    let db = canter_orm::database("default").unwrap();
    match db.pool() {
        canter_orm::backends::Pool::Sqlite(pool) => {
            sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()))
                .execute(pool)
                .await
                .unwrap();
        }
        canter_orm::backends::Pool::Postgres(pool) => {
            sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()))
                .execute(pool)
                .await
                .unwrap();
        }
        #[cfg(feature = "mysql")]
        canter_orm::backends::Pool::Mysql(pool) => {
            sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()))
                .execute(pool)
                .await
                .unwrap();
        }
    }
}

impl TestDb {
    pub async fn run<F: Future>(&self, future: F) -> F::Output {
        self.dbs.clone().scope(future).await
    }

    /// Ends the test's use of the database; the fixture removes it.
    pub async fn finish(self) {
        drop(self);
    }
}

/// Every backend available: SQLite always, PostgreSQL and MariaDB when configured. Made one at
/// a time as the test reaches it (a test failing on SQLite leaves no PostgreSQL schema).
pub async fn backend(index: usize) -> Option<TestDb> {
    match index {
        0 => Some(sqlite().await),
        1 => postgres().await,
        2 => mysql().await,
        _ => None,
    }
}

/// The number of backends [`backend`] knows.
pub const BACKENDS: usize = 3;

/// A test body run once per backend, each in its own fresh database.
#[macro_export]
macro_rules! on_every_backend {
    ($(#[$attr:meta])* async fn $name:ident($vendor:ident) $body:block) => {
        $(#[$attr])*
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            for index in 0..common::BACKENDS {
                let Some(db) = common::backend(index).await else { continue };
                #[allow(unused_variables)]
                let $vendor = db.vendor;
                // Boxed: a long test body is a large future, too large for a test thread's stack.
                db.run(Box::pin(async move { $body })).await;
                db.finish().await;
            }
        }
    };
}
