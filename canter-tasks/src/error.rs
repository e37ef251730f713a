//! What a task, an enqueue or a result can fail with.

/// A task's failure, or a request to run it again.
#[derive(Debug, Clone, thiserror::Error, PartialEq)]
pub enum TaskError {
    /// The task failed: `kind` names the error (Celery's `exc_type`), `message` says what.
    #[error("{kind}: {message}")]
    Failed { kind: String, message: String },
    /// Run again after `countdown` seconds (Celery's `self.retry(countdown=…)`).
    #[error("retry in {countdown:?} s")]
    Retry { countdown: Option<f64> },
    /// No task of this name is registered with the worker that got it.
    #[error("unknown task {0:?}")]
    Unknown(String),
    /// Arguments or a result that do not (de)serialize.
    #[error("cannot serialize: {0}")]
    Serialization(String),
    /// The hard time limit passed.
    #[error("time limit of {0:?} s exceeded")]
    TimeLimit(f64),
    /// Waiting for a result took longer than asked.
    #[error("no result within {0:?}")]
    Timeout(std::time::Duration),
    /// The task was revoked before it ran.
    #[error("revoked")]
    Revoked,
    /// A unique task (`#[task(unique = "refuse")]`) with these arguments is already queued or
    /// running: its id.
    #[error("already queued or running as {0}")]
    Duplicate(String),
    /// A message over the broker's size limit (`[tasks] max_message_size`): not enqueued.
    #[error("the task message is {size} bytes, over the broker's limit of {limit} bytes ([tasks] max_message_size)")]
    TooLarge { size: u64, limit: u64 },
    /// The broker cannot be reached or refused.
    #[error("broker: {0}")]
    Broker(String),
}

impl TaskError {
    /// A failure from any error (its type name becomes `kind`).
    pub fn failed<E: std::fmt::Display>(error: E) -> Self {
        let kind = std::any::type_name::<E>()
            .rsplit("::")
            .next()
            .unwrap_or("Error")
            .to_owned();
        TaskError::Failed {
            kind,
            message: error.to_string(),
        }
    }

    /// Asks to run the task again (counted against `max_retries`).
    pub fn retry(countdown: Option<f64>) -> Self {
        TaskError::Retry { countdown }
    }
}

impl From<sqlx::Error> for TaskError {
    fn from(e: sqlx::Error) -> Self {
        TaskError::Broker(e.to_string())
    }
}

impl From<serde_json::Error> for TaskError {
    fn from(e: serde_json::Error) -> Self {
        TaskError::Serialization(e.to_string())
    }
}
