//! A result backend apart from the transport (Celery's `result_backend`, issue 18): tasks on
//! the embedded broker, results in Redis as Celery's records (where Python's `AsyncResult`
//! reads them); a chord counts and gathers there; a retried dead letter's FAILURE goes from it.

use std::sync::Arc;
use std::time::Duration;

use canter_tasks::canvas::{chord, group, Signature};
use canter_tasks::{
    task, Broker, RedisBroker, Registry, ResultBackend, SqliteBroker, TaskError, TaskStatus,
    Worker, WorkerConfig,
};
use serde_json::json;

use crate::common;

#[task(name = "backend.add", crate = canter_tasks)]
async fn add(a: i64, b: i64) -> Result<i64, TaskError> {
    Ok(a + b)
}

#[task(name = "backend.total", crate = canter_tasks)]
async fn total(values: Vec<i64>) -> Result<i64, TaskError> {
    Ok(values.iter().sum())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn results_go_to_the_result_backend_whatever_the_transport() {
    let Some(keys) = common::RedisKeys::create("canter-backend") else {
        return;
    };
    let dir = common::TempDir::new("result-backend");
    let file = format!("sqlite://{}", dir.path().join("tasks.sqlite3").display());
    let limit = canter_tasks::DEFAULT_MAX_MESSAGE_SIZE;
    let broker = canter_tasks::open_broker_with_backend(&file, Some(&keys.broker_url()), limit)
        .await
        .unwrap();
    // The two stores, read apart.
    let transport = SqliteBroker::open(&file).await.unwrap();
    let results = RedisBroker::connect(&keys.broker_url()).await.unwrap();
    canter_tasks::tasks_app(broker.clone())
        .scope(async move {
            let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
            let worker = Worker::new(
                Registry::new().register::<add>().register::<total>(),
                broker.clone(),
                WorkerConfig::default(),
            );
            let running = tokio::spawn(worker.run(async move {
                let _ = stopped.await;
            }));
            let sum = add::delay(2, 3).await.unwrap();
            assert_eq!(sum.get(Duration::from_secs(10)).await.unwrap(), 5);
            let stored = results.get_result(&sum.id).await.unwrap().unwrap();
            assert_eq!(
                (stored.status, stored.result),
                (TaskStatus::Success, Some(json!(5)))
            );
            assert_eq!(
                transport.get_result(&sum.id).await.unwrap(),
                None,
                "not in the file"
            );

            let members = (1..=4)
                .map(|n| Signature::new("backend.add", json!([n, n])))
                .collect();
            let gathered = chord(group(members), Signature::new("backend.total", json!([])))
                .apply_async()
                .await
                .unwrap();
            assert_eq!(
                gathered.get(Duration::from_secs(10)).await.unwrap(),
                json!(20)
            );
            assert!(results.get_result(&gathered.id).await.unwrap().is_some());

            let _ = stop.send(());
            running.await.unwrap().unwrap();
        })
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_store_named_twice_is_one_broker() {
    let dir = common::TempDir::new("result-backend-same");
    let file = format!("sqlite://{}", dir.path().join("tasks.sqlite3").display());
    let limit = canter_tasks::DEFAULT_MAX_MESSAGE_SIZE;
    let broker: Arc<dyn Broker> = canter_tasks::open_broker_with_backend(&file, Some(&file), limit)
        .await
        .unwrap();
    let refused = canter_tasks::open_broker_with_backend(&file, Some("amqp://h//"), limit).await;
    assert!(refused
        .err()
        .unwrap()
        .to_string()
        .contains("keeps no results"));
    drop(broker);
}
