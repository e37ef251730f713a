//! The canvas: chains, groups and chords, and callbacks (`link`, `link_error`) on a signature,
//! on a task's own `apply_async` and on a chain.

use std::sync::Arc;
use std::time::Duration;

use canter_tasks::canvas::{chain, chord, group, Signature};
use canter_tasks::{ApplyOptions, AsyncResult, Broker, TaskError, TaskStatus};
use serde_json::json;

use super::tasks::add;
use super::{config, RunningWorker, WAIT};

on_every_broker!(
    a_chain_passes_each_result_on_except_into_an_immutable_step,
    a_group_runs_in_parallel_and_a_chord_gets_all_results,
    a_failing_member_fails_the_chord,
    link_runs_on_success_and_link_error_on_failure,
    links_given_to_apply_async_run,
    a_failing_chain_step_calls_the_errback_and_the_chain_stops,
);

fn fresh_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// The result goes on to the next step (first in its arguments), except into an immutable
/// one; the handle is the last step's.
async fn a_chain_passes_each_result_on_except_into_an_immutable_step(broker: Arc<dyn Broker>) {
    let worker = RunningWorker::start(broker, config(&["celery"]));
    let sum = chain(vec![
        Signature::new("test.add", json!([2, 3])),
        Signature::new("test.add", json!([4])),
    ])
    .apply_async()
    .await
    .unwrap();
    assert_eq!(sum.get(WAIT).await.unwrap(), json!(9));
    let fresh = chain(vec![
        Signature::new("test.add", json!([2, 3])),
        Signature::new("test.add", json!([1, 1])).immutable(),
    ])
    .apply_async()
    .await
    .unwrap();
    assert_eq!(fresh.get(WAIT).await.unwrap(), json!(2));
    worker.stop().await;
}

fn pairs() -> Vec<Signature> {
    (1..=3)
        .map(|n| Signature::new("test.add", json!([n, n])))
        .collect()
}

/// A group: in parallel, results in the group's order; a chord: the callback gets them all.
async fn a_group_runs_in_parallel_and_a_chord_gets_all_results(broker: Arc<dyn Broker>) {
    let worker = RunningWorker::start(broker, config(&["celery"]));
    let doubled = group(pairs()).apply_async().await.unwrap();
    assert_eq!(
        doubled.get(WAIT).await.unwrap(),
        [2, 4, 6].map(|n| json!(n))
    );
    let summed = chord(group(pairs()), Signature::new("test.total", json!([])))
        .apply_async()
        .await
        .unwrap();
    assert_eq!(summed.get(WAIT).await.unwrap(), json!(12));
    worker.stop().await;
}

/// A member that fails fails the chord: the callback never runs.
async fn a_failing_member_fails_the_chord(broker: Arc<dyn Broker>) {
    let worker = RunningWorker::start(broker, config(&["celery"]));
    let broken = chord(
        group(vec![
            Signature::new("test.add", json!([1, 1])),
            Signature::new("test.boom", json!([])),
        ]),
        Signature::new("test.total", json!([])),
    )
    .apply_async()
    .await
    .unwrap();
    match broken.get(WAIT).await {
        Err(TaskError::Failed { kind, message }) => {
            assert_eq!(kind, "ChordError");
            assert!(message.contains("Panic"), "{message}");
        }
        other => panic!("expected a ChordError, got {other:?}"),
    }
    worker.stop().await;
}

/// `link` runs with the result first, `link_error` with the failed task's id; neither runs on
/// the other outcome.
async fn link_runs_on_success_and_link_error_on_failure(broker: Arc<dyn Broker>) {
    let worker = RunningWorker::start(broker, config(&["celery"]));
    let (on_success, not_on_failure) = (fresh_id(), fresh_id());
    let linked = Signature::new("test.add", json!([2, 3]))
        .link(Signature::new("test.add", json!([10])).task_id(&on_success))
        .link_error(Signature::new("test.failed_id", json!([])).task_id(&not_on_failure))
        .apply_async()
        .await
        .unwrap();
    assert_eq!(linked.get(WAIT).await.unwrap(), json!(5));
    let called = AsyncResult::<i64>::new(&on_success);
    assert_eq!(called.get(WAIT).await.unwrap(), 15);

    let (on_failure, not_on_success) = (fresh_id(), fresh_id());
    let failing = Signature::new("test.boom", json!([]))
        .link(Signature::new("test.add", json!([1])).task_id(&not_on_success))
        .link_error(Signature::new("test.failed_id", json!([])).task_id(&on_failure))
        .apply_async()
        .await
        .unwrap();
    assert!(failing.get(WAIT).await.is_err());
    let errback = AsyncResult::<String>::new(&on_failure);
    assert_eq!(errback.get(WAIT).await.unwrap(), failing.id);

    // The callbacks that ran were sent when their tasks settled: one sent wrongly would have
    // been too, and had time to run.
    tokio::time::sleep(Duration::from_millis(200)).await;
    for never in [&not_on_failure, &not_on_success] {
        assert_eq!(
            AsyncResult::<()>::new(never).status().await.unwrap(),
            TaskStatus::Pending
        );
    }
    worker.stop().await;
}

/// The same from a task's own apply_async.
async fn links_given_to_apply_async_run(broker: Arc<dyn Broker>) {
    let worker = RunningWorker::start(broker, config(&["celery"]));
    let via_options = fresh_id();
    let added = add::apply_async(
        (20, 1),
        ApplyOptions {
            link: vec![Signature::new("test.add", json!([100])).task_id(&via_options)],
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(added.get(WAIT).await.unwrap(), 21);
    let linked = AsyncResult::<i64>::new(&via_options);
    assert_eq!(linked.get(WAIT).await.unwrap(), 121);
    worker.stop().await;
}

/// On a chain, the step that fails reports to the errback, and the steps after it never run.
async fn a_failing_chain_step_calls_the_errback_and_the_chain_stops(broker: Arc<dyn Broker>) {
    let worker = RunningWorker::start(broker, config(&["celery"]));
    let chain_failed = fresh_id();
    let broken_chain = chain(vec![
        Signature::new("test.add", json!([1, 1])),
        Signature::new("test.boom", json!([])).immutable(),
        Signature::new("test.add", json!([1])),
    ])
    .link_error(Signature::new("test.failed_id", json!([])).task_id(&chain_failed))
    .apply_async()
    .await
    .unwrap();
    let errback = AsyncResult::<String>::new(&chain_failed);
    let failed_step = errback.get(WAIT).await.unwrap();
    assert_eq!(
        AsyncResult::<()>::new(&failed_step).status().await.unwrap(),
        TaskStatus::Failure,
        "the errback names the step that failed"
    );
    assert_eq!(
        broken_chain.status().await.unwrap(),
        TaskStatus::Pending,
        "the chain stops"
    );
    worker.stop().await;
}
