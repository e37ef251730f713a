//! A Redis outage: the layer reports errors (no panic), sockets stay open, and once Redis is
//! back the receive loop reconnects and messages flow again. Runs its own `redis-server` on a
//! spare port (never the machine's); skipped with a printed reason without `redis-server`.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use canter_channels::testing::WebsocketCommunicator;
use canter_channels::{
    websocket, Consumer, ConsumerError, Context, Frame, Message, NoEvent, RedisChannelLayer,
    RedisLayerConfig, Scope,
};
use canter_core::prelude::*;
use canter_core::test::TestClient;

struct RedisServer(Child);

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spare_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start_redis(port: u16) -> Option<RedisServer> {
    let child = Command::new("redis-server")
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    for _ in 0..50 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Some(RedisServer(child));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    None
}

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
    if Command::new("redis-server")
        .arg("--version")
        .output()
        .is_err()
    {
        if std::env::var("CANTER_REQUIRE_SERVICES").as_deref() == Ok("1") {
            panic!("redis-server is not installed and CANTER_REQUIRE_SERVICES=1");
        }
        eprintln!("skipped: redis-server is not installed");
        return;
    }
    let port = spare_port();
    let url = format!("redis://127.0.0.1:{port}");
    let server = start_redis(port).expect("a redis-server of our own");
    let config = RedisLayerConfig {
        hosts: vec![url.clone()],
        ..RedisLayerConfig::default()
    };
    let layer = RedisChannelLayer::connect(config).await.unwrap().shared();
    canter_channels::layers::install(layer.clone());

    let client =
        TestClient::new(App::new().urls(vec![path("ws/echo/", websocket(|_: &Scope| Echo))]));
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

    let _server = start_redis(port).expect("redis back on the same port");
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
}
