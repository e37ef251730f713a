//! Task context (Celery's `bind=True` / `self.request`, issue 18): a bound task gets its
//! request; `canter_tasks::request()` gives it anywhere in a body, a blocking one too; what a
//! task sends — itself or through a chain — records it as parent and shares its root; and
//! `request.retry(countdown, exc)` retries, then fails with `exc`.

use std::sync::Arc;

use canter_tasks::canvas::{chain, Signature};
use canter_tasks::{Broker, TaskError};
use serde_json::{json, Value};

use super::tasks::{blocking_whoami, calls, descend, fresh_key, retry_with_exc, whoami};
use super::{config, RunningWorker, WAIT};

on_every_broker!(
    a_bound_task_gets_its_request,
    a_blocking_body_reads_its_request,
    what_a_task_sends_has_it_as_parent_and_shares_its_root,
    a_chains_steps_descend_from_one_another,
    retry_with_an_exception_fails_with_it_once_retries_are_spent,
);

async fn a_bound_task_gets_its_request(broker: Arc<dyn Broker>) {
    let worker = RunningWorker::start(broker, config(&["celery"]));
    let sent = whoami::delay(Some(json!("x"))).await.unwrap();
    let request = sent.get(WAIT).await.unwrap();
    assert_eq!(request["id"], sent.id.as_str());
    assert_eq!(request["task"], "test.whoami");
    assert_eq!(
        (&request["args"], &request["kwargs"]),
        (&json!(["x"]), &json!({}))
    );
    assert_eq!(
        (&request["retries"], &request["max_retries"]),
        (&json!(0), &json!(3))
    );
    assert_eq!(request["parent_id"], Value::Null);
    assert_eq!(request["root_id"], sent.id.as_str(), "its own root");
    assert_eq!(request["delivery_info"]["routing_key"], "celery");
    assert_eq!(request["is_eager"], false);
    let hostname = request["hostname"].as_str().unwrap();
    assert!(hostname.starts_with("worker-"), "{hostname}");
    worker.stop().await;
}

async fn a_blocking_body_reads_its_request(broker: Arc<dyn Broker>) {
    let worker = RunningWorker::start(broker, config(&["celery"]));
    let sent = blocking_whoami::delay().await.unwrap();
    assert_eq!(sent.get(WAIT).await.unwrap(), Some(sent.id.clone()));
    worker.stop().await;
}

async fn what_a_task_sends_has_it_as_parent_and_shares_its_root(broker: Arc<dyn Broker>) {
    let worker = RunningWorker::start(broker, config(&["celery"]));
    let top = descend::delay(2).await.unwrap();
    let deepest = top.get(WAIT).await.unwrap();
    assert_eq!(deepest["root_id"], top.id.as_str());
    let parent = deepest["parent_id"].as_str().unwrap();
    assert_ne!(parent, top.id, "the middle task is its parent");
    assert_ne!(deepest["id"], top.id.as_str());
    worker.stop().await;
}

async fn a_chains_steps_descend_from_one_another(broker: Arc<dyn Broker>) {
    let worker = RunningWorker::start(broker, config(&["celery"]));
    let last = chain(vec![
        Signature::new("test.whoami", json!([null])).task_id("step-1"),
        Signature::new("test.whoami", json!([])),
    ])
    .apply_async()
    .await
    .unwrap();
    let request = last.get(WAIT).await.unwrap();
    assert_eq!(
        (&request["parent_id"], &request["root_id"]),
        (&json!("step-1"), &json!("step-1"))
    );
    worker.stop().await;
}

async fn retry_with_an_exception_fails_with_it_once_retries_are_spent(broker: Arc<dyn Broker>) {
    let worker = RunningWorker::start(broker, config(&["retries"]));
    let key = fresh_key();
    let sent = retry_with_exc::delay(key.clone()).await.unwrap();
    match sent.get(WAIT).await {
        Err(TaskError::Failed { kind, message }) => {
            assert_eq!(
                (kind.as_str(), message.as_str()),
                ("SMTPError", "attempt 3")
            )
        }
        other => panic!("expected the task's own error, got {other:?}"),
    }
    assert_eq!(calls(&key), 3, "one run and two retries");
    worker.stop().await;
}
