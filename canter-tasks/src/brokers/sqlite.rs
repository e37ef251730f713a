//! The embedded, durable broker: queues and results in an SQLite file (WAL). Tasks survive
//! process restarts; a fetch leases a task for a visibility timeout in one statement, so
//! several worker processes share the file safely, and a task whose worker died (its lease ran
//! out) is fetched again by another: nothing is lost.

use std::str::FromStr;
use std::time::Duration;

use futures_util::future::BoxFuture;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};
use sqlx::{Row, SqlitePool};

use crate::broker::{now, Broker, Delivery, TaskMessage};
use crate::control::{DeadLetter, TaskInfo, WorkerInfo, FORGET_AFTER};
use crate::error::TaskError;
use crate::result::{TaskResult, TaskStatus};
use serde_json::Value;

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
];

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
        sqlx::query("INSERT OR REPLACE INTO canter_task_dead_letter (id, name, queue, args, reason, at, priority, embed) SELECT id, name, queue, args, ?, ?, priority, embed FROM canter_task_queue WHERE id = ? AND lease = ?")
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

impl Broker for SqliteBroker {
    fn claim_fire<'a>(
        &'a self,
        entry: &'a str,
        due: f64,
    ) -> BoxFuture<'a, Result<bool, TaskError>> {
        Box::pin(async move {
            // The primary key makes one insert per (entry, due) win, whatever the number of
            // schedulers sharing the file.
            let claimed = sqlx::query(
                "INSERT OR IGNORE INTO canter_beat_fire (entry, due, at) VALUES (?, ?, ?)",
            )
            .bind(entry)
            .bind(due)
            .bind(now())
            .execute(&self.pool)
            .await?
            .rows_affected()
                == 1;
            if claimed {
                // Keep the last hundred fires of the entry: enough to tell what was missed.
                sqlx::query("DELETE FROM canter_beat_fire WHERE entry = ? AND due < (SELECT min(due) FROM (SELECT due FROM canter_beat_fire WHERE entry = ? ORDER BY due DESC LIMIT 100))")
                    .bind(entry)
                    .bind(entry)
                    .execute(&self.pool)
                    .await?;
            }
            Ok(claimed)
        })
    }

    fn chord_part_done<'a>(
        &'a self,
        group_id: &'a str,
        member: &'a str,
    ) -> BoxFuture<'a, Result<Option<u64>, TaskError>> {
        Box::pin(async move {
            // The insert and the count in one write transaction: members finishing at once
            // each see their own count.
            let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
            let added = sqlx::query(
                "INSERT OR IGNORE INTO canter_chord_part (group_id, member, at) VALUES (?, ?, ?)",
            )
            .bind(group_id)
            .bind(member)
            .bind(now())
            .execute(&mut *tx)
            .await?
            .rows_affected()
                == 1;
            let (done,): (i64,) =
                sqlx::query_as("SELECT count(*) FROM canter_chord_part WHERE group_id = ?")
                    .bind(group_id)
                    .fetch_one(&mut *tx)
                    .await?;
            tx.commit().await?;
            Ok(added.then_some(done as u64))
        })
    }

    fn claim_unique<'a>(
        &'a self,
        key: &'a str,
        id: &'a str,
        ttl: f64,
    ) -> BoxFuture<'a, Result<Option<String>, TaskError>> {
        Box::pin(async move {
            // One write transaction: an expired claim goes, then the first insert wins.
            let now = now();
            let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
            sqlx::query("DELETE FROM canter_unique WHERE key = ? AND until < ?")
                .bind(key)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            sqlx::query("INSERT OR IGNORE INTO canter_unique (key, id, until) VALUES (?, ?, ?)")
                .bind(key)
                .bind(id)
                .bind(now + ttl)
                .execute(&mut *tx)
                .await?;
            let (holder,): (String,) = sqlx::query_as("SELECT id FROM canter_unique WHERE key = ?")
                .bind(key)
                .fetch_one(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok((holder != id).then_some(holder))
        })
    }

    fn release_unique<'a>(
        &'a self,
        key: &'a str,
        id: &'a str,
    ) -> BoxFuture<'a, Result<(), TaskError>> {
        Box::pin(async move {
            sqlx::query("DELETE FROM canter_unique WHERE key = ? AND id = ?")
                .bind(key)
                .bind(id)
                .execute(&self.pool)
                .await?;
            Ok(())
        })
    }

    fn rate_count<'a>(&'a self, key: &'a str, until: f64) -> BoxFuture<'a, Result<u64, TaskError>> {
        Box::pin(async move {
            let (count,): (i64,) = sqlx::query_as(
                "INSERT INTO canter_rate (key, count, until) VALUES (?, 1, ?)
                 ON CONFLICT (key) DO UPDATE SET count = count + 1 RETURNING count",
            )
            .bind(key)
            .bind(until)
            .fetch_one(&self.pool)
            .await?;
            if count == 1 {
                // A new window: the ones that ended go.
                sqlx::query("DELETE FROM canter_rate WHERE until < ?")
                    .bind(now())
                    .execute(&self.pool)
                    .await?;
            }
            Ok(count as u64)
        })
    }

    fn last_fire<'a>(&'a self, entry: &'a str) -> BoxFuture<'a, Result<Option<f64>, TaskError>> {
        Box::pin(async move {
            let row: Option<(Option<f64>,)> =
                sqlx::query_as("SELECT max(due) FROM canter_beat_fire WHERE entry = ?")
                    .bind(entry)
                    .fetch_optional(&self.reads)
                    .await?;
            Ok(row.and_then(|r| r.0))
        })
    }

    fn publish<'a>(&'a self, m: TaskMessage) -> BoxFuture<'a, Result<(), TaskError>> {
        Box::pin(async move {
            let args = m.args.to_string();
            let embed = m.embed.as_ref().map(Value::to_string);
            let size = args.len() + embed.as_ref().map_or(0, String::len);
            crate::broker::check_size(size, self.max_message_size)?;
            sqlx::query("INSERT INTO canter_task_queue (id, name, queue, priority, args, eta, expires, retries, created, embed) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
                .bind(&m.id)
                .bind(&m.name)
                .bind(&m.queue)
                .bind(m.priority)
                .bind(args)
                .bind(m.eta)
                .bind(m.expires)
                .bind(i64::from(m.retries))
                .bind(now())
                .bind(embed)
                .execute(&self.pool)
                .await?;
            Ok(())
        })
    }

    fn fetch<'a>(
        &'a self,
        queues: &'a [String],
        worker: &'a str,
        visibility: Duration,
    ) -> BoxFuture<'a, Result<Option<Delivery>, TaskError>> {
        Box::pin(async move {
            if queues.is_empty() {
                return Ok(None);
            }
            loop {
                let now = now();
                let lease = format!("{worker}:{}", uuid::Uuid::new_v4().simple());
                let placeholders = vec!["?"; queues.len()].join(", ");
                // One statement: the choice and the lease are atomic, whatever other workers
                // do. A row over the size limit comes back without its arguments (never read
                // out of SQLite) and goes to the dead letters; the next one is fetched at once.
                let sql = format!(
                    "UPDATE canter_task_queue SET lease = ?, lease_until = ? WHERE id = (
                        SELECT id FROM canter_task_queue
                        WHERE queue IN ({placeholders}) AND eta <= ? AND (lease_until IS NULL OR lease_until < ?)
                        ORDER BY priority DESC, eta, created LIMIT 1)
                     RETURNING id, name, queue, priority, eta, expires, retries,
                       octet_length(args) + coalesce(octet_length(embed), 0) AS size,
                       CASE WHEN octet_length(args) + coalesce(octet_length(embed), 0) > ? THEN '[]' ELSE args END AS args,
                       CASE WHEN octet_length(args) + coalesce(octet_length(embed), 0) > ? THEN NULL ELSE embed END AS embed"
                );
                let mut query = sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(&lease)
                    .bind(now + visibility.as_secs_f64());
                for queue in queues {
                    query = query.bind(queue);
                }
                let limit = i64::try_from(self.max_message_size).unwrap_or(i64::MAX);
                let row = query
                    .bind(now)
                    .bind(now)
                    .bind(limit)
                    .bind(limit)
                    .fetch_optional(&self.pool)
                    .await?;
                let Some(row) = row else { return Ok(None) };
                let size: i64 = row.try_get("size")?;
                if size > limit {
                    let id: String = row.try_get("id")?;
                    self.bury_oversized(&id, &lease, size as u64).await?;
                    continue;
                }
                return Ok(Some(Delivery {
                    message: Self::message(&row)?,
                    lease,
                }));
            }
        })
    }

    fn extend<'a>(
        &'a self,
        delivery: &'a Delivery,
        visibility: Duration,
    ) -> BoxFuture<'a, Result<(), TaskError>> {
        Box::pin(async move {
            sqlx::query("UPDATE canter_task_queue SET lease_until = ? WHERE id = ? AND lease = ?")
                .bind(now() + visibility.as_secs_f64())
                .bind(&delivery.message.id)
                .bind(&delivery.lease)
                .execute(&self.pool)
                .await?;
            Ok(())
        })
    }

    fn ack<'a>(&'a self, delivery: &'a Delivery) -> BoxFuture<'a, Result<(), TaskError>> {
        Box::pin(async move {
            sqlx::query("DELETE FROM canter_task_queue WHERE id = ? AND lease = ?")
                .bind(&delivery.message.id)
                .bind(&delivery.lease)
                .execute(&self.pool)
                .await?;
            Ok(())
        })
    }

    fn requeue<'a>(
        &'a self,
        delivery: &'a Delivery,
        eta: f64,
        retries: u32,
    ) -> BoxFuture<'a, Result<(), TaskError>> {
        Box::pin(async move {
            sqlx::query("UPDATE canter_task_queue SET lease = NULL, lease_until = NULL, eta = ?, retries = ? WHERE id = ? AND lease = ?")
                .bind(eta)
                .bind(i64::from(retries))
                .bind(&delivery.message.id)
                .bind(&delivery.lease)
                .execute(&self.pool)
                .await?;
            Ok(())
        })
    }

    fn store_result<'a>(
        &'a self,
        id: &'a str,
        result: TaskResult,
    ) -> BoxFuture<'a, Result<(), TaskError>> {
        Box::pin(async move {
            let now = now();
            let (kind, message) = result
                .error
                .map(|(k, m)| (Some(k), Some(m)))
                .unwrap_or((None, None));
            sqlx::query(
                "INSERT INTO canter_task_result (id, status, result, error_kind, error_message, date_done) VALUES (?, ?, ?, ?, ?, ?)
                 ON CONFLICT (id) DO UPDATE SET status = excluded.status, result = excluded.result,
                   error_kind = excluded.error_kind, error_message = excluded.error_message, date_done = excluded.date_done",
            )
            .bind(id)
            .bind(result.status.as_str())
            .bind(result.result.map(|v| v.to_string()))
            .bind(kind)
            .bind(message)
            .bind(now)
            .execute(&self.pool)
            .await?;
            // Results older than result_expires go (Celery's result_expires), in one sweep a
            // minute; whoever swaps the timestamp does it.
            let last = f64::from_bits(self.last_purge.load(std::sync::atomic::Ordering::Relaxed));
            if now - last >= PURGE_EVERY
                && self
                    .last_purge
                    .compare_exchange(
                        last.to_bits(),
                        now.to_bits(),
                        std::sync::atomic::Ordering::Relaxed,
                        std::sync::atomic::Ordering::Relaxed,
                    )
                    .is_ok()
            {
                sqlx::query("DELETE FROM canter_task_result WHERE date_done < ?")
                    .bind(now - self.result_expires)
                    .execute(&self.pool)
                    .await?;
            }
            Ok(())
        })
    }

    fn get_result<'a>(
        &'a self,
        id: &'a str,
    ) -> BoxFuture<'a, Result<Option<TaskResult>, TaskError>> {
        Box::pin(async move {
            let row = sqlx::query("SELECT status, result, error_kind, error_message FROM canter_task_result WHERE id = ? AND date_done >= ?")
                .bind(id)
                .bind(now() - self.result_expires)
                .fetch_optional(&self.reads)
                .await?;
            let Some(row) = row else { return Ok(None) };
            let result: Option<String> = row.try_get("result")?;
            let kind: Option<String> = row.try_get("error_kind")?;
            let message: Option<String> = row.try_get("error_message")?;
            Ok(Some(TaskResult {
                status: TaskStatus::parse(&row.try_get::<String, _>("status")?),
                result: result.map(|r| serde_json::from_str(&r)).transpose()?,
                error: kind.map(|k| (k, message.unwrap_or_default())),
            }))
        })
    }

    fn forget<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<(), TaskError>> {
        Box::pin(async move {
            sqlx::query("DELETE FROM canter_task_result WHERE id = ?")
                .bind(id)
                .execute(&self.pool)
                .await?;
            Ok(())
        })
    }

    fn revoke<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<(), TaskError>> {
        Box::pin(async move {
            sqlx::query("INSERT OR IGNORE INTO canter_task_revoked (id, at) VALUES (?, ?)")
                .bind(id)
                .bind(now())
                .execute(&self.pool)
                .await?;
            Ok(())
        })
    }

    fn is_revoked<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<bool, TaskError>> {
        Box::pin(async move {
            Ok(
                sqlx::query("SELECT 1 FROM canter_task_revoked WHERE id = ?")
                    .bind(id)
                    .fetch_optional(&self.reads)
                    .await?
                    .is_some(),
            )
        })
    }

    fn dead_letter<'a>(
        &'a self,
        delivery: &'a Delivery,
        reason: &'a str,
    ) -> BoxFuture<'a, Result<(), TaskError>> {
        Box::pin(async move {
            let m = &delivery.message;
            let mut tx = self.pool.begin().await?;
            sqlx::query("INSERT OR REPLACE INTO canter_task_dead_letter (id, name, queue, args, reason, at, priority, embed) VALUES (?, ?, ?, ?, ?, ?, ?, ?)")
                .bind(&m.id)
                .bind(&m.name)
                .bind(&m.queue)
                .bind(m.args.to_string())
                .bind(reason)
                .bind(now())
                .bind(m.priority)
                .bind(m.embed.as_ref().map(Value::to_string))
                .execute(&mut *tx)
                .await?;
            sqlx::query("DELETE FROM canter_task_queue WHERE id = ? AND lease = ?")
                .bind(&m.id)
                .bind(&delivery.lease)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(())
        })
    }

    fn queue_length<'a>(&'a self, queue: &'a str) -> BoxFuture<'a, Result<u64, TaskError>> {
        Box::pin(async move {
            let row = sqlx::query("SELECT COUNT(*) FROM canter_task_queue WHERE queue = ? AND (lease_until IS NULL OR lease_until < ?)")
                .bind(queue)
                .bind(now())
                .fetch_one(&self.reads)
                .await?;
            Ok(row.try_get::<i64, _>(0)? as u64)
        })
    }
    fn worker_heartbeat<'a>(
        &'a self,
        info: &'a WorkerInfo,
    ) -> BoxFuture<'a, Result<(), TaskError>> {
        Box::pin(async move {
            sqlx::query(
                "INSERT OR REPLACE INTO canter_worker (name, info, heartbeat) VALUES (?, ?, ?)",
            )
            .bind(&info.name)
            .bind(serde_json::to_string(info)?)
            .bind(info.heartbeat)
            .execute(&self.pool)
            .await?;
            Ok(())
        })
    }

    fn worker_offline<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<(), TaskError>> {
        Box::pin(async move {
            sqlx::query("DELETE FROM canter_worker WHERE name = ?")
                .bind(name)
                .execute(&self.pool)
                .await?;
            Ok(())
        })
    }

    fn workers(&self) -> BoxFuture<'_, Result<Vec<WorkerInfo>, TaskError>> {
        Box::pin(async move {
            sqlx::query("DELETE FROM canter_worker WHERE heartbeat < ?")
                .bind(now() - FORGET_AFTER)
                .execute(&self.pool)
                .await?;
            let rows: Vec<(String,)> = sqlx::query_as("SELECT info FROM canter_worker")
                .fetch_all(&self.pool)
                .await?;
            Ok(rows
                .iter()
                .filter_map(|(info,)| serde_json::from_str(info).ok())
                .collect())
        })
    }

    fn queues(&self) -> BoxFuture<'_, Result<Vec<String>, TaskError>> {
        Box::pin(async move {
            let rows: Vec<(String,)> =
                sqlx::query_as("SELECT DISTINCT queue FROM canter_task_queue ORDER BY queue")
                    .fetch_all(&self.reads)
                    .await?;
            Ok(rows.into_iter().map(|(q,)| q).collect())
        })
    }

    fn scheduled(&self) -> BoxFuture<'_, Result<Vec<TaskInfo>, TaskError>> {
        Box::pin(async move {
            let now = now();
            let rows = sqlx::query("SELECT * FROM canter_task_queue WHERE eta > ? AND (lease_until IS NULL OR lease_until < ?) ORDER BY eta LIMIT 1000")
                .bind(now)
                .bind(now)
                .fetch_all(&self.reads)
                .await?;
            rows.iter()
                .map(|row| Ok(TaskInfo::of(&Self::message(row)?, None)))
                .collect()
        })
    }

    fn purge<'a>(&'a self, queue: &'a str) -> BoxFuture<'a, Result<u64, TaskError>> {
        Box::pin(async move {
            Ok(sqlx::query("DELETE FROM canter_task_queue WHERE queue = ? AND (lease_until IS NULL OR lease_until < ?)")
                .bind(queue)
                .bind(now())
                .execute(&self.pool)
                .await?
                .rows_affected())
        })
    }

    fn dead_letters(&self) -> BoxFuture<'_, Result<Vec<DeadLetter>, TaskError>> {
        Box::pin(async move {
            let rows = sqlx::query(
                "SELECT id, name, queue, args, reason, at FROM canter_task_dead_letter ORDER BY at",
            )
            .fetch_all(&self.reads)
            .await?;
            rows.iter()
                .map(|row| {
                    Ok(DeadLetter {
                        id: row.try_get("id")?,
                        name: row.try_get("name")?,
                        queue: row.try_get("queue")?,
                        args: serde_json::from_str(&row.try_get::<String, _>("args")?)?,
                        reason: row.try_get("reason")?,
                        at: row.try_get("at")?,
                        retriable: true,
                    })
                })
                .collect()
        })
    }

    fn retry_dead_letters(&self) -> BoxFuture<'_, Result<u64, TaskError>> {
        Box::pin(async move {
            // One transaction: each dead letter is either back in its queue or still recorded.
            let now = now();
            let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
            let sent = sqlx::query(
                "INSERT OR IGNORE INTO canter_task_queue (id, name, queue, priority, args, eta, retries, created, embed)
                 SELECT id, name, queue, priority, args, ?, 0, ?, embed FROM canter_task_dead_letter",
            )
            .bind(now)
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            // Their FAILURE results go: whoever waits on them sees the new run's.
            sqlx::query("DELETE FROM canter_task_result WHERE id IN (SELECT id FROM canter_task_dead_letter WHERE id IN (SELECT id FROM canter_task_queue))")
                .execute(&mut *tx)
                .await?;
            sqlx::query("DELETE FROM canter_task_dead_letter WHERE id IN (SELECT id FROM canter_task_queue)")
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(sent)
        })
    }

    fn send_event<'a>(&'a self, event: &'a Value) -> BoxFuture<'a, Result<(), TaskError>> {
        Box::pin(async move {
            let seq = sqlx::query("INSERT INTO canter_task_event (at, event) VALUES (?, ?)")
                .bind(now())
                .bind(event.to_string())
                .execute(&self.pool)
                .await?
                .last_insert_rowid();
            if seq % 1000 == 0 {
                sqlx::query("DELETE FROM canter_task_event WHERE seq <= ?")
                    .bind(seq - EVENTS_KEPT)
                    .execute(&self.pool)
                    .await?;
            }
            Ok(())
        })
    }

    fn events<'a>(
        &'a self,
        cursor: Option<&'a str>,
        wait: Duration,
    ) -> BoxFuture<'a, Result<(String, Vec<Value>), TaskError>> {
        Box::pin(async move {
            let mut after: i64 = match cursor {
                Some(cursor) => cursor.parse().map_err(|_| {
                    TaskError::Broker(format!("event cursor {cursor:?} is not a sequence number"))
                })?,
                None => {
                    let (last,): (Option<i64>,) =
                        sqlx::query_as("SELECT max(seq) FROM canter_task_event")
                            .fetch_one(&self.reads)
                            .await?;
                    last.unwrap_or(0)
                }
            };
            // Polled: SQLite has no blocking read (another process may be the writer).
            let until = std::time::Instant::now() + wait;
            loop {
                let rows: Vec<(i64, String)> = sqlx::query_as(
                    "SELECT seq, event FROM canter_task_event WHERE seq > ? ORDER BY seq LIMIT 500",
                )
                .bind(after)
                .fetch_all(&self.reads)
                .await?;
                if let Some((last, _)) = rows.last() {
                    after = *last;
                }
                let events: Vec<Value> = rows
                    .iter()
                    .filter_map(|(_, e)| serde_json::from_str(e).ok())
                    .collect();
                if !events.is_empty() || std::time::Instant::now() >= until {
                    return Ok((after.to_string(), events));
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
    }
}
