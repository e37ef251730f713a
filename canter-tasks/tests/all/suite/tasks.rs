//! The tasks the scenarios enqueue, the registry a scenario's worker knows them by, and the
//! per-test counters their bodies keep. The scenarios run at once in one process, two of them
//! (one per broker) with the same tasks: a body that counts its calls counts under the `key`
//! its test passes, never in a plain static.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use canter_tasks::{task, Registry, Request, TaskError};

/// Calls and start times of the counting tasks, per test key.
static CALLS: Mutex<Option<HashMap<String, u32>>> = Mutex::new(None);
static STARTS: Mutex<Option<HashMap<String, Vec<f64>>>> = Mutex::new(None);
static RUNS: Mutex<Option<HashMap<String, Vec<String>>>> = Mutex::new(None);

/// The labels `record` ran with under `key`, in the order it ran them.
pub fn runs(key: &str) -> Vec<String> {
    let runs = RUNS.lock().unwrap();
    runs.as_ref()
        .and_then(|r| r.get(key))
        .cloned()
        .unwrap_or_default()
}

/// Notes that it ran, with `label`, under `key`.
#[task(name = "test.record", crate = canter_tasks, queue = "priorities")]
pub fn record(key: String, label: String) {
    let mut runs = RUNS.lock().unwrap();
    runs.get_or_insert_with(HashMap::new)
        .entry(key)
        .or_default()
        .push(label);
}

/// A key of the calling test's own, for the counting tasks.
pub fn fresh_key() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// Counts one call under `key`; the count including this one.
fn count_call(key: &str) -> u32 {
    let mut calls = CALLS.lock().unwrap();
    let count = calls
        .get_or_insert_with(HashMap::new)
        .entry(key.to_owned())
        .or_default();
    *count += 1;
    *count
}

/// How many times a counting task ran under `key`.
pub fn calls(key: &str) -> u32 {
    let calls = CALLS.lock().unwrap();
    calls
        .as_ref()
        .and_then(|c| c.get(key))
        .copied()
        .unwrap_or(0)
}

/// When `limited` started under `key` (seconds since the epoch).
pub fn starts(key: &str) -> Vec<f64> {
    let starts = STARTS.lock().unwrap();
    starts
        .as_ref()
        .and_then(|s| s.get(key))
        .cloned()
        .unwrap_or_default()
}

#[task(name = "test.add", crate = canter_tasks)]
pub async fn add(a: i64, b: i64) -> Result<i64, TaskError> {
    Ok(a + b)
}

/// A greeting; `greeting` may be left out (Python's `greeting=None`).
#[task(name = "test.greet", crate = canter_tasks)]
pub async fn greet(name: String, greeting: Option<String>) -> String {
    format!("{}, {name}", greeting.as_deref().unwrap_or("Hello"))
}

/// Its own request, as JSON (whatever a chain step before it passed in is ignored).
#[task(name = "test.whoami", bind, crate = canter_tasks)]
pub async fn whoami(request: Request, _previous: Option<serde_json::Value>) -> serde_json::Value {
    serde_json::to_value(request).unwrap()
}

/// A blocking body's request, from `canter_tasks::request()`.
#[task(name = "test.blocking_whoami", crate = canter_tasks)]
pub fn blocking_whoami() -> Option<String> {
    canter_tasks::request().map(|r| r.id)
}

/// Sends itself `levels` deep and returns the deepest one's request.
#[task(name = "test.descend", crate = canter_tasks)]
pub async fn descend(levels: u32) -> Result<serde_json::Value, TaskError> {
    if levels == 0 {
        return Ok(serde_json::to_value(canter_tasks::request()).unwrap());
    }
    let child = descend::delay(levels - 1).await?;
    child.get(Duration::from_secs(10)).await
}

/// Retries itself (`request.retry`) until its retries are spent, then fails with its own error.
#[task(name = "test.retry_with_exc", bind, crate = canter_tasks, queue = "retries", max_retries = 2)]
pub async fn retry_with_exc(request: Request, key: String) -> Result<(), TaskError> {
    count_call(&key);
    let exc = TaskError::Failed {
        kind: "SMTPError".into(),
        message: format!("attempt {}", request.retries + 1),
    };
    Err(request.retry(Some(0.01), Some(exc)))
}

/// Fails twice, then succeeds.
#[task(name = "test.flaky", crate = canter_tasks, queue = "retries", retry_backoff = 0.05)]
pub async fn flaky(key: String) -> Result<String, TaskError> {
    if count_call(&key) <= 2 {
        return Err(TaskError::retry(None));
    }
    Ok("third time lucky".into())
}

#[task(name = "test.hopeless", crate = canter_tasks, queue = "retries", max_retries = 2, retry_backoff = 0.01, autoretry)]
pub async fn hopeless(key: String) -> Result<(), TaskError> {
    count_call(&key);
    Err(TaskError::Failed {
        kind: "ValueError".into(),
        message: "never works".into(),
    })
}

#[task(name = "test.boom", crate = canter_tasks)]
pub async fn boom() -> Result<(), TaskError> {
    panic!("the task body panicked");
}

#[task(name = "test.slow", crate = canter_tasks, time_limit = 0.2, retry_backoff = 1)]
pub async fn too_slow() -> Result<(), TaskError> {
    tokio::time::sleep(Duration::from_secs(5)).await;
    Ok(())
}

/// A blocking body: run on the blocking pool, never on the runtime.
#[task(name = "test.blocking", crate = canter_tasks)]
pub fn checksum(text: String) -> u64 {
    std::thread::sleep(Duration::from_millis(20));
    text.bytes().map(u64::from).sum()
}

#[task(name = "test.sleep", crate = canter_tasks, queue = "shutdown")]
pub async fn nap(ms: u64) -> Result<u64, TaskError> {
    tokio::time::sleep(Duration::from_millis(ms)).await;
    Ok(ms)
}

/// Winds down when its soft time limit passes, well before its hard one.
#[task(name = "test.winds_down", crate = canter_tasks, soft_time_limit = 0.1, time_limit = 10)]
pub async fn winds_down() -> Result<String, TaskError> {
    tokio::select! {
        () = tokio::time::sleep(Duration::from_secs(5)) => Ok("finished".into()),
        () = canter_tasks::soft_time_limit() => Ok("wound down".into()),
    }
}

/// A blocking body watching its soft time limit.
#[task(name = "test.blocking_winds_down", crate = canter_tasks, soft_time_limit = 0.1)]
pub fn blocking_winds_down() -> String {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(5) {
        if canter_tasks::soft_time_limit_exceeded() {
            return "stopped in time".into();
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    "ran on".into()
}

/// Fails once with a kind it retries on, then works.
#[task(name = "test.reconnects", crate = canter_tasks, queue = "retries", retry_backoff = 0.01, autoretry_for = ["ConnectionError"])]
pub async fn reconnects(key: String) -> Result<u32, TaskError> {
    let calls = count_call(&key);
    if calls == 1 {
        return Err(TaskError::Failed {
            kind: "ConnectionError".into(),
            message: "reset".into(),
        });
    }
    Ok(calls)
}

/// Fails with a kind it does not retry on.
#[task(name = "test.wrong_input", crate = canter_tasks, queue = "retries", retry_backoff = 0.01, autoretry_for = ["ConnectionError"])]
pub async fn wrong_input(key: String) -> Result<(), TaskError> {
    count_call(&key);
    Err(TaskError::Failed {
        kind: "ValueError".into(),
        message: "bad input".into(),
    })
}

/// Acked when it starts (Celery's default); retries once.
#[task(name = "test.early", crate = canter_tasks, acks_late = false)]
pub async fn early(key: String) -> Result<u32, TaskError> {
    let calls = count_call(&key);
    if calls == 1 {
        return Err(TaskError::retry(Some(0.05)));
    }
    Ok(calls)
}

#[task(name = "test.early_sleep", crate = canter_tasks, queue = "shutdown", acks_late = false)]
pub async fn early_nap(ms: u64) -> Result<u64, TaskError> {
    tokio::time::sleep(Duration::from_millis(ms)).await;
    Ok(ms)
}

/// At most 4 starts a second, whatever the number of workers.
#[task(name = "test.limited", crate = canter_tasks, rate_limit = "4/s")]
pub async fn limited(key: String) -> Result<(), TaskError> {
    let at = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let mut starts = STARTS.lock().unwrap();
    starts
        .get_or_insert_with(HashMap::new)
        .entry(key)
        .or_default()
        .push(at);
    Ok(())
}

/// One at a time per argument: a second enqueue is refused while one is queued or running.
#[task(name = "test.unique", crate = canter_tasks, queue = "unique", unique = "refuse")]
pub async fn refused(label: String) -> Result<String, TaskError> {
    Ok(label)
}

/// One at a time per argument: a second enqueue gets the first one's handle.
#[task(name = "test.folded", crate = canter_tasks, queue = "unique", unique = "fold")]
pub async fn folded(label: String) -> Result<String, TaskError> {
    Ok(label)
}

/// An error callback: returns the failed task's id it was given.
#[task(name = "test.failed_id", crate = canter_tasks)]
pub async fn failed_id(id: String) -> Result<String, TaskError> {
    Ok(id)
}

/// A chord's callback: the sum of its group's results.
#[task(name = "test.total", crate = canter_tasks)]
pub async fn total(values: Vec<i64>) -> Result<i64, TaskError> {
    Ok(values.iter().sum())
}

/// Every task above: what the scenarios' workers run.
pub fn registry() -> Registry {
    Registry::new()
        .register::<total>()
        .register::<failed_id>()
        .register::<limited>()
        .register::<refused>()
        .register::<folded>()
        .register::<winds_down>()
        .register::<blocking_winds_down>()
        .register::<reconnects>()
        .register::<wrong_input>()
        .register::<early>()
        .register::<early_nap>()
        .register::<add>()
        .register::<greet>()
        .register::<record>()
        .register::<whoami>()
        .register::<blocking_whoami>()
        .register::<descend>()
        .register::<retry_with_exc>()
        .register::<flaky>()
        .register::<hopeless>()
        .register::<boom>()
        .register::<too_slow>()
        .register::<checksum>()
        .register::<nap>()
}
