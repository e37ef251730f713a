//! A Redis outage: the layer reports errors (no panic), sockets stay open, and once Redis is
//! back the receive loop reconnects and messages flow again. Runs its own `redis-server` on a
//! spare port (never the machine's); skipped with a printed reason without `redis-server`.

use std::time::Duration;

use canter_channels::testing::WebsocketCommunicator;
use canter_channels::{
    websocket, Consumer, ConsumerError, Context, Frame, Message, NoEvent, RedisChannelLayer,
    RedisLayerConfig, Scope,
};
use canter_core::prelude::*;
use canter_core::test::{spare_port, RedisServer, TestClient};

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_layer_survives_a_redis_restart() {
    if !RedisServer::available() {
        return;
    }
    let server = RedisServer::start(spare_port(), &[]);
    let (port, url) = (server.port, server.url());
    let config = RedisLayerConfig {
        hosts: vec![url.clone()],
        ..RedisLayerConfig::default()
    };
    let layer = RedisChannelLayer::connect(config).await.unwrap().shared();
    canter_channels::layer_app(layer.clone())
        .scope(async move {
            let client = TestClient::new(
                App::new().urls(vec![path("ws/echo/", websocket(|_: &Scope| Echo))]),
            );
            let mut ws = WebsocketCommunicator::connect(client.service(), "/ws/echo/")
                .await
                .unwrap();
            let channel = layer.new_channel();
            layer.group_add("g", &channel).await.unwrap();
            layer.group_send("g", Message::new("before")).await.unwrap();
            assert_eq!(
                tokio::time::timeout(Duration::from_secs(5), layer.receive(&channel))
                    .await
                    .unwrap()
                    .unwrap()
                    .kind(),
                "before"
            );

            drop(server);
            tokio::time::sleep(Duration::from_millis(300)).await;
            // Down: an error to the caller, no panic; the socket is untouched.
            assert!(layer.group_send("g", Message::new("lost")).await.is_err());
            ws.send_text("still here").await;
            assert_eq!(ws.receive_text().await.as_deref(), Some("still here"));

            let _server = RedisServer::start(port, &[]);
            // Back (empty: this Redis keeps nothing): the layer reconnects by itself.
            let mut delivered = false;
            for _ in 0..50 {
                if layer.group_add("g", &channel).await.is_ok()
                    && layer.group_send("g", Message::new("after")).await.is_ok()
                {
                    if let Ok(Ok(message)) =
                        tokio::time::timeout(Duration::from_secs(2), layer.receive(&channel)).await
                    {
                        delivered = message.kind() == "after";
                        break;
                    }
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            assert!(delivered, "messages flow again after the restart");
            ws.send_text("and after").await;
            assert_eq!(ws.receive_text().await.as_deref(), Some("and after"));
        })
        .await
}
