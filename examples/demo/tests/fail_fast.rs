//! A configured Redis that cannot be reached stops the demo at start-up with an error naming the
//! setting and the address, within 10 s, rather than the process falling back to a private
//! in-memory layer or broker (a split brain across processes). The schema commands need no
//! broker and still run.

mod support;

use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// The demo binary in a scratch directory, with `env` and the developer's `CANTER_*` and
/// `REDIS_URL` removed.
fn demo(args: &[&str], env: &[(&str, &str)]) -> (Output, Duration, std::path::PathBuf) {
    let dir = std::env::temp_dir().join(format!("demo-fail-fast-{}", support::unique()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_demo"));
    for (key, _) in std::env::vars() {
        if key.starts_with("CANTER_") || key == "REDIS_URL" {
            command.env_remove(key);
        }
    }
    command
        .args(args)
        .envs(env.iter().copied())
        .env("RUST_LOG", "warn")
        .env(
            "DATABASE_URL",
            format!("sqlite://{}", dir.join("db.sqlite3").display()),
        )
        .current_dir(&dir);
    let started = Instant::now();
    let output = command.output().expect("the demo binary runs");
    (output, started.elapsed(), dir)
}

/// A local port nothing listens on: connections to it are refused at once.
fn refused_url() -> (String, String) {
    let port = canter::test::spare_port();
    let address = format!("127.0.0.1:{port}");
    (format!("redis://{address}"), address)
}

fn assert_failed_naming(output: &Output, took: Duration, setting: &str, address: &str) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "exits non-zero: {stderr}");
    assert!(took < Duration::from_secs(10), "took {took:?}: {stderr}");
    assert!(stderr.contains(setting), "names {setting}: {stderr}");
    assert!(stderr.contains(address), "names {address}: {stderr}");
}

#[test]
fn runserver_with_an_unreachable_redis_url_stops_naming_it() {
    let (url, address) = refused_url();
    let (output, took, _) = demo(&["runserver", "127.0.0.1:0"], &[("REDIS_URL", &url)]);
    // The channel layer is the first part to need it.
    assert_failed_naming(&output, took, "REDIS_URL", &address);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("channel layer"), "{stderr}");
}

#[test]
fn a_worker_with_an_unreachable_task_broker_stops_naming_the_setting() {
    let (url, address) = refused_url();
    let (output, took, _) = demo(&["worker"], &[("CANTER_TASKS__BROKER", &url)]);
    assert_failed_naming(&output, took, "[tasks] broker", &address);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("task broker"), "{stderr}");
}

#[test]
fn a_redis_that_never_answers_stops_the_start_within_ten_seconds() {
    // A TEST-NET-1 address (RFC 5737): routed nowhere, so a connection hangs (or is refused by
    // the network at once); either way the start ends within the limit, naming the address.
    let (output, took, _) = demo(
        &["worker"],
        &[("CANTER_TASKS__BROKER", "redis://192.0.2.1:6379")],
    );
    assert_failed_naming(&output, took, "[tasks] broker", "192.0.2.1:6379");
}

#[test]
fn schema_commands_need_no_broker() {
    let (url, _) = refused_url();
    for command in ["check", "migrate"] {
        let (output, _, dir) = demo(&[command], &[("REDIS_URL", &url)]);
        assert!(
            output.status.success(),
            "{command}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(
            !dir.join("tasks.sqlite3").exists(),
            "{command} opened no broker"
        );
    }
}
