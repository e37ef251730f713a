//! The crash test on the embedded broker: many tasks, worker processes SIGKILLed over and
//! over. Its own test binary: the broker is process-wide, so it must not share a process with
//! another test's broker.
//!
//! The test re-runs its own binary as the doomed workers (`CANTER_TASKS_CHILD_MANY` set).

mod common;

use std::sync::Arc;
use std::time::Duration;

use canter_tasks::{task, Broker, Registry, TaskError, Worker};

const MANY: &str = "CANTER_TASKS_CHILD_MANY";

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
        common::short_lease("crash-many", 4),
    )
}

/// 60 tasks, two worker processes, one of them
/// SIGKILLed every 250 ms (25 kills) and replaced. Every task completes; every task run more than
/// once was first started by a worker that was killed (at-least-once, duplicates only from
/// redelivery); the duplicates are counted and printed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_worker_kills_lose_no_task() {
    if let Ok(file) = std::env::var(MANY) {
        let broker = common::open(&file).await;
        // Ends by itself should the parent die without killing it.
        many_worker(broker)
            .run(tokio::time::sleep(Duration::from_secs(120)))
            .await
            .unwrap();
        return;
    }
    const TASKS: u32 = 60;
    const KILLS: usize = 25;
    let dir = common::temp_dir("kills");
    let file = dir.join("broker.sqlite3").display().to_string();
    let log = dir.join("runs.log").display().to_string();
    common::open(&file).await;
    let mut handles = Vec::new();
    for n in 0..TASKS {
        handles.push(
            logged_work::delay(n, log.clone(), 200 + u64::from(n % 7) * 100)
                .await
                .unwrap(),
        );
    }

    let spawn = || common::spawn_worker_process("repeated_worker_kills_lose_no_task", MANY, &file);
    let mut workers = common::Workers(vec![spawn(), spawn()]);
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
    let _ = std::fs::remove_dir_all(&dir);
}
