//! The broker-wide message size limit (`[tasks] max_message_size`): a task too big to enqueue
//! fails at `delay`, and one found in a queue (pushed by another producer) is dead-lettered at
//! once, unread, without holding up the messages fetched beside it. On the embedded broker, and
//! on Redis against `CANTER_TEST_REDIS_URL` (skipped without it), under a key prefix of its own.

use crate::common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use canter_tasks::brokers::redis::celery;
use canter_tasks::Transport as _;
use canter_tasks::{
    task, Broker, RedisBroker, Registry, SqliteBroker, TaskError, TaskMessage, TaskStatus, Worker,
    WorkerConfig, DEFAULT_MAX_MESSAGE_SIZE,
};
use serde_json::json;

/// Runs of `size.count`, by argument: each test counts its own arguments.
static RUNS: Mutex<Option<HashMap<String, u32>>> = Mutex::new(None);

#[task(name = "size.count", crate = canter_tasks, queue = "size")]
async fn count(text: String) -> Result<usize, TaskError> {
    let mut runs = RUNS.lock().unwrap();
    *runs
        .get_or_insert_with(HashMap::new)
        .entry(text.clone())
        .or_default() += 1;
    Ok(text.len())
}

fn runs_of(text: &str) -> u32 {
    RUNS.lock()
        .unwrap()
        .as_ref()
        .and_then(|runs| runs.get(text).copied())
        .unwrap_or(0)
}

/// An argument of 22.75 MB: a message over the 10 MiB limit on every broker (in base64, a
/// Redis envelope of about 30 MB).
fn huge() -> String {
    "x".repeat(22_750_000)
}

fn message(id: &str, queue: &str, text: String) -> TaskMessage {
    TaskMessage {
        id: id.into(),
        name: "size.count".into(),
        queue: queue.into(),
        priority: 0,
        args: json!([text]),
        kwargs: json!({}),
        eta: 0.0,
        expires: None,
        retries: 0,
        embed: None,
        ..Default::default()
    }
}

/// A worker whose leases last far longer than any wait below: a message stranded by a failed
/// fetch would come back only after this, so the results waited for prove nothing was.
fn patient_worker(broker: Arc<dyn Broker>, queue: &str) -> Worker {
    let config = WorkerConfig {
        queues: vec![queue.into()],
        concurrency: 2,
        visibility_timeout: Duration::from_secs(600),
        poll_interval: Duration::from_millis(10),
        shutdown_timeout: Duration::from_secs(5),
        ..WorkerConfig::default()
    };
    Worker::new(Registry::new().register::<count>(), broker, config)
}

/// Waits (at most 60 s, a tenth of the lease) for the result of `id`.
async fn wait_result(broker: &dyn Broker, id: &str) -> canter_tasks::TaskResult {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        // A read may time out while Redis takes in the oversized message: asked again.
        if let Ok(Some(result)) = broker.get_result(id).await {
            if result.status.is_ready() {
                return result;
            }
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no result for {id} before the lease ran out"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Runs a worker until both good messages and the oversized one are settled, then checks what
/// each became: the good ones ran once each, the big one is a dead letter that says why.
async fn settle_and_check(broker: Arc<dyn Broker>, queue: &str, good: [(&str, &str); 2]) {
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let worker = patient_worker(broker.clone(), queue);
    let running = tokio::spawn(worker.run(async move {
        let _ = stopped.await;
    }));
    for (id, text) in good {
        let result = wait_result(&*broker, id).await;
        assert_eq!(result.status, TaskStatus::Success, "{id}: {result:?}");
        assert_eq!(result.result, Some(json!(text.len())));
    }
    let failure = wait_result(&*broker, "big").await;
    let (kind, reason) = failure.error.expect("the oversized one failed");
    assert_eq!(kind, "InvalidTaskError");
    assert!(reason.contains("max_message_size"), "{reason}");
    let dead = broker.dead_letters().await.unwrap();
    assert_eq!(dead.len(), 1, "{dead:?}");
    assert_eq!(dead[0].id, "big");
    assert!(
        dead[0]
            .reason
            .contains("over the broker's limit of 10485760 bytes"),
        "{}",
        dead[0].reason
    );
    let _ = stop.send(());
    running.await.unwrap().unwrap();
    for (_, text) in good {
        assert_eq!(runs_of(text), 1, "{text} ran once");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_tasks_fail_at_delay() {
    let dir = common::TempDir::new("size-delay");
    let url = dir.sqlite_url("tasks.sqlite3");
    let broker = canter_tasks::open_broker_limited(&url, 1000).await.unwrap();
    canter_tasks::tasks_app(broker)
        .scope(async move {
            let error = count::delay("y".repeat(2000)).await.unwrap_err();
            assert!(
                matches!(error, TaskError::TooLarge { limit: 1000, .. }),
                "{error:?}"
            );
            assert!(error.to_string().contains("max_message_size"), "{error}");
            count::delay("small".into()).await.unwrap();

            let memory = canter_tasks::MemoryBroker::new().with_max_message_size(1000);
            let refused = memory.publish(message("m", "size", "z".repeat(2000))).await;
            assert!(
                matches!(refused, Err(TaskError::TooLarge { .. })),
                "{refused:?}"
            );
        })
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_row_is_dead_lettered_at_once_on_the_embedded_broker() {
    let dir = common::TempDir::new("size-sqlite");
    let url = dir.sqlite_url("tasks.sqlite3");
    let broker = Arc::new(SqliteBroker::open(&url).await.unwrap());
    let refused = broker.publish(message("big", "size-sqlite", huge())).await;
    assert!(
        matches!(refused, Err(TaskError::TooLarge { .. })),
        "{refused:?}"
    );
    // Written by another process (an older canter, a script), beside two good ones.
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    let created = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let rows = [
        ("sqlite-good-1", json!(["sqlite-first"]).to_string()),
        ("big", json!([huge()]).to_string()),
        ("sqlite-good-2", json!(["sqlite-second"]).to_string()),
    ];
    for (i, (id, args)) in rows.into_iter().enumerate() {
        sqlx::query("INSERT INTO canter_task_queue (id, name, queue, args, eta, created) VALUES (?, 'size.count', 'size-sqlite', ?, 0, ?)")
            .bind(id)
            .bind(args)
            .bind(created + i as f64)
            .execute(&pool)
            .await
            .unwrap();
    }
    settle_and_check(
        broker,
        "size-sqlite",
        [
            ("sqlite-good-1", "sqlite-first"),
            ("sqlite-good-2", "sqlite-second"),
        ],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_message_is_dead_lettered_at_once_on_redis() {
    // A prefix of the test's own, its keys deleted however the test ends.
    let Some(keys) = common::RedisKeys::create("canter-test") else {
        return;
    };
    let broker = RedisBroker::connect(&keys.broker_url()).await.unwrap();
    assert_eq!(DEFAULT_MAX_MESSAGE_SIZE, 10 * 1024 * 1024);
    let refused = broker.publish(message("big", "size-redis", huge())).await;
    assert!(
        matches!(refused, Err(TaskError::TooLarge { .. })),
        "{refused:?}"
    );

    // Pushed raw by another producer (Celery's envelope), between two good ones: the fetch
    // that meets it takes the first good one with it.
    // No response timeout (redis-rs' default is 500 ms): a 30 MB push takes longer than that
    // on a busy machine.
    let unhurried = redis::AsyncConnectionConfig::new().set_response_timeout(None);
    let mut redis = redis::Client::open(keys.url.as_str())
        .unwrap()
        .get_multiplexed_async_connection_with_config(&unhurried)
        .await
        .unwrap();
    let envelopes = [
        message("redis-good-1", "size-redis", "redis-first".into()),
        message("big", "size-redis", huge()),
        message("redis-good-2", "size-redis", "redis-second".into()),
    ]
    .map(|m| celery::encode_message(&m, "gen1@elsewhere", "r").0);
    // (About 30 MB: the argument in base64; its `argsrepr` is cut at 1,024 characters, as
    // Celery cuts it.)
    assert!(envelopes[1].len() > 30_000_000, "{}", envelopes[1].len());
    for envelope in envelopes {
        let _: () = redis::cmd("LPUSH")
            .arg(format!("{}size-redis", keys.prefix))
            .arg(envelope)
            .query_async(&mut redis)
            .await
            .unwrap();
    }
    settle_and_check(
        Arc::new(broker),
        "size-redis",
        [
            ("redis-good-1", "redis-first"),
            ("redis-good-2", "redis-second"),
        ],
    )
    .await;
}
