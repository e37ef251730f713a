//! The operations commands against a live `demo worker` process (embedded broker, no
//! services): `inspect workers|active|scheduled|queues|dead-letters` as tables and JSON,
//! `revoke`, `purge` (asking first, and with `-f`), `events`, and the worker's `/metrics`.

mod support;

use std::io::Write;
use std::process::{Output, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use canter::tasks::{ApplyOptions, SqliteBroker};
use serde_json::Value;
use support::{demo_command, http_get, DemoProcess};

/// `demo <args>` in `dir`, with `stdin` as its input.
fn demo(dir: &std::path::Path, args: &[&str], stdin: &str) -> Output {
    let mut child = demo_command()
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn stdout(output: &Output) -> String {
    assert!(
        output.status.success(),
        "failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn json(dir: &std::path::Path, args: &[&str]) -> Value {
    serde_json::from_str(&stdout(&demo(dir, args, ""))).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operations_commands_see_a_live_worker() {
    let mut worker = DemoProcess::spawn(
        &["worker", "-E", "-c", "2", "--metrics", "127.0.0.1:0"],
        &[],
    );
    let metrics = worker.line_after("Metrics: http://");
    let dir = worker.dir().to_owned();
    // This process enqueues into the worker's broker file, as a web process would.
    let broker = SqliteBroker::open(&format!("sqlite://{}", dir.join("tasks.sqlite3").display()))
        .await
        .unwrap();
    canter::tasks::tasks_app(Arc::new(broker))
        .scope(async move {
            let running = demo::tasks::long_running_task::delay(5).await.unwrap();
            let later = demo::tasks::add::apply_async(
                (1, 2),
                ApplyOptions {
                    countdown: Some(300.0),
                    ..Default::default()
                },
            )
            .await
            .unwrap();

            // The worker, alive, with the task running (it announces itself every two seconds).
            let deadline = Instant::now() + Duration::from_secs(20);
            let workers = loop {
                let workers = json(&dir, &["inspect", "workers", "--json"]);
                if workers[0]["active"]
                    .as_array()
                    .is_some_and(|a| a.len() == 1)
                {
                    break workers;
                }
                assert!(Instant::now() < deadline, "never busy: {workers}");
                tokio::time::sleep(Duration::from_millis(200)).await;
            };
            assert_eq!(workers.as_array().unwrap().len(), 1, "{workers}");
            assert_eq!(workers[0]["concurrency"], 2);
            assert_eq!(workers[0]["queues"], serde_json::json!(["celery"]));
            assert_eq!(workers[0]["active"][0]["id"], running.id.as_str());
            let table = stdout(&demo(&dir, &["inspect", "workers"], ""));
            assert!(
                table.starts_with("WORKER") && table.contains(" yes "),
                "{table}"
            );
            let active = stdout(&demo(&dir, &["inspect", "active"], ""));
            assert!(
                active.contains("demo.long_running_task") && active.contains(&running.id),
                "{active}"
            );
            let scheduled = json(&dir, &["inspect", "scheduled", "--json"]);
            assert_eq!(scheduled[0]["id"], later.id.as_str(), "{scheduled}");
            let queues = json(&dir, &["inspect", "queues", "--json"]);
            let celery = queues
                .as_array()
                .unwrap()
                .iter()
                .find(|q| q["name"] == "celery")
                .unwrap();
            assert_eq!(
                (celery["waiting"].as_u64(), celery["consumers"].as_u64()),
                (Some(1), Some(1))
            );
            assert_eq!(
                stdout(&demo(&dir, &["inspect", "dead-letters"], "")).trim(),
                "(none)"
            );

            // Revoke by id; purge asks first (no → nothing removed), then -f removes it.
            let revoked = stdout(&demo(&dir, &["revoke", &later.id], ""));
            assert_eq!(revoked.trim(), format!("Revoked {}.", later.id));
            let declined = stdout(&demo(&dir, &["purge"], "n\n"));
            assert!(
                declined.contains("Remove 1 waiting task(s) from celery?")
                    && declined.contains("Nothing removed."),
                "{declined}"
            );
            let purged = stdout(&demo(&dir, &["purge", "-f"], ""));
            assert_eq!(purged.trim(), "Purged 1 task(s) from celery.");
            assert_eq!(
                json(&dir, &["inspect", "scheduled", "--json"]),
                serde_json::json!([])
            );

            // The events so far, from the oldest kept: the worker came online, the task started.
            let events = stdout(&demo(
                &dir,
                &["events", "--from-start", "--count", "3", "--json"],
                "",
            ));
            let events: Vec<Value> = events
                .lines()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect();
            assert_eq!(events[0]["type"], "worker-online", "{events:?}");
            assert_eq!(events[1]["type"], "task-received", "{events:?}");
            assert_eq!(events[2]["type"], "task-started", "{events:?}");
            assert_eq!(events[2]["uuid"], running.id.as_str());

            // Prometheus metrics from the worker's endpoint.
            let addr = metrics.trim_end_matches("/metrics").to_owned();
            let response = tokio::task::spawn_blocking(move || http_get(&addr, "/metrics"))
                .await
                .unwrap();
            assert!(
                response.contains("canter_tasks_received_total{task=\"demo.long_running_task\"} 1"),
                "{response}"
            );
            assert!(response.contains("canter_tasks_active 1"), "{response}");

            // A wrong subcommand is a usage error, not a crash.
            let wrong = demo(&dir, &["inspect", "everything"], "");
            assert!(!wrong.status.success());
            assert!(String::from_utf8_lossy(&wrong.stderr).contains("unrecognized subcommand"));
        })
        .await
}
