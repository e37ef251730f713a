//! The embedded, durable broker: queues and results in an SQLite file (WAL). Tasks survive
//! process restarts; a fetch leases a task for a visibility timeout in one statement, so
//! several worker processes share the file safely, and a task whose worker died (its lease ran
//! out) is fetched again by another: nothing is lost.

use std::str::FromStr;
use std::time::Duration;

use futures_util::future::BoxFuture;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};
use sqlx::{Row, SqlitePool};

use crate::broker::{now, Delivery, ResultBackend, TaskMessage};
use crate::control::{DeadLetter, TaskInfo, WorkerInfo, FORGET_AFTER};
use crate::error::TaskError;
use crate::result::{TaskResult, TaskStatus};
use serde_json::Value;

mod impl_broker;

const SCHEMA: &str = r"
CREATE TABLE IF NOT EXISTS canter_task_queue (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    queue TEXT NOT NULL,
    priority INTEGER NOT NULL DEFAULT 0,
    args TEXT NOT NULL,
    eta REAL NOT NULL,
    expires REAL,
    retries INTEGER NOT NULL DEFAULT 0,
    lease TEXT,
    lease_until REAL,
    created REAL NOT NULL,
    embed TEXT
);
CREATE INDEX IF NOT EXISTS canter_task_queue_due ON canter_task_queue (queue, eta);
CREATE TABLE IF NOT EXISTS canter_task_result (
    id TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    result TEXT,
    error_kind TEXT,
    error_message TEXT,
    date_done REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS canter_task_result_done ON canter_task_result (date_done);
CREATE TABLE IF NOT EXISTS canter_task_revoked (id TEXT PRIMARY KEY, at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS canter_beat_fire (
    entry TEXT NOT NULL,
    due REAL NOT NULL,
    at REAL NOT NULL,
    PRIMARY KEY (entry, due)
);
CREATE TABLE IF NOT EXISTS canter_unique (
    key TEXT PRIMARY KEY,
    id TEXT NOT NULL,
    until REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS canter_rate (
    key TEXT PRIMARY KEY,
    count INTEGER NOT NULL,
    until REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS canter_chord_part (
    group_id TEXT NOT NULL,
    member TEXT NOT NULL,
    at REAL NOT NULL,
    PRIMARY KEY (group_id, member)
);
CREATE TABLE IF NOT EXISTS canter_task_dead_letter (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    queue TEXT NOT NULL,
    args TEXT NOT NULL,
    reason TEXT NOT NULL,
    at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS canter_worker (
    name TEXT PRIMARY KEY,
    info TEXT NOT NULL,
    heartbeat REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS canter_task_event (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    at REAL NOT NULL,
    event TEXT NOT NULL
);
";

/// Columns added after the first release, with their type: added to older files on open.
const ADDED_COLUMNS: &[(&str, &str, &str)] = &[
    ("canter_task_queue", "embed", "TEXT"),
    (
        "canter_task_dead_letter",
        "priority",
        "INTEGER NOT NULL DEFAULT 0",
    ),
    ("canter_task_dead_letter", "embed", "TEXT"),
    // Keyword arguments, JSON; NULL (a row of an older version): none.
    ("canter_task_queue", "kwargs", "TEXT"),
    ("canter_task_dead_letter", "kwargs", "TEXT"),
    // The task that sent it and its workflow's first task (Celery's parent_id / root_id).
    ("canter_task_queue", "parent_id", "TEXT"),
    ("canter_task_queue", "root_id", "TEXT"),
    // Its chord group and place in it, by Celery's protocol (results kept in Redis).
    ("canter_task_queue", "group_id", "TEXT"),
    ("canter_task_queue", "group_index", "INTEGER"),
];

/// A queued row's size as the size limit counts it: its arguments and embed as stored.
const SIZE: &str =
    "octet_length(args) + coalesce(octet_length(kwargs), 0) + coalesce(octet_length(embed), 0)";

/// Events kept in the stream; older ones go.
const EVENTS_KEPT: i64 = 10_000;

/// See the module docs. `result_expires` (seconds, default one day) bounds how long results
/// are kept.
pub struct SqliteBroker {
    /// One connection for every write of this process: SQLite lets one writer in at a time,
    /// and several pooled writers would take turns by sleeping in SQLite's busy handler
    /// (1, 2, 5 … 100 ms) instead of queueing here.
    pool: SqlitePool,
    /// Reads (results, revocations, inspection), beside the writer (WAL).
    reads: SqlitePool,
    result_expires: f64,
    /// Messages larger than this (`args` and `embed` as stored) are refused by `publish` and
    /// dead-lettered by `fetch` (a row written by other means), unread.
    max_message_size: u64,
    /// When expired results were last deleted (seconds since the epoch, as bits): at most once
    /// a minute, not on every store.
    last_purge: std::sync::atomic::AtomicU64,
    /// Notified on every publish through this object: this process's idle workers wake at
    /// once (others poll).
    pub(super) published: tokio::sync::Notify,
}

/// How often expired results are deleted; reads ignore them in between.
const PURGE_EVERY: f64 = 60.0;

impl SqliteBroker {
    /// Opens (creating if needed) the broker file: `sqlite://tasks.sqlite3`.
    pub async fn open(url: &str) -> Result<Self, TaskError> {
        // WAL with synchronous NORMAL: a commit is in the WAL file before the call returns, so
        // a process killed at any point loses nothing; only a power cut can lose the last
        // commits (the ones not yet checkpointed), as with Redis' default persistence.
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(sqlx::sqlite::SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options.clone())
            .await?;
        let reads = SqlitePoolOptions::new()
            .max_connections(3)
            .connect_with(options)
            .await?;
        sqlx::raw_sql(SCHEMA).execute(&pool).await?;
        // A file made by an earlier version lacks the columns added since.
        for (table, column, kind) in ADDED_COLUMNS {
            let columns: Vec<(String,)> = sqlx::query_as("SELECT name FROM pragma_table_info(?)")
                .bind(table)
                .fetch_all(&pool)
                .await?;
            if !columns.iter().any(|(name,)| name == column) {
                let sql = format!("ALTER TABLE {table} ADD COLUMN {column} {kind}");
                sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&pool).await?;
            }
        }
        Ok(SqliteBroker {
            pool,
            reads,
            result_expires: 86_400.0,
            max_message_size: crate::broker::DEFAULT_MAX_MESSAGE_SIZE,
            last_purge: std::sync::atomic::AtomicU64::new(0f64.to_bits()),
            published: tokio::sync::Notify::new(),
        })
    }

    /// Refuses messages over `bytes` (default [`DEFAULT_MAX_MESSAGE_SIZE`](crate::broker::DEFAULT_MAX_MESSAGE_SIZE)).
    pub fn with_max_message_size(mut self, bytes: u64) -> Self {
        self.max_message_size = bytes;
        self
    }

    /// Moves the leased row `id`, over the size limit, to the dead letters without reading it
    /// out of SQLite, and stores its FAILURE result (whoever waits on it learns why).
    async fn bury_oversized(&self, id: &str, lease: &str, size: u64) -> Result<(), TaskError> {
        let error = TaskError::TooLarge {
            size,
            limit: self.max_message_size,
        };
        let reason = error.to_string();
        tracing::error!(target: "canter::tasks", id, "{reason}; moved to the dead letters");
        let mut tx = self.pool.begin().await?;
        sqlx::query("INSERT OR REPLACE INTO canter_task_dead_letter (id, name, queue, args, reason, at, priority, embed, kwargs) SELECT id, name, queue, args, ?, ?, priority, embed, kwargs FROM canter_task_queue WHERE id = ? AND lease = ?")
            .bind(&reason)
            .bind(now())
            .bind(id)
            .bind(lease)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM canter_task_queue WHERE id = ? AND lease = ?")
            .bind(id)
            .bind(lease)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        let failure = TaskResult {
            status: TaskStatus::Failure,
            result: None,
            error: Some(("InvalidTaskError".into(), reason)),
        };
        self.store_result(id, failure).await
    }

    fn message(row: &sqlx::sqlite::SqliteRow) -> Result<TaskMessage, TaskError> {
        Ok(TaskMessage {
            id: row.try_get("id")?,
            name: row.try_get("name")?,
            queue: row.try_get("queue")?,
            priority: row.try_get("priority")?,
            args: serde_json::from_str(&row.try_get::<String, _>("args")?)?,
            kwargs: kwargs_of(row)?,
            parent_id: row.try_get("parent_id")?,
            root_id: row.try_get("root_id")?,
            redelivered: false,
            group: row.try_get("group_id")?,
            group_index: row
                .try_get::<Option<i64>, _>("group_index")?
                .map(|i| i as u64),
            eta: row.try_get("eta")?,
            expires: row.try_get("expires")?,
            retries: row.try_get::<i64, _>("retries")? as u32,
            embed: row
                .try_get::<Option<String>, _>("embed")?
                .map(|e| serde_json::from_str(&e))
                .transpose()?,
        })
    }
}

/// A row's keyword arguments (`{}` for a row written before they were stored).
fn kwargs_of(row: &sqlx::sqlite::SqliteRow) -> Result<Value, TaskError> {
    match row.try_get::<Option<String>, _>("kwargs")? {
        Some(kwargs) => Ok(serde_json::from_str(&kwargs)?),
        None => Ok(Value::Object(Default::default())),
    }
}
