//! Celery's remote control and events reach canter workers on Redis (issue 18): `celery
//! inspect ping / active / stats / registered / active_queues / scheduled` list a canter worker
//! and its tasks, `celery control revoke` / `terminate` / `rate_limit` / `enable_events` /
//! `shutdown` act on it, Flower 2.2's `/api/workers` lists it (and its heartbeats make it
//! alive), Flower follows its tasks from its events, and canter's `mailbox::broadcast` asks a
//! Python worker.
//!
//! Needs `CANTER_TEST_REDIS_URL` and `CANTER_TEST_PYTHON` (celery 5.5 and flower 2.2);
//! skipped with a printed reason otherwise.

use std::io::{Read, Write};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use canter_tasks::{
    task, ApplyOptions, AsyncResult, Broker, RedisBroker, Registry, TaskError, TaskStatus, Worker,
    WorkerConfig,
};
use serde_json::{json, Value};

use crate::celery_interop::{python, PythonWorker};
use crate::common;

#[task(name = "control.sleep", crate = canter_tasks)]
async fn sleep(ms: u64) -> Result<u64, TaskError> {
    tokio::time::sleep(Duration::from_millis(ms)).await;
    Ok(ms)
}

#[task(name = "control.add", crate = canter_tasks)]
async fn add(a: i64, b: i64) -> Result<i64, TaskError> {
    Ok(a + b)
}

/// What a `celery` command (`inspect ping --json …`) printed; fails the test if it failed.
async fn celery(interpreter: &str, url: &str, prefix: &str, args: &[&str]) -> String {
    let mut command = python(interpreter, url, prefix);
    command
        .args(["-m", "celery", "-A", "celery_app"])
        .args(args);
    let out = tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "celery {args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// `celery inspect <method> --json` for `node`: its reply.
async fn inspect(interpreter: &str, url: &str, prefix: &str, node: &str, method: &[&str]) -> Value {
    let mut args = vec!["inspect"];
    args.extend_from_slice(method);
    args.extend_from_slice(&["--json", "--timeout", "5", "--destination", node]);
    let printed = celery(interpreter, url, prefix, &args).await;
    let replies: Value = serde_json::from_str(&printed)
        .unwrap_or_else(|e| panic!("inspect {method:?} printed no JSON ({e}): {printed}"));
    replies[node].clone()
}

/// GET `path` from the server on `port`: the body of a 200 answer (off the runtime: the
/// worker under test answers Flower meanwhile).
async fn http_get(port: u16, path: &str) -> Option<String> {
    let path = path.to_owned();
    tokio::task::spawn_blocking(move || http_get_blocking(port, &path))
        .await
        .unwrap()
}

fn http_get_blocking(port: u16, path: &str) -> Option<String> {
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let (head, body) = response.split_once("\r\n\r\n")?;
    head.starts_with("HTTP/1.1 200").then(|| body.to_owned())
}

pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// What Flower's `path` answers as JSON, once `ready` accepts it (at most `within`).
pub(crate) async fn flower_json(
    port: u16,
    path: &str,
    within: Duration,
    ready: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + within;
    loop {
        let body = http_get(port, path).await;
        if let Some(json) = body.and_then(|b| serde_json::from_str::<Value>(&b).ok()) {
            if ready(&json) {
                return json;
            }
        }
        assert!(
            Instant::now() < deadline,
            "Flower's {path}: not within {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn celery_inspect_control_and_flower_reach_a_canter_worker() {
    let (Some(url), Some(interpreter)) = (
        canter_core::test::require_service("CANTER_TEST_REDIS_URL"),
        canter_core::test::require_service("CANTER_TEST_PYTHON"),
    ) else {
        return;
    };
    let keys = common::RedisKeys::create("canter-control").expect("the Redis URL is set");
    let prefix = keys.prefix.clone();
    let broker: Arc<dyn Broker> = Arc::new(RedisBroker::connect(&keys.broker_url()).await.unwrap());
    canter_tasks::tasks_app(broker.clone())
        .scope(async move {
            let (i, u, p) = (interpreter.as_str(), url.as_str(), prefix.as_str());
            let worker = Worker::new(
                Registry::new().register::<sleep>().register::<add>(),
                broker.clone(),
                WorkerConfig {
                    concurrency: 2,
                    ..WorkerConfig::default()
                },
            );
            let node = worker.name().to_owned();
            let running = tokio::spawn(worker.run(std::future::pending()));
            let n = node.as_str();

            assert_eq!(inspect(i, u, p, n, &["ping"]).await, json!({"ok": "pong"}));

            // A running task, listed by `inspect active`; a held one by `inspect scheduled`.
            let long = sleep::delay(30_000).await.unwrap();
            common_wait(&long, TaskStatus::Started).await;
            let active = inspect(i, u, p, n, &["active"]).await;
            assert_eq!(active[0]["id"], long.id.as_str(), "{active}");
            assert_eq!(active[0]["name"], "control.sleep");
            assert_eq!(active[0]["args"], json!([30_000]));
            let later = add::apply_async(
                (1, 2),
                ApplyOptions {
                    countdown: Some(60.0),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
            let scheduled = loop {
                let reply = inspect(i, u, p, n, &["scheduled"]).await;
                if reply.as_array().is_some_and(|l| !l.is_empty()) {
                    break reply;
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            };
            assert_eq!(
                scheduled[0]["request"]["id"],
                later.id.as_str(),
                "{scheduled}"
            );
            assert!(scheduled[0]["eta"].as_str().unwrap().ends_with("+00:00"));

            let stats = inspect(i, u, p, n, &["stats"]).await;
            assert_eq!(stats["pool"]["max-concurrency"], 2, "{stats}");
            assert_eq!(stats["broker"]["transport"], "redis");
            assert_eq!(stats["total"]["control.sleep"], 1);
            let registered = inspect(i, u, p, n, &["registered"]).await;
            assert_eq!(registered, json!(["control.add", "control.sleep"]));
            let queues = inspect(i, u, p, n, &["active_queues"]).await;
            assert_eq!(queues[0]["name"], "celery", "{queues}");

            // `control revoke` of the held task: skipped when it comes due (REVOKED).
            let revoked = celery(
                i,
                u,
                p,
                &["control", "revoke", &later.id, "--json", "--timeout", "5"],
            )
            .await;
            assert!(revoked.contains("flagged as revoked"), "{revoked}");
            assert_eq!(inspect(i, u, p, n, &["revoked"]).await, json!([later.id]));
            // `control terminate` of the running one: stopped, REVOKED.
            let terminated = celery(
                i,
                u,
                p,
                &[
                    "control",
                    "terminate",
                    "SIGTERM",
                    &long.id,
                    "--json",
                    "--timeout",
                    "5",
                ],
            )
            .await;
            assert!(
                terminated.contains(&format!("terminate: {}", long.id)),
                "{terminated}"
            );
            common_wait(&long, TaskStatus::Revoked).await;

            // `rate_limit`: shown by `registered`.
            let limited = celery(
                i,
                u,
                p,
                &[
                    "control",
                    "rate_limit",
                    "control.add",
                    "10/m",
                    "--json",
                    "--timeout",
                    "5",
                ],
            )
            .await;
            assert!(
                limited.contains("new rate limit set successfully"),
                "{limited}"
            );
            assert_eq!(
                inspect(i, u, p, n, &["registered"]).await,
                json!(["control.add [rate_limit=10/m]", "control.sleep"])
            );
            let events = celery(
                i,
                u,
                p,
                &["control", "enable_events", "--json", "--timeout", "5"],
            )
            .await;
            assert!(events.contains("task events enabled"), "{events}");

            // Flower lists the worker (from its replies) and sees it alive (from its heartbeats).
            let port = free_port();
            let _flower = PythonWorker(
                python(i, u, p)
                    .args([
                        "-m",
                        "celery",
                        "-A",
                        "celery_app",
                        "flower",
                        &format!("--port={port}"),
                        "--address=127.0.0.1",
                    ])
                    .env("FLOWER_UNAUTHENTICATED_API", "true")
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .unwrap(),
            );
            let workers = flower_json(
                port,
                "/api/workers?refresh=1",
                Duration::from_secs(90),
                |w| w.get(n).is_some(),
            )
            .await;
            assert_eq!(
                workers[n]["stats"]["pool"]["max-concurrency"], 2,
                "{workers}"
            );
            assert!(workers[n]["registered"].is_array(), "{workers}");
            flower_json(
                port,
                "/api/workers?status=1",
                Duration::from_secs(30),
                |s| s[n] == json!(true),
            )
            .await;

            // Task events in Celery's shape: Flower's event state follows a task to SUCCESS.
            let sum = add::delay(2, 3).await.unwrap();
            assert_eq!(sum.get(Duration::from_secs(10)).await.unwrap(), 5);
            let path = format!("/api/task/info/{}", sum.id);
            let task = flower_json(port, &path, Duration::from_secs(30), |t| {
                t["state"] == "SUCCESS"
            })
            .await;
            assert_eq!(
                (&task["name"], &task["worker"]),
                (&json!("control.add"), &json!(n)),
                "{task}"
            );
            assert_eq!(task["result"], "5", "{task}");

            // canter asks a Python worker.
            let python_node = format!("pyctl@{prefix}");
            let _python_worker = PythonWorker(
                python(i, u, p)
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
                        "-l",
                        "critical",
                    ])
                    .stdout(Stdio::null())
                    .stderr(Stdio::inherit())
                    .spawn()
                    .unwrap(),
            );
            let deadline = Instant::now() + Duration::from_secs(30);
            let pong = loop {
                let replies = canter_tasks::mailbox::broadcast(
                    "ping",
                    json!({}),
                    Some(vec![python_node.clone()]),
                    Duration::from_secs(1),
                )
                .await
                .unwrap();
                if let Some(reply) = replies.into_iter().find(|(node, _)| *node == python_node) {
                    break reply.1;
                }
                assert!(
                    Instant::now() < deadline,
                    "the Python worker never answered"
                );
            };
            assert_eq!(pong, json!({"ok": "pong"}));
            // canter's revoke reaches it: a task it holds for its countdown is skipped.
            let held = canter_tasks::send_task(
                "py.mul",
                json!([2, 3]),
                json!({}),
                ApplyOptions {
                    queue: Some("python".into()),
                    countdown: Some(3.0),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
            tokio::time::sleep(Duration::from_millis(500)).await;
            canter_tasks::control::revoke(&held.id).await.unwrap();
            let deadline = Instant::now() + Duration::from_secs(15);
            while held.status().await.unwrap() != TaskStatus::Revoked {
                assert!(
                    Instant::now() < deadline,
                    "the Python worker ran a revoked task"
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }

            // `control shutdown`: the worker stops.
            // (It sends no reply, as Celery's worker sends none: the command says so and fails.)
            let mut shutdown = python(i, u, p);
            shutdown.args([
                "-m",
                "celery",
                "-A",
                "celery_app",
                "control",
                "shutdown",
                "--destination",
                n,
            ]);
            tokio::task::spawn_blocking(move || shutdown.output().unwrap())
                .await
                .unwrap();
            tokio::time::timeout(Duration::from_secs(20), running)
                .await
                .expect("the worker stopped")
                .unwrap()
                .unwrap();
        })
        .await
}

/// Waits (at most 10 s) until `handle`'s task reaches `status`.
async fn common_wait<T: serde::de::DeserializeOwned>(handle: &AsyncResult<T>, status: TaskStatus) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while handle.status().await.unwrap() != status {
        assert!(
            Instant::now() < deadline,
            "{handle:?} never reached {status:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
