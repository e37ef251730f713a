//! The Redis result backend's records as Celery writes them (`celery-task-meta-<id>`):
//! `{status, result, traceback, children, date_done, task_id}`, failures as
//! `{exc_type, exc_message, exc_module}`.

use serde_json::{json, Value};

use super::iso8601;
use crate::result::{TaskResult, TaskStatus};

/// The module Python rebuilds canter's errors in (unknown there: Celery makes an exception
/// class of the name, so `except` by name and `str(exc)` work).
pub(crate) const ERROR_MODULE: &str = "canter";

pub(crate) fn exception(kind: &str, message: &str, module: &str) -> Value {
    json!({"exc_type": kind, "exc_message": [message], "exc_module": module})
}

/// A result's value as Celery records it (in the Redis record's `result`, the database
/// backend's `result` column): a success's value, a failure's exception record, a started
/// task's `{pid, hostname}`.
pub fn result_value(result: &TaskResult, hostname: &str) -> Value {
    match result.status {
        TaskStatus::Success => result.result.clone().unwrap_or(Value::Null),
        TaskStatus::Failure | TaskStatus::Retry => match &result.error {
            Some((kind, message)) => exception(kind, message, ERROR_MODULE),
            None => Value::Null,
        },
        TaskStatus::Revoked => exception("TaskRevokedError", "revoked", "celery.exceptions"),
        TaskStatus::Started => json!({"pid": std::process::id(), "hostname": hostname}),
        TaskStatus::Pending | TaskStatus::Received => Value::Null,
    }
}

/// A result record as Celery's Redis backend writes it.
pub fn encode_result(id: &str, result: &TaskResult, now: f64, hostname: &str) -> String {
    let value = result_value(result, hostname);
    json!({
        "status": result.status.as_str(),
        "result": value,
        "traceback": null,
        "children": [],
        "date_done": result.status.is_ready().then(|| iso8601(now)),
        "task_id": id,
    })
    .to_string()
}

/// Reads a result record (written by canter or by Python Celery).
pub fn decode_result(raw: &str) -> Option<TaskResult> {
    decode_record(&serde_json::from_str(raw).ok()?)
}

/// Reads a result from Celery's `{status, result, …}` (a record parsed, or the database
/// backend's columns put together).
pub fn decode_record(record: &Value) -> Option<TaskResult> {
    let status = TaskStatus::parse(record.get("status")?.as_str()?);
    let value = record.get("result").cloned().unwrap_or(Value::Null);
    let error = match status {
        TaskStatus::Failure | TaskStatus::Revoked | TaskStatus::Retry => {
            let kind = value
                .get("exc_type")
                .and_then(Value::as_str)
                .unwrap_or("Error")
                .to_owned();
            let message = match value.get("exc_message") {
                Some(Value::Array(parts)) => parts
                    .iter()
                    .map(|p| {
                        p.as_str()
                            .map(str::to_owned)
                            .unwrap_or_else(|| p.to_string())
                    })
                    .collect::<Vec<_>>()
                    .join(", "),
                Some(Value::String(text)) => text.clone(),
                Some(other) => other.to_string(),
                None => String::new(),
            };
            Some((kind, message))
        }
        _ => None,
    };
    Some(TaskResult {
        status,
        result: (status == TaskStatus::Success).then_some(value),
        error,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_use_celerys_record() {
        let success = TaskResult {
            status: TaskStatus::Success,
            result: Some(json!(5)),
            error: None,
        };
        let raw = encode_result("abc", &success, 1_795_605_240.0, "h");
        let record: Value = serde_json::from_str(&raw).unwrap();
        assert_eq!(record["status"], "SUCCESS");
        assert_eq!(record["result"], 5);
        assert_eq!(record["children"], json!([]));
        assert_eq!(record["task_id"], "abc");
        assert_eq!(record["date_done"], "2026-11-25T11:14:00.000000+00:00");
        assert_eq!(decode_result(&raw), Some(success));

        let failure = TaskResult {
            status: TaskStatus::Failure,
            result: None,
            error: Some(("Panic".into(), "boom".into())),
        };
        let raw = encode_result("abc", &failure, 0.0, "h");
        let record: Value = serde_json::from_str(&raw).unwrap();
        assert_eq!(
            record["result"],
            json!({"exc_type": "Panic", "exc_message": ["boom"], "exc_module": "canter"})
        );
        assert_eq!(decode_result(&raw), Some(failure));

        // As Python's worker writes a failure.
        let python = r#"{"status": "FAILURE", "result": {"exc_type": "ValueError", "exc_message": ["boom"], "exc_module": "builtins"}, "traceback": "Traceback ...", "children": [], "date_done": "2026-11-25T11:14:21.464708+00:00", "task_id": "76a5e2fa"}"#;
        let read = decode_result(python).unwrap();
        assert_eq!(read.status, TaskStatus::Failure);
        assert_eq!(read.error, Some(("ValueError".into(), "boom".into())));
        let started = encode_result("abc", &TaskResult::state(TaskStatus::Started), 0.0, "h");
        assert_eq!(
            serde_json::from_str::<Value>(&started).unwrap()["date_done"],
            Value::Null
        );
    }
}
