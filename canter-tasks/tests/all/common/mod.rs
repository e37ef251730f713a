//! What the crash tests share: the broker file, a worker config with a short lease, and worker
//! processes that are this same test binary re-run (so a kill is of a real process).

#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use canter_tasks::{task, Broker, Registry, TaskError, Worker, WorkerConfig};

#[cfg(feature = "amqp")]
pub use canter_test_kit::AmqpVhost;
pub use canter_test_kit::{
    in_a_process_of_its_own, spawn_test_process as spawn_worker_process, test_name,
    Children as Workers, RedisKeys, TempDir,
};

/// Opens the broker at `url` (`sqlite://FILE`, `redis://…`, or `amqp://…|BACKEND`: RabbitMQ
/// with its result backend, so a worker process gets both in one variable); the test runs its
/// code in `canter_tasks::tasks_app(broker)`.
pub async fn open(url: &str) -> Arc<dyn Broker> {
    match url.split_once('|') {
        Some((broker, backend)) => {
            let limit = canter_tasks::DEFAULT_MAX_MESSAGE_SIZE;
            canter_tasks::open_broker_with_backend(broker, Some(backend), limit)
                .await
                .unwrap()
        }
        None => canter_tasks::open_broker(url).await.unwrap(),
    }
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
