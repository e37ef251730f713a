//! Results: a handle on an enqueued task (Celery's `AsyncResult`).

use std::marker::PhantomData;
use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::broker::broker;
use crate::error::TaskError;

/// Celery's task states.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum TaskStatus {
    Pending,
    Received,
    Started,
    Retry,
    Success,
    Failure,
    Revoked,
}

impl TaskStatus {
    pub fn is_ready(self) -> bool {
        matches!(
            self,
            TaskStatus::Success | TaskStatus::Failure | TaskStatus::Revoked
        )
    }

    pub fn as_str(self) -> &'static str {
        match self {
            TaskStatus::Pending => "PENDING",
            TaskStatus::Received => "RECEIVED",
            TaskStatus::Started => "STARTED",
            TaskStatus::Retry => "RETRY",
            TaskStatus::Success => "SUCCESS",
            TaskStatus::Failure => "FAILURE",
            TaskStatus::Revoked => "REVOKED",
        }
    }

    pub fn parse(text: &str) -> TaskStatus {
        match text {
            "RECEIVED" => TaskStatus::Received,
            "STARTED" => TaskStatus::Started,
            "RETRY" => TaskStatus::Retry,
            "SUCCESS" => TaskStatus::Success,
            "FAILURE" => TaskStatus::Failure,
            "REVOKED" => TaskStatus::Revoked,
            _ => TaskStatus::Pending,
        }
    }
}

/// A stored result.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskResult {
    pub status: TaskStatus,
    pub result: Option<serde_json::Value>,
    /// For FAILURE: the error's kind and message.
    pub error: Option<(String, String)>,
}

/// A handle on a task's result, by id. The state of a task never heard of is PENDING, as in
/// Celery.
pub struct AsyncResult<T> {
    pub id: String,
    _output: PhantomData<fn() -> T>,
}

impl<T> Clone for AsyncResult<T> {
    fn clone(&self) -> Self {
        AsyncResult {
            id: self.id.clone(),
            _output: PhantomData,
        }
    }
}

impl<T> std::fmt::Debug for AsyncResult<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AsyncResult({})", self.id)
    }
}

impl<T: DeserializeOwned> AsyncResult<T> {
    pub fn new(id: impl Into<String>) -> Self {
        AsyncResult {
            id: id.into(),
            _output: PhantomData,
        }
    }

    pub async fn status(&self) -> Result<TaskStatus, TaskError> {
        Ok(broker()?
            .get_result(&self.id)
            .await?
            .map(|r| r.status)
            .unwrap_or(TaskStatus::Pending))
    }

    /// Whether the task has finished (SUCCESS, FAILURE or REVOKED).
    pub async fn ready(&self) -> Result<bool, TaskError> {
        Ok(self.status().await?.is_ready())
    }

    /// The stored state, result and error as they are now (PENDING when nothing is stored).
    pub async fn info(&self) -> Result<TaskResult, TaskError> {
        Ok(broker()?.get_result(&self.id).await?.unwrap_or(TaskResult {
            status: TaskStatus::Pending,
            result: None,
            error: None,
        }))
    }

    /// Waits (polling) for the result: the value, or the task's error.
    pub async fn get(&self, timeout: Duration) -> Result<T, TaskError> {
        let broker = broker()?;
        let deadline = Instant::now() + timeout;
        let mut pause = Duration::from_millis(5);
        loop {
            if let Some(result) = broker.get_result(&self.id).await? {
                match result.status {
                    TaskStatus::Success => {
                        return Ok(serde_json::from_value(result.result.unwrap_or_default())?)
                    }
                    TaskStatus::Failure => {
                        let (kind, message) = result
                            .error
                            .unwrap_or_else(|| ("Error".into(), String::new()));
                        return Err(TaskError::Failed { kind, message });
                    }
                    TaskStatus::Revoked => return Err(TaskError::Revoked),
                    _ => {}
                }
            }
            if Instant::now() >= deadline {
                return Err(TaskError::Timeout(timeout));
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_millis(100));
        }
    }

    /// Drops the stored result (Celery's `forget()`).
    pub async fn forget(&self) -> Result<(), TaskError> {
        broker()?.forget(&self.id).await
    }

    /// Revokes the task: a queued one is skipped; a running one is stopped at its next await
    /// (workers look every second) and marked REVOKED. A blocking body cannot be interrupted:
    /// it runs to its end, and its result is dropped.
    pub async fn revoke(&self) -> Result<(), TaskError> {
        broker()?.revoke(&self.id).await
    }
}
