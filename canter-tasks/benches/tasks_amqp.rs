//! Task throughput and latency on RabbitMQ, measured as `benches/celery_bench/bench.py`
//! measures Python Celery on the same RabbitMQ (`bash benches/tasks_vs_celery_amqp.sh` runs
//! both on a vhost of their own).
//!
//! `CANTER_BENCH_AMQP_URL=amqp://guest:guest@127.0.0.1:5672/VHOST cargo bench -p canter-tasks
//! --features amqp --bench tasks_amqp` (Redis at `$CANTER_BENCH_REDIS_URL`, default
//! `redis://127.0.0.1:6379/14`, keeps the broker's coordination records under a key prefix of
//! its own, and the latency stamps) prints, per run and as medians (3 runs):
//! - enqueue: 10,000 `noop::delay()` one after another, tasks/s;
//! - drain: one worker *process* (this binary re-run, `-c 100`), started and connected, is told
//!   to go on the full queue (the Celery bench's `add_consumer`); the clock stops when the
//!   queue holds no ready message (a passive `queue.declare`'s count, polled as the Celery
//!   bench polls it);
//! - latency: 100 sequential `stamp::delay(now)` on the idle worker process, enqueue → start
//!   (the body RPUSHes its start time to a Redis list the bench BLPOPs), p50/p90/p99;
//! - reference: raw lapin, 10,000 sequential confirmed publishes of a persistent message of
//!   a task body's size to a (not durable) queue of its own, then 10,000 sequential `basic.get`s with acks: the floor under a RabbitMQ queue.

mod report;

use std::io::{BufRead, Write};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use canter_tasks::{task, Broker, Registry, TaskError, Worker, WorkerConfig};
use lapin::options::{
    BasicAckOptions, BasicGetOptions, BasicPublishOptions, ConfirmSelectOptions,
    QueueDeclareOptions, QueueDeleteOptions,
};
use lapin::types::FieldTable;

const TASKS: usize = 10_000;
const PINGS: usize = 100;
const WORKER_ENV: &str = "CANTER_BENCH_AMQP_WORKER";

#[task(name = "bench.noop", crate = canter_tasks, ignore_result)]
async fn noop() -> Result<(), TaskError> {
    Ok(())
}

static STAMPS: tokio::sync::OnceCell<(redis::aio::MultiplexedConnection, String)> =
    tokio::sync::OnceCell::const_new();

/// Records when its body started (to the Redis list the bench named).
#[task(name = "bench.stamp", crate = canter_tasks, ignore_result)]
async fn stamp(sent: f64) -> Result<(), TaskError> {
    let started = now();
    let (conn, key) = STAMPS
        .get_or_init(|| async {
            let redis_url = std::env::var("CANTER_BENCH_STAMPS").unwrap();
            let (base, key) = redis_url.split_once('#').unwrap();
            let conn = redis::Client::open(base)
                .unwrap()
                .get_multiplexed_async_connection()
                .await
                .unwrap();
            (conn, key.to_owned())
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

async fn open(amqp: &str, store: &str) -> Arc<dyn Broker> {
    let limit = canter_tasks::DEFAULT_MAX_MESSAGE_SIZE;
    canter_tasks::open_broker_with_backend(amqp, Some(store), limit)
        .await
        .unwrap()
}

/// The worker process: connects, says so, waits for the go on its stdin (as the Celery
/// bench's worker idles until `add_consumer`), then runs until killed.
async fn worker_process(urls: &str) {
    let (amqp, store) = urls.split_once('|').unwrap();
    let broker = open(amqp, store).await;
    println!("ready");
    let mut go = String::new();
    std::io::stdin().lock().read_line(&mut go).unwrap();
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

/// Ready messages in `queue` (a passive declare).
async fn ready(channel: &lapin::Channel, queue: &str) -> u32 {
    let passive = QueueDeclareOptions {
        passive: true,
        ..Default::default()
    };
    channel
        .queue_declare(queue.into(), passive, FieldTable::default())
        .await
        .unwrap()
        .message_count()
}

async fn channel(amqp: &str) -> (lapin::Connection, lapin::Channel) {
    let connection = lapin::Connection::connect(amqp, lapin::ConnectionProperties::default())
        .await
        .unwrap();
    let channel = connection.create_channel().await.unwrap();
    (connection, channel)
}

// Long on purpose: one benchmark run, measured step after step, as a script.
async fn canter_run(amqp: &str, redis_base: &str) -> (f64, f64, f64, f64, f64) {
    let prefix = format!("canter-bench-amqp-{}:", uuid::Uuid::new_v4().simple());
    let store = format!("{redis_base}?global_keyprefix={prefix}");
    let broker = open(amqp, &store).await;
    canter_tasks::tasks_app(broker.clone())
        .scope(async move {
            let mut conn = redis::Client::open(redis_base)
                .unwrap()
                .get_multiplexed_async_connection()
                .await
                .unwrap();
            let (_connection, watch) = channel(amqp).await;

            let started = Instant::now();
            for _ in 0..TASKS {
                noop::delay().await.unwrap();
            }
            let enqueue = TASKS as f64 / started.elapsed().as_secs_f64();

            let latency_key = format!("{prefix}latency");
            let mut worker = Killed(
                Command::new(std::env::current_exe().unwrap())
                    .env(WORKER_ENV, format!("{amqp}|{store}"))
                    .env("CANTER_BENCH_STAMPS", format!("{redis_base}#{latency_key}"))
                    .stdin(Stdio::piped())
                    .stdout(Stdio::piped())
                    .spawn()
                    .unwrap(),
            );
            let mut said = String::new();
            let out = worker.0.stdout.take().unwrap();
            std::io::BufReader::new(out).read_line(&mut said).unwrap();
            assert_eq!(said.trim(), "ready");
            let started = Instant::now();
            let stdin = worker.0.stdin.as_mut().unwrap();
            stdin.write_all(b"go\n").unwrap();
            stdin.flush().unwrap();
            while ready(&watch, "celery").await > 0 {
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            let drain = TASKS as f64 / started.elapsed().as_secs_f64();

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
            drop(worker);
            let _ = watch.queue_purge("celery".into(), Default::default()).await;
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

/// Raw lapin: a body of a task message's size published with confirms and got back, one at
/// a time.
async fn raw_run(amqp: &str) -> (f64, f64) {
    let queue = format!("canter-bench-raw-{}", uuid::Uuid::new_v4().simple());
    let (_connection, channel) = channel(amqp).await;
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await
        .unwrap();
    channel
        .queue_declare(
            queue.as_str().into(),
            QueueDeclareOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap();
    let body = serde_json::json!([[], {}, {"callbacks": null, "errbacks": null, "chain": null, "chord": null}])
        .to_string();
    let started = Instant::now();
    for _ in 0..TASKS {
        channel
            .basic_publish(
                "".into(),
                queue.as_str().into(),
                BasicPublishOptions::default(),
                body.as_bytes(),
                // Persistent, as task messages are (RabbitMQ confirms them once on disk).
                lapin::BasicProperties::default().with_delivery_mode(2),
            )
            .await
            .unwrap()
            .await
            .unwrap();
    }
    let publish = TASKS as f64 / started.elapsed().as_secs_f64();
    let started = Instant::now();
    while let Some(message) = channel
        .basic_get(queue.as_str().into(), BasicGetOptions::default())
        .await
        .unwrap()
    {
        message.ack(BasicAckOptions::default()).await.unwrap();
    }
    let get = TASKS as f64 / started.elapsed().as_secs_f64();
    channel
        .queue_delete(queue.as_str().into(), QueueDeleteOptions::default())
        .await
        .unwrap();
    (publish, get)
}

#[tokio::main]
async fn main() {
    if let Ok(urls) = std::env::var(WORKER_ENV) {
        return worker_process(&urls).await;
    }
    let amqp = std::env::var("CANTER_BENCH_AMQP_URL")
        .expect("CANTER_BENCH_AMQP_URL: a RabbitMQ vhost of the benchmark's own");
    let redis_base = std::env::var("CANTER_BENCH_REDIS_URL")
        .unwrap_or_else(|_| "redis://127.0.0.1:6379/14".into());
    let mut runs = Vec::new();
    for n in 1..=3 {
        let (raw_publish, raw_get) = raw_run(&amqp).await;
        let (enqueue, drain, p50, p90, p99) = canter_run(&amqp, &redis_base).await;
        let run = report::Run {
            enqueue,
            drain,
            p50,
            p90,
            p99,
            raw_in: raw_publish,
            raw_out: raw_get,
        };
        report::print_run(n, &run, "raw confirmed publish", "raw get+ack");
        runs.push(run);
    }
    report::print_medians(&runs, "raw confirmed publish", "raw get+ack");
}
