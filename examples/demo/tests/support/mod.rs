//! The demo binary as a child process, for tests that need real processes (a browser, or a
//! server and a worker sharing Redis).

#![allow(dead_code)] // each test binary uses part of it

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc;
use std::time::Duration;

/// A running `demo …`; killed, and its directory removed, on drop.
pub struct DemoProcess {
    child: Child,
    dir: PathBuf,
    lines: mpsc::Receiver<String>,
}

impl DemoProcess {
    /// `demo <args>` in a directory of its own (its SQLite files land there), without the
    /// test's CANTER_*, REDIS_URL and DATABASE_URL variables, with `env` set.
    pub fn spawn(args: &[&str], env: &[(&str, &str)]) -> Self {
        let dir = std::env::temp_dir().join(format!("demo-proc-{}", unique()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut child = demo_command()
            .args(args)
            .envs(env.iter().copied())
            .current_dir(&dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        // A thread passes stdout on line by line, and drains it so the child never blocks on
        // a full pipe.
        let stdout = BufReader::new(child.stdout.take().unwrap());
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in stdout.lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        DemoProcess { child, dir, lines }
    }

    /// The `host:port` runserver serves on, once it says so (panics after 30 s or if it exits).
    pub fn server_addr(&mut self) -> String {
        self.line_after("Starting server at http://")
            .trim_end_matches('/')
            .to_owned()
    }

    /// The rest of the first line (from now on) that starts with `prefix` (panics after 30 s or
    /// if the process exits first).
    pub fn line_after(&mut self, prefix: &str) -> String {
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    if let Some(rest) = line.strip_prefix(prefix) {
                        return rest.to_owned();
                    }
                }
                Err(_) => panic!(
                    "the process printed no line starting {prefix:?} (exit status: {:?})",
                    self.child.try_wait()
                ),
            }
        }
    }

    /// The directory it runs in (where its SQLite files are).
    pub fn dir(&self) -> &std::path::Path {
        &self.dir
    }
}

impl Drop for DemoProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// `demo` without the test's CANTER_*, REDIS_URL and DATABASE_URL variables, logging warnings only.
pub fn demo_command() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_demo"));
    for (key, _) in std::env::vars() {
        if key.starts_with("CANTER_") || key == "REDIS_URL" || key == "DATABASE_URL" {
            command.env_remove(key);
        }
    }
    command.env("RUST_LOG", "warn");
    command
}

/// Unique within this machine: process id, a counter, and the time.
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

/// Whether CI asked for every service to be present (then a missing one fails the test).
pub fn services_required() -> bool {
    std::env::var("CANTER_REQUIRE_SERVICES").is_ok_and(|v| v == "1" || v == "true")
}

/// Skips (printing why), or fails under `CANTER_REQUIRE_SERVICES=1`.
pub fn missing(what: &str) {
    if services_required() {
        panic!("{what}, and CANTER_REQUIRE_SERVICES=1: this test needs it");
    }
    eprintln!("skipped: {what}");
    canter::test::skips::record(what);
}

/// Runs `future` to completion on a runtime of its own, on a thread of its own: callable from
/// sync tests and from inside async ones alike.
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
    .expect("the database helper thread")
}

/// Runs raw SQL (any number of statements) on the database at `url`, SQLite or PostgreSQL.
pub fn execute(url: &str, sql: &str) {
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

/// The rows of a query whose columns are all text, on the database at `url`.
pub fn text_rows(url: &str, sql: &str) -> Vec<Vec<String>> {
    use sqlx::Row;
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

/// A PostgreSQL schema of the test's own on `CANTER_TEST_POSTGRES_URL`, dropped (with all it
/// holds) when this is dropped. [`url`](Self::url) puts it first on the search path, so the
/// demo's tables land in it.
pub struct PgSchema {
    admin: String,
    pub name: String,
    pub url: String,
}

impl PgSchema {
    /// `None` (the test skips, printing why) when `CANTER_TEST_POSTGRES_URL` is unset; a panic
    /// then under `CANTER_REQUIRE_SERVICES=1`.
    pub fn create() -> Option<PgSchema> {
        let admin = canter::test::require_service("CANTER_TEST_POSTGRES_URL")?;
        let name = format!(
            "demo_test_{}",
            &uuid::Uuid::new_v4().simple().to_string()[..12]
        );
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

/// A fresh SQLite file's URL (the file does not exist yet); its files are removed on drop.
pub struct SqliteFile {
    pub path: PathBuf,
    pub url: String,
}

impl SqliteFile {
    pub fn new() -> SqliteFile {
        let path = std::env::temp_dir().join(format!("demo-test-{}.sqlite3", unique()));
        let url = format!("sqlite://{}", path.display());
        SqliteFile { path, url }
    }
}

impl Default for SqliteFile {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for SqliteFile {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", self.path.display()));
        }
    }
}

/// `GET path` over a fresh HTTP/1.1 connection to `addr` (closed after the response): the raw
/// response, status line and headers included.
pub fn http_get(addr: &str, path: &str) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}
