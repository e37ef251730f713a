//! Interop with real Python Celery (from PyPI) on RabbitMQ, results in one Redis (issue 18):
//! Python's `send_task("demo.add", kwargs=…)` runs on a canter worker; canter's tasks, keyword
//! arguments included, run on a Python worker; a chain crosses both and keeps one root;
//! `celery inspect` reaches the canter worker over AMQP's pidbox, Flower lists it and sees it
//! alive, and canter's broadcast reaches the Python worker.
//!
//! Needs `CANTER_TEST_AMQP_URL` (with `rabbitmqctl`: a vhost of the test's own),
//! `CANTER_TEST_REDIS_URL` and `CANTER_TEST_PYTHON`; skipped with a printed reason otherwise.

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use canter_tasks::canvas::{chain, Signature};
use canter_tasks::{
    task, AmqpBroker, ApplyOptions, Broker, RedisBroker, Registry, TaskError, Worker, WorkerConfig,
};
use serde_json::{json, Value};

use crate::celery_interop::{python, PythonWorker};
use crate::common;

#[task(name = "demo.add", crate = canter_tasks)]
async fn add(a: i64, b: i64) -> Result<i64, TaskError> {
    Ok(a + b)
}

#[task(name = "interop.lineage", bind, crate = canter_tasks)]
async fn lineage(request: canter_tasks::Request, _previous: Value) -> (Option<String>, String) {
    (request.parent_id, request.root_id)
}

static RECORDED: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

/// Notes that it ran, with `label`.
#[task(name = "interop.record", crate = canter_tasks, queue = "prio")]
fn record(label: String) {
    RECORDED.lock().unwrap().push(label);
}

/// The interop app's command, on the test's vhost.
fn on_amqp(interpreter: &str, redis: &str, prefix: &str, amqp: &str) -> Command {
    let mut command = python(interpreter, redis, prefix);
    command.env("CANTER_AMQP", amqp);
    command
}

async fn output(mut command: Command) -> String {
    let out = tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn canter_and_python_celery_share_rabbitmq() {
    let Some(interpreter) = canter_core::test::require_service("CANTER_TEST_PYTHON") else {
        return;
    };
    let (Some(vhost), Some(keys)) = (
        common::AmqpVhost::create("canter-interop"),
        common::RedisKeys::create("canter-interop-amqp"),
    ) else {
        return;
    };
    let results: Arc<dyn Broker> =
        Arc::new(RedisBroker::connect(&keys.broker_url()).await.unwrap());
    let broker: Arc<dyn Broker> = Arc::new(AmqpBroker::connect(&vhost.url, results).await.unwrap());
    let (i, r, p, a) = (
        interpreter.clone(),
        keys.url.clone(),
        keys.prefix.clone(),
        vhost.url.clone(),
    );
    let vname = vhost.name.clone();
    canter_tasks::tasks_app(broker.clone())
        .scope(async move {
            let (i, r, p, a) = (i.as_str(), r.as_str(), p.as_str(), a.as_str());
            let wait = Duration::from_secs(30);
            let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
            let worker = Worker::new(
                Registry::new().register::<add>().register::<lineage>(),
                broker.clone(),
                WorkerConfig {
                    queues: vec!["celery".into(), "rust".into()],
                    ..WorkerConfig::default()
                },
            );
            let node = worker.name().to_owned();
            let worker = tokio::spawn(worker.run(async move {
                let _ = stopped.await;
            }));

            // Python produces on RabbitMQ (positional and keyword), canter's worker runs it.
            let mut producer = on_amqp(i, r, p, a);
            producer.args(["celery_app.py", "send_add"]);
            assert_eq!(output(producer).await, "5");
            let mut producer = on_amqp(i, r, p, a);
            producer.args(["celery_app.py", "send_kwargs"]);
            assert_eq!(
                output(producer).await,
                "5\n23\nTypeError: add() got an unexpected keyword argument 'c'"
            );

            // `celery inspect` reaches the canter worker through AMQP's pidbox.
            let mut ping = on_amqp(i, r, p, a);
            ping.args([
                "-m",
                "celery",
                "-A",
                "celery_app",
                "inspect",
                "ping",
                "--json",
                "--timeout",
                "5",
                "--destination",
                &node,
            ]);
            let replies: Value = serde_json::from_str(&output(ping).await).unwrap();
            assert_eq!(replies[&node], json!({"ok": "pong"}));
            let mut registered = on_amqp(i, r, p, a);
            registered.args([
                "-m",
                "celery",
                "-A",
                "celery_app",
                "inspect",
                "registered",
                "--json",
                "--timeout",
                "5",
                "--destination",
                &node,
            ]);
            let replies: Value = serde_json::from_str(&output(registered).await).unwrap();
            assert_eq!(replies[&node], json!(["demo.add", "interop.lineage"]));

            // Flower lists the canter worker (from its replies) and sees it alive (from its
            // heartbeats on `celeryev`).
            let port = crate::celery_control::free_port();
            let _flower = PythonWorker(
                on_amqp(i, r, p, a)
                    .args(["-m", "celery", "-A", "celery_app", "flower"])
                    .arg(format!("--port={port}"))
                    .arg("--address=127.0.0.1")
                    .env("FLOWER_UNAUTHENTICATED_API", "true")
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .unwrap(),
            );
            let listed = |w: &Value| w.get(&node).is_some();
            let workers = crate::celery_control::flower_json(
                port,
                "/api/workers?refresh=1",
                Duration::from_secs(90),
                listed,
            )
            .await;
            assert_eq!(
                workers[&node]["stats"]["broker"]["transport"], "amqp",
                "{workers}"
            );
            let alive = |s: &Value| s[&node] == json!(true);
            crate::celery_control::flower_json(
                port,
                "/api/workers?status=1",
                Duration::from_secs(30),
                alive,
            )
            .await;

            // A Python worker runs canter's tasks, keyword arguments included.
            let python_node = format!("pyamqp@{}", vname);
            let _python_worker = PythonWorker(
                on_amqp(i, r, p, a)
                    .args([
                        "-m",
                        "celery",
                        "-A",
                        "celery_app",
                        "worker",
                        "-n",
                        &python_node,
                        "-Q",
                        "python",
                        "-P",
                        "solo",
                        "--without-mingle",
                        "--without-gossip",
                        "-l",
                        "critical",
                    ])
                    .stdout(Stdio::null())
                    .stderr(Stdio::inherit())
                    .spawn()
                    .unwrap(),
            );
            let to_python = ApplyOptions {
                queue: Some("python".into()),
                ..Default::default()
            };
            let product =
                canter_tasks::send_task("py.mul", json!([6]), json!({"b": 7}), to_python.clone())
                    .await
                    .unwrap();
            assert_eq!(product.get(wait).await.unwrap(), json!(42));
            let failing = canter_tasks::send_task("py.fail", json!([]), json!({}), to_python)
                .await
                .unwrap();
            match failing.get(wait).await {
                Err(TaskError::Failed { kind, message }) => {
                    assert_eq!((kind.as_str(), message.as_str()), ("ValueError", "boom"))
                }
                other => panic!("expected Python's ValueError, got {other:?}"),
            }

            // A chain across both keeps one root; each step's parent is the one before.
            let traced = chain(vec![
                Signature::new("demo.add", json!([2, 3]))
                    .queue("rust")
                    .task_id(format!("root-{}", vname)),
                Signature::new("py.mul", json!([10]))
                    .queue("python")
                    .task_id(format!("middle-{}", vname)),
                Signature::new("interop.lineage", json!([])).queue("rust"),
            ])
            .apply_async()
            .await
            .unwrap();
            assert_eq!(
                traced.get(wait).await.unwrap(),
                json!([format!("middle-{}", vname), format!("root-{}", vname)])
            );

            // canter asks the Python worker over AMQP.
            let deadline = std::time::Instant::now() + wait;
            loop {
                let replies = canter_tasks::mailbox::broadcast(
                    "ping",
                    json!({}),
                    Some(vec![python_node.clone()]),
                    Duration::from_secs(1),
                )
                .await
                .unwrap();
                if replies
                    .iter()
                    .any(|(node, reply)| *node == python_node && *reply == json!({"ok": "pong"}))
                {
                    break;
                }
                assert!(
                    std::time::Instant::now() < deadline,
                    "the Python worker never answered"
                );
            }

            let _ = stop.send(());
            worker.await.unwrap().unwrap();
        })
        .await
}

/// One priority order across both on RabbitMQ priority queues (`x-max-priority` 10 on both
/// sides): Python's `priority=9` and canter's 0 run first, in arrival order; Python's 0 and
/// canter's 9 last.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_and_canter_priorities_agree_on_rabbitmq() {
    let Some(interpreter) = canter_core::test::require_service("CANTER_TEST_PYTHON") else {
        return;
    };
    let (Some(vhost), Some(keys)) = (
        common::AmqpVhost::create("canter-priorities"),
        common::RedisKeys::create("canter-priorities"),
    ) else {
        return;
    };
    let results: Arc<dyn Broker> =
        Arc::new(RedisBroker::connect(&keys.broker_url()).await.unwrap());
    let url = format!("{}?max_priority=10", vhost.url);
    let broker: Arc<dyn Broker> = Arc::new(AmqpBroker::connect(&url, results).await.unwrap());
    let mut producer = on_amqp(&interpreter, &keys.url, &keys.prefix, &vhost.url);
    producer
        .env("CANTER_MAX_PRIORITY", "10")
        .args(["celery_app.py", "send_priorities"]);
    output(producer).await;
    canter_tasks::tasks_app(broker.clone())
        .scope(async move {
            for (label, priority) in [("rs-0", 0), ("rs-9", 9)] {
                let options = ApplyOptions {
                    priority: Some(priority),
                    ..Default::default()
                };
                record::apply_async((label.to_owned(),), options)
                    .await
                    .unwrap();
            }
            let worker = Worker::new(
                Registry::new().register::<record>(),
                broker.clone(),
                WorkerConfig {
                    queues: vec!["prio".into()],
                    concurrency: 1,
                    ..WorkerConfig::default()
                },
            );
            let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
            let running = tokio::spawn(worker.run(async move {
                let _ = stopped.await;
            }));
            let deadline = std::time::Instant::now() + Duration::from_secs(30);
            while RECORDED.lock().unwrap().len() < 5 {
                assert!(
                    std::time::Instant::now() < deadline,
                    "ran {:?}",
                    RECORDED.lock().unwrap()
                );
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            let _ = stop.send(());
            running.await.unwrap().unwrap();
        })
        .await;
    assert_eq!(
        *RECORDED.lock().unwrap(),
        ["py-9", "rs-0", "py-5", "py-0", "rs-9"]
    );
}
