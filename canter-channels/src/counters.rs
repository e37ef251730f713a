//! Socket counters for a dashboard (canter-ops): WebSocket connections open now, per route,
//! and the messages this process sent to groups and received from the layer. Off unless a
//! [`SocketCounters`] is among the app's services; the ops plugin puts one there and wraps the
//! app's layer in a [`CountingLayer`]. A socket costs one map lookup when it opens; a message
//! one relaxed atomic add.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::future::BoxFuture;
use serde::{Deserialize, Serialize};

use crate::layers::{ChannelLayer, LayerError, Message};

/// See the module docs.
#[derive(Default)]
pub struct SocketCounters {
    /// Open sockets by route (its name, else its pattern).
    open: Mutex<BTreeMap<String, Arc<AtomicI64>>>,
    opened: AtomicU64,
    group_sends: AtomicU64,
    deliveries: AtomicU64,
}

/// What [`SocketCounters::snapshot`] reads.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SocketSnapshot {
    /// Sockets open now.
    pub open: i64,
    /// Sockets open now by route (routes with none are left out).
    pub routes: BTreeMap<String, i64>,
    /// Sockets opened since the process started.
    pub opened: u64,
    /// `group_send` calls since the process started.
    pub group_sends: u64,
    /// Messages taken from the layer by this process's consumers and streams.
    pub deliveries: u64,
    /// Messages the layer dropped because their channel was full.
    pub drops: u64,
}

/// One open socket: counted until dropped.
pub struct OpenSocket(Arc<AtomicI64>);

impl Drop for OpenSocket {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl SocketCounters {
    /// Empty counters.
    pub fn new() -> Self {
        Self::default()
    }

    /// Counts a socket of `route` open until the returned guard is dropped.
    pub fn open(&self, route: &str) -> OpenSocket {
        let gauge = {
            let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
            match open.get(route) {
                Some(gauge) => gauge.clone(),
                None => open.entry(route.to_owned()).or_default().clone(),
            }
        };
        gauge.fetch_add(1, Ordering::Relaxed);
        self.opened.fetch_add(1, Ordering::Relaxed);
        OpenSocket(gauge)
    }

    /// The counts now; `drops` is the layer's [`ChannelLayer::dropped_messages`].
    pub fn snapshot(&self, drops: u64) -> SocketSnapshot {
        let routes: BTreeMap<String, i64> = self
            .open
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|(route, gauge)| (route.clone(), gauge.load(Ordering::Relaxed)))
            .filter(|(_, open)| *open > 0)
            .collect();
        SocketSnapshot {
            open: routes.values().sum(),
            routes,
            opened: self.opened.load(Ordering::Relaxed),
            group_sends: self.group_sends.load(Ordering::Relaxed),
            deliveries: self.deliveries.load(Ordering::Relaxed),
            drops,
        }
    }
}

/// A layer counting this process's group sends and deliveries into [`SocketCounters`], the
/// rest passed through.
pub struct CountingLayer {
    inner: Arc<dyn ChannelLayer>,
    counters: Arc<SocketCounters>,
}

impl CountingLayer {
    /// `inner`, counted into `counters`.
    pub fn new(inner: Arc<dyn ChannelLayer>, counters: Arc<SocketCounters>) -> Self {
        Self { inner, counters }
    }
}

impl ChannelLayer for CountingLayer {
    fn new_channel(&self) -> String {
        self.inner.new_channel()
    }

    fn send<'a>(
        &'a self,
        channel: &'a str,
        message: Message,
    ) -> BoxFuture<'a, Result<(), LayerError>> {
        self.inner.send(channel, message)
    }

    fn receive<'a>(&'a self, channel: &'a str) -> BoxFuture<'a, Result<Message, LayerError>> {
        Box::pin(async move {
            let message = self.inner.receive(channel).await?;
            self.counters.deliveries.fetch_add(1, Ordering::Relaxed);
            Ok(message)
        })
    }

    fn group_add<'a>(
        &'a self,
        group: &'a str,
        channel: &'a str,
    ) -> BoxFuture<'a, Result<(), LayerError>> {
        self.inner.group_add(group, channel)
    }

    fn group_discard<'a>(
        &'a self,
        group: &'a str,
        channel: &'a str,
    ) -> BoxFuture<'a, Result<(), LayerError>> {
        self.inner.group_discard(group, channel)
    }

    fn group_send<'a>(
        &'a self,
        group: &'a str,
        message: Message,
    ) -> BoxFuture<'a, Result<(), LayerError>> {
        self.counters.group_sends.fetch_add(1, Ordering::Relaxed);
        self.inner.group_send(group, message)
    }

    fn group_size<'a>(&'a self, group: &'a str) -> BoxFuture<'a, Result<usize, LayerError>> {
        self.inner.group_size(group)
    }

    fn forget<'a>(&'a self, channel: &'a str) -> BoxFuture<'a, ()> {
        self.inner.forget(channel)
    }

    fn dropped_messages(&self) -> u64 {
        self.inner.dropped_messages()
    }

    fn groups(&self) -> BoxFuture<'_, Result<Vec<(String, usize)>, LayerError>> {
        self.inner.groups()
    }

    fn put_record<'a>(
        &'a self,
        key: &'a str,
        value: &'a str,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<(), LayerError>> {
        self.inner.put_record(key, value, ttl)
    }

    fn records(&self) -> BoxFuture<'_, Result<Vec<String>, LayerError>> {
        self.inner.records()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::InMemoryChannelLayer;

    #[tokio::test]
    async fn counts_sockets_sends_and_deliveries() {
        let counters = Arc::new(SocketCounters::new());
        let layer = CountingLayer::new(Arc::new(InMemoryChannelLayer::default()), counters.clone());
        let one = counters.open("ws-chat");
        let _two = counters.open("ws-chat");
        let _three = counters.open("ws-hello");
        let channel = layer.new_channel();
        layer.group_add("room", &channel).await.unwrap();
        layer.group_send("room", Message::new("x")).await.unwrap();
        layer.receive(&channel).await.unwrap();
        drop(one);
        let snapshot = counters.snapshot(layer.dropped_messages());
        assert_eq!(snapshot.open, 2);
        assert_eq!(snapshot.routes["ws-chat"], 1);
        assert_eq!(snapshot.opened, 3);
        assert_eq!((snapshot.group_sends, snapshot.deliveries), (1, 1));
        assert_eq!(layer.groups().await.unwrap(), vec![("room".to_owned(), 1)]);
    }
}
