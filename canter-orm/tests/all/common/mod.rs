//! Test databases: a fresh SQLite file per test, always; a fresh PostgreSQL schema per test
//! when `CANTER_TEST_POSTGRES_URL` is set (skipped with a printed reason otherwise, a failure
//! under `CANTER_REQUIRE_SERVICES=1`).

#![allow(dead_code)]

use std::future::Future;
use std::sync::Arc;

use canter_orm::{Databases, Vendor};

pub struct TestDb {
    pub vendor: Vendor,
    pub dbs: Arc<Databases>,
    cleanup: Option<(String, String)>,
    file: Option<std::path::PathBuf>,
}

fn unique() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..12].to_owned()
}

pub async fn sqlite() -> TestDb {
    let file = std::env::temp_dir().join(format!("canter-orm-{}.sqlite3", unique()));
    let dbs = Databases::single(&format!("sqlite://{}", file.display())).unwrap();
    TestDb {
        vendor: Vendor::Sqlite,
        dbs: Arc::new(dbs),
        cleanup: None,
        file: Some(file),
    }
}

pub async fn postgres() -> Option<TestDb> {
    let url = canter_core::test::require_service("CANTER_TEST_POSTGRES_URL")?;
    let schema = format!("canter_test_{}", unique());
    let admin = Arc::new(Databases::single(&url).unwrap());
    admin
        .clone()
        .scope(async {
            raw(&format!("CREATE SCHEMA {schema}")).await;
        })
        .await;
    let separator = if url.contains('?') { '&' } else { '?' };
    let scoped = format!("{url}{separator}options=-c%20search_path%3D{schema}");
    let dbs = Databases::single(&scoped).unwrap();
    Some(TestDb {
        vendor: Vendor::Postgres,
        dbs: Arc::new(dbs),
        cleanup: Some((url, schema)),
        file: None,
    })
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
    }
}

impl TestDb {
    pub async fn run<F: Future>(&self, future: F) -> F::Output {
        self.dbs.clone().scope(future).await
    }

    pub async fn finish(mut self) {
        if let Some((url, schema)) = self.cleanup.take() {
            drop_schema(&url, &schema).await;
        }
        self.remove_file();
    }

    fn remove_file(&self) {
        if let Some(file) = &self.file {
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{suffix}", file.display()));
            }
        }
    }
}

async fn drop_schema(url: &str, schema: &str) {
    let admin = Arc::new(Databases::single(url).unwrap());
    admin
        .scope(async { raw(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE")).await })
        .await;
}

/// A test that panicked never reaches `finish`: its schema and file go here, on a thread and
/// runtime of their own (the test's runtime is unwinding).
impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some((url, schema)) = self.cleanup.take() {
            let _ = std::thread::spawn(move || {
                if let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    runtime.block_on(drop_schema(&url, &schema));
                }
            })
            .join();
        }
        self.remove_file();
    }
}

/// Every backend available: SQLite always, PostgreSQL when configured. Made one at a time as
/// the test reaches it (a test failing on SQLite leaves no PostgreSQL schema).
pub async fn backend(index: usize) -> Option<TestDb> {
    match index {
        0 => Some(sqlite().await),
        1 => postgres().await,
        _ => None,
    }
}

/// The number of backends [`backend`] knows.
pub const BACKENDS: usize = 2;

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
