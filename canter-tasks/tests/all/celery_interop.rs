//! Interop with real Python Celery (from PyPI) on one Redis: a Python `send_task("demo.add",
//! (2, 3))` — or with `kwargs={"a": 2, "b": 3}` — runs on a canter worker and Python's
//! `AsyncResult.get()` returns 5; canter enqueues tasks a Python Celery worker runs (keyword
//! arguments included), and canter's result handle returns their value — or their failure, with
//! the Python exception's type and message.
//!
//! Needs `CANTER_TEST_REDIS_URL` and `CANTER_TEST_PYTHON` (a Python with `celery[redis]`;
//! `.ci/run` makes one); skipped with a printed reason otherwise. Both sides use the test's own
//! kombu `global_keyprefix`, so the default queue `celery` is the test's alone.

use crate::common;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use canter_tasks::canvas::{chain, Signature};
use canter_tasks::{
    task, ApplyOptions, AsyncResult, Broker, RedisBroker, Registry, TaskError, Worker, WorkerConfig,
};
use serde_json::json;

/// canter's side of `demo.add`, as the demo app defines it.
#[task(name = "demo.add", crate = canter_tasks)]
async fn add(a: i64, b: i64) -> Result<i64, TaskError> {
    Ok(a + b)
}

/// Its request's parent and root ids (a chain step: the previous result is ignored).
#[task(name = "interop.lineage", bind, crate = canter_tasks)]
async fn lineage(
    request: canter_tasks::Request,
    _previous: serde_json::Value,
) -> (Option<String>, String) {
    (request.parent_id, request.root_id)
}

/// A chord's callback: the sum of its members' results.
#[task(name = "interop.total", crate = canter_tasks)]
async fn total(values: Vec<i64>) -> Result<i64, TaskError> {
    Ok(values.iter().sum())
}

/// An error callback: the failed task's id it was given.
#[task(name = "interop.failed_id", crate = canter_tasks)]
async fn failed_id(id: String) -> Result<String, TaskError> {
    Ok(id)
}

pub(crate) fn interop_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/interop")
}

/// A Python command in the interop directory, with the test's Redis and prefix.
pub(crate) fn python(python: &str, url: &str, prefix: &str) -> Command {
    let mut command = Command::new(python);
    command
        .current_dir(interop_dir())
        .env("CANTER_REDIS", url)
        .env("CANTER_PREFIX", prefix)
        // Celery warns about running as root (CI does); nothing to act on here.
        .env("PYTHONWARNINGS", "ignore");
    command
}

/// Runs one of celery_app.py's producers (`send_add`, …) and returns what it printed.
async fn produce(interpreter: &str, url: &str, prefix: &str, producer: &str) -> String {
    let mut command = python(interpreter, url, prefix);
    command.args(["celery_app.py", producer]);
    let out = tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "the Python producer {producer} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// A Python Celery worker, stopped when dropped.
pub(crate) struct PythonWorker(pub(crate) Child);

impl Drop for PythonWorker {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn canter_and_python_celery_share_queues_and_results() {
    let (Some(url), Some(interpreter)) = (
        canter_core::test::require_service("CANTER_TEST_REDIS_URL"),
        canter_core::test::require_service("CANTER_TEST_PYTHON"),
    ) else {
        return;
    };
    let check = Command::new(&interpreter)
        .args(["-c", "import celery, redis"])
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "CANTER_TEST_PYTHON={interpreter} lacks celery[redis] (pip install 'celery[redis]'): {}",
        String::from_utf8_lossy(&check.stderr)
    );
    // The test's keys, deleted however it ends.
    let keys = common::RedisKeys::create("canter-interop").expect("the Redis URL is set");
    let prefix = keys.prefix.clone();
    let broker: Arc<dyn Broker> = Arc::new(RedisBroker::connect(&keys.broker_url()).await.unwrap());
    canter_tasks::tasks_app(broker.clone())
        .scope(async move {
            let wait = Duration::from_secs(30);

            // Python produces, canter's worker runs it, Python reads the result.
            let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
            let worker = tokio::spawn(
                Worker::new(
                    Registry::new().register::<add>(),
                    broker.clone(),
                    WorkerConfig::default(),
                )
                .run(async move {
                    let _ = stopped.await;
                }),
            );
            assert_eq!(produce(&interpreter, &url, &prefix, "send_add").await, "5");
            // Keyword arguments from Python: by name, mixed, and a call that does not fit,
            // whose FAILURE Python rebuilds as a TypeError worded as its own.
            assert_eq!(
                produce(&interpreter, &url, &prefix, "send_kwargs").await,
                "5\n23\nTypeError: add() got an unexpected keyword argument 'c'"
            );
            let _ = stop.send(());
            worker.await.unwrap().unwrap();

            // canter produces, a Python Celery worker runs it, canter reads the result.
            let _python_worker = PythonWorker(
                python(&interpreter, &url, &prefix)
                    .args([
                        "-m",
                        "celery",
                        "-A",
                        "celery_app",
                        "worker",
                        "-Q",
                        "celery,python",
                        "-P",
                        "solo",
                        "--without-heartbeat",
                        "--without-gossip",
                        "--without-mingle",
                        "-l",
                        "critical",
                    ])
                    .stdout(Stdio::null())
                    .stderr(Stdio::inherit())
                    .spawn()
                    .unwrap(),
            );
            let product = canter_tasks::enqueue(
                "py.mul",
                &Default::default(),
                json!([6, 7]),
                ApplyOptions::default(),
            )
            .await
            .unwrap();
            assert_eq!(
                AsyncResult::<i64>::new(&product).get(wait).await.unwrap(),
                42
            );
            // Keyword arguments to Python: `mul(a=6, b=7)` and `mul(6, b=8)`.
            for (args, kwargs, expected) in [
                (json!([]), json!({"a": 6, "b": 7}), 42),
                (json!([6]), json!({"b": 8}), 48),
            ] {
                let sent = canter_tasks::send_task("py.mul", args, kwargs, ApplyOptions::default())
                    .await
                    .unwrap();
                assert_eq!(sent.get(wait).await.unwrap(), json!(expected));
            }

            // With a countdown and a priority: Python honours canter's ETA and priority sub-queue.
            let started = std::time::Instant::now();
            let later = canter_tasks::enqueue(
                "py.mul",
                &Default::default(),
                json!([2, 21]),
                ApplyOptions {
                    countdown: Some(1.0),
                    priority: Some(6),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
            assert_eq!(AsyncResult::<i64>::new(&later).get(wait).await.unwrap(), 42);
            assert!(
                started.elapsed() >= Duration::from_millis(900),
                "{:?}",
                started.elapsed()
            );

            // A Python task's failure, read by canter with the exception's type and message.
            let failing = canter_tasks::enqueue(
                "py.fail",
                &Default::default(),
                json!([]),
                ApplyOptions::default(),
            )
            .await
            .unwrap();
            match AsyncResult::<()>::new(&failing).get(wait).await {
                Err(TaskError::Failed { kind, message }) => {
                    assert_eq!((kind.as_str(), message.as_str()), ("ValueError", "boom"))
                }
                other => panic!("expected Python's ValueError, got {other:?}"),
            }

            // A chain across both: canter's demo.add (queue `rust`) → Python's py.mul (queue
            // `python`) → canter's demo.add again. Each worker sends the next step itself, from the
            // message's `embed.chain`: (2 + 3) × 10 + 1.
            let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
            let rust_worker = tokio::spawn(
                Worker::new(
                    Registry::new()
                        .register::<add>()
                        .register::<failed_id>()
                        .register::<lineage>()
                        .register::<total>(),
                    broker.clone(),
                    WorkerConfig {
                        queues: vec!["rust".into()],
                        ..WorkerConfig::default()
                    },
                )
                .run(async move {
                    let _ = stopped.await;
                }),
            );
            let mixed = chain(vec![
                Signature::new("demo.add", json!([2, 3])).queue("rust"),
                Signature::new("py.mul", json!([10])).queue("python"),
                Signature::new("demo.add", json!([1])).queue("rust"),
            ])
            .apply_async()
            .await
            .unwrap();
            assert_eq!(mixed.get(wait).await.unwrap(), json!(51));
            // Parent and root ids cross both ways as Celery's headers: the Python step read the
            // root canter sent, and sent the last step as its parent with that root.
            let traced = chain(vec![
                Signature::new("demo.add", json!([2, 3]))
                    .queue("rust")
                    .task_id(format!("root-{prefix}")),
                Signature::new("py.mul", json!([10]))
                    .queue("python")
                    .task_id(format!("middle-{prefix}")),
                Signature::new("interop.lineage", json!([])).queue("rust"),
            ])
            .apply_async()
            .await
            .unwrap();
            assert_eq!(
                traced.get(wait).await.unwrap(),
                json!([format!("middle-{prefix}"), format!("root-{prefix}")])
            );

            // Callbacks across both, in protocol v2's `embed.callbacks` / `embed.errbacks`: canter's
            // task links to Python's, Python's failure calls canter's error callback with its id, and
            // a Python producer's `link` is sent on by canter's worker.
            let linked = Signature::new("demo.add", json!([4, 5]))
                .queue("rust")
                .link(
                    Signature::new("py.mul", json!([3]))
                        .queue("python")
                        .task_id("cb-mul"),
                )
                .apply_async()
                .await
                .unwrap();
            assert_eq!(linked.get(wait).await.unwrap(), json!(9));
            assert_eq!(
                AsyncResult::<i64>::new("cb-mul").get(wait).await.unwrap(),
                27
            );
            let failing = Signature::new("py.fail", json!([]))
                .queue("python")
                .link_error(
                    Signature::new("interop.failed_id", json!([]))
                        .queue("rust")
                        .task_id("cb-failed"),
                )
                .apply_async()
                .await
                .unwrap();
            assert!(failing.get(wait).await.is_err());
            assert_eq!(
                AsyncResult::<String>::new("cb-failed")
                    .get(wait)
                    .await
                    .unwrap(),
                failing.id,
                "Python's worker sent canter's error callback with the failed task's id"
            );
            assert_eq!(
                produce(&interpreter, &url, &prefix, "send_linked").await,
                "50"
            );

            // Chords across both, by Celery's chord counter on Redis: Python's chord with a
            // canter member and callback, and canter's with a Python member and callback.
            assert_eq!(
                produce(&interpreter, &url, &prefix, "send_chord").await,
                "8"
            );
            let gathered = canter_tasks::canvas::chord(
                canter_tasks::canvas::group(vec![
                    Signature::new("py.mul", json!([2, 3])).queue("python"),
                    Signature::new("demo.add", json!([1, 1])).queue("rust"),
                ]),
                Signature::new("py.sum", json!([])).queue("python"),
            )
            .apply_async()
            .await
            .unwrap();
            assert_eq!(gathered.get(wait).await.unwrap(), json!(8));
            let _ = stop.send(());
            rust_worker.await.unwrap().unwrap();
        })
        .await
}
