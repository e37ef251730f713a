//! The Redis layer against a real Redis (`CANTER_TEST_REDIS_URL`; skipped with a printed reason
//! when unset, a failure under `CANTER_REQUIRE_SERVICES=1`): two processes (two layers) talk
//! through it, and the bytes in Redis are channels_redis's.

use std::sync::Arc;
use std::time::Duration;

use canter_channels::layers::redis::wire;
use canter_channels::{ChannelLayer, LayerError, Message, RedisChannelLayer, RedisLayerConfig};

async fn layers(count: usize) -> Option<(Vec<Arc<dyn ChannelLayer>>, RedisLayerConfig)> {
    let url = canter_core::test::require_service("CANTER_TEST_REDIS_URL")?;
    let config = RedisLayerConfig {
        hosts: vec![url],
        prefix: format!("asgitest{}", uuid::Uuid::new_v4().simple()),
        capacity: 5,
        ..RedisLayerConfig::default()
    };
    let mut out = Vec::new();
    for _ in 0..count {
        out.push(
            RedisChannelLayer::connect(config.clone())
                .await
                .unwrap()
                .shared(),
        );
    }
    Some((out, config))
}

async fn raw(config: &RedisLayerConfig) -> redis::aio::MultiplexedConnection {
    redis::Client::open(config.hosts[0].as_str())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap()
}

/// Deletes the test's keys (its prefix is unique).
async fn cleanup(config: &RedisLayerConfig) {
    let mut conn = raw(config).await;
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{}*", config.prefix))
        .query_async(&mut conn)
        .await
        .unwrap();
    if !keys.is_empty() {
        redis::cmd("DEL")
            .arg(keys)
            .query_async::<()>(&mut conn)
            .await
            .unwrap();
    }
}

async fn receive(layer: &Arc<dyn ChannelLayer>, channel: &str) -> Message {
    tokio::time::timeout(Duration::from_secs(10), layer.receive(channel))
        .await
        .expect("a message within 10 s")
        .unwrap()
}

#[tokio::test]
async fn two_processes_share_groups_and_channels() {
    let Some((layers, config)) = layers(2).await else {
        return;
    };
    let (a, b) = (&layers[0], &layers[1]);
    let alice = a.new_channel();
    let bob = b.new_channel();
    a.group_add("room", &alice).await.unwrap();
    b.group_add("room", &bob).await.unwrap();
    assert_eq!(a.group_size("room").await.unwrap(), 2);

    b.group_send("room", Message::new("chat.message").with("message", "hi"))
        .await
        .unwrap();
    assert_eq!(receive(a, &alice).await.get("message").unwrap(), "hi");
    assert_eq!(receive(b, &bob).await.get("message").unwrap(), "hi");

    // A direct send from one process to the other's channel.
    b.send(&alice, Message::new("direct.note").with("n", 7))
        .await
        .unwrap();
    let note = receive(a, &alice).await;
    assert_eq!(
        (note.kind(), note.get("n").unwrap().as_i64()),
        ("direct.note", Some(7))
    );
    assert!(
        note.get("__asgi_channel__").is_none(),
        "the routing field is not handed to consumers"
    );

    a.group_discard("room", &alice).await.unwrap();
    assert_eq!(a.group_size("room").await.unwrap(), 1);
    cleanup(&config).await;
}

#[tokio::test]
async fn the_bytes_in_redis_are_channels_redis_format() {
    let Some((layers, config)) = layers(1).await else {
        return;
    };
    let layer = &layers[0];
    let channel = layer.new_channel();
    layer.group_add("chat_room1", &channel).await.unwrap();
    layer
        .group_send(
            "chat_room1",
            Message::new("chat.message").with("text", "group!"),
        )
        .await
        .unwrap();
    let mut conn = raw(&config).await;
    let group: Vec<(String, f64)> = redis::cmd("ZRANGE")
        .arg(format!("{}:group:chat_room1", config.prefix))
        .arg(0)
        .arg(-1)
        .arg("WITHSCORES")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(group[0].0, channel, "group members are plain channel names");
    let key = format!("{}{}", config.prefix, wire::non_local_name(&channel));
    assert!(key.ends_with('!'));
    let members: Vec<Vec<u8>> = redis::cmd("ZRANGE")
        .arg(&key)
        .arg(0)
        .arg(-1)
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(members.len(), 1);
    let ttl: i64 = redis::cmd("TTL")
        .arg(&key)
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(ttl > 0 && ttl <= 60);
    // 12 random bytes, then a msgpack map with str keys; the destination is a list for group_send.
    let body = &members[0][12..];
    let value = rmpv::decode::read_value(&mut &body[..]).unwrap();
    let map = value.as_map().unwrap();
    let get = |k: &str| {
        map.iter()
            .find(|(key, _)| key.as_str() == Some(k))
            .map(|(_, v)| v.clone())
    };
    assert_eq!(get("type").unwrap().as_str(), Some("chat.message"));
    assert_eq!(
        get("__asgi_channel__").unwrap().as_array().unwrap()[0].as_str(),
        Some(channel.as_str())
    );
    assert_eq!(
        receive(layer, &channel).await.get("text").unwrap(),
        "group!"
    );
    cleanup(&config).await;
}

#[tokio::test]
async fn a_message_written_as_python_writes_it_is_received() {
    let Some((layers, config)) = layers(1).await else {
        return;
    };
    let layer = &layers[0];
    let channel = layer.new_channel();
    // What channels_redis's send() does for a `!` channel: ZADD prefix+non_local_name with
    // __asgi_channel__ set to the full name, 12 random bytes first.
    let mut map = serde_json::Map::new();
    map.insert("type".into(), "chat.message".into());
    map.insert("text".into(), "from python".into());
    map.insert("__asgi_channel__".into(), channel.clone().into());
    let bytes = wire::serialize(&map, 12);
    let mut conn = raw(&config).await;
    let key = format!("{}{}", config.prefix, wire::non_local_name(&channel));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    redis::cmd("ZADD")
        .arg(&key)
        .arg(now)
        .arg(bytes)
        .query_async::<()>(&mut conn)
        .await
        .unwrap();
    assert_eq!(
        receive(layer, &channel).await.get("text").unwrap(),
        "from python"
    );
    cleanup(&config).await;
}

#[tokio::test]
async fn in_flight_messages_of_a_dead_receiver_are_restored() {
    let Some((layers, config)) = layers(1).await else {
        return;
    };
    let layer = &layers[0];
    let channel = layer.new_channel();
    // A receiver died after popping: its message sits in the backup key.
    let mut map = serde_json::Map::new();
    map.insert("type".into(), "survivor".into());
    map.insert("__asgi_channel__".into(), channel.clone().into());
    let key = format!("{}{}", config.prefix, wire::non_local_name(&channel));
    let mut conn = raw(&config).await;
    redis::cmd("ZADD")
        .arg(wire::backup_key(&key))
        .arg(1.0)
        .arg(wire::serialize(&map, 12))
        .query_async::<()>(&mut conn)
        .await
        .unwrap();
    assert_eq!(receive(layer, &channel).await.kind(), "survivor");
    let left: usize = redis::cmd("ZCARD")
        .arg(wire::backup_key(&key))
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(left, 0);
    cleanup(&config).await;
}

#[tokio::test]
async fn capacity_is_enforced_on_send() {
    let Some((layers, config)) = layers(1).await else {
        return;
    };
    let layer = &layers[0];
    for i in 0..5 {
        layer
            .send("worker.jobs", Message::new("job").with("i", i))
            .await
            .unwrap();
    }
    assert_eq!(
        layer.send("worker.jobs", Message::new("job")).await,
        Err(LayerError::ChannelFull("worker.jobs".into()))
    );
    // A named channel (a background worker's) is popped directly, oldest first.
    assert_eq!(
        layer
            .receive("worker.jobs")
            .await
            .unwrap()
            .get("i")
            .unwrap(),
        0
    );
    cleanup(&config).await;
}

/// A receive waits as long as it takes: a background worker's named channel idle for longer
/// than redis-rs's default response timeout (500 ms) still gets the message (it used to fail
/// with "Unavailable" — and a pop Redis served after the client gave up was lost).
#[tokio::test]
async fn an_idle_receive_keeps_waiting() {
    let Some((layers, config)) = layers(2).await else {
        return;
    };
    let waiting = tokio::spawn({
        let layer = layers[0].clone();
        async move { layer.receive("thumbnails").await }
    });
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(
        !waiting.is_finished(),
        "the receive gave up: {:?}",
        waiting.await
    );
    let message = Message::new("thumbnail.make").with("id", 7);
    layers[1].send("thumbnails", message).await.unwrap();
    let received = tokio::time::timeout(Duration::from_secs(10), waiting)
        .await
        .expect("delivered")
        .unwrap()
        .unwrap();
    assert_eq!(received.get("id").unwrap(), 7);
    cleanup(&config).await;
}
