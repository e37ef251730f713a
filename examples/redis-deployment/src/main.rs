//! Past one machine: any number of web processes and task workers, sharing one Redis as
//! the task broker (Celery's protocol) and as the channel layer (channels_redis's format).
//! A POST enqueues a task; whichever worker runs it sends to a WebSocket group; every socket
//! in the group, on whichever web process, receives it. See this folder's README.

use canter::channels::{channel_layer, websocket, Channels, Consumer, ConsumerError, Context};
use canter::channels::{Frame, Message, Scope};
use canter::prelude::*;
use canter::tasks::{task, TaskError, Tasks};

/// Runs on a worker process: to every socket in the `news` group, on every web process.
#[task(name = "news.publish")]
async fn publish(headline: String) -> Result<(), TaskError> {
    let layer = channel_layer().map_err(|e| TaskError::Broker(e.to_string()))?;
    let message = Message::new("news.headline").with("text", headline);
    layer
        .group_send("news", message)
        .await
        .map_err(|e| TaskError::Broker(e.to_string()))
}

/// What the `news` group carries (a serde enum tagged by `type`, as Channels' messages are).
#[derive(serde::Deserialize)]
#[serde(tag = "type")]
enum News {
    #[serde(rename = "news.headline")]
    Headline { text: String },
}

/// `ws/news/`: joins the group and sends each headline as a text frame.
struct NewsSocket;

impl Consumer for NewsSocket {
    type Event = News;

    async fn connect(&mut self, ctx: &mut Context) -> Result<(), ConsumerError> {
        ctx.group_add("news").await?;
        ctx.accept().await
    }

    async fn receive(&mut self, _ctx: &mut Context, _frame: Frame) -> Result<(), ConsumerError> {
        Ok(())
    }

    async fn event(&mut self, ctx: &mut Context, event: News) -> Result<(), ConsumerError> {
        let News::Headline { text } = event;
        ctx.send_text(text).await
    }
}

/// POST `news/` with the headline as the body: queued for a worker (202).
async fn post_news(body: String) -> Result<StatusCode> {
    publish::delay(body).await?;
    Ok(StatusCode::ACCEPTED)
}

fn app() -> App {
    App::new()
        // Production: DEBUG off; the secret key and the hosts come from the environment.
        .settings_toml("debug = false")
        .plugin(Channels) // REDIS_URL: the Redis channel layer
        .plugin(Tasks::new().task::<publish>()) // REDIS_URL: the Redis broker
        .urls(vec![
            path("news/", post_news).methods([Method::POST]),
            path("ws/news/", websocket(|_: &Scope| NewsSocket)),
        ])
}

fn main() -> std::process::ExitCode {
    if std::env::var_os("REDIS_URL").is_none() {
        eprintln!("set REDIS_URL (e.g. redis://127.0.0.1:6379): every process must share it");
        return std::process::ExitCode::from(2);
    }
    app().main()
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use canter::channels::testing::WebsocketCommunicator;
    use canter::settings::Settings;
    use canter::tasks::{broker, Worker, WorkerConfig};
    use canter::test::TestClient;
    use canter_test_kit::RedisKeys;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_post_reaches_the_sockets_through_a_worker_and_redis() {
        // Skipped (saying why) without CANTER_TEST_REDIS_URL; its keys are removed at the end.
        let Some(keys) = RedisKeys::create("example-redis") else {
            return;
        };
        // What REDIS_URL selects, under a key prefix of the test's own; production settings.
        let (broker_url, url, prefix) = (keys.broker_url(), &keys.url, &keys.prefix);
        let settings = Settings::from_toml(&format!(
            r#"
            debug = false
            secret_key = "a-test-secret-key-that-is-long-enough-for-production"
            allowed_hosts = ["testserver"]
            [tasks]
            broker = "{broker_url}"
            [channels]
            layer = "redis"
            [channels.redis]
            hosts = ["{url}"]
            prefix = "{prefix}"
            "#
        ));
        let client = TestClient::start_with_settings(super::app(), settings.unwrap()).await;
        let registry = canter::tasks::Tasks::new()
            .task::<super::publish>()
            .registry();
        let config = WorkerConfig {
            poll_interval: Duration::from_millis(10),
            ..Default::default()
        };
        // A worker (`worker` in production) on the app's broker and layer.
        let worker = client.scope(async { Worker::new(registry, broker().unwrap(), config) });
        let worker = tokio::spawn(client.scope(worker.await.run(std::future::pending())));

        let mut socket = WebsocketCommunicator::connect(client.service(), "/ws/news/")
            .await
            .unwrap();
        let r = client.post("/news/").body("canter runs on Redis").await;
        assert_eq!(r.status(), 202, "{}", r.text());
        let received = tokio::time::timeout(Duration::from_secs(10), socket.receive_text()).await;
        assert_eq!(received.unwrap().as_deref(), Some("canter runs on Redis"));
        worker.abort();
    }
}
