//! Unique tasks: a second enqueue with the same arguments is refused, or folded into the first
//! (also when ten enqueue at once); other arguments are other tasks; once done, the same
//! arguments may be enqueued again.

use std::collections::BTreeSet;
use std::sync::Arc;

use canter_tasks::{AsyncResult, Broker, TaskError};

use super::tasks::{folded, refused};
use super::{config, RunningWorker, WAIT};

on_every_broker!(unique_tasks_are_refused_or_folded_while_queued);

async fn unique_tasks_are_refused_or_folded_while_queued(broker: Arc<dyn Broker>) {
    // No worker yet: everything stays queued.
    let first = refused::delay("a".into()).await.unwrap();
    match refused::delay("a".into()).await {
        Err(TaskError::Duplicate(id)) => assert_eq!(id, first.id),
        other => panic!("expected a Duplicate, got {other:?}"),
    }
    let other = refused::delay("b".into()).await.unwrap();
    let racing: Vec<_> = (0..10)
        .map(|_| canter_core::services::spawn(folded::delay("c".into())))
        .collect();
    let mut ids = BTreeSet::new();
    for handle in racing {
        ids.insert(handle.await.unwrap().unwrap().id);
    }
    assert_eq!(ids.len(), 1, "ten concurrent enqueues, one task: {ids:?}");
    assert_eq!(broker.queue_length("unique").await.unwrap(), 3);

    let worker = RunningWorker::start(broker, config(&["unique"]));
    assert_eq!(first.get(WAIT).await.unwrap(), "a");
    assert_eq!(other.get(WAIT).await.unwrap(), "b");
    let folded_id = ids.into_iter().next().unwrap();
    assert_eq!(
        AsyncResult::<String>::new(folded_id)
            .get(WAIT)
            .await
            .unwrap(),
        "c"
    );
    // Done: the same arguments may be enqueued again.
    let again = refused::delay("a".into()).await.unwrap();
    assert_eq!(again.get(WAIT).await.unwrap(), "a");
    worker.stop().await;
}
