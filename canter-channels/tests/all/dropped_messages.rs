//! Messages a layer drops (their channel full: a consumer that does not read) are all counted
//! and logged a few times, not once each: 10,000 drops make a WARN line or two and a counter of
//! exactly 10,000. The in-memory layer, and the Redis one (`CANTER_TEST_REDIS_URL`; skipped
//! with a printed reason when unset): `group_send` over capacity and a full local buffer.

use std::sync::Arc;
use std::time::Duration;

use canter_channels::{
    ChannelLayer, InMemoryChannelLayer, LayerError, Message, RedisChannelLayer, RedisLayerConfig,
};

/// The log lines written while it is the thread's subscriber (the tests run on one thread).
use canter_core::test::CapturedLogs as Captured;
use canter_test_kit::RedisKeys;

/// A handful of WARN lines at most, each saying how many were dropped, for 10,000 drops.
fn assert_reported_in_few_lines(log: &Captured) {
    let warnings = log.warnings();
    assert!(
        (1..=5).contains(&warnings.len()),
        "{} WARN lines: {:?}",
        warnings.len(),
        &warnings[..warnings.len().min(5)]
    );
    assert!(warnings[0].contains("dropped"), "{}", warnings[0]);
}

/// `channels` new channels in `group`.
async fn join(layer: &Arc<dyn ChannelLayer>, group: &str, channels: usize) {
    for _ in 0..channels {
        layer.group_add(group, &layer.new_channel()).await.unwrap();
    }
}

#[tokio::test]
async fn the_memory_layer_counts_what_group_send_skips_and_logs_it_a_few_times() {
    let log = Captured::default();
    let _guard = log.install();
    let layer: Arc<dyn ChannelLayer> = Arc::new(InMemoryChannelLayer::new(
        1,
        Duration::from_secs(60),
        Duration::from_secs(60),
    ));
    join(&layer, "slow_readers", 100).await;
    // The first fills each channel's queue (capacity 1); the next 100 are dropped 100 times each.
    for _ in 0..101 {
        layer
            .group_send("slow_readers", Message::new("x.tick"))
            .await
            .unwrap();
    }
    assert_eq!(layer.dropped_messages(), 10_000);
    assert_reported_in_few_lines(&log);
}

/// A Redis layer under a key prefix of the test's own (its keys deleted when the returned
/// `RedisKeys` is dropped, however the test ends).
async fn redis_layer(capacity: usize) -> Option<(Arc<RedisChannelLayer>, RedisKeys)> {
    let keys = RedisKeys::create("asgitest")?;
    let config = RedisLayerConfig {
        hosts: vec![keys.url.clone()],
        prefix: keys.prefix.clone(),
        capacity,
        ..RedisLayerConfig::default()
    };
    Some((RedisChannelLayer::connect(config).await.unwrap(), keys))
}

#[tokio::test]
async fn the_redis_layer_counts_group_sends_over_capacity_and_logs_them_a_few_times() {
    let Some((redis, _keys)) = redis_layer(5).await else {
        return;
    };
    let log = Captured::default();
    let _guard = log.install();
    let layer = redis.clone().shared();
    // 100 channels of this process: one Redis key, holding 5 messages at most (none is read).
    join(&layer, "slow_readers", 100).await;
    for _ in 0..5 {
        layer
            .group_send("slow_readers", Message::new("x.tick"))
            .await
            .unwrap();
    }
    assert_eq!(layer.dropped_messages(), 0);
    for _ in 0..100 {
        layer
            .group_send("slow_readers", Message::new("x.tick"))
            .await
            .unwrap();
    }
    assert_eq!(layer.dropped_messages(), 10_000);
    assert_eq!(redis.dropped_messages(), 10_000);
    assert_reported_in_few_lines(&log);
}

#[tokio::test]
async fn the_redis_layer_counts_what_a_full_local_buffer_drops() {
    let Some((redis, _keys)) = redis_layer(5).await else {
        return;
    };
    let layer = redis.clone().shared();
    let channel = layer.new_channel();
    // Starts the process's receive loop (nothing arrives: the wait times out).
    let _ = tokio::time::timeout(Duration::from_millis(50), layer.receive(&channel)).await;
    // 25 messages reach the process; nobody reads the channel, whose local buffer holds 5.
    let mut sent = 0;
    while sent < 25 {
        match layer.send(&channel, Message::new("x.tick")).await {
            Ok(()) => sent += 1,
            // The channel's Redis key is at capacity until the receive loop takes from it.
            Err(LayerError::ChannelFull(_)) => tokio::time::sleep(Duration::from_millis(5)).await,
            Err(e) => panic!("{e}"),
        }
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while layer.dropped_messages() < 20 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(layer.dropped_messages(), 20);
}
