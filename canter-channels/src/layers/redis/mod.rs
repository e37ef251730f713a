//! `RedisChannelLayer`, wire-compatible with channels_redis 4.x's `RedisChannelLayer`: Python
//! Django processes and canter processes on the same Redis (same prefix, same hosts in the same
//! order) send to each other's channels and groups.
//!
//! Each process has one receive loop: it pops its process-wide key (`asgi` +
//! `specific.<client>!`) with BZPOPMIN, keeps the popped message in the in-flight backup key
//! until it is handed over, and routes it to the local consumers named in `__asgi_channel__`.
//! One Redis connection serves every socket of the process.

mod inventory;
pub mod wire;

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::future::BoxFuture;
use redis::aio::ConnectionManager;
use serde::Deserialize;
use tokio::sync::{mpsc, Mutex as AsyncMutex};

use super::drops::Drops;
use super::{valid_group_name, ChannelLayer, LayerError, Message};
use wire::{
    backup_key, channel_key, consistent_hash, deserialize, group_key, non_local_name, serialize,
    ASGI_CHANNEL,
};

/// `[channels.redis]` settings (channels_redis's `CONFIG`), with its defaults.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RedisLayerConfig {
    /// Redis URLs, one per shard, in the same order as every other process's.
    pub hosts: Vec<String>,
    /// The prefix of every key (`asgi`): processes that talk to each other share it.
    pub prefix: String,
    /// Seconds a message waits in a channel before it expires (60).
    pub expiry: u64,
    /// Seconds a group membership lasts without being renewed (86,400).
    pub group_expiry: u64,
    /// Messages a channel holds before `send` fails with `ChannelFull` (100).
    pub capacity: usize,
    /// Length of the random part of this process's channel names (12).
    pub random_prefix_length: usize,
}

impl Default for RedisLayerConfig {
    fn default() -> Self {
        Self {
            hosts: vec!["redis://127.0.0.1:6379".into()],
            prefix: "asgi".into(),
            expiry: 60,
            group_expiry: 86_400,
            capacity: 100,
            random_prefix_length: 12,
        }
    }
}

/// Moves in-flight messages left by a receiver that died back into the channel, keeping
/// their scores (so their order).
const RESTORE_BACKUP: &str = r"
local backed = redis.call('ZRANGE', KEYS[2], 0, -1, 'WITHSCORES')
for i = 1, #backed, 2 do
  redis.call('ZADD', KEYS[1], backed[i + 1], backed[i])
end
redis.call('DEL', KEYS[2])
";

/// group_send on one shard: ZADD each message to its key unless the key is at capacity
/// (channels_redis's script, returning which keys were full rather than how many).
/// KEYS: channel keys; ARGV: messages, capacities, now, expiry. Returns the (1-based) indexes
/// of the full keys.
const GROUP_SEND: &str = r"
local n = #KEYS
local full = {}
for i = 1, n do
  if redis.call('ZCOUNT', KEYS[i], '-inf', '+inf') < tonumber(ARGV[n + i]) then
    redis.call('ZADD', KEYS[i], ARGV[2 * n + 1], ARGV[i])
    redis.call('EXPIRE', KEYS[i], ARGV[2 * n + 2])
  else
    full[#full + 1] = i
  end
end
return full
";

type Buffer = (
    mpsc::Sender<Message>,
    Arc<AsyncMutex<mpsc::Receiver<Message>>>,
);

/// The channel layer on Redis, channels_redis's wire format (see the module docs).
pub struct RedisChannelLayer {
    config: RedisLayerConfig,
    client_prefix: String,
    clients: Vec<redis::Client>,
    connections: Vec<ConnectionManager>,
    round_robin: AtomicUsize,
    buffers: Mutex<HashMap<String, Buffer>>,
    receive_loop: Mutex<Option<tokio::task::JoinHandle<()>>>,
    drops: Drops,
}

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// `ZADD key score member` and `EXPIRE key ttl` in one round trip (channels_redis refreshes the
/// expiry on every add).
async fn zadd_with_expiry(
    conn: &mut ConnectionManager,
    key: &str,
    score: f64,
    member: Vec<u8>,
    ttl: u64,
) -> Result<(), LayerError> {
    redis::pipe()
        .cmd("ZADD")
        .arg(key)
        .arg(score)
        .arg(member)
        .ignore()
        .cmd("EXPIRE")
        .arg(key)
        .arg(ttl)
        .ignore()
        .query_async::<()>(conn)
        .await
        .map_err(unavailable)
}

/// A connection for BZPOPMIN, which blocks up to 5 s: without redis-rs's default response
/// timeout (500 ms), which would give up on the pop while Redis still serves it — a message
/// popped then is lost with the connection — and would reconnect twice a second when idle.
async fn blocking_connection(
    client: &redis::Client,
) -> redis::RedisResult<redis::aio::MultiplexedConnection> {
    let config = redis::AsyncConnectionConfig::new()
        .set_response_timeout(None)
        .set_connection_timeout(Some(Duration::from_secs(2)));
    client
        .get_multiplexed_async_connection_with_config(&config)
        .await
}

fn unavailable(e: redis::RedisError) -> LayerError {
    LayerError::Unavailable(e.to_string())
}

impl RedisChannelLayer {
    /// Connects to every host (connections reconnect by themselves after an outage).
    ///
    /// An app gets this layer from its settings (`[channels] layer = "redis"`, or `REDIS_URL`
    /// set) through the [`Channels`](crate::Channels) plugin; made by hand, it is a layer for a
    /// process of its own (a script, a test) on the same Redis as the app's processes, or
    /// Python's (channels_redis with the same prefix and hosts):
    ///
    /// ```no_run
    /// use canter_channels::{ChannelLayer, Message, RedisChannelLayer, RedisLayerConfig};
    ///
    /// # async fn notify() -> Result<(), canter_channels::LayerError> {
    /// let config = RedisLayerConfig {
    ///     hosts: vec!["redis://127.0.0.1:6379".into()],
    ///     ..RedisLayerConfig::default()
    /// };
    /// let layer = RedisChannelLayer::connect(config).await?.shared();
    /// // Every consumer of the group, in any process on this Redis, gets it.
    /// layer.group_send("chat_lobby", Message::new("chat.message").with("text", "maintenance at 6")).await?;
    /// # Ok(()) }
    /// ```
    pub async fn connect(config: RedisLayerConfig) -> Result<Arc<Self>, LayerError> {
        if config.hosts.is_empty() {
            return Err(LayerError::Invalid("no Redis hosts".into()));
        }
        let mut clients = Vec::new();
        let mut connections = Vec::new();
        for host in &config.hosts {
            let client = redis::Client::open(host.as_str()).map_err(unavailable)?;
            // A few quick attempts: an unreachable server is reported as such at start-up
            // (connection refused, say) rather than retried with backoff until a timeout.
            let config = redis::aio::ConnectionManagerConfig::new()
                .set_connection_timeout(Some(std::time::Duration::from_secs(2)))
                .set_number_of_retries(2);
            connections.push(
                client
                    .get_connection_manager_with_config(config)
                    .await
                    .map_err(unavailable)?,
            );
            clients.push(client);
        }
        Ok(Arc::new(RedisChannelLayer {
            config,
            client_prefix: uuid::Uuid::new_v4().simple().to_string(),
            clients,
            connections,
            round_robin: AtomicUsize::new(0),
            buffers: Mutex::new(HashMap::new()),
            receive_loop: Mutex::new(None),
            drops: Drops::default(),
        }))
    }

    fn shard(&self, name: &str) -> usize {
        consistent_hash(name, self.connections.len())
    }

    fn conn(&self, shard: usize) -> ConnectionManager {
        self.connections[shard].clone()
    }

    fn buffer(&self, channel: &str) -> Buffer {
        let mut buffers = self.buffers.lock().unwrap_or_else(|e| e.into_inner());
        buffers
            .entry(channel.to_owned())
            .or_insert_with(|| {
                let (tx, rx) = mpsc::channel(self.config.capacity.max(1));
                (tx, Arc::new(AsyncMutex::new(rx)))
            })
            .clone()
    }

    /// Pops one message from `key` (restoring a dead receiver's in-flight ones first), keeping
    /// it in the backup key until it is handed over. `Ok(None)` after the 5 s pop timeout.
    async fn receive_single(
        &self,
        conn: &mut redis::aio::MultiplexedConnection,
        key: &str,
    ) -> Result<Option<(Message, Vec<String>)>, LayerError> {
        let backup = backup_key(key);
        redis::Script::new(RESTORE_BACKUP)
            .key(key)
            .key(&backup)
            .invoke_async::<()>(conn)
            .await
            .map_err(unavailable)?;
        let popped: Option<(String, Vec<u8>, f64)> = redis::cmd("BZPOPMIN")
            .arg(key)
            .arg(5)
            .query_async(conn)
            .await
            .map_err(unavailable)?;
        let Some((_, member, score)) = popped else {
            return Ok(None);
        };
        redis::cmd("ZADD")
            .arg(&backup)
            .arg(score)
            .arg(&member)
            .query_async::<()>(conn)
            .await
            .map_err(unavailable)?;
        let decoded = deserialize(&member, self.config.random_prefix_length);
        redis::cmd("ZPOPMIN")
            .arg(&backup)
            .query_async::<()>(conn)
            .await
            .map_err(unavailable)?;
        decoded.map(Some)
    }

    /// The process's receive loop, started on the first receive of a process-specific channel.
    fn ensure_receive_loop(self: &Arc<Self>) {
        let mut slot = self.receive_loop.lock().unwrap_or_else(|e| e.into_inner());
        if slot.as_ref().is_some_and(|h| !h.is_finished()) {
            return;
        }
        let layer = Arc::downgrade(self);
        let key = channel_key(
            &self.config.prefix,
            &format!("specific.{}!", self.client_prefix),
        );
        let shard = self.shard(non_local_name(&format!("specific.{}!", self.client_prefix)));
        let client = self.clients[shard].clone();
        *slot = Some(tokio::spawn(async move {
            let mut conn: Option<redis::aio::MultiplexedConnection> = None;
            loop {
                let Some(layer) = layer.upgrade() else { return };
                if conn.is_none() {
                    match blocking_connection(&client).await {
                        Ok(c) => conn = Some(c),
                        Err(e) => {
                            tracing::warn!(target: "canter::channels", "Redis unavailable, retrying: {e}");
                            drop(layer);
                            tokio::time::sleep(Duration::from_millis(500)).await;
                            continue;
                        }
                    }
                }
                let result = layer
                    .receive_single(conn.as_mut().expect("connected"), &key)
                    .await;
                match result {
                    Ok(Some((message, destinations))) => {
                        for destination in destinations {
                            let (tx, _) = layer.buffer(&destination);
                            // A full local buffer drops the message, as channels_redis does.
                            if tx.try_send(message.clone()).is_err() {
                                layer.drops.record(1, || format!("channel {destination}"));
                            }
                        }
                    }
                    Ok(None) => {}
                    Err(e) => {
                        tracing::warn!(target: "canter::channels", "Redis receive failed, reconnecting: {e}");
                        conn = None;
                        drop(layer);
                        tokio::time::sleep(Duration::from_millis(200)).await;
                    }
                }
            }
        }));
    }

    /// The layer as the process-wide one (`ChannelLayer` needs `self: &Arc` for the loop).
    pub fn shared(self: Arc<Self>) -> Arc<dyn ChannelLayer> {
        Arc::new(Shared(self))
    }

    /// See [`ChannelLayer::dropped_messages`].
    pub fn dropped_messages(&self) -> u64 {
        self.drops.total()
    }
}

/// `Arc<RedisChannelLayer>` as a `ChannelLayer` (its receive loop holds a weak reference).
struct Shared(Arc<RedisChannelLayer>);

impl ChannelLayer for Shared {
    fn new_channel(&self) -> String {
        format!(
            "specific.{}!{}",
            self.0.client_prefix,
            uuid::Uuid::new_v4().simple()
        )
    }

    fn send<'a>(
        &'a self,
        channel: &'a str,
        message: Message,
    ) -> BoxFuture<'a, Result<(), LayerError>> {
        Box::pin(async move {
            let layer = &self.0;
            if message.0.contains_key(ASGI_CHANNEL) {
                return Err(LayerError::Invalid(format!("{ASGI_CHANNEL} is reserved")));
            }
            let mut map = message.0;
            let (key, shard) = if channel.contains('!') {
                map.insert(ASGI_CHANNEL.into(), channel.into());
                // channels_redis hashes the full name here (and the local part on receive);
                // copied as is, so both sides agree on where a message lands.
                (
                    channel_key(&layer.config.prefix, channel),
                    layer.shard(channel),
                )
            } else {
                let shard =
                    layer.round_robin.fetch_add(1, Ordering::Relaxed) % layer.connections.len();
                (channel_key(&layer.config.prefix, channel), shard)
            };
            let mut conn = layer.conn(shard);
            let now = now();
            let cutoff = now as i64 - layer.config.expiry as i64;
            redis::cmd("ZREMRANGEBYSCORE")
                .arg(&key)
                .arg(0)
                .arg(cutoff)
                .query_async::<()>(&mut conn)
                .await
                .map_err(unavailable)?;
            let count: usize = redis::cmd("ZCOUNT")
                .arg(&key)
                .arg("-inf")
                .arg("+inf")
                .query_async(&mut conn)
                .await
                .map_err(unavailable)?;
            if count >= layer.config.capacity {
                return Err(LayerError::ChannelFull(channel.to_owned()));
            }
            let bytes = serialize(&map, layer.config.random_prefix_length);
            zadd_with_expiry(&mut conn, &key, now, bytes, layer.config.expiry).await
        })
    }

    fn receive<'a>(&'a self, channel: &'a str) -> BoxFuture<'a, Result<Message, LayerError>> {
        Box::pin(async move {
            let layer = &self.0;
            if channel.contains('!') {
                if !channel.starts_with(&format!("specific.{}!", layer.client_prefix)) {
                    return Err(LayerError::Invalid(format!(
                        "{channel} is not a channel of this process"
                    )));
                }
                layer.ensure_receive_loop();
                let (_, rx) = layer.buffer(channel);
                let mut rx = rx.lock().await;
                return rx
                    .recv()
                    .await
                    .ok_or_else(|| LayerError::Unavailable("layer closed".into()));
            }
            // A named channel (a background worker's): pop it directly.
            let shard = layer.round_robin.fetch_add(1, Ordering::Relaxed) % layer.clients.len();
            let mut conn = blocking_connection(&layer.clients[shard])
                .await
                .map_err(unavailable)?;
            let key = channel_key(&layer.config.prefix, channel);
            loop {
                if let Some((message, _)) = layer.receive_single(&mut conn, &key).await? {
                    return Ok(message);
                }
            }
        })
    }

    fn group_add<'a>(
        &'a self,
        group: &'a str,
        channel: &'a str,
    ) -> BoxFuture<'a, Result<(), LayerError>> {
        Box::pin(async move {
            if !valid_group_name(group) {
                return Err(LayerError::Invalid(format!("group name {group:?}")));
            }
            let layer = &self.0;
            let key = group_key(&layer.config.prefix, group);
            let mut conn = layer.conn(layer.shard(group));
            zadd_with_expiry(
                &mut conn,
                &key,
                now(),
                channel.as_bytes().to_vec(),
                layer.config.group_expiry,
            )
            .await
        })
    }

    fn group_discard<'a>(
        &'a self,
        group: &'a str,
        channel: &'a str,
    ) -> BoxFuture<'a, Result<(), LayerError>> {
        Box::pin(async move {
            let layer = &self.0;
            let mut conn = layer.conn(layer.shard(group));
            redis::cmd("ZREM")
                .arg(group_key(&layer.config.prefix, group))
                .arg(channel)
                .query_async::<()>(&mut conn)
                .await
                .map_err(unavailable)
        })
    }

    // Long because it is one pipeline to Redis, built and sent in order: the members read, each
    // message queued with its expiry and capacity check, the drops counted; in pieces the
    // pipeline would have to be passed around half-built.
    fn group_send<'a>(
        &'a self,
        group: &'a str,
        message: Message,
    ) -> BoxFuture<'a, Result<(), LayerError>> {
        Box::pin(async move {
            let layer = &self.0;
            let key = group_key(&layer.config.prefix, group);
            let mut conn = layer.conn(layer.shard(group));
            let now = now();
            let cutoff = now as i64 - layer.config.group_expiry as i64;
            redis::cmd("ZREMRANGEBYSCORE")
                .arg(&key)
                .arg(0)
                .arg(cutoff)
                .query_async::<()>(&mut conn)
                .await
                .map_err(unavailable)?;
            let channels: Vec<String> = redis::cmd("ZRANGE")
                .arg(&key)
                .arg(0)
                .arg(-1)
                .query_async(&mut conn)
                .await
                .map_err(unavailable)?;
            // One copy per Redis key, naming every member channel behind that key.
            let mut by_key: Vec<(String, Vec<String>)> = Vec::new();
            for channel in channels {
                let channel_key = channel_key(&layer.config.prefix, &channel);
                match by_key.iter_mut().find(|(k, _)| *k == channel_key) {
                    Some((_, members)) => members.push(channel),
                    None => by_key.push((channel_key, vec![channel])),
                }
            }
            // Per shard: (key, message, how many member channels it reaches).
            let mut by_shard: HashMap<usize, Vec<(String, Vec<u8>, u64)>> = HashMap::new();
            for (channel_key, members) in by_key {
                let mut map = message.0.clone();
                let shard = layer.shard(non_local_name(&members[0]));
                let reached = members.len() as u64;
                map.insert(ASGI_CHANNEL.into(), serde_json::Value::from(members));
                by_shard.entry(shard).or_default().push((
                    channel_key,
                    serialize(&map, layer.config.random_prefix_length),
                    reached,
                ));
            }
            let cutoff = now as i64 - layer.config.expiry as i64;
            for (shard, entries) in by_shard {
                let mut conn = layer.conn(shard);
                let mut pipe = redis::pipe();
                for (k, _, _) in &entries {
                    pipe.cmd("ZREMRANGEBYSCORE")
                        .arg(k)
                        .arg(0)
                        .arg(cutoff)
                        .ignore();
                }
                pipe.query_async::<()>(&mut conn)
                    .await
                    .map_err(unavailable)?;
                let script = redis::Script::new(GROUP_SEND);
                let mut invocation = script.prepare_invoke();
                for (k, _, _) in &entries {
                    invocation.key(k);
                }
                for (_, bytes, _) in &entries {
                    invocation.arg(bytes.as_slice());
                }
                for _ in &entries {
                    invocation.arg(layer.config.capacity);
                }
                invocation.arg(now).arg(layer.config.expiry);
                let full: Vec<usize> = invocation
                    .invoke_async(&mut conn)
                    .await
                    .map_err(unavailable)?;
                let missed: u64 = full
                    .iter()
                    .filter_map(|i| entries.get(i.wrapping_sub(1)))
                    .map(|(_, _, reached)| reached)
                    .sum();
                layer.drops.record(missed, || format!("group {group}"));
            }
            Ok(())
        })
    }

    fn group_size<'a>(&'a self, group: &'a str) -> BoxFuture<'a, Result<usize, LayerError>> {
        Box::pin(async move {
            let layer = &self.0;
            let mut conn = layer.conn(layer.shard(group));
            redis::cmd("ZCARD")
                .arg(group_key(&layer.config.prefix, group))
                .query_async(&mut conn)
                .await
                .map_err(unavailable)
        })
    }

    fn dropped_messages(&self) -> u64 {
        self.0.dropped_messages()
    }

    fn groups(&self) -> BoxFuture<'_, Result<Vec<(String, usize)>, LayerError>> {
        Box::pin(self.0.groups())
    }

    fn put_record<'a>(
        &'a self,
        key: &'a str,
        value: &'a str,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<(), LayerError>> {
        Box::pin(self.0.put_record(key, value, ttl))
    }

    fn records(&self) -> BoxFuture<'_, Result<Vec<String>, LayerError>> {
        Box::pin(self.0.records())
    }

    fn forget<'a>(&'a self, channel: &'a str) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            self.0
                .buffers
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(channel);
        })
    }
}
