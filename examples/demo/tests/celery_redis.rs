//! The demo on Redis, driven from Python Celery: with `REDIS_URL` set, `demo worker` takes its
//! tasks from that Redis, on Celery's default queue, so a Python `app.send_task("demo.add",
//! (2, 3))` needs no routing and Python's `AsyncResult.get()` returns 5.
//!
//! Needs `CANTER_TEST_REDIS_URL` and `CANTER_TEST_PYTHON` (with `celery[redis]`; `.ci/run`
//! makes one); skipped with a printed reason otherwise.

use std::process::{Child, Command, Stdio};

struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn python_send_task_runs_on_the_demo_worker() {
    let (Some(redis), Some(python)) = (
        canter::test::require_service("CANTER_TEST_REDIS_URL"),
        canter::test::require_service("CANTER_TEST_PYTHON"),
    ) else {
        return;
    };
    let prefix = format!("canter-demo-{}:", uuid::Uuid::new_v4().simple());
    let dir = std::env::temp_dir().join(prefix.trim_end_matches(':'));
    std::fs::create_dir_all(&dir).unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_demo"));
    for (key, _) in std::env::vars() {
        if key.starts_with("CANTER_") {
            command.env_remove(key);
        }
    }
    let _worker = Running(
        command
            .args(["worker", "-c", "4"])
            .current_dir(&dir)
            .env("RUST_LOG", "warn")
            .env("REDIS_URL", format!("{redis}?global_keyprefix={prefix}"))
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let interop = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../canter-tasks/tests/interop"
    );
    let out = Command::new(&python)
        .args(["celery_app.py", "send_add"])
        .current_dir(interop)
        .env("CANTER_REDIS", &redis)
        .env("CANTER_PREFIX", &prefix)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "the Python producer failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "5");

    drop(_worker);
    let _ = std::fs::remove_dir_all(&dir);
    if let Ok(mut conn) = redis::Client::open(redis.as_str()).and_then(|c| c.get_connection()) {
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg(format!("{prefix}*"))
            .query(&mut conn)
            .unwrap_or_default();
        if !keys.is_empty() {
            let _: Result<(), _> = redis::cmd("DEL").arg(keys).query(&mut conn);
        }
    }
}
