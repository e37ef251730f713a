//! The demo on RabbitMQ, driven from Python Celery (issue 18's contract): with `BROKER_URL`
//! set to an `amqp://` URL and `RESULT_BACKEND` to a Redis, `demo worker` takes its tasks from
//! RabbitMQ's `celery` queue, so Python's `send_task("demo.add", kwargs={"a": 2, "b": 3})` and
//! `send_task("demo.add", (2, 3))` run on it and Python's `AsyncResult.get()` returns 5.
//!
//! Needs `CANTER_TEST_AMQP_URL` (and `rabbitmqctl`: a vhost of its own), `CANTER_TEST_REDIS_URL`
//! and `CANTER_TEST_PYTHON`; skipped with a printed reason otherwise.

use std::process::{Child, Command, Stdio};

struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn python_send_task_runs_on_the_demo_worker_over_rabbitmq() {
    let Some(python) = canter::test::require_service("CANTER_TEST_PYTHON") else {
        return;
    };
    let (Some(vhost), Some(keys)) = (
        canter_test_kit::AmqpVhost::create("canter-demo"),
        canter_test_kit::RedisKeys::create("canter-demo-amqp"),
    ) else {
        return;
    };
    let dir = canter_test_kit::TempDir::new("demo-amqp");
    let mut command = Command::new(env!("CARGO_BIN_EXE_demo"));
    for (key, _) in std::env::vars() {
        if key.starts_with("CANTER_") || key == "REDIS_URL" {
            command.env_remove(key);
        }
    }
    let _worker = Running(
        command
            .args(["worker", "-c", "4"])
            .current_dir(dir.path())
            .env("RUST_LOG", "warn")
            .env("BROKER_URL", &vhost.url)
            .env("RESULT_BACKEND", keys.broker_url())
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let interop = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../canter-tasks/tests/interop"
    );
    for (producer, printed) in [
        ("send_add", "5"),
        (
            "send_kwargs",
            "5\n23\nTypeError: add() got an unexpected keyword argument 'c'",
        ),
    ] {
        let out = Command::new(&python)
            .args(["celery_app.py", producer])
            .current_dir(interop)
            .env("CANTER_AMQP", &vhost.url)
            .env("CANTER_REDIS", &keys.url)
            .env("CANTER_PREFIX", &keys.prefix)
            .env("PYTHONWARNINGS", "ignore")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "the Python producer {producer} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), printed);
    }
}

/// `RESULT_BACKEND=db`: the demo worker on RabbitMQ keeps results in the demo's database, in
/// django-celery-results' table (made by `demo migrate`), where Python's Celery on the
/// `django-db` backend reads them. Needs a `CANTER_TEST_PYTHON` with django-celery-results
/// (skipped otherwise, printing why; a failure under `CANTER_REQUIRE_SERVICES=1`).
#[test]
fn python_reads_the_demo_workers_results_from_the_database() {
    let Some(python) = canter::test::require_service("CANTER_TEST_PYTHON") else {
        return;
    };
    let has_it = Command::new(&python)
        .args(["-c", "import django_celery_results"])
        .output()
        .unwrap()
        .status
        .success();
    if !has_it {
        let why = format!("CANTER_TEST_PYTHON={python} lacks django-celery-results");
        assert!(
            std::env::var("CANTER_REQUIRE_SERVICES").as_deref() != Ok("1"),
            "{why}"
        );
        eprintln!("skipped: {why}");
        return;
    }
    let Some(vhost) = canter_test_kit::AmqpVhost::create("canter-demo-db") else {
        return;
    };
    let dir = canter_test_kit::TempDir::new("demo-amqp-db");
    let database = dir.path().join("demo.sqlite3");
    let demo = || {
        let mut command = Command::new(env!("CARGO_BIN_EXE_demo"));
        for (key, _) in std::env::vars() {
            if key.starts_with("CANTER_") || key == "REDIS_URL" {
                command.env_remove(key);
            }
        }
        command
            .current_dir(dir.path())
            .env("RUST_LOG", "warn")
            .env("DATABASE_URL", format!("sqlite://{}", database.display()));
        command
    };
    let migrated = demo().arg("migrate").output().unwrap();
    assert!(
        migrated.status.success(),
        "{}",
        String::from_utf8_lossy(&migrated.stderr)
    );
    let _worker = Running(
        demo()
            .args(["worker", "-c", "4"])
            .env("BROKER_URL", &vhost.url)
            .env("RESULT_BACKEND", "db")
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let interop = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../canter-tasks/tests/interop"
    );
    let out = Command::new(&python)
        .args(["db_results.py", "send_kwargs"])
        .current_dir(interop)
        .env("CANTER_AMQP", &vhost.url)
        .env("CANTER_DB_URL", format!("sqlite:///{}", database.display()))
        .env("PYTHONWARNINGS", "ignore")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "the Python producer failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "5");
}
