//! Eager mode (Celery's `task_always_eager`): `delay` runs the task in the caller, retries
//! included, and the handle has its result at once. Its own binary: eager mode is process-wide.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use canter_tasks::{task, TaskError, TaskStatus};

#[task(name = "eager.add", crate = canter_tasks)]
async fn add(a: i64, b: i64) -> Result<i64, TaskError> {
    Ok(a + b)
}

static CALLS: AtomicU32 = AtomicU32::new(0);

#[task(name = "eager.flaky", crate = canter_tasks, max_retries = 2)]
async fn flaky() -> Result<u32, TaskError> {
    let call = CALLS.fetch_add(1, Ordering::SeqCst);
    if call < 2 {
        return Err(TaskError::retry(Some(60.0)));
    }
    Ok(call)
}

#[task(name = "eager.fails", crate = canter_tasks)]
fn fails() -> Result<(), TaskError> {
    Err(TaskError::Failed {
        kind: "KeyError".into(),
        message: "'missing'".into(),
    })
}

#[tokio::test]
async fn delay_runs_the_task_at_once() {
    canter_tasks::set_eager(true);
    assert!(
        canter_tasks::broker().is_err(),
        "no broker installed: eager mode brings its own"
    );

    let sum = add::delay(2, 3).await.unwrap();
    assert_eq!(
        sum.status().await.unwrap(),
        TaskStatus::Success,
        "done before delay returned"
    );
    assert_eq!(sum.get(Duration::ZERO).await.unwrap(), 5);

    // Retries run inline (their countdowns skipped), counted against max_retries.
    assert_eq!(
        flaky::delay()
            .await
            .unwrap()
            .get(Duration::ZERO)
            .await
            .unwrap(),
        2
    );
    assert_eq!(CALLS.load(Ordering::SeqCst), 3);

    // A failure is stored, not raised at `delay` (Celery's task_eager_propagates = False).
    let failed = fails::delay().await.unwrap();
    match failed.get(Duration::ZERO).await {
        Err(TaskError::Failed { kind, message }) => {
            assert_eq!((kind.as_str(), message.as_str()), ("KeyError", "'missing'"))
        }
        other => panic!("expected the task's failure, got {other:?}"),
    }
}
