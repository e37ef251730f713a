//! The Redis broker: what is particular to it (the task scenarios of `suite` run on it too) —
//! kombu's keys and entries on the wire, recovery of what dead workers left (hand-over lists
//! and `unacked` entries past the visibility timeout), and broken messages. Against
//! `CANTER_TEST_REDIS_URL` (skipped without it; a failure under `CANTER_REQUIRE_SERVICES=1`),
//! each test under its own key prefix, deleted at the end.

use crate::common;

use std::sync::Arc;
use std::time::Duration;

use canter_tasks::broker::Delivery;
use canter_tasks::brokers::redis::celery;
use canter_tasks::Transport as _;
use canter_tasks::{
    task, Broker, RedisBroker, Registry, TaskError, TaskMessage, Worker, WorkerConfig,
};
use serde_json::{json, Value};

/// The test's key prefix on the machine's Redis (its keys deleted however the test ends).
struct Scope {
    keys: common::RedisKeys,
}

impl Scope {
    fn new() -> Option<Scope> {
        let keys = common::RedisKeys::create("canter-test")?;
        Some(Scope { keys })
    }

    fn broker_url(&self, extra: &str) -> String {
        format!("{}{extra}", self.keys.broker_url())
    }

    async fn broker(&self) -> RedisBroker {
        RedisBroker::connect(&self.broker_url("")).await.unwrap()
    }

    async fn redis(&self) -> redis::aio::MultiplexedConnection {
        redis::Client::open(self.keys.url.as_str())
            .unwrap()
            .get_multiplexed_async_connection()
            .await
            .unwrap()
    }

    fn key(&self, name: &str) -> String {
        format!("{}{name}", self.keys.prefix)
    }
}

#[task(name = "wire.echo", crate = canter_tasks, queue = "wire")]
async fn echo(text: String) -> Result<String, TaskError> {
    Ok(text)
}

fn message(id: &str, queue: &str, priority: i64) -> TaskMessage {
    TaskMessage {
        id: id.into(),
        name: "wire.echo".into(),
        queue: queue.into(),
        priority,
        args: json!(["hi"]),
        kwargs: json!({}),
        eta: 0.0,
        expires: None,
        retries: 0,
        embed: None,
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_sit_where_kombu_keeps_them() {
    let Some(scope) = Scope::new() else { return };
    let broker = scope.broker().await;
    let redis = scope.redis().await;
    let envelope = published_where_kombu_keeps_them(&scope, &broker, redis.clone()).await;
    let first = fetched_into_unacked(&scope, &broker, redis.clone(), &envelope).await;
    acked_in_the_background_and_requeued(&scope, &broker, redis, first).await;
    an_idle_fetch_waits_until_a_push(&scope, &broker).await;
}

/// Published: priority 0 on the queue's list, priority 5 on kombu's step-3 list; the envelope
/// of the first.
async fn published_where_kombu_keeps_them(
    scope: &Scope,
    broker: &RedisBroker,
    mut redis: redis::aio::MultiplexedConnection,
) -> Value {
    broker.publish(message("low", "wire", 5)).await.unwrap();
    broker.publish(message("first", "wire", 0)).await.unwrap();
    let main: Vec<String> = redis::cmd("LRANGE")
        .arg(scope.key("wire"))
        .arg(0)
        .arg(-1)
        .query_async(&mut redis)
        .await
        .unwrap();
    let step3: Vec<String> = redis::cmd("LRANGE")
        .arg(scope.key("wire\x06\x163"))
        .arg(0)
        .arg(-1)
        .query_async(&mut redis)
        .await
        .unwrap();
    assert_eq!(
        (main.len(), step3.len()),
        (1, 1),
        "priority 5 goes to kombu's step-3 list"
    );
    let envelope: Value = serde_json::from_str(&main[0]).unwrap();
    assert_eq!(envelope["headers"]["task"], "wire.echo");
    assert_eq!(
        envelope["properties"]["delivery_info"]["routing_key"],
        "wire"
    );
    assert_eq!(broker.queue_length("wire").await.unwrap(), 2);
    envelope
}

async fn fetched_into_unacked(
    scope: &Scope,
    broker: &RedisBroker,
    mut redis: redis::aio::MultiplexedConnection,
    envelope: &Value,
) -> Delivery {
    // Fetched: lower number first (as BRPOP serves kombu's lists), and recorded in `unacked`
    // as [envelope, exchange, routing_key] with its time in `unacked_index`.
    let queues = vec!["wire".to_owned()];
    let first = broker
        .fetch(&queues, "w1", Duration::from_secs(60))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(first.message.id, "first");
    let entry: String = redis::cmd("HGET")
        .arg(scope.key("unacked"))
        .arg(&first.lease)
        .query_async(&mut redis)
        .await
        .unwrap();
    let entry: Value = serde_json::from_str(&entry).unwrap();
    assert_eq!(&entry[0], envelope);
    assert_eq!(
        (entry[1].as_str(), entry[2].as_str()),
        (Some(""), Some("wire"))
    );
    let score: f64 = redis::cmd("ZSCORE")
        .arg(scope.key("unacked_index"))
        .arg(&first.lease)
        .query_async(&mut redis)
        .await
        .unwrap();
    assert!((score - now()).abs() < 60.0, "{score}");
    first
}

async fn acked_in_the_background_and_requeued(
    scope: &Scope,
    broker: &RedisBroker,
    mut redis: redis::aio::MultiplexedConnection,
    first: Delivery,
) {
    let queues = vec!["wire".to_owned()];
    // Acks are sent in the background, batched: gone from `unacked` and its index shortly.
    // (The other message stays there: the fetch took it too, prefetched, as kombu's QoS does.)
    broker.ack(&first).await.unwrap();
    settles(&mut redis, &scope.key("unacked"), 1).await;
    let second = broker
        .fetch(&queues, "w1", Duration::from_secs(60))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(second.message.id, "low");

    // A retry is a new message on the queue (same id, one more retry) and the ack, together.
    broker.requeue(&second, now(), 1).await.unwrap();
    let unacked: i64 = redis::cmd("HLEN")
        .arg(scope.key("unacked"))
        .query_async(&mut redis)
        .await
        .unwrap();
    assert_eq!(unacked, 0, "requeued and acked in one step");
    let again = broker
        .fetch(&queues, "w1", Duration::from_secs(60))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (again.message.id.as_str(), again.message.retries),
        ("low", 1)
    );
    assert_ne!(again.lease, second.lease, "a fresh delivery tag");
    broker.ack(&again).await.unwrap();
}

async fn an_idle_fetch_waits_until_a_push(scope: &Scope, broker: &RedisBroker) {
    let queues = vec!["wire".to_owned()];
    // An idle fetch waits (blocking, not polling) and returns nothing.
    let started = std::time::Instant::now();
    assert!(broker
        .fetch(&queues, "w1", Duration::from_secs(60))
        .await
        .unwrap()
        .is_none());
    assert!(
        started.elapsed() >= Duration::from_millis(500),
        "{:?}",
        started.elapsed()
    );
    // ... and wakes as soon as something is pushed.
    let waiting = tokio::spawn({
        let url = scope.broker_url("");
        async move {
            let broker = RedisBroker::connect(&url).await.unwrap();
            broker
                .fetch(&["wire".to_owned()], "w2", Duration::from_secs(60))
                .await
                .unwrap()
        }
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    broker.publish(message("woken", "wire", 0)).await.unwrap();
    let woken = waiting.await.unwrap().expect("woken by the push");
    assert_eq!(woken.message.id, "woken");
}

/// Waits (at most 5 s) until hash `key` has `len` fields and the unacked index as many members.
async fn settles(redis: &mut redis::aio::MultiplexedConnection, key: &str, len: i64) {
    let index = format!("{key}_index");
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let fields: i64 = redis::cmd("HLEN")
            .arg(key)
            .query_async(redis)
            .await
            .unwrap();
        let members: i64 = redis::cmd("ZCARD")
            .arg(&index)
            .query_async(redis)
            .await
            .unwrap();
        if (fields, members) == (len, len) {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{key}: {fields} fields, {members} indexed, not {len}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

fn config(queue: &str) -> WorkerConfig {
    WorkerConfig {
        queues: vec![queue.into()],
        concurrency: 2,
        visibility_timeout: Duration::from_secs(1),
        poll_interval: Duration::from_millis(5),
        shutdown_timeout: Duration::from_secs(1),
        ..WorkerConfig::default()
    }
}

/// Runs a worker until the returned sender is dropped or fired.
fn run_worker(
    broker: Arc<dyn Broker>,
    queue: &str,
) -> (
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<()>,
) {
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let worker = Worker::new(Registry::new().register::<echo>(), broker, config(queue));
    let handle = tokio::spawn(async move {
        worker
            .run(async move {
                let _ = stopped.await;
            })
            .await
            .unwrap();
    });
    (stop, handle)
}

async fn wait_result(broker: &dyn Broker, id: &str) -> canter_tasks::TaskResult {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(result) = broker.get_result(id).await.unwrap() {
            if result.status.is_ready() {
                return result;
            }
        }
        assert!(std::time::Instant::now() < deadline, "no result for {id}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_dead_workers_left_runs_again() {
    let Some(scope) = Scope::new() else { return };
    let broker: Arc<dyn Broker> = Arc::new(scope.broker().await);
    let mut redis = scope.redis().await;

    // A worker that died holding a message in `unacked` (kombu's format, as a Python worker
    // would leave it), long ago.
    let (envelope, tag) =
        celery::encode_message(&message("orphan", "wire", 0), "gen1@elsewhere", "r");
    let _: () = redis::pipe()
        .cmd("HSET")
        .arg(scope.key("unacked"))
        .arg(&tag)
        .arg(format!("[{envelope}, \"\", \"wire\"]"))
        .ignore()
        .cmd("ZADD")
        .arg(scope.key("unacked_index"))
        .arg(now() - 3600.0)
        .arg(&tag)
        .ignore()
        .query_async(&mut redis)
        .await
        .unwrap();
    // A canter worker that died between its BLMOVE and taking the message from its hand-over
    // list (its heartbeat long gone).
    let (envelope, _) =
        celery::encode_message(&message("handed-over", "wire", 0), "gen1@elsewhere", "r");
    let _: () = redis::pipe()
        .cmd("LPUSH")
        .arg(scope.key("canter.handover.dead-worker"))
        .arg(envelope)
        .ignore()
        .cmd("HSET")
        .arg(scope.key("canter.workers"))
        .arg("dead-worker")
        .arg(scope.key("wire"))
        .ignore()
        .query_async(&mut redis)
        .await
        .unwrap();

    let (stop, handle) = run_worker(broker.clone(), "wire");
    for id in ["orphan", "handed-over"] {
        let result = wait_result(&*broker, id).await;
        assert_eq!(result.result, Some(json!("hi")), "{id}");
    }
    settles(&mut redis, &scope.key("unacked"), 0).await;
    let workers: Vec<String> = redis::cmd("HKEYS")
        .arg(scope.key("canter.workers"))
        .query_async(&mut redis)
        .await
        .unwrap();
    assert!(!workers.contains(&"dead-worker".to_owned()), "{workers:?}");
    drop(stop);
    handle.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broken_messages_are_dead_lettered_with_a_reason() {
    let Some(scope) = Scope::new() else { return };
    let broker = Arc::new(scope.broker().await);
    let mut redis = scope.redis().await;
    let body = |b: &str| base64::Engine::encode(&base64::engine::general_purpose::STANDARD, b);
    // Keyword arguments that are not a mapping (Celery's worker refuses them too).
    let with_kwargs = json!({
        "body": body(r#"[[], ["hi"], {}]"#), "content-type": "application/json",
        "headers": {"id": "kw", "task": "wire.echo"},
        "properties": {"delivery_tag": "t-kw", "body_encoding": "base64",
            "delivery_info": {"exchange": "", "routing_key": "wire"}}
    });
    for raw in ["not json at all".to_owned(), with_kwargs.to_string()] {
        let _: () = redis::cmd("LPUSH")
            .arg(scope.key("wire"))
            .arg(raw)
            .query_async(&mut redis)
            .await
            .unwrap();
    }
    broker.publish(message("fine", "wire", 0)).await.unwrap();

    let (stop, handle) = run_worker(broker.clone(), "wire");
    assert_eq!(
        wait_result(&*broker, "fine").await.result,
        Some(json!("hi")),
        "the worker goes on"
    );
    let failure = wait_result(&*broker, "kw").await;
    let (kind, message) = failure.error.unwrap();
    assert_eq!(kind, "InvalidTaskError");
    assert!(message.contains("not a mapping"), "{message}");
    let dead = broker.dead_letters().await.unwrap();
    assert_eq!(dead.len(), 2, "{dead:?}");
    assert!(
        dead.iter()
            .any(|d| !d.retriable && d.id.is_empty() && d.reason.contains("not a kombu envelope")),
        "{dead:?}"
    );
    assert!(
        dead.iter()
            .any(|d| d.id == "kw" && d.retriable && d.reason.contains("not a mapping")),
        "{dead:?}"
    );
    // Nothing left unacked to come back forever.
    settles(&mut redis, &scope.key("unacked"), 0).await;
    drop(stop);
    handle.await.unwrap();
    // The unreadable one cannot be sent again: retrying leaves it in the record.
    assert_eq!(broker.retry_dead_letters().await.unwrap(), 1);
    assert_eq!(broker.dead_letters().await.unwrap().len(), 1);
}
