//! `group_send` throughput of canter's Redis channel layer (benches/channels_run.sh runs
//! channels_redis's beside it on the same Redis).
//!
//! Usage: `redis_group_send URL COUNT`: a group of one member channel (nobody reading it; the
//! capacity is raised above COUNT so no send is dropped), COUNT `group_send`s one after another.
//! Prints `group_send count=… per_s=…`, then deletes its keys.

use std::time::Instant;

use canter::channels::{Message, RedisChannelLayer, RedisLayerConfig};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(url), Some(count)) = (
        args.first(),
        args.get(1).and_then(|c| c.parse::<usize>().ok()),
    ) else {
        eprintln!("usage: redis_group_send URL COUNT");
        std::process::exit(2);
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    runtime.block_on(async {
        let prefix = format!("benchgs{}", std::process::id());
        let config = RedisLayerConfig {
            hosts: vec![url.clone()],
            prefix: prefix.clone(),
            capacity: count + 1,
            ..RedisLayerConfig::default()
        };
        let layer = RedisChannelLayer::connect(config)
            .await
            .expect("Redis")
            .shared();
        layer.group_add("bench", "member").await.expect("group_add");
        let started = Instant::now();
        for n in 0..count {
            let message = Message::new("bench.message").with("n", n as u64);
            layer
                .group_send("bench", message)
                .await
                .expect("group_send");
        }
        let elapsed = started.elapsed().as_secs_f64();
        println!(
            "group_send count={count} per_s={:.0}",
            count as f64 / elapsed
        );
        let mut conn = redis::Client::open(url.as_str())
            .unwrap()
            .get_multiplexed_async_connection()
            .await
            .unwrap();
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg(format!("{prefix}*"))
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
    });
}
