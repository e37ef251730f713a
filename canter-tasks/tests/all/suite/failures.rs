//! When a task fails: retries with backoff, giving up after `max_retries`, `autoretry_for`,
//! a retry of a task acked early, a panicking body, a name no worker knows, and arguments of the
//! wrong shape.

use std::sync::Arc;

use canter_tasks::{ApplyOptions, AsyncResult, Broker, TaskError, TaskStatus};

use super::tasks::{add, boom, calls, early, flaky, fresh_key, hopeless, reconnects, wrong_input};
use super::{config, RunningWorker, WAIT};

on_every_broker!(
    retried_with_backoff_until_it_succeeds,
    given_up_after_max_retries,
    autoretry_for_retries_only_the_kinds_it_names,
    a_task_acked_early_retries_as_a_new_message,
    a_panicking_body_is_a_failure_and_the_worker_goes_on,
    an_unknown_name_fails_and_is_not_retried_forever,
    arguments_of_the_wrong_shape_are_a_clear_failure,
);

async fn retried_with_backoff_until_it_succeeds(broker: Arc<dyn Broker>) {
    let worker = RunningWorker::start(broker, config(&["retries"]));
    let key = fresh_key();
    let lucky = flaky::delay(key.clone()).await.unwrap();
    assert_eq!(lucky.get(WAIT).await.unwrap(), "third time lucky");
    assert_eq!(calls(&key), 3);
    worker.stop().await;
}

/// FAILURE with the task's own error once its retries are spent.
async fn given_up_after_max_retries(broker: Arc<dyn Broker>) {
    let worker = RunningWorker::start(broker, config(&["retries"]));
    let key = fresh_key();
    let gave_up = hopeless::delay(key.clone()).await.unwrap();
    match gave_up.get(WAIT).await {
        Err(TaskError::Failed { kind, message }) => assert_eq!(
            (kind.as_str(), message.as_str()),
            ("ValueError", "never works")
        ),
        other => panic!("expected the task's failure, got {other:?}"),
    }
    assert_eq!(calls(&key), 3, "one run and two retries");
    assert_eq!(gave_up.status().await.unwrap(), TaskStatus::Failure);
    worker.stop().await;
}

async fn autoretry_for_retries_only_the_kinds_it_names(broker: Arc<dyn Broker>) {
    let worker = RunningWorker::start(broker, config(&["retries"]));
    let key = fresh_key();
    assert_eq!(
        reconnects::delay(key)
            .await
            .unwrap()
            .get(WAIT)
            .await
            .unwrap(),
        2
    );
    let key = fresh_key();
    match wrong_input::delay(key.clone())
        .await
        .unwrap()
        .get(WAIT)
        .await
    {
        Err(TaskError::Failed { kind, .. }) => assert_eq!(kind, "ValueError"),
        other => panic!("expected the task's ValueError, got {other:?}"),
    }
    assert_eq!(calls(&key), 1, "not retried");
    worker.stop().await;
}

/// acks_late = false: acked when it starts; a retry is sent as a new message.
async fn a_task_acked_early_retries_as_a_new_message(broker: Arc<dyn Broker>) {
    let worker = RunningWorker::start(broker, config(&["celery"]));
    let key = fresh_key();
    assert_eq!(
        early::delay(key.clone())
            .await
            .unwrap()
            .get(WAIT)
            .await
            .unwrap(),
        2
    );
    assert_eq!(calls(&key), 2);
    worker.stop().await;
}

async fn a_panicking_body_is_a_failure_and_the_worker_goes_on(broker: Arc<dyn Broker>) {
    let worker = RunningWorker::start(broker, config(&["celery"]));
    match boom::delay().await.unwrap().get(WAIT).await {
        Err(TaskError::Failed { kind, message }) => {
            assert_eq!(kind, "Panic");
            assert!(message.contains("the task body panicked"), "{message}");
        }
        other => panic!("expected a panic failure, got {other:?}"),
    }
    assert_eq!(
        add::delay(1, 1).await.unwrap().get(WAIT).await.unwrap(),
        2,
        "the worker survived the panic"
    );
    worker.stop().await;
}

/// FAILURE NotRegistered, and the message kept in the dead-letter record, not the queue.
async fn an_unknown_name_fails_and_is_not_retried_forever(broker: Arc<dyn Broker>) {
    let worker = RunningWorker::start(broker.clone(), config(&["celery"]));
    let unknown = canter_tasks::enqueue(
        "test.nobody_knows_me",
        &Default::default(),
        serde_json::json!([1]),
        ApplyOptions::default(),
    )
    .await
    .unwrap();
    match AsyncResult::<()>::new(&unknown).get(WAIT).await {
        Err(TaskError::Failed { kind, message }) => {
            assert_eq!(kind, "NotRegistered");
            assert!(message.contains("test.nobody_knows_me"), "{message}");
        }
        other => panic!("expected NotRegistered, got {other:?}"),
    }
    assert_eq!(
        broker.queue_length("celery").await.unwrap(),
        0,
        "not left to be retried forever"
    );
    worker.stop().await;
}

/// Arguments of the wrong shape (say, from another producer): a clear failure.
async fn arguments_of_the_wrong_shape_are_a_clear_failure(broker: Arc<dyn Broker>) {
    let worker = RunningWorker::start(broker, config(&["celery"]));
    let bad = canter_tasks::enqueue(
        "test.add",
        &Default::default(),
        serde_json::json!(["two", 3]),
        ApplyOptions::default(),
    )
    .await
    .unwrap();
    match AsyncResult::<i64>::new(&bad).get(WAIT).await {
        Err(TaskError::Failed { kind, message }) => {
            assert_eq!(kind, "Serialization");
            assert!(message.contains("argument 'a' of test.add"), "{message}");
        }
        other => panic!("expected a serialization failure, got {other:?}"),
    }
    worker.stop().await;
}
