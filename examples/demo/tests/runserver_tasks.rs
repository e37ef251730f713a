//! runserver and its tasks, as a user runs it: SIGTERM lets the in-process worker's running
//! task finish (a second SIGTERM cuts it: cold shutdown, as with `demo worker`), and with
//! REDIS_URL set, where no worker runs in runserver, the log says where tasks go and which
//! command runs them.

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use canter::tasks::{ResultBackend, SqliteBroker, TaskStatus};
use serde_json::Value;

/// `demo …` in a directory of its own (its SQLite files land there), stdout and stderr (the
/// log) read line by line; killed and its directory removed on drop.
struct Demo {
    child: Child,
    dir: std::path::PathBuf,
    lines: mpsc::Receiver<String>,
    /// Every line so far, stdout and log.
    output: Arc<Mutex<String>>,
    addr: String,
}

impl Demo {
    /// `demo runserver 127.0.0.1:0`, once it says where it serves.
    fn runserver(env: &[(&str, &str)]) -> Demo {
        let mut server = Demo::spawn(&["runserver", "127.0.0.1:0"], env, None);
        let started = server.line_with("Starting server at http://");
        server.addr = started
            .rsplit("http://")
            .next()
            .unwrap()
            .trim_end_matches('/')
            .to_owned();
        server
    }

    /// `demo <args>` in `dir` (default: a new one), logging at INFO.
    fn spawn(args: &[&str], env: &[(&str, &str)], dir: Option<std::path::PathBuf>) -> Demo {
        let dir = dir.unwrap_or_else(|| {
            std::env::temp_dir().join(format!("demo-runserver-{}", support::unique()))
        });
        std::fs::create_dir_all(&dir).unwrap();
        let mut child = support::demo_command()
            .args(args)
            .env("RUST_LOG", "info")
            .envs(env.iter().copied())
            .current_dir(&dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (tx, lines) = mpsc::channel();
        let output = Arc::new(Mutex::new(String::new()));
        let stdout: Box<dyn Read + Send> = Box::new(child.stdout.take().unwrap());
        let stderr: Box<dyn Read + Send> = Box::new(child.stderr.take().unwrap());
        for stream in [stdout, stderr] {
            let (tx, output) = (tx.clone(), output.clone());
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    output.lock().unwrap().push_str(&format!("{line}\n"));
                    let _ = tx.send(line);
                }
            });
        }
        Demo {
            child,
            dir,
            lines,
            output,
            addr: String::new(),
        }
    }

    /// The first line from now on that contains `text` (panics after 30 s).
    fn line_with(&mut self, text: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if line.contains(text) => return line,
                Ok(_) => {}
                Err(_) => panic!(
                    "no line with {text:?} (exit status {:?}):\n{}",
                    self.child.try_wait(),
                    self.output()
                ),
            }
        }
    }

    fn output(&self) -> String {
        self.output.lock().unwrap().clone()
    }

    /// The line of the output so far (or within 30 s) that contains `text`.
    fn logged(&self, text: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(line) = self.output().lines().find(|l| l.contains(text)) {
                return line.to_owned();
            }
            assert!(
                Instant::now() < deadline,
                "no line with {text:?}:\n{}",
                self.output()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn sigterm(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// The exit status, once the process has exited (panics if it has not within `limit`).
    fn exited_within(&mut self, limit: Duration) -> ExitStatus {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "still running {limit:?} after the signal:\n{}",
                self.output()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Enqueues `demo.long_running_task` for `seconds` and waits until the in-process worker
    /// has started it: its id.
    fn start_task(&self, seconds: u64) -> String {
        let (status, body) = request(
            &self.addr,
            &format!("POST /tasks/long-running/?seconds={seconds}"),
        );
        assert_eq!(status, 202, "{body}");
        let id = body["task_id"].as_str().unwrap().to_owned();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let (_, state) = request(&self.addr, &format!("GET /tasks/{id}/"));
            if state["status"] == "STARTED" {
                return id;
            }
            assert!(Instant::now() < deadline, "the task never started: {state}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The task's state in the embedded broker the process wrote.
    fn task_state(&self, id: &str) -> Option<TaskStatus> {
        task_state(&self.dir, id)
    }
}

/// A task's state in the embedded broker in `dir`.
fn task_state(dir: &std::path::Path, id: &str) -> Option<TaskStatus> {
    let url = format!("sqlite://{}", dir.join("tasks.sqlite3").display());
    let id = id.to_owned();
    support::block_on(async move {
        let broker = SqliteBroker::open(&url).await.unwrap();
        broker.get_result(&id).await.unwrap().map(|r| r.status)
    })
}

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// `METHOD PATH` over a fresh connection: the status and the JSON body.
fn request(addr: &str, method_and_path: &str) -> (u16, Value) {
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "{method_and_path} HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = response.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

#[test]
fn sigterm_lets_the_in_process_workers_running_task_finish() {
    let mut server = Demo::runserver(&[]);
    let id = server.start_task(3);
    server.sigterm();
    let status = server.exited_within(Duration::from_secs(30));
    assert!(
        status.success(),
        "exit status {status}:\n{}",
        server.output()
    );
    assert_eq!(
        server.task_state(&id),
        Some(TaskStatus::Success),
        "the running task finished and its result was stored:\n{}",
        server.output()
    );
    assert!(
        server.output().contains("warm shutdown"),
        "{}",
        server.output()
    );
}

#[test]
fn a_second_sigterm_is_a_cold_shutdown() {
    let mut server = Demo::runserver(&[]);
    let id = server.start_task(60);
    server.sigterm();
    server.line_with("warm shutdown");
    server.sigterm();
    // Long before the task (60 s) or the server's shutdown timeout (30 s) would end.
    let status = server.exited_within(Duration::from_secs(15));
    assert!(
        status.success(),
        "exit status {status}:\n{}",
        server.output()
    );
    let output = server.output();
    assert!(output.contains("cold shutdown"), "{output}");
    // Cut, not finished: the task goes back to the queue for the next worker.
    assert_ne!(server.task_state(&id), Some(TaskStatus::Success));
}

#[test]
fn the_wait_is_bounded_by_the_servers_shutdown_timeout() {
    let mut server = Demo::runserver(&[("CANTER_SERVER__SHUTDOWN_TIMEOUT", "1")]);
    let id = server.start_task(60);
    server.sigterm();
    let status = server.exited_within(Duration::from_secs(20));
    assert!(
        status.success(),
        "exit status {status}:\n{}",
        server.output()
    );
    assert_ne!(server.task_state(&id), Some(TaskStatus::Success));
}

#[test]
fn a_second_sigterm_makes_demo_workers_shutdown_cold() {
    let dir = std::env::temp_dir().join(format!("demo-worker-{}", support::unique()));
    std::fs::create_dir_all(&dir).unwrap();
    let url = format!("sqlite://{}", dir.join("tasks.sqlite3").display());
    let id = support::block_on(async move {
        let broker = std::sync::Arc::new(SqliteBroker::open(&url).await.unwrap());
        canter::tasks::tasks_app(broker)
            .scope(demo::tasks::long_running_task::delay(60))
            .await
            .unwrap()
            .id
    });
    let mut worker = Demo::spawn(&["worker"], &[], Some(dir.clone()));
    let deadline = Instant::now() + Duration::from_secs(20);
    while task_state(&dir, &id) != Some(TaskStatus::Started) {
        assert!(
            Instant::now() < deadline,
            "never started:\n{}",
            worker.output()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    worker.sigterm();
    worker.line_with("warm shutdown");
    worker.sigterm();
    // Long before the task (60 s) or the worker's shutdown timeout (30 s) would end.
    let status = worker.exited_within(Duration::from_secs(15));
    assert!(
        status.success(),
        "exit status {status}:\n{}",
        worker.output()
    );
    assert!(
        worker.output().contains("cold shutdown"),
        "{}",
        worker.output()
    );
}

#[test]
fn with_redis_url_runserver_says_where_tasks_go_and_what_runs_them() {
    let Some(redis) = canter::test::require_service("CANTER_TEST_REDIS_URL") else {
        return;
    };
    let mut server = Demo::runserver(&[("REDIS_URL", &redis)]);
    // Said at start-up, before the server's address.
    let line = server.logged("run `demo worker` to process them");
    assert!(line.contains("WARN"), "{line}");
    assert!(line.contains("tasks go to Redis at redis://"), "{line}");
    server.sigterm();
    let status = server.exited_within(Duration::from_secs(15));
    assert!(
        status.success(),
        "exit status {status}:\n{}",
        server.output()
    );
}
