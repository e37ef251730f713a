//! The fixtures canter's own tests share (a dev-dependency of the workspace's crates, never
//! published): each makes something of the test's own on the machine's services or disk and
//! removes it when dropped, so tests run side by side without seeing each other.
//!
//! | fixture | what it makes | removed on drop |
//! |---|---|---|
//! | `MysqlDatabase` (feature `mysql`) | a database on `CANTER_TEST_MYSQL_URL`'s MariaDB | the database |
//! | [`PgSchema`] | a schema on `CANTER_TEST_POSTGRES_URL`, first on its URL's search path | the schema, cascading |
//! | [`RedisKeys`] | a key prefix on `CANTER_TEST_REDIS_URL` | every key under it |
//! | [`AmqpVhost`] | a RabbitMQ virtual host on `CANTER_TEST_AMQP_URL`'s server (`rabbitmqctl`) | the vhost |
//! | [`TempDir`] | a fresh directory under the system's temp dir | the directory |
//! | [`SqliteFile`] | a fresh SQLite file's URL (the file made on first connect) | the file and its `-wal`/`-shm` |
//! | [`Children`] | processes (often this test binary re-run: [`spawn_test_process`]) | killed and reaped |
//!
//! [`churn_websockets`] opens and drops thousands of sockets without a Close frame.
//!
//! A service's fixture is `None` when its variable is unset (the test skips, saying why), and a
//! panic under `CANTER_REQUIRE_SERVICES=1` (CI), through [`canter_core::test::require_service`].

#![warn(missing_docs)]

mod amqp_vhost;
#[cfg(feature = "mysql")]
mod mysql;
mod postgres;
mod processes;
mod redis_keys;
mod temp;
mod websockets;

pub use amqp_vhost::AmqpVhost;
#[cfg(feature = "mysql")]
pub use mysql::{execute_mysql, text_rows_mysql, MysqlDatabase};
pub use postgres::{execute, text_rows, PgSchema};
pub use processes::{in_a_process_of_its_own, spawn_test_process, test_name, Children};
pub use redis_keys::RedisKeys;
pub use temp::{SqliteFile, TempDir};
pub use websockets::{churn_websockets, http_get, open_raw_websocket};

use std::sync::atomic::{AtomicU32, Ordering};

/// A name no other test of any process uses: process id, a counter, nanoseconds.
pub fn unique() -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .subsec_nanos();
    format!(
        "{}-{}-{nanos}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// Runs `future` to completion on a runtime of its own, on a thread of its own: callable from
/// sync tests, from inside async ones, and from `Drop`.
pub fn block_on<F>(future: F) -> F::Output
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime")
            .block_on(future)
    })
    .join()
    .expect("the fixture's helper thread")
}
