//! Keyword arguments (issue 18): a task's parameters by position, by name or both, as Python
//! binds a call; a call that does not fit is a FAILURE `TypeError` worded as Python's; keyword
//! arguments that are not a mapping are an invalid message (dead-lettered); large ones arrive
//! whole; signatures carry them through a chain.

use std::sync::Arc;

use canter_tasks::canvas::{chain, Signature};
use canter_tasks::{ApplyOptions, AsyncResult, Broker, TaskError, TaskMessage, TaskStatus};
use serde_json::{json, Value};

use super::tasks::{add, checksum};
use super::{config, RunningWorker, WAIT};

on_every_broker!(
    parameters_by_position_by_name_or_both,
    an_option_parameter_may_be_left_out,
    calls_that_do_not_fit_fail_as_python_words_it,
    a_wrong_type_names_the_parameter,
    kwargs_that_are_not_a_mapping_are_dead_lettered,
    large_kwargs_arrive_whole,
    signatures_carry_kwargs_through_a_chain,
);

async fn send(name: &str, args: Value, kwargs: Value) -> AsyncResult<Value> {
    canter_tasks::send_task(name, args, kwargs, ApplyOptions::default())
        .await
        .unwrap()
}

async fn parameters_by_position_by_name_or_both(broker: Arc<dyn Broker>) {
    let worker = RunningWorker::start(broker, config(&["celery"]));
    let by_name = send("test.add", json!([]), json!({"a": 2, "b": 3})).await;
    let mixed = send("test.add", json!([20]), json!({"b": 3})).await;
    let by_position = add::delay(200, 3).await.unwrap();
    assert_eq!(by_name.get(WAIT).await.unwrap(), json!(5));
    assert_eq!(mixed.get(WAIT).await.unwrap(), json!(23));
    assert_eq!(by_position.get(WAIT).await.unwrap(), 203);
    worker.stop().await;
}

async fn an_option_parameter_may_be_left_out(broker: Arc<dyn Broker>) {
    let worker = RunningWorker::start(broker, config(&["celery"]));
    let plain = send("test.greet", json!(["Ada"]), json!({})).await;
    let named = send(
        "test.greet",
        json!([]),
        json!({"name": "Ada", "greeting": "Hi"}),
    )
    .await;
    let null = send("test.greet", json!(["Ada", null]), json!({})).await;
    assert_eq!(plain.get(WAIT).await.unwrap(), json!("Hello, Ada"));
    assert_eq!(named.get(WAIT).await.unwrap(), json!("Hi, Ada"));
    assert_eq!(null.get(WAIT).await.unwrap(), json!("Hello, Ada"));
    worker.stop().await;
}

/// The stored FAILURE of a call that does not fit (not retried: the queue is empty after).
async fn calls_that_do_not_fit_fail_as_python_words_it(broker: Arc<dyn Broker>) {
    let worker = RunningWorker::start(broker.clone(), config(&["celery"]));
    // The texts are CPython's for `def add(a, b)`.
    let cases = [
        (
            json!([1]),
            json!({}),
            "add() missing 1 required positional argument: 'b'",
        ),
        (
            json!([]),
            json!({}),
            "add() missing 2 required positional arguments: 'a' and 'b'",
        ),
        (
            json!([1, 2]),
            json!({"c": 3}),
            "add() got an unexpected keyword argument 'c'",
        ),
        (
            json!([1]),
            json!({"a": 2}),
            "add() got multiple values for argument 'a'",
        ),
        (
            json!([1, 2, 3]),
            json!({}),
            "add() takes 2 positional arguments but 3 were given",
        ),
    ];
    for (args, kwargs, expected) in cases {
        let sent = send("test.add", args, kwargs).await;
        match sent.get(WAIT).await {
            Err(TaskError::Failed { kind, message }) => {
                assert_eq!((kind.as_str(), message.as_str()), ("TypeError", expected))
            }
            other => panic!("expected a TypeError, got {other:?}"),
        }
        assert_eq!(sent.status().await.unwrap(), TaskStatus::Failure);
    }
    assert_eq!(broker.queue_length("celery").await.unwrap(), 0);
    worker.stop().await;
}

async fn a_wrong_type_names_the_parameter(broker: Arc<dyn Broker>) {
    let worker = RunningWorker::start(broker, config(&["celery"]));
    let sent = send("test.add", json!([1]), json!({"b": "three"})).await;
    match sent.get(WAIT).await {
        Err(TaskError::Failed { kind, message }) => {
            assert_eq!(kind, "Serialization");
            assert!(
                message.contains("argument 'b' of test.add: invalid type"),
                "{message}"
            );
        }
        other => panic!("expected a serialization failure, got {other:?}"),
    }
    worker.stop().await;
}

/// As a Python producer could send it (`kwargs=[1]`): InvalidTaskError, kept as a dead letter.
async fn kwargs_that_are_not_a_mapping_are_dead_lettered(broker: Arc<dyn Broker>) {
    let worker = RunningWorker::start(broker.clone(), config(&["celery"]));
    let id = uuid::Uuid::new_v4().to_string();
    let message = TaskMessage {
        id: id.clone(),
        name: "test.add".into(),
        queue: "celery".into(),
        priority: 0,
        args: json!([1]),
        kwargs: json!([2]),
        eta: 0.0,
        expires: None,
        retries: 0,
        embed: None,
        ..Default::default()
    };
    broker.publish(message).await.unwrap();
    match AsyncResult::<i64>::new(&id).get(WAIT).await {
        Err(TaskError::Failed { kind, message }) => {
            assert_eq!(kind, "InvalidTaskError");
            assert!(message.contains("not a mapping"), "{message}");
        }
        other => panic!("expected InvalidTaskError, got {other:?}"),
    }
    let dead = broker.dead_letters().await.unwrap();
    assert!(
        dead.iter().any(|d| d.id == id && d.kwargs == json!([2])),
        "{dead:?}"
    );
    worker.stop().await;
}

async fn large_kwargs_arrive_whole(broker: Arc<dyn Broker>) {
    let worker = RunningWorker::start(broker, config(&["celery"]));
    let text = "é".repeat(1_000_000);
    let expected = checksum(text.clone());
    let sent = send("test.blocking", json!([]), json!({ "text": text })).await;
    assert_eq!(sent.get(WAIT).await.unwrap(), json!(expected));
    worker.stop().await;
}

/// A step's result comes first among its positional arguments; its keyword ones travel with it.
async fn signatures_carry_kwargs_through_a_chain(broker: Arc<dyn Broker>) {
    let worker = RunningWorker::start(broker, config(&["celery"]));
    let total = chain(vec![
        Signature::new("test.add", json!([])).kwargs(json!({"a": 1, "b": 2})),
        Signature::new("test.add", json!([])).kwargs(json!({"b": 10})),
    ])
    .apply_async()
    .await
    .unwrap();
    assert_eq!(total.get(WAIT).await.unwrap(), json!(13));
    worker.stop().await;
}
