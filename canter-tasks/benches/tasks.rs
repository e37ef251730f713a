//! Task throughput and latency on the embedded broker, against raw sqlx doing the same SQL on
//! the same kind of file in the same run.
//!
//! `cargo bench -p canter-tasks --bench tasks` prints, per run and as medians (3 runs):
//! - enqueue: 10,000 `noop::delay()` one after another, tasks/s;
//! - drain: one worker (concurrency 10) runs the 10,000, tasks/s (each leased, run, result
//!   stored, acked: four statements a task);
//! - latency: 100 sequential `stamp::delay(now)` on an idle worker, enqueue → start, p50/p90/p99;
//! - reference: raw sqlx, 10,000 INSERTs of the same rows, then 10,000 lease-UPDATE…RETURNING +
//!   DELETE pairs, the floor under what the broker does.

mod report;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use canter_tasks::{task, Broker, Registry, SqliteBroker, TaskError, Worker, WorkerConfig};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};

const TASKS: usize = 10_000;
const PINGS: usize = 100;

static RAN: AtomicUsize = AtomicUsize::new(0);
static LATENCIES: Mutex<Vec<f64>> = Mutex::new(Vec::new());

#[task(name = "bench.noop", crate = canter_tasks, ignore_result)]
async fn noop() -> Result<(), TaskError> {
    RAN.fetch_add(1, Ordering::Relaxed);
    Ok(())
}

#[task(name = "bench.stamp", crate = canter_tasks, ignore_result)]
async fn stamp(sent: f64) -> Result<(), TaskError> {
    LATENCIES.lock().unwrap().push((now() - sent) * 1000.0);
    Ok(())
}

fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

fn temp_file(tag: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!(
        "canter-bench-{tag}-{}.sqlite3",
        uuid::Uuid::new_v4().simple()
    ))
}

fn remove(file: &std::path::Path) {
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", file.display()));
    }
}

async fn canter_run() -> (f64, f64, f64, f64, f64) {
    let file = temp_file("canter");
    let broker: Arc<dyn Broker> = Arc::new(
        SqliteBroker::open(&format!("sqlite://{}", file.display()))
            .await
            .unwrap(),
    );
    canter_tasks::tasks_app(broker.clone())
        .scope(async move {
            RAN.store(0, Ordering::SeqCst);
            LATENCIES.lock().unwrap().clear();

            let started = Instant::now();
            for _ in 0..TASKS {
                noop::delay().await.unwrap();
            }
            let enqueue = TASKS as f64 / started.elapsed().as_secs_f64();

            let config = WorkerConfig {
                concurrency: 10,
                ..WorkerConfig::default()
            };
            let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
            let registry = Registry::new().register::<noop>().register::<stamp>();
            let started = Instant::now();
            let worker = tokio::spawn(Worker::new(registry, broker.clone(), config).run(
                async move {
                    let _ = stopped.await;
                },
            ));
            while RAN.load(Ordering::SeqCst) < TASKS
                || broker.queue_length("celery").await.unwrap() > 0
            {
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            let drain = TASKS as f64 / started.elapsed().as_secs_f64();

            for _ in 0..PINGS {
                tokio::time::sleep(Duration::from_millis(20)).await; // idle between pings
                stamp::delay(now()).await.unwrap();
            }
            while LATENCIES.lock().unwrap().len() < PINGS {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            let _ = stop.send(());
            worker.await.unwrap().unwrap();
            let mut latencies = LATENCIES.lock().unwrap().clone();
            latencies.sort_by(f64::total_cmp);
            let at = |q: f64| report::quantile(&latencies, q);
            remove(&file);
            (enqueue, drain, at(0.5), at(0.9), at(0.99))
        })
        .await
}

/// The same rows and statements with raw sqlx: the floor.
async fn raw_run() -> (f64, f64) {
    let file = temp_file("raw");
    let options = SqliteConnectOptions::new()
        .filename(&file)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        // As the broker's: WAL, synchronous NORMAL, one writer connection.
        .synchronous(sqlx::sqlite::SqliteSynchronous::Normal);
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(options)
        .await
        .unwrap();
    sqlx::raw_sql(
        "CREATE TABLE q (id TEXT PRIMARY KEY, name TEXT NOT NULL, queue TEXT NOT NULL, priority INTEGER NOT NULL,
         args TEXT NOT NULL, eta REAL NOT NULL, expires REAL, retries INTEGER NOT NULL, lease TEXT, lease_until REAL, created REAL NOT NULL);
         CREATE INDEX q_due ON q (queue, eta);",
    )
    .execute(&pool)
    .await
    .unwrap();
    let started = Instant::now();
    for _ in 0..TASKS {
        sqlx::query("INSERT INTO q (id, name, queue, priority, args, eta, expires, retries, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)")
            .bind(uuid::Uuid::new_v4().to_string())
            .bind("bench.noop")
            .bind("celery")
            .bind(0i64)
            .bind("[]")
            .bind(now())
            .bind(None::<f64>)
            .bind(0i64)
            .bind(now())
            .execute(&pool)
            .await
            .unwrap();
    }
    let insert = TASKS as f64 / started.elapsed().as_secs_f64();
    let started = Instant::now();
    loop {
        let row: Option<(String,)> = sqlx::query_as(
            "UPDATE q SET lease = 'w', lease_until = ? WHERE id = (SELECT id FROM q WHERE queue = 'celery' AND eta <= ? AND lease_until IS NULL
             ORDER BY priority DESC, eta, created LIMIT 1) RETURNING id",
        )
        .bind(now() + 60.0)
        .bind(now())
        .fetch_optional(&pool)
        .await
        .unwrap();
        let Some((id,)) = row else { break };
        sqlx::query("DELETE FROM q WHERE id = ?")
            .bind(id)
            .execute(&pool)
            .await
            .unwrap();
    }
    let take = TASKS as f64 / started.elapsed().as_secs_f64();
    pool.close().await;
    remove(&file);
    (insert, take)
}

#[tokio::main]
async fn main() {
    let mut runs = Vec::new();
    for n in 1..=3 {
        let (raw_insert, raw_take) = raw_run().await;
        let (enqueue, drain, p50, p90, p99) = canter_run().await;
        let run = report::Run {
            enqueue,
            drain,
            p50,
            p90,
            p99,
            raw_in: raw_insert,
            raw_out: raw_take,
        };
        report::print_run(n, &run, "raw sqlx insert", "raw sqlx lease+delete");
        runs.push(run);
    }
    report::print_medians(&runs, "raw sqlx insert", "raw sqlx lease+delete");
}
