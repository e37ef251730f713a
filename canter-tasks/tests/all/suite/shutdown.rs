//! Stopping a worker: a warm shutdown lets a running task finish; one that outlasts its
//! timeout goes back to the queue (unless it was acked when it started); a cold shutdown cuts
//! the wait short and puts the running task back at once.

use std::sync::Arc;
use std::time::Duration;

use canter_tasks::{Broker, TaskStatus, Worker};

use super::tasks::{early_nap, nap, registry};
use super::{config, wait_for, RunningWorker, WAIT};

on_every_broker!(
    a_warm_shutdown_lets_the_running_task_finish,
    a_task_outlasting_the_warm_shutdown_goes_back_to_the_queue,
    a_task_acked_when_it_started_is_not_put_back,
    a_cold_shutdown_puts_the_running_task_back_at_once,
);

async fn a_warm_shutdown_lets_the_running_task_finish(broker: Arc<dyn Broker>) {
    let worker = RunningWorker::start(broker, config(&["shutdown"]));
    let finishing = nap::delay(300).await.unwrap();
    wait_for(&finishing, TaskStatus::Started).await;
    worker.stop().await;
    assert_eq!(finishing.status().await.unwrap(), TaskStatus::Success);
}

/// Back in the queue, its attempt not counted, to run again on the next worker.
async fn a_task_outlasting_the_warm_shutdown_goes_back_to_the_queue(broker: Arc<dyn Broker>) {
    let cut = nap::delay(3_000).await.unwrap();
    let mut short = config(&["shutdown"]);
    short.shutdown_timeout = Duration::from_millis(100);
    let worker = RunningWorker::start(broker.clone(), short);
    wait_for(&cut, TaskStatus::Started).await;
    worker.stop().await;
    assert_eq!(
        broker.queue_length("shutdown").await.unwrap(),
        1,
        "back in the queue"
    );
    let worker = RunningWorker::start(broker, config(&["shutdown"]));
    assert_eq!(cut.get(WAIT).await.unwrap(), 3_000);
    worker.stop().await;
}

/// acks_late = false: its message is gone once it started, as with Celery's default.
async fn a_task_acked_when_it_started_is_not_put_back(broker: Arc<dyn Broker>) {
    let lost = early_nap::delay(3_000).await.unwrap();
    let mut short = config(&["shutdown"]);
    short.shutdown_timeout = Duration::from_millis(100);
    let worker = RunningWorker::start(broker.clone(), short);
    wait_for(&lost, TaskStatus::Started).await;
    worker.stop().await;
    assert_eq!(
        broker.queue_length("shutdown").await.unwrap(),
        0,
        "not put back"
    );
}

/// A second signal: a warm shutdown with a long timeout is cut short.
async fn a_cold_shutdown_puts_the_running_task_back_at_once(broker: Arc<dyn Broker>) {
    let long = nap::delay(60_000).await.unwrap();
    let mut patient = config(&["shutdown"]);
    patient.shutdown_timeout = Duration::from_secs(600);
    let (warm, warm_rx) = tokio::sync::oneshot::channel::<()>();
    let (cold, cold_rx) = tokio::sync::oneshot::channel::<()>();
    let worker = Worker::new(registry(), broker.clone(), patient);
    let worker = tokio::spawn(worker.run_until(
        async move {
            let _ = warm_rx.await;
        },
        async move {
            let _ = cold_rx.await;
        },
    ));
    wait_for(&long, TaskStatus::Started).await;
    warm.send(()).unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        !worker.is_finished(),
        "a warm shutdown waits for the running task"
    );
    cold.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(30), worker)
        .await
        .expect("the cold shutdown returns")
        .unwrap()
        .unwrap();
    assert_eq!(
        broker.queue_length("shutdown").await.unwrap(),
        1,
        "back in the queue"
    );
}
