//! The in-process layer (Channels' `InMemoryChannelLayer`): bounded per-channel queues, groups
//! with expiry, message expiry. One process only.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::future::BoxFuture;
use tokio::sync::{mpsc, Mutex as AsyncMutex};

use super::drops::Drops;
use super::{valid_group_name, ChannelLayer, LayerError, Message};

/// A channel's queue ends: messages with the time they were sent (for expiry), and the
/// receiving end, shared by whoever receives on the channel.
type QueueSender = mpsc::Sender<(Instant, Message)>;
type SharedReceiver = Arc<AsyncMutex<mpsc::Receiver<(Instant, Message)>>>;

struct Queue {
    tx: QueueSender,
    rx: SharedReceiver,
}

/// The in-process channel layer (see the module docs). `capacity` per channel (default 100),
/// `expiry` of a queued message (60 s) and `group_expiry` of a membership (86,400 s) as in
/// Channels.
pub struct InMemoryChannelLayer {
    capacity: usize,
    expiry: Duration,
    group_expiry: Duration,
    channels: Mutex<HashMap<String, Queue>>,
    groups: Mutex<HashMap<String, HashMap<String, Instant>>>,
    /// Records by key: when each expires, and its value (see [`ChannelLayer::put_record`]).
    records: Mutex<HashMap<String, (Instant, String)>>,
    drops: Drops,
}

impl Default for InMemoryChannelLayer {
    fn default() -> Self {
        Self::new(100, Duration::from_secs(60), Duration::from_secs(86_400))
    }
}

impl InMemoryChannelLayer {
    /// A layer with these limits (a `capacity` of 0 is taken as 1); `default()` has Channels'.
    pub fn new(capacity: usize, expiry: Duration, group_expiry: Duration) -> Self {
        Self {
            capacity: capacity.max(1),
            expiry,
            group_expiry,
            channels: Mutex::new(HashMap::new()),
            groups: Mutex::new(HashMap::new()),
            records: Mutex::new(HashMap::new()),
            drops: Drops::default(),
        }
    }

    fn queue(&self, channel: &str) -> (QueueSender, SharedReceiver) {
        let mut channels = self.channels.lock().unwrap_or_else(|e| e.into_inner());
        let queue = self.queue_in(&mut channels, channel);
        (queue.tx.clone(), queue.rx.clone())
    }

    /// `channel`'s queue in the locked map, made on first use (the name is copied only then).
    fn queue_in<'m>(&self, channels: &'m mut HashMap<String, Queue>, channel: &str) -> &'m Queue {
        if !channels.contains_key(channel) {
            let (tx, rx) = mpsc::channel(self.capacity);
            let queue = Queue {
                tx,
                rx: Arc::new(AsyncMutex::new(rx)),
            };
            channels.insert(channel.to_owned(), queue);
        }
        &channels[channel]
    }

    fn try_send(&self, channel: &str, message: Message) -> Result<(), LayerError> {
        let (tx, _) = self.queue(channel);
        tx.try_send((Instant::now(), message))
            .map_err(|_| LayerError::ChannelFull(channel.to_owned()))
    }

    fn members(&self, group: &str) -> usize {
        self.groups
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(group)
            .map_or(0, HashMap::len)
    }
}

impl ChannelLayer for InMemoryChannelLayer {
    fn new_channel(&self) -> String {
        format!(
            "specific.{}!{}",
            uuid::Uuid::new_v4().simple(),
            uuid::Uuid::new_v4().simple()
        )
    }

    fn send<'a>(
        &'a self,
        channel: &'a str,
        message: Message,
    ) -> BoxFuture<'a, Result<(), LayerError>> {
        Box::pin(async move { self.try_send(channel, message) })
    }

    fn receive<'a>(&'a self, channel: &'a str) -> BoxFuture<'a, Result<Message, LayerError>> {
        Box::pin(async move {
            let (_, rx) = self.queue(channel);
            let mut rx = rx.lock().await;
            loop {
                let Some((sent, message)) = rx.recv().await else {
                    return Err(LayerError::Unavailable("channel closed".into()));
                };
                if sent.elapsed() <= self.expiry {
                    return Ok(message);
                }
                tracing::debug!(target: "canter::channels", channel, "dropped an expired message");
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
            let mut groups = self.groups.lock().unwrap_or_else(|e| e.into_inner());
            groups
                .entry(group.to_owned())
                .or_default()
                .insert(channel.to_owned(), Instant::now());
            Ok(())
        })
    }

    fn group_discard<'a>(
        &'a self,
        group: &'a str,
        channel: &'a str,
    ) -> BoxFuture<'a, Result<(), LayerError>> {
        Box::pin(async move {
            let mut groups = self.groups.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(members) = groups.get_mut(group) {
                members.remove(channel);
                if members.is_empty() {
                    groups.remove(group);
                }
            }
            Ok(())
        })
    }

    fn group_send<'a>(
        &'a self,
        group: &'a str,
        message: Message,
    ) -> BoxFuture<'a, Result<(), LayerError>> {
        Box::pin(async move {
            // Every member's sender under one lock of each map (not a lookup, a name copy and
            // a lock per member), then the sends.
            let senders: Vec<QueueSender> = {
                let mut groups = self.groups.lock().unwrap_or_else(|e| e.into_inner());
                let Some(members) = groups.get_mut(group) else {
                    return Ok(());
                };
                let expiry = self.group_expiry;
                members.retain(|_, joined| joined.elapsed() <= expiry);
                let mut channels = self.channels.lock().unwrap_or_else(|e| e.into_inner());
                members
                    .keys()
                    .map(|channel| self.queue_in(&mut channels, channel).tx.clone())
                    .collect()
            };
            let now = Instant::now();
            let mut full = 0;
            for tx in senders {
                if tx.try_send((now, message.clone())).is_err() {
                    full += 1;
                }
            }
            self.drops.record(full, || format!("group {group}"));
            Ok(())
        })
    }

    fn group_size<'a>(&'a self, group: &'a str) -> BoxFuture<'a, Result<usize, LayerError>> {
        Box::pin(async move { Ok(self.members(group)) })
    }

    fn forget<'a>(&'a self, channel: &'a str) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            self.channels
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(channel);
        })
    }

    fn dropped_messages(&self) -> u64 {
        self.drops.total()
    }

    fn groups(&self) -> BoxFuture<'_, Result<Vec<(String, usize)>, LayerError>> {
        Box::pin(async move {
            let mut groups = self.groups.lock().unwrap_or_else(|e| e.into_inner());
            let expiry = self.group_expiry;
            groups.retain(|_, members| {
                members.retain(|_, joined| joined.elapsed() <= expiry);
                !members.is_empty()
            });
            let mut listed: Vec<(String, usize)> = groups
                .iter()
                .map(|(name, m)| (name.clone(), m.len()))
                .collect();
            listed.sort();
            Ok(listed)
        })
    }

    fn put_record<'a>(
        &'a self,
        key: &'a str,
        value: &'a str,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<(), LayerError>> {
        Box::pin(async move {
            let mut records = self.records.lock().unwrap_or_else(|e| e.into_inner());
            records.insert(key.to_owned(), (Instant::now() + ttl, value.to_owned()));
            Ok(())
        })
    }

    fn records(&self) -> BoxFuture<'_, Result<Vec<String>, LayerError>> {
        Box::pin(async move {
            let mut records = self.records.lock().unwrap_or_else(|e| e.into_inner());
            let now = Instant::now();
            records.retain(|_, (expires, _)| *expires > now);
            Ok(records.values().map(|(_, value)| value.clone()).collect())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn send_receive_groups_and_capacity() {
        let layer = InMemoryChannelLayer::new(2, Duration::from_secs(60), Duration::from_secs(60));
        let a = layer.new_channel();
        let b = layer.new_channel();
        layer.send(&a, Message::new("x.one")).await.unwrap();
        layer.send(&a, Message::new("x.two")).await.unwrap();
        assert_eq!(
            layer.send(&a, Message::new("x.three")).await,
            Err(LayerError::ChannelFull(a.clone()))
        );
        assert_eq!(layer.receive(&a).await.unwrap().kind(), "x.one");
        layer.group_add("room", &a).await.unwrap();
        layer.group_add("room", &b).await.unwrap();
        layer
            .group_send("room", Message::new("chat.message").with("message", "hi"))
            .await
            .unwrap();
        assert_eq!(
            layer.receive(&b).await.unwrap().get("message").unwrap(),
            "hi"
        );
        assert_eq!(layer.receive(&a).await.unwrap().kind(), "x.two");
        assert_eq!(layer.receive(&a).await.unwrap().kind(), "chat.message");
        layer.group_discard("room", &a).await.unwrap();
        assert_eq!(layer.group_size("room").await.unwrap(), 1);
        assert!(layer.group_add("bad name!", &a).await.is_err());
    }

    #[tokio::test]
    async fn expired_messages_and_memberships_are_dropped() {
        let layer =
            InMemoryChannelLayer::new(10, Duration::from_millis(20), Duration::from_millis(20));
        let a = layer.new_channel();
        layer.send(&a, Message::new("old")).await.unwrap();
        layer.group_add("g", &a).await.unwrap();
        tokio::time::sleep(Duration::from_millis(40)).await;
        layer.send(&a, Message::new("new")).await.unwrap();
        assert_eq!(layer.receive(&a).await.unwrap().kind(), "new");
        layer
            .group_send("g", Message::new("to.group"))
            .await
            .unwrap();
        assert_eq!(
            layer.group_size("g").await.unwrap(),
            0,
            "the membership expired"
        );
    }
}
