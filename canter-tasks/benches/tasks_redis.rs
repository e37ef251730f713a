//! Task throughput and latency on the Redis broker, measured as `benches/celery_bench/bench.py`
//! measures Python Celery on the same Redis, against raw redis-rs in the same run.
//!
//! `cargo bench -p canter-tasks --bench tasks_redis` (Redis at `$CANTER_BENCH_REDIS_URL`, default
//! `redis://127.0.0.1:6379/14`, under a key prefix of its own) prints, per run and as medians (3 runs):
//! - enqueue: 10,000 `noop::delay()` one after another, tasks/s;
//! - drain: one worker *process* (this binary re-run, `-c 100`), started and connected,
//!   is told to go on the full queue (the Celery bench's `add_consumer`); the clock stops when
//!   the queue list and `unacked` are both empty (as the Celery bench's does);
//! - latency: 100 sequential `stamp::delay(now)` on the idle worker process, enqueue → start
//!   (the task body RPUSHes its start time to a list the bench BLPOPs), p50/p90/p99;
//! - reference: raw redis-rs, 10,000 sequential LPUSHes of the same envelope, then 10,000
//!   sequential RPOPs, the floor under a Redis task queue.
//!
//! `bash benches/tasks_vs_celery.sh` runs this and the Celery benchmark in one go.

mod report;

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use canter_tasks::{task, Broker, RedisBroker, Registry, TaskError, Worker, WorkerConfig};

const TASKS: usize = 10_000;
const PINGS: usize = 100;
const WORKER_ENV: &str = "CANTER_BENCH_REDIS_WORKER";

#[task(name = "bench.noop", crate = canter_tasks, ignore_result)]
async fn noop() -> Result<(), TaskError> {
    Ok(())
}

static STAMPS: tokio::sync::OnceCell<(redis::aio::MultiplexedConnection, String)> =
    tokio::sync::OnceCell::const_new();

/// Records when its body started (to a list named by the broker URL's prefix).
#[task(name = "bench.stamp", crate = canter_tasks, ignore_result)]
async fn stamp(sent: f64) -> Result<(), TaskError> {
    let started = now();
    let (conn, key) = STAMPS
        .get_or_init(|| async {
            let url = std::env::var(WORKER_ENV).unwrap();
            let (base, prefix) = url.split_once("?global_keyprefix=").unwrap();
            let conn = redis::Client::open(base)
                .unwrap()
                .get_multiplexed_async_connection()
                .await
                .unwrap();
            (conn, format!("{prefix}latency"))
        })
        .await;
    redis::cmd("RPUSH")
        .arg(key)
        .arg(format!("{sent} {started}"))
        .query_async::<()>(&mut conn.clone())
        .await
        .map_err(TaskError::failed)
}

fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

fn registry() -> Registry {
    Registry::new().register::<noop>().register::<stamp>()
}

/// The worker process: connects, waits for the go (as the Celery bench's worker idles until
/// `add_consumer`), then runs until killed.
async fn worker_process(url: &str) {
    let broker: Arc<dyn Broker> = Arc::new(RedisBroker::connect(url).await.unwrap());
    let (base, prefix) = url.split_once("?global_keyprefix=").unwrap();
    let mut conn = redis::Client::open(base)
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    redis::cmd("RPUSH")
        .arg(format!("{prefix}ready"))
        .arg(1)
        .query_async::<()>(&mut conn)
        .await
        .unwrap();
    redis::cmd("BLPOP")
        .arg(format!("{prefix}go"))
        .arg(0)
        .query_async::<()>(&mut conn)
        .await
        .unwrap();
    let config = WorkerConfig {
        concurrency: 100,
        ..WorkerConfig::default()
    };
    Worker::new(registry(), broker, config)
        .run(tokio::time::sleep(Duration::from_secs(600)))
        .await
        .unwrap();
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn int(conn: &mut redis::aio::MultiplexedConnection, command: &str, key: &str) -> i64 {
    redis::cmd(command)
        .arg(key)
        .query_async(conn)
        .await
        .unwrap()
}

// Long on purpose: one benchmark run, measured step after step, as a script.
async fn canter_run(base: &str) -> (f64, f64, f64, f64, f64) {
    let prefix = format!("canter-bench-{}:", uuid::Uuid::new_v4().simple());
    let url = format!("{base}?global_keyprefix={prefix}");
    let broker: Arc<dyn Broker> = Arc::new(RedisBroker::connect(&url).await.unwrap());
    canter_tasks::tasks_app(broker.clone())
        .scope(async move {
            let mut conn = redis::Client::open(base)
                .unwrap()
                .get_multiplexed_async_connection()
                .await
                .unwrap();

            let started = Instant::now();
            for _ in 0..TASKS {
                noop::delay().await.unwrap();
            }
            let enqueue = TASKS as f64 / started.elapsed().as_secs_f64();

            let queue = format!("{prefix}celery");
            let unacked = format!("{prefix}unacked");
            let _worker = Killed(
                Command::new(std::env::current_exe().unwrap())
                    .env(WORKER_ENV, &url)
                    .stdout(Stdio::null())
                    .spawn()
                    .unwrap(),
            );
            redis::cmd("BLPOP")
                .arg(format!("{prefix}ready"))
                .arg(30)
                .query_async::<()>(&mut conn)
                .await
                .unwrap();
            let started = Instant::now();
            redis::cmd("RPUSH")
                .arg(format!("{prefix}go"))
                .arg(1)
                .query_async::<()>(&mut conn)
                .await
                .unwrap();
            while int(&mut conn, "LLEN", &queue).await > 0
                || int(&mut conn, "HLEN", &unacked).await > 0
            {
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            let drain = TASKS as f64 / started.elapsed().as_secs_f64();

            let latency_key = format!("{prefix}latency");
            let mut latencies = Vec::new();
            for ping in 0..=PINGS {
                tokio::time::sleep(Duration::from_millis(10)).await; // idle between pings
                stamp::delay(now()).await.unwrap();
                let (_, stamped): (String, String) = redis::cmd("BLPOP")
                    .arg(&latency_key)
                    .arg(10)
                    .query_async(&mut conn)
                    .await
                    .unwrap();
                let (sent, started) = stamped.split_once(' ').unwrap();
                if ping > 0 {
                    // The first one warms up, as in the Celery bench.
                    latencies.push(
                        (started.parse::<f64>().unwrap() - sent.parse::<f64>().unwrap()) * 1000.0,
                    );
                }
            }
            latencies.sort_by(f64::total_cmp);
            let at = |q: f64| report::quantile(&latencies, q);
            let keys: Vec<String> = redis::cmd("KEYS")
                .arg(format!("{prefix}*"))
                .query_async(&mut conn)
                .await
                .unwrap();
            if !keys.is_empty() {
                redis::cmd("DEL")
                    .arg(keys)
                    .query_async::<()>(&mut conn)
                    .await
                    .unwrap();
            }
            (enqueue, drain, at(0.5), at(0.9), at(0.99))
        })
        .await
}

/// Raw redis-rs: the same envelope pushed and popped, one at a time.
async fn raw_run(base: &str) -> (f64, f64) {
    let key = format!("canter-bench-raw-{}", uuid::Uuid::new_v4().simple());
    let mut conn = redis::Client::open(base)
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let message = canter_tasks::TaskMessage {
        id: uuid::Uuid::new_v4().to_string(),
        name: "bench.noop".into(),
        queue: "celery".into(),
        priority: 0,
        args: serde_json::json!([]),
        kwargs: serde_json::json!({}),
        eta: 0.0,
        expires: None,
        retries: 0,
        embed: None,
        ..Default::default()
    };
    let (envelope, _) =
        canter_tasks::brokers::redis::celery::encode_message(&message, "gen0@bench", "r");
    let started = Instant::now();
    for _ in 0..TASKS {
        redis::cmd("LPUSH")
            .arg(&key)
            .arg(&envelope)
            .query_async::<()>(&mut conn)
            .await
            .unwrap();
    }
    let push = TASKS as f64 / started.elapsed().as_secs_f64();
    let started = Instant::now();
    while redis::cmd("RPOP")
        .arg(&key)
        .query_async::<Option<String>>(&mut conn)
        .await
        .unwrap()
        .is_some()
    {}
    let pop = TASKS as f64 / started.elapsed().as_secs_f64();
    (push, pop)
}

#[tokio::main]
async fn main() {
    if let Ok(url) = std::env::var(WORKER_ENV) {
        return worker_process(&url).await;
    }
    let base = std::env::var("CANTER_BENCH_REDIS_URL")
        .unwrap_or_else(|_| "redis://127.0.0.1:6379/14".into());
    let mut runs = Vec::new();
    for n in 1..=3 {
        let (raw_push, raw_pop) = raw_run(&base).await;
        let (enqueue, drain, p50, p90, p99) = canter_run(&base).await;
        let run = report::Run {
            enqueue,
            drain,
            p50,
            p90,
            p99,
            raw_in: raw_push,
            raw_out: raw_pop,
        };
        report::print_run(n, &run, "raw LPUSH", "raw RPOP");
        runs.push(run);
    }
    report::print_medians(&runs, "raw LPUSH", "raw RPOP");
}
