//! canter's side of benches/channels_run.sh: WebSocket consumers built in code.
//!
//! `ws/echo/`  -> a consumer sending each text frame back;
//! `ws/group/` -> a consumer in group `bench`: a text frame `broadcast N` makes it `group_send`
//!               N messages `{"type": "bench.stamp", "t": <ns since the epoch>}`; every member
//!               sends each one to its socket as the text `<t>`.
//!
//! Usage: `ws_bench_server [--addr ADDR] [--redis URL] [--capacity N]`: the in-process channel
//! layer, or the Redis one at URL; `--capacity` is the layer's per-channel capacity (default
//! 1,000, so an unpaced broadcast is measured rather than dropped). Prints `listening on ADDR`
//! once bound; stops on SIGINT/SIGTERM.

use std::io::Write;
use std::time::Duration;

use canter::channels::{
    websocket, Consumer, ConsumerError, Context, Frame, InMemoryChannelLayer, Message, NoEvent,
    RedisChannelLayer, RedisLayerConfig,
};
use canter::prelude::*;
use canter::settings::{Settings, StallSettings};
use serde::Deserialize;

struct Echo;

impl Consumer for Echo {
    type Event = NoEvent;

    async fn receive(&mut self, ctx: &mut Context, frame: Frame) -> Result<(), ConsumerError> {
        match frame {
            Frame::Text(text) => ctx.send_text(text).await,
            Frame::Binary(bytes) => ctx.send_bytes(bytes).await,
        }
    }
}

#[derive(Deserialize)]
#[serde(tag = "type")]
enum BenchEvent {
    #[serde(rename = "bench.stamp")]
    Stamp { t: u64 },
}

struct Group;

impl Consumer for Group {
    type Event = BenchEvent;

    async fn connect(&mut self, ctx: &mut Context) -> Result<(), ConsumerError> {
        ctx.group_add("bench").await?;
        ctx.accept().await
    }

    async fn receive(&mut self, ctx: &mut Context, frame: Frame) -> Result<(), ConsumerError> {
        let Frame::Text(text) = frame else {
            return Ok(());
        };
        let Some(count) = text
            .strip_prefix("broadcast ")
            .and_then(|n| n.parse::<u64>().ok())
        else {
            return Ok(());
        };
        for _ in 0..count {
            let message = Message::new("bench.stamp").with("t", now_ns());
            ctx.group_send("bench", message).await?;
        }
        Ok(())
    }

    async fn event(&mut self, ctx: &mut Context, event: BenchEvent) -> Result<(), ConsumerError> {
        let BenchEvent::Stamp { t } = event;
        ctx.send_text(t.to_string()).await
    }
}

fn now_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

fn usage() -> ! {
    eprintln!("usage: ws_bench_server [--addr ADDR] [--redis URL] [--capacity N]");
    std::process::exit(2);
}

fn main() {
    let mut addr = "127.0.0.1:0".to_owned();
    let mut redis: Option<String> = None;
    let mut capacity = 1_000usize;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--addr" => addr = args.next().unwrap_or_else(|| usage()),
            "--redis" => redis = Some(args.next().unwrap_or_else(|| usage())),
            "--capacity" => {
                capacity = args
                    .next()
                    .and_then(|n| n.parse().ok())
                    .unwrap_or_else(|| usage())
            }
            _ => usage(),
        }
    }
    let settings = Settings {
        debug: false,
        secret_key: Some("canter-bench-not-a-secret-only-for-local-load-tests-0123456789".into()),
        allowed_hosts: vec!["127.0.0.1".into()],
        stall: StallSettings {
            enabled: Some(false),
            ..StallSettings::default()
        },
        ..Settings::default()
    };
    settings.validate().expect("valid settings");

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    runtime.block_on(async move {
        let layer: std::sync::Arc<dyn canter::channels::ChannelLayer> = match &redis {
            Some(url) => {
                let config = RedisLayerConfig {
                    hosts: vec![url.clone()],
                    prefix: format!("benchws{}", std::process::id()),
                    capacity,
                    ..RedisLayerConfig::default()
                };
                RedisChannelLayer::connect(config)
                    .await
                    .expect("Redis")
                    .shared()
            }
            None => std::sync::Arc::new(InMemoryChannelLayer::new(
                capacity,
                Duration::from_secs(60),
                Duration::from_secs(86_400),
            )),
        };
        // The app's channel layer, as the channels plugin would make it.
        let service = App::new()
            .state(layer)
            .urls(vec![
                path("ws/echo/", websocket(|_| Echo)),
                path("ws/group/", websocket(|_| Group)),
            ])
            .build(settings)
            .expect("app builds");
        let listener = canter::server::bind(addr.parse().expect("ADDR")).expect("bind");
        println!(
            "listening on {} layer={}",
            listener.local_addr().expect("local addr"),
            if redis.is_some() { "redis" } else { "memory" }
        );
        std::io::stdout().flush().ok();
        canter::server::serve_until_signal(listener, service)
            .await
            .expect("serve");
    });
}
