//! Results and their states: PENDING until a worker runs the task, then SUCCESS with its value;
//! a blocking body; `forget`; a countdown; revoked before and while running; expired.

use std::sync::Arc;
use std::time::{Duration, Instant};

use canter_tasks::{ApplyOptions, AsyncResult, Broker, TaskError, TaskStatus};

use super::tasks::{add, checksum, nap};
use super::{config, wait_for, RunningWorker, WAIT};

on_every_broker!(
    pending_until_a_worker_runs_it,
    a_blocking_body_runs_off_the_runtime,
    a_countdown_is_not_run_before_it_is_due,
    revoked_before_or_while_it_runs,
    expired_before_it_comes_due,
);

/// A task never heard of is PENDING (as in Celery); enqueued but not run, still PENDING; run,
/// SUCCESS with its value; forgotten, PENDING again.
async fn pending_until_a_worker_runs_it(broker: Arc<dyn Broker>) {
    assert_eq!(
        AsyncResult::<i64>::new("no-such-id")
            .status()
            .await
            .unwrap(),
        TaskStatus::Pending
    );
    let queued = add::delay(2, 3).await.unwrap();
    assert_eq!(queued.status().await.unwrap(), TaskStatus::Pending);
    assert_eq!(broker.queue_length("celery").await.unwrap(), 1);
    assert!(matches!(
        queued.get(Duration::from_millis(50)).await,
        Err(TaskError::Timeout(_))
    ));

    let worker = RunningWorker::start(broker, config(&["celery"]));
    assert_eq!(queued.get(WAIT).await.unwrap(), 5);
    assert_eq!(queued.status().await.unwrap(), TaskStatus::Success);
    worker.stop().await;

    // forget() drops the stored result.
    queued.forget().await.unwrap();
    assert_eq!(queued.status().await.unwrap(), TaskStatus::Pending);
}

async fn a_blocking_body_runs_off_the_runtime(broker: Arc<dyn Broker>) {
    let worker = RunningWorker::start(broker, config(&["celery"]));
    let sum = checksum::delay("abc".into()).await.unwrap();
    assert_eq!(sum.get(WAIT).await.unwrap(), 294);
    worker.stop().await;
}

async fn a_countdown_is_not_run_before_it_is_due(broker: Arc<dyn Broker>) {
    let worker = RunningWorker::start(broker, config(&["celery"]));
    let started = Instant::now();
    let later = add::apply_async(
        (20, 22),
        ApplyOptions {
            countdown: Some(0.5),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(later.get(WAIT).await.unwrap(), 42);
    assert!(
        started.elapsed() >= Duration::from_millis(450),
        "ran after {:?}",
        started.elapsed()
    );
    worker.stop().await;
}

/// Revoked before it runs: skipped, REVOKED. Revoked while it runs: stopped at its next await,
/// REVOKED.
async fn revoked_before_or_while_it_runs(broker: Arc<dyn Broker>) {
    let worker = RunningWorker::start(broker, config(&["celery"]));
    let revoked = add::apply_async(
        (1, 2),
        ApplyOptions {
            countdown: Some(0.3),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    revoked.revoke().await.unwrap();
    assert!(matches!(revoked.get(WAIT).await, Err(TaskError::Revoked)));

    let running = nap::apply_async(
        (60_000,),
        ApplyOptions {
            queue: Some("celery".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    wait_for(&running, TaskStatus::Started).await;
    let asked = Instant::now();
    running.revoke().await.unwrap();
    assert!(matches!(running.get(WAIT).await, Err(TaskError::Revoked)));
    assert!(
        asked.elapsed() < Duration::from_secs(5),
        "{:?}",
        asked.elapsed()
    );
    worker.stop().await;
}

/// Expired before it comes due: skipped, REVOKED.
async fn expired_before_it_comes_due(broker: Arc<dyn Broker>) {
    let worker = RunningWorker::start(broker, config(&["celery"]));
    let expired = add::apply_async(
        (1, 2),
        ApplyOptions {
            countdown: Some(0.3),
            expires: Some(0.1),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert!(matches!(expired.get(WAIT).await, Err(TaskError::Revoked)));
    worker.stop().await;
}
