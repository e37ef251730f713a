//! A task body's run: its time limits, a panic as a failure, the FAILURE result of an error,
//! and eager mode (the body run in place, retries included).

use std::panic::AssertUnwindSafe;
use std::time::Duration;

use futures_util::FutureExt;
use serde_json::Value;

use std::sync::Arc;

use crate::broker::{Broker, TaskMessage};
use crate::error::TaskError;
use crate::request::Request;
use crate::result::{TaskResult, TaskStatus};
use crate::task::{Runner, TaskOptions};

/// Runs a task body as the task of `request` (its arguments are the request's): a panic becomes a `Panic` failure, the hard time limit a `TimeLimit` one;
/// the soft time limit is the body's to watch ([`crate::task::soft_time_limit`]), and logged
/// when it passes.
pub(crate) async fn run_body(
    runner: &Runner,
    request: Arc<Request>,
    options: &TaskOptions,
) -> Result<Value, TaskError> {
    let soft = options.soft_time_limit;
    let call = runner(request.args.clone(), request.kwargs.clone());
    let body = crate::task::with_soft_time_limit(
        soft,
        crate::request::with_request(request, AssertUnwindSafe(call).catch_unwind()),
    );
    let body = async {
        let Some(soft) = soft else { return body.await };
        tokio::pin!(body);
        tokio::select! {
            outcome = &mut body => return outcome,
            () = tokio::time::sleep(Duration::from_secs_f64(soft)) => {}
        }
        tracing::warn!(target: "canter::tasks", soft_time_limit_s = soft, "soft time limit passed; the task goes on until it ends or reaches its hard limit");
        body.await
    };
    let outcome = match options.time_limit {
        Some(limit) => match tokio::time::timeout(Duration::from_secs_f64(limit), body).await {
            Ok(outcome) => outcome,
            Err(_) => Ok(Err(TaskError::TimeLimit(limit))),
        },
        None => body.await,
    };
    outcome.unwrap_or_else(|panic| {
        Err(TaskError::Failed {
            kind: "Panic".into(),
            message: panic_message(panic.as_ref()),
        })
    })
}

/// What a panic said (its `&str` or `String` payload; empty for any other).
pub(crate) fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_default()
}

/// The FAILURE result of a task that ends with `error` after `retries` retries.
pub(crate) fn failure(error: &TaskError, retries: u32) -> TaskResult {
    let (kind, message) = match error {
        TaskError::Failed { kind, message } => (kind.clone(), message.clone()),
        TaskError::Retry { .. } => (
            "MaxRetriesExceeded".to_owned(),
            format!("gave up after {retries} retries"),
        ),
        other => (
            format!("{other:?}")
                .split([' ', '(', '{'])
                .next()
                .unwrap_or("Error")
                .to_owned(),
            other.to_string(),
        ),
    };
    TaskResult {
        status: TaskStatus::Failure,
        result: None,
        error: Some((kind, message)),
    }
}

/// An eager broker's `publish` ([`MemoryBroker::eager`](crate::MemoryBroker::eager)): the
/// message's task from `tasks`, run here and now; a task not among them is stored as a
/// `NotRegistered` failure, as a worker stores it.
pub(crate) async fn run_published_eagerly(
    tasks: &crate::task::Registry,
    message: TaskMessage,
    broker: &dyn Broker,
) -> Result<(), TaskError> {
    let Some((runner, options)) = tasks.tasks.get(message.name.as_str()).cloned() else {
        let reason = format!(
            "no task named {:?} is registered with the eager broker",
            message.name
        );
        let failure = TaskResult {
            status: TaskStatus::Failure,
            result: None,
            error: Some(("NotRegistered".into(), reason)),
        };
        return broker.store_result(&message.id, failure).await;
    };
    run_eagerly(runner, &options, &message, broker).await
}

/// Eager mode (Celery's `task_always_eager`): runs the task here and now, retries included
/// (without their waits), and stores its result where `AsyncResult` looks.
pub(crate) async fn run_eagerly(
    runner: Runner,
    options: &TaskOptions,
    message: &TaskMessage,
    broker: &dyn Broker,
) -> Result<(), TaskError> {
    let mut retries = 0;
    let hostname = crate::broker::hostname();
    loop {
        let attempt = TaskMessage {
            retries,
            ..message.clone()
        };
        let request = Arc::new(Request::of(&attempt, options, &hostname, true));
        let error = match run_body(&runner, request, options).await {
            Ok(value) => {
                if !options.ignore_result {
                    broker
                        .store_result(
                            &message.id,
                            TaskResult {
                                status: TaskStatus::Success,
                                result: Some(value),
                                error: None,
                            },
                        )
                        .await?;
                }
                return Ok(());
            }
            Err(error) => error,
        };
        if !(options.retries_on(&error) && retries < options.max_retries) {
            return broker
                .store_result(&message.id, failure(&error, retries))
                .await;
        }
        retries += 1;
    }
}
