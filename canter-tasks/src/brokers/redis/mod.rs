//! The Redis broker and result store, sharing queues and results with Python Celery: messages
//! are Celery protocol v2 in kombu's envelope on kombu's lists ([`celery`] has the format),
//! in-flight messages sit in kombu's `unacked` hash and `unacked_index` sorted set, and results
//! are Celery's `celery-task-meta-<id>` records.
//!
//! Where kombu has a window, this broker has none: kombu pops with BRPOP and records the
//! message in `unacked` afterwards, so a worker killed in between loses it. Here a Lua script
//! pops and records in one step; an idle worker waits with BLMOVE, which moves the message
//! into the worker's own hand-over list (never out of Redis), and the next script takes it from
//! there. A dead worker's hand-over list goes back to the queue once its heartbeat lapses, and
//! its `unacked` entries go back after the visibility timeout — restored by any canter worker
//! or by a Python one, since both read the same `unacked` entries.
//!
//! URL: `redis://host:port/db`, with options as query parameters:
//! `global_keyprefix` (kombu's, on every key), `prefetch` (messages taken per fetch, default
//! 16), `result_expires` (seconds, default 86400, 0 keeps results forever).
//!
//! Messages over the size limit ([`RedisBroker::with_max_message_size`], `[tasks]
//! max_message_size`) are refused by `publish`; one pushed by other means is measured by the
//! fetch script and dead-lettered there, never transferred.

/// The wire format (moved to [`crate::brokers::celery`], shared with RabbitMQ).
pub use super::celery;
mod control;
mod fetch;
mod impl_broker;
mod mailbox;
mod scripts;
mod upkeep;

use upkeep::{flush_acks, maintain};

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use futures_util::future::BoxFuture;
use redis::aio::{ConnectionManager, MultiplexedConnection};
use redis::Script;

use crate::broker::{now, Delivery};
use crate::control::{DeadLetter, WorkerInfo};
use crate::error::TaskError;
use crate::result::{TaskResult, TaskStatus};
use crate::TaskMessage;

/// How long a worker's heartbeat lives: its hand-over list is returned to the queue once it
/// has lapsed (the worker refreshes it every second).
const HEARTBEAT_TTL: Duration = Duration::from_secs(5);
/// The longest an idle fetch blocks before returning `None`.
const BLOCK: Duration = Duration::from_secs(1);
/// How long the `unacked_mutex` lock (kombu's key and token protocol) lives. kombu holds it for
/// 300 s, so a worker killed inside a restore pass stops every restore for five minutes; canter
/// holds it for 15 s and ends its pass after half of that ([`RESTORE_BUDGET`]), so the lock never
/// lapses under a live holder and a dead one's lapses soon.
const MUTEX_EXPIRE_MS: u64 = 15_000;
/// The longest one restore pass runs (what is left waits for the next pass).
const RESTORE_BUDGET: Duration = Duration::from_millis(MUTEX_EXPIRE_MS / 2);
/// How long a command may wait for Redis's answer before it fails. redis-rs's default (500 ms)
/// failed fetch scripts and restores on a loaded server; a dead connection is noticed by its
/// socket, so this only bounds a server that accepts commands and never answers.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(10);

impl From<redis::RedisError> for TaskError {
    fn from(e: redis::RedisError) -> Self {
        TaskError::Broker(format!("redis: {e}"))
    }
}

/// Options read from the URL's query.
#[derive(Debug, Clone)]
struct Options {
    prefix: String,
    prefetch: usize,
    result_expires: u64,
}

/// See the module docs.
pub struct RedisBroker {
    inner: Arc<Inner>,
    mailbox: Arc<mailbox::RedisMailbox>,
    maintenance: tokio::task::JoinHandle<()>,
    ack_flusher: tokio::task::JoinHandle<()>,
}

impl Drop for RedisBroker {
    fn drop(&mut self) {
        self.maintenance.abort();
        self.ack_flusher.abort();
    }
}

struct Inner {
    options: Options,
    client: redis::Client,
    conn: ConnectionManager,
    /// A connection of its own for BLMOVE (a blocking command holds its connection).
    blocking: tokio::sync::Mutex<Option<MultiplexedConnection>>,
    /// A connection of its own for reading the event stream (XREAD BLOCK).
    events_conn: tokio::sync::Mutex<Option<MultiplexedConnection>>,
    fetch: Script,
    restore: Script,
    abandon: Script,
    store_result: Script,
    unlock: Script,
    origin: String,
    reply_to: String,
    /// The visibility timeout workers fetch with, in ms (read by the maintenance loop).
    visibility_ms: AtomicU64,
    /// Messages larger than this (the envelope, in bytes) are refused and dead-lettered.
    max_message_size: AtomicU64,
    local: Mutex<Local>,
    /// Acks not yet sent: the flusher sends all that are waiting in one write (a worker does
    /// not wait for its ack; one lost with the process means the task runs again).
    acks: Mutex<Vec<String>>,
    acks_waiting: tokio::sync::Notify,
}

/// What this process holds: fetched but not yet handed to a worker, waiting for their ETA, and
/// the envelope of every delivery not yet acked (a retry resends it).
#[derive(Default)]
struct Local {
    ready: VecDeque<Delivery>,
    held: Vec<Delivery>,
    envelopes: HashMap<String, String>,
    /// Ids checked for revocation by the fetch that took them (ready at once, so the answer
    /// is fresh when the worker asks); held ones are checked again when they come due.
    revocation_checked: HashMap<String, bool>,
    /// Workers of this process: the list their BLMOVE takes from, and their queues.
    workers: HashMap<String, (String, Vec<String>)>,
}

fn parse_url(url: &str) -> Result<(String, Options), TaskError> {
    let mut options = Options {
        prefix: String::new(),
        prefetch: 16,
        result_expires: 86_400,
    };
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let mut kept = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let number = |what: &str| {
            value.parse::<u64>().map_err(|_| {
                TaskError::Broker(format!(
                    "broker URL: {what}={value:?} is not a whole number"
                ))
            })
        };
        match key {
            "global_keyprefix" => options.prefix = value.to_owned(),
            "prefetch" => options.prefetch = number("prefetch")?.max(1) as usize,
            "result_expires" => options.result_expires = number("result_expires")?,
            _ => kept.push(pair),
        }
    }
    let base = if kept.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    Ok((base, options))
}

impl RedisBroker {
    /// Connects (failing now, with the reason, if Redis cannot be reached); the connection
    /// reconnects by itself after an outage.
    pub async fn connect(url: &str) -> Result<Self, TaskError> {
        let (url, options) = parse_url(url)?;
        let shown = crate::broker::redacted(&url);
        let client = redis::Client::open(url.as_str())
            .map_err(|e| TaskError::Broker(format!("broker URL {shown:?}: {e}")))?;
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(2)))
            .set_response_timeout(Some(RESPONSE_TIMEOUT))
            .set_number_of_retries(2);
        let conn = client
            .get_connection_manager_with_config(config)
            .await
            .map_err(|e| TaskError::Broker(format!("cannot reach Redis at {shown}: {e}")))?;
        let inner = Arc::new(Inner {
            options,
            client,
            conn,
            blocking: tokio::sync::Mutex::new(None),
            events_conn: tokio::sync::Mutex::new(None),
            fetch: Script::new(scripts::FETCH),
            restore: Script::new(scripts::RESTORE),
            abandon: Script::new(scripts::ABANDON),
            store_result: Script::new(scripts::STORE_RESULT),
            unlock: Script::new(scripts::UNLOCK),
            origin: celery::origin(),
            reply_to: uuid::Uuid::new_v4().to_string(),
            visibility_ms: AtomicU64::new(3_600_000),
            max_message_size: AtomicU64::new(crate::broker::DEFAULT_MAX_MESSAGE_SIZE),
            local: Mutex::new(Local::default()),
            acks: Mutex::new(Vec::new()),
            acks_waiting: tokio::sync::Notify::new(),
        });
        let (db, address) = mailbox::db_and_address(&url);
        let mailbox = Arc::new(mailbox::RedisMailbox {
            client: inner.client.clone(),
            conn: inner.conn.clone(),
            prefix: inner.options.prefix.clone(),
            db,
            address,
        });
        let maintenance = tokio::spawn(maintain(Arc::downgrade(&inner)));
        let ack_flusher = tokio::spawn(flush_acks(inner.clone()));
        Ok(RedisBroker {
            inner,
            mailbox,
            maintenance,
            ack_flusher,
        })
    }

    /// Refuses messages over `bytes` (default [`DEFAULT_MAX_MESSAGE_SIZE`](crate::broker::DEFAULT_MAX_MESSAGE_SIZE)),
    /// and dead-letters those found in the queues.
    pub fn with_max_message_size(self, bytes: u64) -> Self {
        self.inner.max_message_size.store(bytes, Ordering::Relaxed);
        self
    }
}

/// One message as the fetch script returns it: `(tag, envelope, key, revoked, dead, id)`
/// (see [`scripts::FETCH`]).
type Fetched = (String, String, String, String, String, String);

impl Inner {
    fn key(&self, name: &str) -> String {
        format!("{}{name}", self.options.prefix)
    }

    fn unacked(&self) -> String {
        self.key("unacked")
    }

    fn unacked_index(&self) -> String {
        self.key("unacked_index")
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Local> {
        self.local.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn handover(&self, worker: &str) -> String {
        self.key(&format!("canter.handover.{worker}"))
    }

    /// The tags the worker's last fetch took (see [`scripts::FETCH`]).
    fn batch(&self, worker: &str) -> String {
        self.key(&format!("canter.fetching.{worker}"))
    }

    fn heartbeat(&self, worker: &str) -> String {
        self.key(&format!("canter.alive.{worker}"))
    }

    /// The queue a key was popped from (`queue\x06\x16<step>` → `queue`).
    fn queue_of(&self, key: &str) -> String {
        let key = key.strip_prefix(&self.options.prefix).unwrap_or(key);
        key.split(celery::SEP).next().unwrap_or(key).to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::broker::Transport as _;

    #[test]
    fn url_options_are_read_and_removed() {
        let (url, options) =
            parse_url("redis://127.0.0.1:6379/2?global_keyprefix=t:&prefetch=4&protocol=resp3")
                .unwrap();
        assert_eq!(url, "redis://127.0.0.1:6379/2?protocol=resp3");
        assert_eq!((options.prefix.as_str(), options.prefetch), ("t:", 4));
        assert_eq!(options.result_expires, 86_400);
        let error = parse_url("redis://h/0?prefetch=many").err().unwrap();
        assert!(error.to_string().contains("prefetch"), "{error}");
    }

    /// A fetch whose reply never came (a timeout, a dropped connection) took messages into
    /// `unacked`: they go back to the queue at once, not after the visibility timeout; a batch
    /// list left by an earlier, answered fetch is not touched.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn what_a_failed_fetch_took_goes_back_at_once() {
        let Some(url) = canter_core::test::require_service("CANTER_TEST_REDIS_URL") else {
            return;
        };
        let prefix = format!("canter-test-{}:", uuid::Uuid::new_v4().simple());
        let broker = RedisBroker::connect(&format!("{url}?global_keyprefix={prefix}"))
            .await
            .unwrap();
        let inner = &broker.inner;
        let queues = vec!["lost".to_owned()];
        for id in ["a", "b"] {
            let message = TaskMessage {
                id: id.into(),
                name: "t".into(),
                queue: "lost".into(),
                priority: 0,
                args: serde_json::json!([]),
                kwargs: serde_json::json!({}),
                eta: 0.0,
                expires: None,
                retries: 0,
                embed: None,
                ..Default::default()
            };
            broker.publish(message).await.unwrap();
        }
        let taken = inner.run_fetch("w", &queues, "token-1").await.unwrap();
        assert_eq!(taken.len(), 2);
        let unacked = || async {
            redis::cmd("HLEN")
                .arg(inner.unacked())
                .query_async::<u64>(&mut inner.conn.clone())
                .await
                .unwrap()
        };
        assert_eq!(unacked().await, 2);
        // Another fetch's failure (its script never ran) leaves them alone.
        assert_eq!(inner.recover_batch("w", "token-2").await.unwrap(), 0);
        assert_eq!(unacked().await, 2);
        // This fetch's failure: back on the queue, first one first.
        assert_eq!(inner.recover_batch("w", "token-1").await.unwrap(), 2);
        assert_eq!(
            (unacked().await, broker.queue_length("lost").await.unwrap()),
            (0, 2)
        );
        let again = inner.run_fetch("w", &queues, "token-3").await.unwrap();
        let ids: Vec<String> = again
            .iter()
            .map(|(_, raw, ..)| celery::decode_message(raw, "lost").unwrap().message.id)
            .collect();
        assert_eq!(ids, ["a", "b"]);
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg(format!("{prefix}*"))
            .query_async(&mut inner.conn.clone())
            .await
            .unwrap();
        redis::cmd("DEL")
            .arg(keys)
            .query_async::<()>(&mut inner.conn.clone())
            .await
            .unwrap();
    }
}
