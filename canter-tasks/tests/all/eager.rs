//! Eager mode (Celery's `task_always_eager`): a broker of its own (`MemoryBroker::eager`), on
//! which `delay` runs the task in the caller, retries included, and the handle has its result
//! at once. It is an app's broker, so other apps (and other tests) are untouched.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use canter_tasks::{task, tasks_app, MemoryBroker, Registry, TaskError, TaskStatus, Tasks};

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

#[task(name = "eager.whoami", bind, crate = canter_tasks)]
async fn whoami(request: canter_tasks::Request) -> (String, bool, u32) {
    (request.id, request.is_eager, request.retries)
}

#[task(name = "eager.fails", crate = canter_tasks)]
fn fails() -> Result<(), TaskError> {
    Err(TaskError::Failed {
        kind: "KeyError".into(),
        message: "'missing'".into(),
    })
}

#[tokio::test]
async fn outside_any_app_delay_is_an_error_not_a_private_broker() {
    let error = add::delay(2, 3).await.unwrap_err().to_string();
    assert!(
        error.contains("no app is running here, so there is no task broker"),
        "{error}"
    );
}

#[tokio::test]
async fn a_task_the_eager_broker_does_not_know_is_stored_as_not_registered() {
    let app = tasks_app(Arc::new(MemoryBroker::eager(Registry::new())));
    let handle = app.scope(add::delay(2, 3)).await.unwrap();
    match app.scope(handle.get(Duration::ZERO)).await {
        Err(TaskError::Failed { kind, message }) => {
            assert_eq!(kind, "NotRegistered");
            assert!(message.contains("eager.add"), "{message}");
        }
        other => panic!("expected NotRegistered, got {other:?}"),
    }
}

#[tokio::test]
async fn always_eager_in_settings_makes_the_apps_broker_eager_with_its_tasks() {
    let settings =
        canter_core::settings::Settings::from_toml("[tasks]\nalways_eager = true").unwrap();
    let app = canter_core::App::new()
        .plugin(Tasks::new().task::<add>())
        .start(settings)
        .await
        .unwrap();
    let sum = app.scope(add::delay(20, 22)).await.unwrap();
    assert_eq!(app.scope(sum.get(Duration::ZERO)).await.unwrap(), 42);
    app.stop().await;
}

#[tokio::test]
async fn delay_runs_the_task_at_once() {
    let tasks = Registry::new()
        .register::<add>()
        .register::<flaky>()
        .register::<whoami>()
        .register::<fails>();
    tasks_app(Arc::new(MemoryBroker::eager(tasks)))
        .scope(runs_at_once())
        .await
}

async fn runs_at_once() {
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

    // A bound task's request says it ran eagerly.
    let me = whoami::delay().await.unwrap();
    assert_eq!(
        me.get(Duration::ZERO).await.unwrap(),
        (me.id.clone(), true, 0)
    );

    // A failure is stored, not raised at `delay` (Celery's task_eager_propagates = False).
    let failed = fails::delay().await.unwrap();
    match failed.get(Duration::ZERO).await {
        Err(TaskError::Failed { kind, message }) => {
            assert_eq!((kind.as_str(), message.as_str()), ("KeyError", "'missing'"))
        }
        other => panic!("expected the task's failure, got {other:?}"),
    }
}
