//! What the crash tests share: the broker file, a worker config with a short lease, and worker
//! processes that are this same test binary re-run (so a kill is of a real process).

#![allow(dead_code)]

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use canter_tasks::{task, Broker, Registry, TaskError, Worker, WorkerConfig};

/// Opens the broker at `url` (`sqlite://FILE`, `redis://…`); the test runs its code in
/// `canter_tasks::tasks_app(broker)`.
pub async fn open(url: &str) -> Arc<dyn Broker> {
    canter_tasks::open_broker(url).await.unwrap()
}

/// A worker whose leases run out one second after it dies.
pub fn short_lease(queue: &str, concurrency: usize) -> WorkerConfig {
    WorkerConfig {
        queues: vec![queue.into()],
        concurrency,
        visibility_timeout: Duration::from_secs(1),
        poll_interval: Duration::from_millis(10),
        shutdown_timeout: Duration::from_secs(1),
        ..WorkerConfig::default()
    }
}

/// A fresh directory for one test's files.
pub fn temp_dir(tag: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "canter-tasks-{tag}-{}",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A fresh directory for one test's files, removed when dropped (however the test ends).
pub struct TempDir(std::path::PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> Self {
        TempDir(temp_dir(tag))
    }

    pub fn path(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A Redis key prefix of one test's own on the Redis at `url`, its keys deleted when dropped
/// (however the test ends).
pub struct RedisKeys {
    url: String,
    prefix: String,
}

impl RedisKeys {
    pub fn new(url: &str, tag: &str) -> Self {
        let prefix = format!("{tag}-{}:", uuid::Uuid::new_v4().simple());
        RedisKeys {
            url: url.to_owned(),
            prefix,
        }
    }

    /// The URL of a Redis broker under this prefix.
    pub fn broker_url(&self) -> String {
        format!("{}?global_keyprefix={}", self.url, self.prefix)
    }
}

impl Drop for RedisKeys {
    fn drop(&mut self) {
        delete_keys(&self.url, &self.prefix);
    }
}

/// The name libtest knows test `function` of module `module` (its `module_path!()`) by:
/// the module path without the crate, then the function.
pub fn test_name(module: &str, function: &str) -> String {
    match module.split_once("::") {
        Some((_crate, path)) => format!("{path}::{function}"),
        None => function.to_owned(),
    }
}

/// Re-runs this test binary's `test` alone, with `env_key=url` (the broker's): the child takes
/// that branch and runs as a worker.
pub fn spawn_worker_process(test: &str, env_key: &str, url: &str) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args(["--exact", test, "--nocapture"])
        .env(env_key, url)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

const ALONE: &str = "CANTER_TASKS_ALONE";

/// For a test of something process-wide (the worker's metrics, counted per process as in
/// Celery): true in a process of its own, where the test goes on; elsewhere it re-runs this
/// binary filtered to `test` (its full name, [`test_name`]), checks that it ran and passed,
/// and returns false.
pub fn in_a_process_of_its_own(test: &str) -> bool {
    if std::env::var(ALONE).as_deref() == Ok(test) {
        return true;
    }
    let output = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", test, "--nocapture", "--test-threads=1"])
        .env(ALONE, test)
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
    );
    assert!(
        output.status.success() && stdout.contains("test result: ok. 1 passed"),
        "{test}, in a process of its own:\n{stdout}\n{stderr}"
    );
    false
}

/// Worker processes, killed when the test ends however it ends (no orphans).
pub struct Workers(pub Vec<Child>);

impl Drop for Workers {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

// The crash test's scenario, shared by the embedded and Redis brokers' test binaries.

const MANY: &str = "CANTER_TASKS_CHILD_MANY";

/// Whether this process is one of the crash test's doomed workers (the scenario's child branch).
pub fn is_doomed_worker() -> bool {
    std::env::var_os(MANY).is_some()
}

/// Logs its start and end (with the worker's pid) to `log`, working `ms` in between.
#[task(name = "test.logged_work", crate = canter_tasks, queue = "crash-many")]
async fn logged_work(n: u32, log: String, ms: u64) -> Result<u32, TaskError> {
    use std::io::Write;
    let line = |what: &str| {
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .unwrap();
        file.write_all(format!("{what} {n} {}\n", std::process::id()).as_bytes())
            .unwrap();
    };
    line("start");
    tokio::time::sleep(Duration::from_millis(ms)).await;
    line("end");
    Ok(n)
}

fn many_worker(broker: Arc<dyn Broker>) -> Worker {
    Worker::new(
        Registry::new().register::<logged_work>(),
        broker,
        short_lease("crash-many", 4),
    )
}

/// The crash test, on the broker at `url` (`test` is the calling test's name, re-run as the
/// doomed workers). 60 tasks, two worker processes, one of them
/// SIGKILLed every 250 ms (25 kills) and replaced. Every task completes; every task run more than
/// once was first started by a worker that was killed (at-least-once, duplicates only from
/// redelivery); the duplicates are counted and printed.
pub async fn repeated_worker_kills(test: &str, url: &str, dir: &std::path::Path) {
    if let Ok(url) = std::env::var(MANY) {
        let broker = open(&url).await;
        // Ends by itself should the parent die without killing it.
        many_worker(broker)
            .run(tokio::time::sleep(Duration::from_secs(120)))
            .await
            .unwrap();
        return;
    }
    const TASKS: u32 = 60;
    const KILLS: usize = 25;
    let log = dir.join("runs.log").display().to_string();
    let broker = open(url).await;
    canter_tasks::tasks_app(broker)
        .scope(async move {
    let mut handles = Vec::new();
    for n in 0..TASKS {
        handles.push(
            logged_work::delay(n, log.clone(), 200 + u64::from(n % 7) * 100)
                .await
                .unwrap(),
        );
    }

    let spawn = || spawn_worker_process(test, MANY, url);
    let mut workers = Workers(vec![spawn(), spawn()]);
    let mut killed = std::collections::HashSet::new();
    for kill in 0..KILLS {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let mut victim = workers.0.remove(kill % workers.0.len());
        killed.insert(victim.id());
        victim.kill().unwrap();
        victim.wait().unwrap();
        workers.0.push(spawn());
    }

    for handle in &handles {
        handle.get(Duration::from_secs(60)).await.unwrap();
    }
    drop(workers);

    // Who started each task: every start but the last must be on a worker that was killed.
    let mut starts: std::collections::HashMap<u32, Vec<u32>> = Default::default();
    for line in std::fs::read_to_string(&log).unwrap().lines() {
        let parts: Vec<&str> = line.split(' ').collect();
        if parts[0] == "start" {
            starts
                .entry(parts[1].parse().unwrap())
                .or_default()
                .push(parts[2].parse().unwrap());
        }
    }
    assert_eq!(starts.len(), TASKS as usize, "every task ran");
    let mut duplicates = 0;
    for (n, pids) in &starts {
        for pid in &pids[..pids.len() - 1] {
            assert!(
                killed.contains(pid),
                "task {n} ran again although its worker {pid} was not killed: {pids:?}"
            );
        }
        duplicates += pids.len() - 1;
    }
    println!("{TASKS} tasks, {KILLS} worker kills: 0 lost, {duplicates} re-run after their worker was killed");
        })
        .await
}

/// Deletes the keys starting with `prefix` on the Redis at `url` (a test's own prefix).
pub fn delete_keys(url: &str, prefix: &str) {
    let Ok(mut conn) = redis::Client::open(url).and_then(|c| c.get_connection()) else {
        return;
    };
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}*"))
        .query(&mut conn)
        .unwrap_or_default();
    if !keys.is_empty() {
        let _: Result<(), _> = redis::cmd("DEL").arg(keys).query(&mut conn);
    }
}
