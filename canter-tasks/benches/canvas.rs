//! What a chain and a chord cost over the same work done as single tasks, with a real worker
//! (in process, concurrency 10) on the embedded SQLite broker (a temp file) and, when
//! `BENCH_REDIS_URL` is set (e.g. `redis://127.0.0.1:6379`), on Redis too (under a key prefix of
//! its own, whose keys are deleted afterwards).
//!
//! `cargo bench -p canter-tasks --bench canvas` runs, per broker, a warm-up round then 7 rounds,
//! each running every form once (the forms' order rotates from round to round), and prints a
//! line per round and a markdown table of medians:
//! - `chain`: a 10-step chain of `add(x, 1)`, from `apply_async` until the last step's result
//!   is stored;
//! - `sequential singles`: the same 10 `add(x, 1)` as single tasks by hand — enqueue, wait for
//!   the result, enqueue the next with it (the chain's reference);
//! - `singles at once`: 10 independent `add(i, 1)` enqueued one after another, then every
//!   result awaited (a throughput floor: no step waits for another);
//! - `chord`: a group of 1,000 `add(i, 1)` with a `total` callback summing their results,
//!   until the callback's result is stored;
//! - `1,000 singles + total`: the 1,000 `add(i, 1)` enqueued one after another, every result
//!   awaited and read, then one `total(results)` single task awaited (the chord's reference).
//!
//! Every wait polls the stored result every millisecond (tokio's timer granularity). For the
//! chain and the sequential singles, the same waits with `AsyncResult::get` (which backs off
//! from 5 ms to 100 ms between polls) are measured too: what a caller of the default API sees.
//!
//! Ratios and per-step overheads are medians of the per-round values. After the SQLite rounds,
//! the bench queues one chord with no worker running and prints what its members' messages
//! weigh (each carries every member's id). `BENCH_ROUNDS` (default 7) and `BENCH_CHORD_MEMBERS`
//! (default 1,000) change the rounds and the chord's size.

#[allow(dead_code)]
mod report;

use std::sync::Arc;
use std::time::{Duration, Instant};

use canter_tasks::canvas::{chain, chord, group, Signature};
use canter_tasks::{
    task, Broker, Registry, SqliteBroker, TaskError, TaskStatus, Worker, WorkerConfig,
};
use serde_json::{json, Value};

/// Measured rounds (after a warm-up one); `BENCH_ROUNDS` overrides.
fn rounds_wanted() -> usize {
    std::env::var("BENCH_ROUNDS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(7)
}
const STEPS: i64 = 10;
/// The chord's members (and the singles of its reference); `BENCH_CHORD_MEMBERS` overrides.
fn members() -> i64 {
    std::env::var("BENCH_CHORD_MEMBERS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1_000)
}

/// `n` with thousands separated ("1,000").
fn thousands(n: i64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[task(name = "bench.add", crate = canter_tasks)]
async fn add(a: i64, b: i64) -> Result<i64, TaskError> {
    Ok(a + b)
}

#[task(name = "bench.total", crate = canter_tasks)]
async fn total(values: Vec<i64>) -> Result<i64, TaskError> {
    Ok(values.iter().sum())
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Form {
    Chain,
    ChainGet,
    Sequential,
    SequentialGet,
    AtOnce,
    Chord,
    Singles1000,
}

const FORMS: [Form; 7] = [
    Form::Chain,
    Form::Sequential,
    Form::AtOnce,
    Form::ChainGet,
    Form::SequentialGet,
    Form::Chord,
    Form::Singles1000,
];

impl Form {
    fn label(self) -> String {
        let n = thousands(members());
        match self {
            Form::Chain => "10-step chain".into(),
            Form::ChainGet => "10-step chain, waited with `AsyncResult::get`".into(),
            Form::Sequential => "10 sequential singles (enqueue, wait, next)".into(),
            Form::SequentialGet => {
                "10 sequential singles, each waited with `AsyncResult::get`".into()
            }
            Form::AtOnce => "10 singles at once (throughput floor)".into(),
            Form::Chord => format!("chord: {n} members + `total` callback"),
            Form::Singles1000 => format!("{n} singles at once, all awaited, + one `total` single"),
        }
    }
}

/// One form's run: wall time, and the time its enqueueing took (ms).
#[derive(Clone, Copy, Default)]
struct Timing {
    wall: f64,
    enqueue: f64,
}

fn ms(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1000.0
}

/// Polls `id`'s stored result every millisecond until it is ready; its value.
async fn wait(broker: &dyn Broker, id: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        if let Some(result) = broker.get_result(id).await.unwrap() {
            match result.status {
                TaskStatus::Success => return result.result.unwrap_or_default(),
                TaskStatus::Failure | TaskStatus::Revoked => {
                    panic!("task {id} ended {:?}: {:?}", result.status, result.error)
                }
                _ => {}
            }
        }
        assert!(Instant::now() < deadline, "task {id} not done in 600 s");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

fn int(value: &Value) -> i64 {
    value
        .as_i64()
        .unwrap_or_else(|| panic!("not an integer: {value}"))
}

// Long on purpose: one benchmark run, measured step after step, as a script.
async fn run_form(form: Form, broker: &dyn Broker) -> Timing {
    let n = members();
    let long = Duration::from_secs(600);
    let started = Instant::now();
    match form {
        Form::Chain | Form::ChainGet => {
            let mut steps = vec![Signature::new("bench.add", json!([0, 1]))];
            steps.extend((1..STEPS).map(|_| Signature::new("bench.add", json!([1]))));
            let last = chain(steps).apply_async().await.unwrap();
            let enqueue = ms(started);
            let value = if form == Form::Chain {
                wait(broker, &last.id).await
            } else {
                last.get(long).await.unwrap()
            };
            assert_eq!(int(&value), STEPS);
            Timing {
                wall: ms(started),
                enqueue,
            }
        }
        Form::Sequential | Form::SequentialGet => {
            let mut x = 0;
            for _ in 0..STEPS {
                let handle = add::delay(x, 1).await.unwrap();
                x = if form == Form::Sequential {
                    int(&wait(broker, &handle.id).await)
                } else {
                    handle.get(long).await.unwrap()
                };
            }
            assert_eq!(x, STEPS);
            Timing {
                wall: ms(started),
                enqueue: 0.0,
            }
        }
        Form::AtOnce => {
            let mut handles = Vec::new();
            for i in 0..STEPS {
                handles.push(add::delay(i, 1).await.unwrap());
            }
            let enqueue = ms(started);
            for (i, handle) in handles.iter().enumerate() {
                assert_eq!(int(&wait(broker, &handle.id).await), i as i64 + 1);
            }
            Timing {
                wall: ms(started),
                enqueue,
            }
        }
        Form::Chord => {
            let members = (0..n)
                .map(|i| Signature::new("bench.add", json!([i, 1])))
                .collect();
            let callback = chord(group(members), Signature::new("bench.total", json!([])))
                .apply_async()
                .await
                .unwrap();
            let enqueue = ms(started);
            assert_eq!(int(&wait(broker, &callback.id).await), n * (n + 1) / 2);
            Timing {
                wall: ms(started),
                enqueue,
            }
        }
        Form::Singles1000 => {
            let mut handles = Vec::new();
            for i in 0..n {
                handles.push(add::delay(i, 1).await.unwrap());
            }
            let enqueue = ms(started);
            let mut values = Vec::with_capacity(handles.len());
            for handle in &handles {
                values.push(int(&wait(broker, &handle.id).await));
            }
            let sum = total::delay(values).await.unwrap();
            assert_eq!(int(&wait(broker, &sum.id).await), n * (n + 1) / 2);
            Timing {
                wall: ms(started),
                enqueue,
            }
        }
    }
}

/// Runs the rounds on `broker` (installed as the process's broker) with a worker of its own;
/// per form, its timings in round order.
async fn rounds(name: &str, broker: Arc<dyn Broker>) -> Vec<(Form, Vec<Timing>)> {
    canter_tasks::tasks_app(broker.clone())
        .scope(async move {
            let config = WorkerConfig {
                concurrency: 10,
                ..WorkerConfig::default()
            };
            let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
            let registry = Registry::new().register::<add>().register::<total>();
            let worker = tokio::spawn(Worker::new(registry, broker.clone(), config).run(
                async move {
                    let _ = stopped.await;
                },
            ));
            let mut timings: Vec<(Form, Vec<Timing>)> =
                FORMS.iter().map(|&f| (f, Vec::new())).collect();
            for round in 0..=rounds_wanted() {
                let mut line = Vec::new();
                for k in 0..FORMS.len() {
                    let form = FORMS[(k + round) % FORMS.len()];
                    tokio::time::sleep(Duration::from_millis(50)).await; // an idle worker at the start
                    let t = run_form(form, &*broker).await;
                    line.push(format!("{form:?} {:.1}", t.wall));
                    if round > 0 {
                        // Round 0 warms up.
                        timings
                            .iter_mut()
                            .find(|(f, _)| *f == form)
                            .unwrap()
                            .1
                            .push(t);
                    }
                }
                let label = if round == 0 {
                    "warm-up".to_owned()
                } else {
                    format!("round {round}")
                };
                println!("{name} {label} (ms): {}", line.join(", "));
            }
            let _ = stop.send(());
            worker.await.unwrap().unwrap();
            timings
        })
        .await
}

fn median(values: impl IntoIterator<Item = f64>) -> f64 {
    let mut values: Vec<f64> = values.into_iter().collect();
    values.sort_by(f64::total_cmp);
    report::quantile(&values, 0.5)
}

/// The table rows of one broker: each form against its reference (ratio and per-step overhead:
/// medians of the per-round values).
fn rows(name: &str, timings: &[(Form, Vec<Timing>)]) -> Vec<String> {
    let of = |form: Form| &timings.iter().find(|(f, _)| *f == form).unwrap().1;
    let compared = [
        (Form::Chain, Some(Form::Sequential), STEPS),
        (Form::Chain, Some(Form::AtOnce), STEPS),
        (Form::Sequential, None, STEPS),
        (Form::AtOnce, None, STEPS),
        (Form::ChainGet, Some(Form::SequentialGet), STEPS),
        (Form::SequentialGet, None, STEPS),
        (Form::Chord, Some(Form::Singles1000), members()),
        (Form::Singles1000, None, members()),
    ];
    let mut rows = Vec::new();
    for (form, reference, steps) in compared {
        let runs = of(form);
        let wall = median(runs.iter().map(|t| t.wall));
        let enqueue = median(runs.iter().map(|t| t.enqueue));
        let enqueue = if enqueue > 0.0 {
            format!("{enqueue:.1} ms")
        } else {
            "—".into()
        };
        let per = if steps == members() { "member" } else { "step" };
        let (against, ratio, overhead) = match reference {
            Some(reference) => {
                let refs = of(reference);
                let pairs = || runs.iter().zip(refs.iter());
                (
                    reference.label(),
                    format!("{:.2}×", median(pairs().map(|(t, r)| t.wall / r.wall))),
                    format!(
                        "{:+.3} ms per {per}",
                        median(pairs().map(|(t, r)| (t.wall - r.wall) / steps as f64))
                    ),
                )
            }
            None => (
                "(reference)".into(),
                "1.00×".into(),
                format!("{:.3} ms per {per}", wall / steps as f64),
            ),
        };
        let rounds: Vec<String> = runs.iter().map(|t| format!("{:.1}", t.wall)).collect();
        rows.push(format!(
            "| {name} | {} | {wall:.1} ms ({}) | {enqueue} | {against} | {ratio} | {overhead} |",
            form.label(),
            rounds.join(" / "),
        ));
    }
    rows
}

/// What a chord's members weigh in the queue (no worker running): each carries the callback
/// and every member's id.
async fn chord_message_size(broker: Arc<dyn Broker>, file: &std::path::Path) {
    canter_tasks::tasks_app(broker.clone())
        .scope(async move {
    let n = members();
    let members = (0..n)
        .map(|i| Signature::new("bench.add", json!([i, 1])))
        .collect();
    chord(group(members), Signature::new("bench.total", json!([])))
        .apply_async()
        .await
        .unwrap();
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", file.display()))
        .await
        .unwrap();
    let (count, per, all): (i64, i64, i64) = sqlx::query_as(
        "SELECT count(*), max(length(embed)), sum(length(embed)) FROM canter_task_queue WHERE embed IS NOT NULL",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    pool.close().await;
    println!(
        "SQLite: a {n}-member chord queues {count} messages whose embed is {per} bytes each ({:.1} MB in all)",
        all as f64 / 1e6
    );
        })
        .await
}

fn temp_file() -> std::path::PathBuf {
    std::env::temp_dir().join(format!(
        "canter-bench-canvas-{}.sqlite3",
        uuid::Uuid::new_v4().simple()
    ))
}

async fn redis_keys(conn: &mut redis::aio::MultiplexedConnection, pattern: &str) -> Vec<String> {
    redis::cmd("KEYS")
        .arg(pattern)
        .query_async(conn)
        .await
        .unwrap()
}

#[tokio::main]
async fn main() {
    let mut table = vec![
        "| broker | form | median wall time (rounds) | enqueue part | reference | ratio | overhead |"
            .to_owned(),
        "|---|---|---|---|---|---|---|".to_owned(),
    ];

    let file = temp_file();
    let sqlite: Arc<dyn Broker> = Arc::new(
        SqliteBroker::open(&format!("sqlite://{}", file.display()))
            .await
            .unwrap(),
    );
    let timings = rounds("SQLite", sqlite.clone()).await;
    table.extend(rows("SQLite", &timings));
    chord_message_size(sqlite, &file).await;
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", file.display()));
    }

    if let Ok(base) = std::env::var("BENCH_REDIS_URL") {
        let prefix = format!("canter-bench-canvas-{}:", uuid::Uuid::new_v4().simple());
        let url = format!("{base}?global_keyprefix={prefix}");
        let redis_broker: Arc<dyn Broker> =
            Arc::new(canter_tasks::RedisBroker::connect(&url).await.unwrap());
        let timings = rounds("Redis", redis_broker).await;
        table.extend(rows("Redis", &timings));
        // The broker is dropped (its upkeep stopped) by now: its keys can go.
        tokio::time::sleep(Duration::from_millis(200)).await;
        let mut conn = redis::Client::open(base.as_str())
            .unwrap()
            .get_multiplexed_async_connection()
            .await
            .unwrap();
        let keys = redis_keys(&mut conn, &format!("{prefix}*")).await;
        let deleted = keys.len();
        if !keys.is_empty() {
            redis::cmd("DEL")
                .arg(keys)
                .query_async::<()>(&mut conn)
                .await
                .unwrap();
        }
        let left = redis_keys(&mut conn, &format!("{prefix}*")).await.len();
        println!("Redis: deleted the bench's {deleted} keys (prefix {prefix}), {left} left");
    }

    println!();
    for row in table {
        println!("{row}");
    }
}
