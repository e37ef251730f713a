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

pub mod celery;
mod control;
mod scripts;

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use futures_util::future::BoxFuture;
use redis::aio::{ConnectionManager, MultiplexedConnection};
use redis::Script;

use crate::broker::{now, Broker, Delivery};
use crate::control::{DeadLetter, WorkerInfo};
use crate::error::TaskError;
use crate::result::{TaskResult, TaskStatus};
use crate::TaskMessage;

/// How long a worker's heartbeat lives: its hand-over list is returned to the queue once it
/// has lapsed (the worker refreshes it every second).
const HEARTBEAT_TTL: Duration = Duration::from_secs(5);
/// The longest an idle fetch blocks before returning `None`.
const BLOCK: Duration = Duration::from_secs(1);
/// kombu's `unacked_mutex_expire`.
const MUTEX_EXPIRE_MS: u64 = 300_000;

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
        let maintenance = tokio::spawn(maintain(Arc::downgrade(&inner)));
        let ack_flusher = tokio::spawn(flush_acks(inner.clone()));
        Ok(RedisBroker {
            inner,
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

    /// Marks `worker` alive and records which list its BLMOVE takes from.
    async fn beat(&self, workers: &[(String, String)]) -> Result<(), TaskError> {
        if workers.is_empty() {
            return Ok(());
        }
        let mut pipe = redis::pipe();
        for (worker, source) in workers {
            pipe.cmd("SET")
                .arg(self.heartbeat(worker))
                .arg(1)
                .arg("PX")
                .arg(HEARTBEAT_TTL.as_millis() as u64)
                .ignore()
                .cmd("HSET")
                .arg(self.key("canter.workers"))
                .arg(worker)
                .arg(source)
                .ignore();
        }
        pipe.query_async::<()>(&mut self.conn.clone()).await?;
        Ok(())
    }

    /// Takes what the local buffers hold for `queues`: ready first, then held ones now due.
    fn take_local(&self, queues: &[String]) -> Option<Delivery> {
        let mut local = self.lock();
        if let Some(i) = local
            .ready
            .iter()
            .position(|d| queues.contains(&d.message.queue))
        {
            return local.ready.remove(i);
        }
        let now = now();
        let i = local
            .held
            .iter()
            .position(|d| d.message.eta <= now && queues.contains(&d.message.queue))?;
        Some(local.held.swap_remove(i))
    }

    /// Files freshly fetched messages: runnable ones in the buffers, broken ones in the
    /// dead-letter list (with a FAILURE result when they have an id, so a caller waiting on
    /// them learns why).
    async fn accept(&self, fetched: Vec<Fetched>, fallback_queue: &str) {
        for (tag, raw, key, revoked, dead, oversized_id) in fetched {
            let queue = if key.is_empty() {
                fallback_queue.to_owned()
            } else {
                self.queue_of(&key)
            };
            if tag.is_empty() {
                // Dead-lettered by the script: an oversized one came without its envelope.
                tracing::error!(target: "canter::tasks", queue, "{dead}; moved to the dead-letter list");
                if raw.is_empty() {
                    let oversized = celery::Invalid {
                        id: Some(oversized_id).filter(|id| !id.is_empty()),
                        name: None,
                        reason: dead,
                    };
                    self.fail_invalid(&oversized).await;
                } else if let Err(invalid) = celery::decode_message(&raw, &queue) {
                    self.fail_invalid(&invalid).await;
                }
                continue;
            }
            let decoded = celery::decode_message(&raw, &queue);
            match decoded {
                Ok(received) => {
                    let delivery = Delivery {
                        message: received.message,
                        lease: tag.clone(),
                    };
                    let mut local = self.lock();
                    local.envelopes.insert(tag, raw);
                    if delivery.message.eta > now() {
                        local.held.push(delivery);
                    } else {
                        local
                            .revocation_checked
                            .insert(delivery.message.id.clone(), revoked == "1");
                        local.ready.push_back(delivery);
                    }
                }
                Err(invalid) => {
                    tracing::error!(target: "canter::tasks", queue, id = ?invalid.id, name = ?invalid.name, "cannot run this message: {}; moved to the dead-letter list", invalid.reason);
                    if let Err(e) = self.bury(&tag, &raw, &invalid.reason).await {
                        tracing::error!(target: "canter::tasks", "dead-lettering failed (the message stays unacked and comes back): {e}");
                    }
                    self.fail_invalid(&invalid).await;
                }
            }
        }
    }

    async fn fail_invalid(&self, invalid: &celery::Invalid) {
        if let Some(id) = &invalid.id {
            let failure = TaskResult {
                status: TaskStatus::Failure,
                result: None,
                error: Some(("InvalidTaskError".into(), invalid.reason.clone())),
            };
            let _ = self.store(id, &failure).await;
        }
    }

    /// Moves an unacked message to the dead-letter list, in one step.
    async fn bury(&self, tag: &str, raw: &str, reason: &str) -> Result<(), TaskError> {
        let record = serde_json::json!({"reason": reason, "at": now(), "message": raw});
        redis::pipe()
            .atomic()
            .cmd("LPUSH")
            .arg(self.key("canter.dead_letter"))
            .arg(record.to_string())
            .ignore()
            .cmd("ZREM")
            .arg(self.unacked_index())
            .arg(tag)
            .ignore()
            .cmd("HDEL")
            .arg(self.unacked())
            .arg(tag)
            .ignore()
            .query_async::<()>(&mut self.conn.clone())
            .await?;
        self.lock().envelopes.remove(tag);
        Ok(())
    }

    async fn store(&self, id: &str, result: &TaskResult) -> Result<(), TaskError> {
        let record = celery::encode_result(id, result, now(), &self.origin);
        self.store_result
            .key(celery::result_key(&self.options.prefix, id))
            .arg(record)
            .arg(self.options.result_expires)
            .invoke_async::<i64>(&mut self.conn.clone())
            .await?;
        Ok(())
    }

    async fn run_fetch(
        &self,
        worker: &str,
        queues: &[String],
        token: &str,
    ) -> Result<Vec<Fetched>, TaskError> {
        let mut invocation = self.fetch.prepare_invoke();
        invocation
            .key(self.handover(worker))
            .key(self.unacked())
            .key(self.unacked_index())
            .key(self.key("canter.dead_letter"))
            .key(self.batch(worker));
        for key in celery::consume_order(&self.options.prefix, queues) {
            invocation.key(key);
        }
        invocation
            .arg(now())
            .arg(self.options.prefetch)
            .arg(self.key("canter.revoked."))
            .arg(self.max_message_size.load(Ordering::Relaxed))
            .arg(token);
        Ok(invocation.invoke_async(&mut self.conn.clone()).await?)
    }

    /// After fetch `token` failed: what it took, if it ran (listed in the worker's batch key
    /// after the token; never filed here), goes back to its queue now, not after the visibility
    /// timeout.
    async fn recover_batch(&self, worker: &str, token: &str) -> Result<usize, TaskError> {
        let batch = self.batch(worker);
        let listed: Vec<String> = redis::cmd("LRANGE")
            .arg(&batch)
            .arg(0)
            .arg(-1)
            .query_async(&mut self.conn.clone())
            .await?;
        let Some((first, tags)) = listed.split_first() else {
            return Ok(0);
        };
        if first != token {
            return Ok(0); // the script did not run: the list is an earlier fetch's, filed
        }
        // Last taken first: each goes to its queue's consuming end, so the first is next again.
        for tag in tags.iter().rev() {
            self.restore_tag(tag, f64::INFINITY).await?;
        }
        redis::cmd("DEL")
            .arg(&batch)
            .query_async::<()>(&mut self.conn.clone())
            .await?;
        Ok(tags.len())
    }

    /// The connection in `slot`, made on first use: a blocking command (BLMOVE, XREAD BLOCK)
    /// holds its connection, so it gets one of its own, without a response timeout.
    async fn blocking_connection<'a>(
        &self,
        slot: &'a mut Option<MultiplexedConnection>,
    ) -> Result<&'a mut MultiplexedConnection, TaskError> {
        if slot.is_none() {
            let config = redis::AsyncConnectionConfig::new()
                .set_response_timeout(None)
                .set_connection_timeout(Some(Duration::from_secs(2)));
            *slot = Some(
                self.client
                    .get_multiplexed_async_connection_with_config(&config)
                    .await?,
            );
        }
        Ok(slot.as_mut().expect("connected above"))
    }

    /// Waits (at most `wait`) for a message on `source`, moving it into the hand-over list.
    async fn block(&self, source: &str, worker: &str, wait: Duration) -> Result<bool, TaskError> {
        let mut slot = self.blocking.lock().await;
        let conn = self.blocking_connection(&mut slot).await?;
        let moved: Result<Option<String>, _> = redis::cmd("BLMOVE")
            .arg(source)
            .arg(self.handover(worker))
            .arg("RIGHT")
            .arg("LEFT")
            .arg(wait.as_secs_f64().max(0.01))
            .query_async(conn)
            .await;
        match moved {
            Ok(moved) => Ok(moved.is_some()),
            Err(e) => {
                *slot = None;
                Err(e.into())
            }
        }
    }

    /// Puts one unacked message back on its queue (kombu's `restore_by_tag`), unless it was
    /// renewed after `ceiling` (seconds since the epoch; `f64::INFINITY`: whatever its age).
    async fn restore_tag(&self, tag: &str, ceiling: f64) -> Result<(), TaskError> {
        let mut conn = self.conn.clone();
        let entry: Option<String> = redis::cmd("HGET")
            .arg(self.unacked())
            .arg(tag)
            .query_async(&mut conn)
            .await?;
        let Some(entry) = entry else {
            // Acked meanwhile; a stray index entry goes.
            redis::cmd("ZREM")
                .arg(self.unacked_index())
                .arg(tag)
                .query_async::<()>(&mut conn)
                .await?;
            return Ok(());
        };
        let Some((envelope, exchange, routing_key, priority)) = celery::restored(&entry) else {
            tracing::error!(target: "canter::tasks", tag, "an unacked entry that is not [envelope, exchange, routing_key]: moved to the dead-letter list");
            return self.bury(tag, &entry, "unreadable unacked entry").await;
        };
        let queue = if exchange.is_empty() {
            routing_key
        } else {
            self.bound_queue(&exchange, &routing_key).await?
        };
        self.restore
            .key(self.unacked())
            .key(self.unacked_index())
            .key(celery::queue_key(&self.options.prefix, &queue, priority))
            .arg(tag)
            .arg(&entry)
            .arg(envelope)
            .arg(ceiling.min(1e300))
            .invoke_async::<i64>(&mut conn)
            .await?;
        Ok(())
    }

    /// The queue a named exchange routes `routing_key` to (kombu's `_kombu.binding.<exchange>`
    /// set, members `routing_key␆␖pattern␆␖queue`); the routing key itself when unbound.
    async fn bound_queue(&self, exchange: &str, routing_key: &str) -> Result<String, TaskError> {
        let members: Vec<String> = redis::cmd("SMEMBERS")
            .arg(self.key(&format!("_kombu.binding.{exchange}")))
            .query_async(&mut self.conn.clone())
            .await?;
        Ok(members
            .iter()
            .filter_map(|m| {
                let parts: Vec<&str> = m.split(celery::SEP).collect();
                (parts.len() == 3 && parts[0] == routing_key).then(|| parts[2].to_owned())
            })
            .next()
            .unwrap_or_else(|| routing_key.to_owned()))
    }

    /// kombu's `restore_visible`: under the `unacked_mutex` lock, every unacked message not
    /// heard of for `visibility` goes back to its queue.
    async fn restore_visible(&self, visibility: Duration) -> Result<usize, TaskError> {
        let mut conn = self.conn.clone();
        let token = uuid::Uuid::new_v4().to_string();
        let mutex = self.key("unacked_mutex");
        let locked: Option<String> = redis::cmd("SET")
            .arg(&mutex)
            .arg(&token)
            .arg("NX")
            .arg("PX")
            .arg(MUTEX_EXPIRE_MS)
            .query_async(&mut conn)
            .await?;
        if locked.is_none() {
            return Ok(0);
        }
        let ceiling = now() - visibility.as_secs_f64();
        let stale: Result<Vec<String>, _> = redis::cmd("ZRANGEBYSCORE")
            .arg(self.unacked_index())
            .arg("-inf")
            .arg(ceiling)
            .arg("LIMIT")
            .arg(0)
            .arg(1000)
            .query_async(&mut conn)
            .await;
        let mut restored = 0;
        let mut outcome = Ok(());
        if let Ok(tags) = &stale {
            for tag in tags {
                if let Err(e) = self.restore_tag(tag, ceiling).await {
                    outcome = Err(e);
                    break;
                }
                restored += 1;
            }
        }
        self.unlock
            .key(&mutex)
            .arg(&token)
            .invoke_async::<i64>(&mut conn)
            .await?;
        stale?;
        outcome?;
        if restored > 0 {
            tracing::warn!(target: "canter::tasks", restored, "unacked messages past the visibility timeout went back to their queues");
        }
        Ok(restored)
    }

    /// Returns the hand-over lists of workers whose heartbeat lapsed to their queues.
    async fn abandon_dead(&self) -> Result<(), TaskError> {
        let mut conn = self.conn.clone();
        let workers: HashMap<String, String> = redis::cmd("HGETALL")
            .arg(self.key("canter.workers"))
            .query_async(&mut conn)
            .await?;
        for (worker, source) in workers {
            let moved: i64 = self
                .abandon
                .key(self.handover(&worker))
                .key(&source)
                .key(self.key("canter.workers"))
                .key(self.heartbeat(&worker))
                .arg(&worker)
                .invoke_async(&mut conn)
                .await?;
            if moved > 0 {
                tracing::warn!(target: "canter::tasks", worker, moved, "a dead worker's hand-over list went back to its queue");
            }
        }
        Ok(())
    }

    /// Removes every waiting ack's message from `unacked` and `unacked_index` (kombu's ack),
    /// in one write. Not a transaction: should this process die between the two, an index
    /// entry without its message is left, and the restorer drops it.
    async fn send_acks(&self) -> Result<(), TaskError> {
        let tags = std::mem::take(&mut *self.acks.lock().unwrap_or_else(|e| e.into_inner()));
        if tags.is_empty() {
            return Ok(());
        }
        let sent = redis::pipe()
            .cmd("HDEL")
            .arg(self.unacked())
            .arg(&tags)
            .ignore()
            .cmd("ZREM")
            .arg(self.unacked_index())
            .arg(&tags)
            .ignore()
            .query_async::<()>(&mut self.conn.clone())
            .await;
        if let Err(e) = sent {
            self.acks
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .extend(tags);
            return Err(e.into());
        }
        Ok(())
    }

    /// Keeps every message this process holds unacked (buffered, held for its ETA, or
    /// running) from looking abandoned: one ZADD for all of them.
    async fn extend_local(&self) -> Result<(), TaskError> {
        let tags: Vec<String> = self.lock().envelopes.keys().cloned().collect();
        if tags.is_empty() {
            return Ok(());
        }
        let now = now();
        let mut zadd = redis::cmd("ZADD");
        zadd.arg(self.unacked_index()).arg("XX");
        for tag in tags {
            zadd.arg(now).arg(tag);
        }
        zadd.query_async::<()>(&mut self.conn.clone()).await?;
        Ok(())
    }
}

/// Sends the acks that are waiting, in one write, as they come.
async fn flush_acks(inner: Arc<Inner>) {
    loop {
        inner.acks_waiting.notified().await;
        while let Err(e) = inner.send_acks().await {
            tracing::warn!(target: "canter::tasks", "sending acks failed (retrying): {e}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// The background loop: heartbeats, keep-alive of buffered messages, and (as kombu's worker)
/// restoring what dead workers left.
async fn maintain(inner: Weak<Inner>) {
    let mut last_restore = std::time::Instant::now();
    loop {
        let Some(inner) = inner.upgrade() else { return };
        let visibility = Duration::from_millis(inner.visibility_ms.load(Ordering::Relaxed));
        let tick = (visibility / 3).clamp(Duration::from_millis(100), Duration::from_secs(1));
        let workers: Vec<(String, String)> = inner
            .lock()
            .workers
            .iter()
            .map(|(w, (s, _))| (w.clone(), s.clone()))
            .collect();
        let mut result = inner.beat(&workers).await;
        if result.is_ok() {
            result = inner.extend_local().await;
        }
        // kombu restores every 10 s; a short visibility timeout restores sooner.
        let restore_every =
            (visibility / 2).clamp(Duration::from_millis(200), Duration::from_secs(10));
        if result.is_ok() && !workers.is_empty() && last_restore.elapsed() >= restore_every {
            last_restore = std::time::Instant::now();
            result = inner.abandon_dead().await;
            if result.is_ok() {
                result = inner.restore_visible(visibility).await.map(drop);
            }
        }
        if let Err(e) = result {
            tracing::warn!(target: "canter::tasks", "Redis broker upkeep failed (retrying): {e}");
        }
        drop(inner);
        tokio::time::sleep(tick).await;
    }
}

impl Broker for RedisBroker {
    fn worker_heartbeat<'a>(
        &'a self,
        info: &'a WorkerInfo,
    ) -> BoxFuture<'a, Result<(), TaskError>> {
        Box::pin(self.inner.worker_heartbeat(info))
    }

    fn worker_offline<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<(), TaskError>> {
        Box::pin(self.inner.worker_offline(name))
    }

    fn workers(&self) -> BoxFuture<'_, Result<Vec<WorkerInfo>, TaskError>> {
        Box::pin(self.inner.workers())
    }

    fn queues(&self) -> BoxFuture<'_, Result<Vec<String>, TaskError>> {
        Box::pin(self.inner.queues())
    }

    fn held(&self, queues: &[String]) -> (Vec<TaskMessage>, Vec<TaskMessage>) {
        let local = self.inner.lock();
        let of = |list: &mut dyn Iterator<Item = &Delivery>| -> Vec<TaskMessage> {
            list.filter(|d| queues.contains(&d.message.queue))
                .map(|d| d.message.clone())
                .collect()
        };
        (of(&mut local.ready.iter()), of(&mut local.held.iter()))
    }

    fn purge<'a>(&'a self, queue: &'a str) -> BoxFuture<'a, Result<u64, TaskError>> {
        Box::pin(self.inner.purge(queue))
    }

    fn dead_letters(&self) -> BoxFuture<'_, Result<Vec<DeadLetter>, TaskError>> {
        Box::pin(self.inner.dead_letters())
    }

    fn retry_dead_letters(&self) -> BoxFuture<'_, Result<u64, TaskError>> {
        Box::pin(self.inner.retry_dead_letters())
    }

    fn send_event<'a>(
        &'a self,
        event: &'a serde_json::Value,
    ) -> BoxFuture<'a, Result<(), TaskError>> {
        Box::pin(self.inner.send_event(event))
    }

    fn events<'a>(
        &'a self,
        cursor: Option<&'a str>,
        wait: Duration,
    ) -> BoxFuture<'a, Result<(String, Vec<serde_json::Value>), TaskError>> {
        Box::pin(self.inner.events(cursor, wait))
    }

    fn claim_fire<'a>(
        &'a self,
        entry: &'a str,
        due: f64,
    ) -> BoxFuture<'a, Result<bool, TaskError>> {
        Box::pin(async move {
            // A sorted set of the entry's fired due times: ZADD NX adds a due time once, for
            // exactly one of any number of schedulers; the last hundred are kept.
            let key = self.inner.key(&format!("canter.beat.{entry}"));
            let (added, _): (i64, i64) = redis::pipe()
                .atomic()
                .cmd("ZADD")
                .arg(&key)
                .arg("NX")
                .arg(due)
                .arg(due.to_string())
                .cmd("ZREMRANGEBYRANK")
                .arg(&key)
                .arg(0)
                .arg(-101)
                .query_async(&mut self.inner.conn.clone())
                .await?;
            Ok(added == 1)
        })
    }

    fn chord_part_done<'a>(
        &'a self,
        group_id: &'a str,
        member: &'a str,
    ) -> BoxFuture<'a, Result<Option<u64>, TaskError>> {
        Box::pin(async move {
            // SADD and SCARD in one transaction: a redelivered member is not counted twice,
            // and members finishing at once each see their own count.
            let key = self.inner.key(&format!("canter.chord.{group_id}"));
            let (added, done, _): (i64, u64, i64) = redis::pipe()
                .atomic()
                .cmd("SADD")
                .arg(&key)
                .arg(member)
                .cmd("SCARD")
                .arg(&key)
                .cmd("EXPIRE")
                .arg(&key)
                .arg(self.inner.options.result_expires.max(3600))
                .query_async(&mut self.inner.conn.clone())
                .await?;
            Ok((added == 1).then_some(done))
        })
    }

    fn claim_unique<'a>(
        &'a self,
        key: &'a str,
        id: &'a str,
        ttl: f64,
    ) -> BoxFuture<'a, Result<Option<String>, TaskError>> {
        Box::pin(async move {
            let key = self.inner.key(&format!("canter.unique.{key}"));
            let mut conn = self.inner.conn.clone();
            for _ in 0..3 {
                let claimed: Option<String> = redis::cmd("SET")
                    .arg(&key)
                    .arg(id)
                    .arg("NX")
                    .arg("EX")
                    .arg(ttl.ceil().max(1.0) as u64)
                    .query_async(&mut conn)
                    .await?;
                if claimed.is_some() {
                    return Ok(None);
                }
                let holder: Option<String> =
                    redis::cmd("GET").arg(&key).query_async(&mut conn).await?;
                match holder {
                    Some(holder) if holder != id => return Ok(Some(holder)),
                    Some(_) => return Ok(None),
                    None => continue, // released in between: claim again
                }
            }
            Ok(None)
        })
    }

    fn release_unique<'a>(
        &'a self,
        key: &'a str,
        id: &'a str,
    ) -> BoxFuture<'a, Result<(), TaskError>> {
        Box::pin(async move {
            self.inner
                .unlock
                .key(self.inner.key(&format!("canter.unique.{key}")))
                .arg(id)
                .invoke_async::<i64>(&mut self.inner.conn.clone())
                .await?;
            Ok(())
        })
    }

    fn rate_count<'a>(&'a self, key: &'a str, until: f64) -> BoxFuture<'a, Result<u64, TaskError>> {
        Box::pin(async move {
            let key = self.inner.key(&format!("canter.rate.{key}"));
            let (count, _): (u64, i64) = redis::pipe()
                .atomic()
                .cmd("INCR")
                .arg(&key)
                .cmd("EXPIREAT")
                .arg(&key)
                .arg(until.ceil() as i64 + 1)
                .query_async(&mut self.inner.conn.clone())
                .await?;
            Ok(count)
        })
    }

    fn last_fire<'a>(&'a self, entry: &'a str) -> BoxFuture<'a, Result<Option<f64>, TaskError>> {
        Box::pin(async move {
            let last: Vec<(String, f64)> = redis::cmd("ZRANGE")
                .arg(self.inner.key(&format!("canter.beat.{entry}")))
                .arg(-1)
                .arg(-1)
                .arg("WITHSCORES")
                .query_async(&mut self.inner.conn.clone())
                .await?;
            Ok(last.first().map(|(_, due)| *due))
        })
    }

    fn publish<'a>(&'a self, message: TaskMessage) -> BoxFuture<'a, Result<(), TaskError>> {
        Box::pin(async move {
            let inner = &self.inner;
            let (envelope, _) = celery::encode_message(&message, &inner.origin, &inner.reply_to);
            crate::broker::check_size(
                envelope.len(),
                inner.max_message_size.load(Ordering::Relaxed),
            )?;
            redis::cmd("LPUSH")
                .arg(celery::queue_key(
                    &inner.options.prefix,
                    &message.queue,
                    message.priority,
                ))
                .arg(envelope)
                .query_async::<()>(&mut inner.conn.clone())
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
            let inner = &self.inner;
            let Some(first) = queues.first() else {
                return Ok(None);
            };
            inner
                .visibility_ms
                .store(visibility.as_millis() as u64, Ordering::Relaxed);
            let source = celery::queue_key(&inner.options.prefix, first, 0);
            let new_worker = inner
                .lock()
                .workers
                .insert(worker.to_owned(), (source.clone(), queues.to_vec()))
                .is_none();
            if new_worker {
                inner.beat(&[(worker.to_owned(), source.clone())]).await?;
            }
            let mut blocked = false;
            loop {
                if let Some(delivery) = inner.take_local(queues) {
                    return Ok(Some(delivery));
                }
                let token = uuid::Uuid::new_v4().simple().to_string();
                let fetched = match inner.run_fetch(worker, queues, &token).await {
                    Ok(fetched) => fetched,
                    Err(e) => {
                        match inner.recover_batch(worker, &token).await {
                            Ok(0) => {}
                            Ok(restored) => {
                                tracing::warn!(target: "canter::tasks", restored, "a fetch failed ({e}): what it took went back to the queue")
                            }
                            Err(again) => {
                                tracing::warn!(target: "canter::tasks", "a fetch failed ({e}) and what it took stays unacked until the visibility timeout: {again}")
                            }
                        }
                        return Err(e);
                    }
                };
                if !fetched.is_empty() {
                    inner.accept(fetched, first).await;
                    continue;
                }
                if blocked {
                    return Ok(None);
                }
                // Idle: wait on the first queue's main list (other lists are checked by the
                // script on every fetch), no longer than until a held message is due.
                let next_due = inner
                    .lock()
                    .held
                    .iter()
                    .filter(|d| queues.contains(&d.message.queue))
                    .map(|d| d.message.eta)
                    .fold(f64::INFINITY, f64::min);
                let wait = BLOCK.min(Duration::from_secs_f64(
                    (next_due - now()).clamp(0.0, 3600.0),
                ));
                if wait < Duration::from_millis(10) {
                    // A held message is due in a moment: wait for it here, not in a loop of
                    // fetches.
                    tokio::time::sleep(wait).await;
                    continue;
                }
                inner.block(&source, worker, wait).await?;
                blocked = true;
            }
        })
    }

    fn extend<'a>(
        &'a self,
        _delivery: &'a Delivery,
        _visibility: Duration,
    ) -> BoxFuture<'a, Result<(), TaskError>> {
        // Nothing to do: the upkeep loop renews everything this process holds unacked (running
        // ones included) in one ZADD a tick; a ZADD per running task would repeat it.
        Box::pin(async { Ok(()) })
    }

    fn ack<'a>(&'a self, delivery: &'a Delivery) -> BoxFuture<'a, Result<(), TaskError>> {
        Box::pin(async move {
            let inner = &self.inner;
            inner.lock().envelopes.remove(&delivery.lease);
            inner
                .acks
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(delivery.lease.clone());
            inner.acks_waiting.notify_one();
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
            let inner = &self.inner;
            let m = &delivery.message;
            let original = inner.lock().envelopes.get(&delivery.lease).cloned();
            let envelope = original
                .and_then(|raw| celery::resend(&raw, retries, eta))
                .unwrap_or_else(|| {
                    let mut again = m.clone();
                    again.retries = retries;
                    again.eta = eta;
                    celery::encode_message(&again, &inner.origin, &inner.reply_to).0
                });
            // The new message and the ack in one step: never both, never neither.
            redis::pipe()
                .atomic()
                .cmd("LPUSH")
                .arg(celery::queue_key(
                    &inner.options.prefix,
                    &m.queue,
                    m.priority,
                ))
                .arg(envelope)
                .ignore()
                .cmd("ZREM")
                .arg(inner.unacked_index())
                .arg(&delivery.lease)
                .ignore()
                .cmd("HDEL")
                .arg(inner.unacked())
                .arg(&delivery.lease)
                .ignore()
                .query_async::<()>(&mut inner.conn.clone())
                .await?;
            inner.lock().envelopes.remove(&delivery.lease);
            Ok(())
        })
    }

    fn store_result<'a>(
        &'a self,
        id: &'a str,
        result: TaskResult,
    ) -> BoxFuture<'a, Result<(), TaskError>> {
        Box::pin(async move { self.inner.store(id, &result).await })
    }

    fn get_result<'a>(
        &'a self,
        id: &'a str,
    ) -> BoxFuture<'a, Result<Option<TaskResult>, TaskError>> {
        Box::pin(async move {
            let raw: Option<String> = redis::cmd("GET")
                .arg(celery::result_key(&self.inner.options.prefix, id))
                .query_async(&mut self.inner.conn.clone())
                .await?;
            Ok(raw.as_deref().and_then(celery::decode_result))
        })
    }

    fn forget<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<(), TaskError>> {
        Box::pin(async move {
            redis::cmd("DEL")
                .arg(celery::result_key(&self.inner.options.prefix, id))
                .query_async::<()>(&mut self.inner.conn.clone())
                .await?;
            Ok(())
        })
    }

    fn revoke<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<(), TaskError>> {
        Box::pin(async move {
            // A task of this process's buffers, checked already, learns it here; other
            // processes' buffers (fetched within the last moments) do not: see the docs.
            if let Some(revoked) = self.inner.lock().revocation_checked.get_mut(id) {
                *revoked = true;
            }
            redis::cmd("SET")
                .arg(self.inner.key(&format!("canter.revoked.{id}")))
                .arg(1)
                .arg("EX")
                .arg(self.inner.options.result_expires.max(3600))
                .query_async::<()>(&mut self.inner.conn.clone())
                .await?;
            Ok(())
        })
    }

    fn is_revoked<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<bool, TaskError>> {
        Box::pin(async move {
            if let Some(revoked) = self.inner.lock().revocation_checked.remove(id) {
                return Ok(revoked);
            }
            Ok(redis::cmd("EXISTS")
                .arg(self.inner.key(&format!("canter.revoked.{id}")))
                .query_async::<i64>(&mut self.inner.conn.clone())
                .await?
                > 0)
        })
    }

    fn dead_letter<'a>(
        &'a self,
        delivery: &'a Delivery,
        reason: &'a str,
    ) -> BoxFuture<'a, Result<(), TaskError>> {
        Box::pin(async move {
            let raw = self
                .inner
                .lock()
                .envelopes
                .get(&delivery.lease)
                .cloned()
                .unwrap_or_default();
            self.inner.bury(&delivery.lease, &raw, reason).await
        })
    }

    fn queue_length<'a>(&'a self, queue: &'a str) -> BoxFuture<'a, Result<u64, TaskError>> {
        Box::pin(async move {
            let mut pipe = redis::pipe();
            for step in celery::PRIORITY_STEPS {
                pipe.cmd("LLEN")
                    .arg(celery::queue_key(&self.inner.options.prefix, queue, step));
            }
            let lengths: Vec<u64> = pipe.query_async(&mut self.inner.conn.clone()).await?;
            Ok(lengths.iter().sum())
        })
    }

    fn drop_lease<'a>(&'a self, delivery: &'a Delivery) -> BoxFuture<'a, Result<(), TaskError>> {
        Box::pin(async move {
            // No longer renewed by the upkeep loop: restored after the visibility timeout.
            self.inner.lock().envelopes.remove(&delivery.lease);
            Ok(())
        })
    }

    fn release<'a>(&'a self, worker: &'a str) -> BoxFuture<'a, Result<(), TaskError>> {
        Box::pin(async move {
            let inner = &self.inner;
            inner.send_acks().await?;
            let (tags, source) = {
                let mut local = inner.lock();
                let (source, queues) = match local.workers.remove(worker) {
                    Some((source, queues)) => (Some(source), queues),
                    None => (None, Vec::new()),
                };
                let mut tags = Vec::new();
                local.ready.retain(|d| {
                    let mine = queues.contains(&d.message.queue);
                    if mine {
                        tags.push((d.lease.clone(), d.message.id.clone()));
                    }
                    !mine
                });
                local.held.retain(|d| {
                    let mine = queues.contains(&d.message.queue);
                    if mine {
                        tags.push((d.lease.clone(), d.message.id.clone()));
                    }
                    !mine
                });
                (tags, source)
            };
            for (tag, id) in &tags {
                inner.restore_tag(tag, f64::INFINITY).await?;
                let mut local = inner.lock();
                local.envelopes.remove(tag);
                local.revocation_checked.remove(id);
            }
            if let Some(source) = source {
                // A BLMOVE cut short by the shutdown still runs on the server and may yet move
                // a message into the hand-over list: a PING on its connection answers only
                // after it has finished (one connection's commands run in order).
                if let Some(conn) = inner.blocking.lock().await.as_mut() {
                    let _ = redis::cmd("PING").query_async::<String>(conn).await;
                }
                redis::cmd("DEL")
                    .arg(inner.heartbeat(worker))
                    .arg(inner.batch(worker))
                    .query_async::<()>(&mut inner.conn.clone())
                    .await?;
                inner
                    .abandon
                    .key(inner.handover(worker))
                    .key(&source)
                    .key(inner.key("canter.workers"))
                    .key(inner.heartbeat(worker))
                    .arg(worker)
                    .invoke_async::<i64>(&mut inner.conn.clone())
                    .await?;
            }
            if !tags.is_empty() {
                tracing::info!(target: "canter::tasks", worker, restored = tags.len(), "prefetched messages went back to their queues");
            }
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
                eta: 0.0,
                expires: None,
                retries: 0,
                embed: None,
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
