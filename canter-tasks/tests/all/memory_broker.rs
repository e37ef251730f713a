//! The in-memory broker behaves as the embedded one: a worker runs what is enqueued, retries,
//! sets unknown names aside, honours priority.

use std::sync::Arc;
use std::time::Duration;

use canter_tasks::Transport as _;
use canter_tasks::{
    task, ApplyOptions, AsyncResult, MemoryBroker, Registry, TaskError, Worker, WorkerConfig,
};

#[task(name = "memory.echo", crate = canter_tasks)]
async fn echo(text: String) -> Result<String, TaskError> {
    Ok(text)
}

#[tokio::test]
async fn a_worker_on_the_memory_broker() {
    let memory = Arc::new(MemoryBroker::new());
    canter_tasks::tasks_app(memory.clone())
        .scope(async move {
            // Priority (0 first, as on every broker), then age: queued before any worker
            // runs, fetched in order.
            let low = echo::apply_async(
                ("low".into(),),
                ApplyOptions {
                    priority: Some(9),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
            let high = echo::apply_async(
                ("high".into(),),
                ApplyOptions {
                    priority: Some(0),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
            let first = memory
                .fetch(&["celery".to_owned()], "probe", Duration::from_secs(30))
                .await
                .unwrap()
                .unwrap();
            assert_eq!(first.message.id, high.id);
            assert_eq!(
                memory.queue_length("celery").await.unwrap(),
                1,
                "the leased one is not waiting"
            );
            memory.requeue(&first, 0.0, 0).await.unwrap();

            let unknown = canter_tasks::enqueue(
                "memory.nobody",
                &Default::default(),
                serde_json::json!([]),
                ApplyOptions::default(),
            )
            .await
            .unwrap();

            let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
            let config = WorkerConfig {
                poll_interval: Duration::from_millis(5),
                ..WorkerConfig::default()
            };
            let worker = tokio::spawn(
                Worker::new(Registry::new().register::<echo>(), memory.clone(), config).run(
                    async move {
                        let _ = stopped.await;
                    },
                ),
            );
            assert_eq!(high.get(Duration::from_secs(5)).await.unwrap(), "high");
            assert_eq!(low.get(Duration::from_secs(5)).await.unwrap(), "low");
            assert!(AsyncResult::<()>::new(&unknown)
                .get(Duration::from_secs(5))
                .await
                .is_err());
            let dead = memory.dead_letters().await.unwrap();
            assert_eq!(dead.len(), 1);
            assert_eq!(dead[0].name, "memory.nobody");
            assert_eq!(memory.queue_length("celery").await.unwrap(), 0);

            let _ = stop.send(());
            worker.await.unwrap().unwrap();
        })
        .await
}

#[tokio::test]
async fn broker_urls_are_checked() {
    assert!(canter_tasks::open_broker("memory://").await.is_ok());
    // Redis that is not there: a clear error at once, naming where it looked.
    let redis = canter_tasks::open_broker("redis://127.0.0.1:1")
        .await
        .err()
        .unwrap();
    assert!(
        redis
            .to_string()
            .contains("cannot reach Redis at redis://127.0.0.1:1"),
        "{redis}"
    );
    let bad_option = canter_tasks::open_broker("redis://127.0.0.1:1?prefetch=lots")
        .await
        .err()
        .unwrap();
    assert!(bad_option.to_string().contains("prefetch"), "{bad_option}");
    let unknown = canter_tasks::open_broker("kafka://localhost:9092")
        .await
        .err()
        .unwrap();
    assert!(
        unknown.to_string().contains(
            "expected sqlite://FILE, redis://HOST:PORT/DB, amqp://HOST:PORT/VHOST or memory://"
        ),
        "{unknown}"
    );
    let unopenable = canter_tasks::open_broker("sqlite:///no/such/dir/tasks.sqlite3")
        .await
        .err()
        .unwrap();
    assert!(matches!(unopenable, TaskError::Broker(_)), "{unopenable:?}");
}
