//! `delay_on_commit`: the task is sent only after the surrounding atomic block commits, and
//! never when it rolls back.

use std::sync::Arc;
use std::time::Duration;

use canter_tasks::{AsyncResult, Broker, TaskStatus};

use super::tasks::add;
use super::{config, RunningWorker, WAIT};

on_every_broker!(delay_on_commit_sends_only_once_the_block_commits);

async fn delay_on_commit_sends_only_once_the_block_commits(broker: Arc<dyn Broker>) {
    let dir = crate::common::TempDir::new("on-commit");
    let orm = format!("sqlite://{}", dir.path().join("orm.sqlite3").display());
    let db = Arc::new(canter_orm::Databases::single(&orm).unwrap());
    let queued = broker.clone();
    let (committed, rolled_back) = db
        .scope(async move {
            let committed = canter_orm::transaction::atomic(async {
                let handle = add::delay_on_commit(4, 4).unwrap();
                assert_eq!(
                    queued.queue_length("celery").await.unwrap(),
                    0,
                    "not before the commit"
                );
                Ok::<_, canter_orm::OrmError>(handle)
            })
            .await
            .unwrap();
            let rolled_back = canter_orm::transaction::atomic(async {
                let handle = add::delay_on_commit(5, 5).unwrap();
                Err::<(), _>(Rollback(Some(handle)))
            })
            .await
            .unwrap_err();
            (committed, rolled_back.0.unwrap())
        })
        .await;
    assert_eq!(
        broker.queue_length("celery").await.unwrap(),
        1,
        "the committed one, once committed; not the rolled-back one"
    );

    let worker = RunningWorker::start(broker, config(&["celery"]));
    assert_eq!(committed.get(WAIT).await.unwrap(), 8);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        rolled_back.status().await.unwrap(),
        TaskStatus::Pending,
        "never enqueued"
    );
    worker.stop().await;
}

/// An error that rolls an atomic block back, carrying the handle out.
struct Rollback(Option<AsyncResult<i64>>);

impl From<canter_orm::OrmError> for Rollback {
    fn from(_: canter_orm::OrmError) -> Self {
        Rollback(None)
    }
}
