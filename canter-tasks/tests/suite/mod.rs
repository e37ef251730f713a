//! The task scenarios every broker must pass: enqueue → worker → result, retries with backoff,
//! giving up, panics, unknown names, bad arguments, countdown, revoke, expiry, forget, time
//! limits, blocking bodies, `delay_on_commit`, and warm and cold shutdown. One process-wide
//! broker (as in an app), so the scenarios run in order inside one test, each on its own queue;
//! each broker's test binary calls [`end_to_end`].

#![allow(dead_code)]

mod operations;

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use canter_tasks::canvas::{chain, chord, group, Signature};
use canter_tasks::{
    task, ApplyOptions, AsyncResult, Broker, Registry, TaskError, TaskStatus, Worker, WorkerConfig,
};
use serde_json::json;

#[task(name = "test.add", crate = canter_tasks)]
async fn add(a: i64, b: i64) -> Result<i64, TaskError> {
    Ok(a + b)
}

static FLAKY_CALLS: AtomicU32 = AtomicU32::new(0);

/// Fails twice, then succeeds.
#[task(name = "test.flaky", crate = canter_tasks, queue = "retries", retry_backoff = 0.05)]
async fn flaky() -> Result<String, TaskError> {
    if FLAKY_CALLS.fetch_add(1, Ordering::SeqCst) < 2 {
        return Err(TaskError::retry(None));
    }
    Ok("third time lucky".into())
}

static HOPELESS_CALLS: AtomicU32 = AtomicU32::new(0);

#[task(name = "test.hopeless", crate = canter_tasks, queue = "retries", max_retries = 2, retry_backoff = 0.01, autoretry)]
async fn hopeless() -> Result<(), TaskError> {
    HOPELESS_CALLS.fetch_add(1, Ordering::SeqCst);
    Err(TaskError::Failed {
        kind: "ValueError".into(),
        message: "never works".into(),
    })
}

#[task(name = "test.boom", crate = canter_tasks)]
async fn boom() -> Result<(), TaskError> {
    panic!("the task body panicked");
}

#[task(name = "test.slow", crate = canter_tasks, time_limit = 0.2, retry_backoff = 1)]
async fn too_slow() -> Result<(), TaskError> {
    tokio::time::sleep(Duration::from_secs(5)).await;
    Ok(())
}

/// A blocking body: run on the blocking pool, never on the runtime.
#[task(name = "test.blocking", crate = canter_tasks)]
fn checksum(text: String) -> u64 {
    std::thread::sleep(Duration::from_millis(20));
    text.bytes().map(u64::from).sum()
}

#[task(name = "test.sleep", crate = canter_tasks, queue = "shutdown")]
async fn nap(ms: u64) -> Result<u64, TaskError> {
    tokio::time::sleep(Duration::from_millis(ms)).await;
    Ok(ms)
}

/// Winds down when its soft time limit passes, well before its hard one.
#[task(name = "test.winds_down", crate = canter_tasks, soft_time_limit = 0.1, time_limit = 10)]
async fn winds_down() -> Result<String, TaskError> {
    tokio::select! {
        () = tokio::time::sleep(Duration::from_secs(5)) => Ok("finished".into()),
        () = canter_tasks::soft_time_limit() => Ok("wound down".into()),
    }
}

/// A blocking body watching its soft time limit.
#[task(name = "test.blocking_winds_down", crate = canter_tasks, soft_time_limit = 0.1)]
fn blocking_winds_down() -> String {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(5) {
        if canter_tasks::soft_time_limit_exceeded() {
            return "stopped in time".into();
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    "ran on".into()
}

static RECONNECTS_CALLS: AtomicU32 = AtomicU32::new(0);

/// Fails once with a kind it retries on, then works.
#[task(name = "test.reconnects", crate = canter_tasks, queue = "retries", retry_backoff = 0.01, autoretry_for = ["ConnectionError"])]
async fn reconnects() -> Result<u32, TaskError> {
    let calls = RECONNECTS_CALLS.fetch_add(1, Ordering::SeqCst) + 1;
    if calls == 1 {
        return Err(TaskError::Failed {
            kind: "ConnectionError".into(),
            message: "reset".into(),
        });
    }
    Ok(calls)
}

static WRONG_CALLS: AtomicU32 = AtomicU32::new(0);

/// Fails with a kind it does not retry on.
#[task(name = "test.wrong_input", crate = canter_tasks, queue = "retries", retry_backoff = 0.01, autoretry_for = ["ConnectionError"])]
async fn wrong_input() -> Result<(), TaskError> {
    WRONG_CALLS.fetch_add(1, Ordering::SeqCst);
    Err(TaskError::Failed {
        kind: "ValueError".into(),
        message: "bad input".into(),
    })
}

static EARLY_CALLS: AtomicU32 = AtomicU32::new(0);

/// Acked when it starts (Celery's default); retries once.
#[task(name = "test.early", crate = canter_tasks, acks_late = false)]
async fn early() -> Result<u32, TaskError> {
    let calls = EARLY_CALLS.fetch_add(1, Ordering::SeqCst) + 1;
    if calls == 1 {
        return Err(TaskError::retry(Some(0.05)));
    }
    Ok(calls)
}

#[task(name = "test.early_sleep", crate = canter_tasks, queue = "shutdown", acks_late = false)]
async fn early_nap(ms: u64) -> Result<u64, TaskError> {
    tokio::time::sleep(Duration::from_millis(ms)).await;
    Ok(ms)
}

static LIMITED_STARTS: std::sync::Mutex<Vec<f64>> = std::sync::Mutex::new(Vec::new());

/// At most 4 starts a second, whatever the number of workers.
#[task(name = "test.limited", crate = canter_tasks, rate_limit = "4/s")]
async fn limited() -> Result<(), TaskError> {
    let at = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    LIMITED_STARTS.lock().unwrap().push(at);
    Ok(())
}

/// One at a time per argument: a second enqueue is refused while one is queued or running.
#[task(name = "test.unique", crate = canter_tasks, queue = "unique", unique = "refuse")]
async fn refused(label: String) -> Result<String, TaskError> {
    Ok(label)
}

/// One at a time per argument: a second enqueue gets the first one's handle.
#[task(name = "test.folded", crate = canter_tasks, queue = "unique", unique = "fold")]
async fn folded(label: String) -> Result<String, TaskError> {
    Ok(label)
}

/// An error callback: returns the failed task's id it was given.
#[task(name = "test.failed_id", crate = canter_tasks)]
async fn failed_id(id: String) -> Result<String, TaskError> {
    Ok(id)
}

/// A chord's callback: the sum of its group's results.
#[task(name = "test.total", crate = canter_tasks)]
async fn total(values: Vec<i64>) -> Result<i64, TaskError> {
    Ok(values.iter().sum())
}

fn registry() -> Registry {
    Registry::new()
        .register::<total>()
        .register::<failed_id>()
        .register::<limited>()
        .register::<refused>()
        .register::<folded>()
        .register::<winds_down>()
        .register::<blocking_winds_down>()
        .register::<reconnects>()
        .register::<wrong_input>()
        .register::<early>()
        .register::<early_nap>()
        .register::<add>()
        .register::<flaky>()
        .register::<hopeless>()
        .register::<boom>()
        .register::<too_slow>()
        .register::<checksum>()
        .register::<nap>()
}

fn config(queues: &[&str]) -> WorkerConfig {
    WorkerConfig {
        queues: queues.iter().map(|q| q.to_string()).collect(),
        concurrency: 4,
        visibility_timeout: Duration::from_secs(30),
        poll_interval: Duration::from_millis(5),
        shutdown_timeout: Duration::from_secs(5),
        ..WorkerConfig::default()
    }
}

/// Runs a worker on `queues` in the background; dropping the guard stops it warmly.
struct RunningWorker {
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    handle: tokio::task::JoinHandle<Result<(), TaskError>>,
}

impl RunningWorker {
    fn start(broker: Arc<dyn Broker>, config: WorkerConfig) -> Self {
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let worker = Worker::new(registry(), broker, config);
        let handle = tokio::spawn(worker.run(async move {
            let _ = stopped.await;
        }));
        RunningWorker {
            stop: Some(stop),
            handle,
        }
    }

    async fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        (&mut self.handle).await.unwrap().unwrap();
    }
}

/// Every scenario, in order, on `broker` (installed as the process's broker). `scratch` is a
/// path prefix for the files the scenarios need (the ORM database of `delay_on_commit`).
pub async fn end_to_end(broker: Arc<dyn Broker>, scratch: &str) {
    canter_tasks::tasks_app(broker.clone())
        .scope(async move {
            let wait = Duration::from_secs(10);

            // A task never heard of is PENDING (as in Celery); enqueued but not run, still PENDING.
            assert_eq!(
                AsyncResult::<i64>::new("no-such-id")
                    .status()
                    .await
                    .unwrap(),
                TaskStatus::Pending
            );
            let queued = add::delay(2, 3).await.unwrap();
            assert_eq!(queued.status().await.unwrap(), TaskStatus::Pending);
            assert_eq!(broker.queue_length("celery").await.unwrap(), 1);
            assert!(matches!(
                queued.get(Duration::from_millis(50)).await,
                Err(TaskError::Timeout(_))
            ));

            let worker = RunningWorker::start(broker.clone(), config(&["celery", "retries"]));

            // The happy path.
            assert_eq!(queued.get(wait).await.unwrap(), 5);
            assert_eq!(queued.status().await.unwrap(), TaskStatus::Success);
            assert_eq!(
                checksum::delay("abc".into())
                    .await
                    .unwrap()
                    .get(wait)
                    .await
                    .unwrap(),
                294
            );

            // A chain: each result goes on to the next step (first in its arguments), except into an
            // immutable one; the handle is the last step's.
            let sum = chain(vec![
                Signature::new("test.add", serde_json::json!([2, 3])),
                Signature::new("test.add", serde_json::json!([4])),
            ])
            .apply_async()
            .await
            .unwrap();
            assert_eq!(sum.get(wait).await.unwrap(), serde_json::json!(9));
            let fresh = chain(vec![
                Signature::new("test.add", serde_json::json!([2, 3])),
                Signature::new("test.add", serde_json::json!([1, 1])).immutable(),
            ])
            .apply_async()
            .await
            .unwrap();
            assert_eq!(fresh.get(wait).await.unwrap(), serde_json::json!(2));

            // A group: in parallel, results in the group's order; a chord: the callback gets them all.
            let pairs = || {
                (1..=3)
                    .map(|n| Signature::new("test.add", serde_json::json!([n, n])))
                    .collect::<Vec<_>>()
            };
            let doubled = group(pairs()).apply_async().await.unwrap();
            assert_eq!(
                doubled.get(wait).await.unwrap(),
                [2, 4, 6].map(|n| serde_json::json!(n))
            );
            let summed = chord(
                group(pairs()),
                Signature::new("test.total", serde_json::json!([])),
            )
            .apply_async()
            .await
            .unwrap();
            assert_eq!(summed.get(wait).await.unwrap(), serde_json::json!(12));
            // A member that fails fails the chord: the callback never runs.
            let broken = chord(
                group(vec![
                    Signature::new("test.add", serde_json::json!([1, 1])),
                    Signature::new("test.boom", serde_json::json!([])),
                ]),
                Signature::new("test.total", serde_json::json!([])),
            )
            .apply_async()
            .await
            .unwrap();
            match broken.get(wait).await {
                Err(TaskError::Failed { kind, message }) => {
                    assert_eq!(kind, "ChordError");
                    assert!(message.contains("Panic"), "{message}");
                }
                other => panic!("expected a ChordError, got {other:?}"),
            }

            // Callbacks: `link` runs with the result first, `link_error` with the failed task's id;
            // neither runs on the other outcome.
            let fresh_id = || uuid::Uuid::new_v4().to_string();
            let (on_success, not_on_failure) = (fresh_id(), fresh_id());
            let linked = Signature::new("test.add", json!([2, 3]))
                .link(Signature::new("test.add", json!([10])).task_id(&on_success))
                .link_error(Signature::new("test.failed_id", json!([])).task_id(&not_on_failure))
                .apply_async()
                .await
                .unwrap();
            assert_eq!(linked.get(wait).await.unwrap(), json!(5));
            assert_eq!(
                AsyncResult::<i64>::new(&on_success)
                    .get(wait)
                    .await
                    .unwrap(),
                15
            );
            let (on_failure, not_on_success) = (fresh_id(), fresh_id());
            let failing = Signature::new("test.boom", json!([]))
                .link(Signature::new("test.add", json!([1])).task_id(&not_on_success))
                .link_error(Signature::new("test.failed_id", json!([])).task_id(&on_failure))
                .apply_async()
                .await
                .unwrap();
            assert!(failing.get(wait).await.is_err());
            assert_eq!(
                AsyncResult::<String>::new(&on_failure)
                    .get(wait)
                    .await
                    .unwrap(),
                failing.id
            );
            // The same from a task's own apply_async, and on a chain: the step that fails reports.
            let via_options = fresh_id();
            let added = add::apply_async(
                (20, 1),
                ApplyOptions {
                    link: vec![Signature::new("test.add", json!([100])).task_id(&via_options)],
                    ..Default::default()
                },
            )
            .await
            .unwrap();
            assert_eq!(added.get(wait).await.unwrap(), 21);
            assert_eq!(
                AsyncResult::<i64>::new(&via_options)
                    .get(wait)
                    .await
                    .unwrap(),
                121
            );
            let chain_failed = fresh_id();
            let broken_chain = chain(vec![
                Signature::new("test.add", json!([1, 1])),
                Signature::new("test.boom", json!([])).immutable(),
                Signature::new("test.add", json!([1])),
            ])
            .link_error(Signature::new("test.failed_id", json!([])).task_id(&chain_failed))
            .apply_async()
            .await
            .unwrap();
            let failed_step = AsyncResult::<String>::new(&chain_failed)
                .get(wait)
                .await
                .unwrap();
            assert_eq!(
                AsyncResult::<()>::new(&failed_step).status().await.unwrap(),
                TaskStatus::Failure,
                "the errback names the step that failed"
            );
            assert_eq!(
                broken_chain.status().await.unwrap(),
                TaskStatus::Pending,
                "the chain stops"
            );
            for never in [&not_on_failure, &not_on_success] {
                assert_eq!(
                    AsyncResult::<()>::new(never).status().await.unwrap(),
                    TaskStatus::Pending
                );
            }

            // A rate limit: 10 tasks at once, at most 4 start in any one second.
            let mut handles = Vec::new();
            for _ in 0..10 {
                handles.push(limited::delay().await.unwrap());
            }
            for handle in &handles {
                handle.get(wait).await.unwrap();
            }
            let mut per_second: std::collections::BTreeMap<u64, usize> = Default::default();
            for at in LIMITED_STARTS.lock().unwrap().iter() {
                *per_second.entry(*at as u64).or_default() += 1;
            }
            assert_eq!(per_second.values().sum::<usize>(), 10);
            assert!(
                per_second.values().all(|n| *n <= 4),
                "starts per second: {per_second:?}"
            );

            // Unique tasks (queue `unique` has no worker yet): refused, or folded into the first —
            // also when ten enqueue at once; other arguments are other tasks.
            let first = refused::delay("a".into()).await.unwrap();
            match refused::delay("a".into()).await {
                Err(TaskError::Duplicate(id)) => assert_eq!(id, first.id),
                other => panic!("expected a Duplicate, got {other:?}"),
            }
            let other = refused::delay("b".into()).await.unwrap();
            let racing: Vec<_> = (0..10)
                .map(|_| canter_core::services::spawn(folded::delay("c".into())))
                .collect();
            let mut ids = std::collections::BTreeSet::new();
            for handle in racing {
                ids.insert(handle.await.unwrap().unwrap().id);
            }
            assert_eq!(ids.len(), 1, "ten concurrent enqueues, one task: {ids:?}");
            assert_eq!(broker.queue_length("unique").await.unwrap(), 3);
            let worker_for_unique = RunningWorker::start(broker.clone(), config(&["unique"]));
            assert_eq!(first.get(wait).await.unwrap(), "a");
            assert_eq!(other.get(wait).await.unwrap(), "b");
            let folded_id = ids.into_iter().next().unwrap();
            assert_eq!(
                AsyncResult::<String>::new(folded_id)
                    .get(wait)
                    .await
                    .unwrap(),
                "c"
            );
            // Done: the same arguments may be enqueued again.
            assert_eq!(
                refused::delay("a".into())
                    .await
                    .unwrap()
                    .get(wait)
                    .await
                    .unwrap(),
                "a"
            );
            worker_for_unique.stop().await;

            // Retries with backoff, then success.
            let lucky = flaky::delay().await.unwrap();
            assert_eq!(lucky.get(wait).await.unwrap(), "third time lucky");
            assert_eq!(FLAKY_CALLS.load(Ordering::SeqCst), 3);

            // Giving up after max_retries: FAILURE with the task's own error.
            let gave_up = hopeless::delay().await.unwrap();
            match gave_up.get(wait).await {
                Err(TaskError::Failed { kind, message }) => assert_eq!(
                    (kind.as_str(), message.as_str()),
                    ("ValueError", "never works")
                ),
                other => panic!("expected the task's failure, got {other:?}"),
            }
            assert_eq!(
                HOPELESS_CALLS.load(Ordering::SeqCst),
                3,
                "one run and two retries"
            );
            assert_eq!(gave_up.status().await.unwrap(), TaskStatus::Failure);

            // A panicking body is a FAILURE; the worker goes on.
            match boom::delay().await.unwrap().get(wait).await {
                Err(TaskError::Failed { kind, message }) => {
                    assert_eq!(kind, "Panic");
                    assert!(message.contains("the task body panicked"), "{message}");
                }
                other => panic!("expected a panic failure, got {other:?}"),
            }
            assert_eq!(
                add::delay(1, 1).await.unwrap().get(wait).await.unwrap(),
                2,
                "the worker survived the panic"
            );

            // The hard time limit.
            match too_slow::delay().await.unwrap().get(wait).await {
                Err(TaskError::Failed { kind, .. }) => assert_eq!(kind, "TimeLimit"),
                other => panic!("expected a time limit failure, got {other:?}"),
            }

            // The soft time limit: the body is told, and winds down (async and blocking bodies).
            let started = Instant::now();
            assert_eq!(
                winds_down::delay().await.unwrap().get(wait).await.unwrap(),
                "wound down"
            );
            assert!(
                started.elapsed() < Duration::from_secs(4),
                "{:?}",
                started.elapsed()
            );
            assert_eq!(
                blocking_winds_down::delay()
                    .await
                    .unwrap()
                    .get(wait)
                    .await
                    .unwrap(),
                "stopped in time"
            );

            // autoretry_for: retried on the kinds named, not on others.
            assert_eq!(
                reconnects::delay().await.unwrap().get(wait).await.unwrap(),
                2
            );
            match wrong_input::delay().await.unwrap().get(wait).await {
                Err(TaskError::Failed { kind, .. }) => assert_eq!(kind, "ValueError"),
                other => panic!("expected the task's ValueError, got {other:?}"),
            }
            assert_eq!(WRONG_CALLS.load(Ordering::SeqCst), 1, "not retried");

            // acks_late = false: acked when it starts; a retry is sent as a new message.
            assert_eq!(early::delay().await.unwrap().get(wait).await.unwrap(), 2);

            // An unknown name: FAILURE NotRegistered, and the message kept in the dead-letter table.
            let unknown = canter_tasks::enqueue(
                "test.nobody_knows_me",
                &Default::default(),
                serde_json::json!([1]),
                ApplyOptions::default(),
            )
            .await
            .unwrap();
            match AsyncResult::<()>::new(&unknown).get(wait).await {
                Err(TaskError::Failed { kind, message }) => {
                    assert_eq!(kind, "NotRegistered");
                    assert!(message.contains("test.nobody_knows_me"), "{message}");
                }
                other => panic!("expected NotRegistered, got {other:?}"),
            }
            assert_eq!(
                broker.queue_length("celery").await.unwrap(),
                0,
                "not left to be retried forever"
            );

            // Arguments of the wrong shape (say, from another producer): a clear failure.
            let bad = canter_tasks::enqueue(
                "test.add",
                &Default::default(),
                serde_json::json!(["two", 3]),
                ApplyOptions::default(),
            )
            .await
            .unwrap();
            match AsyncResult::<i64>::new(&bad).get(wait).await {
                Err(TaskError::Failed { kind, message }) => {
                    assert_eq!(kind, "Serialization");
                    assert!(message.contains("arguments of test.add"), "{message}");
                }
                other => panic!("expected a serialization failure, got {other:?}"),
            }

            // Countdown: not before it is due.
            let started = Instant::now();
            let later = add::apply_async(
                (20, 22),
                ApplyOptions {
                    countdown: Some(0.5),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
            assert_eq!(later.get(wait).await.unwrap(), 42);
            assert!(
                started.elapsed() >= Duration::from_millis(450),
                "ran after {:?}",
                started.elapsed()
            );

            // Revoked before it runs: skipped, REVOKED.
            let revoked = add::apply_async(
                (1, 2),
                ApplyOptions {
                    countdown: Some(0.3),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
            revoked.revoke().await.unwrap();
            assert!(matches!(revoked.get(wait).await, Err(TaskError::Revoked)));

            // Revoked while it runs: stopped at its next await, REVOKED.
            let running = nap::apply_async(
                (60_000,),
                ApplyOptions {
                    queue: Some("celery".into()),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
            wait_for(&running, TaskStatus::Started).await;
            let asked = Instant::now();
            running.revoke().await.unwrap();
            assert!(matches!(running.get(wait).await, Err(TaskError::Revoked)));
            assert!(
                asked.elapsed() < Duration::from_secs(5),
                "{:?}",
                asked.elapsed()
            );

            // Expired before it comes due: skipped, REVOKED.
            let expired = add::apply_async(
                (1, 2),
                ApplyOptions {
                    countdown: Some(0.3),
                    expires: Some(0.1),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
            assert!(matches!(expired.get(wait).await, Err(TaskError::Revoked)));

            // forget() drops the stored result.
            queued.forget().await.unwrap();
            assert_eq!(queued.status().await.unwrap(), TaskStatus::Pending);

            // delay_on_commit: only after the surrounding atomic block commits; never on rollback.
            let db = Arc::new(
                canter_orm::Databases::single(&format!("sqlite://{scratch}.orm.sqlite3")).unwrap(),
            );
            let (committed, rolled_back) = db
                .clone()
                .scope(async {
                    let committed = canter_orm::transaction::atomic(async {
                        let handle = add::delay_on_commit(4, 4).unwrap();
                        assert_eq!(
                            broker.queue_length("celery").await.unwrap(),
                            0,
                            "not before the commit"
                        );
                        Ok::<_, canter_orm::OrmError>(handle)
                    })
                    .await
                    .unwrap();
                    let rolled_back = canter_orm::transaction::atomic(async {
                        let handle = add::delay_on_commit(5, 5).unwrap();
                        Err::<(), _>(Rollback(Some(handle)))
                    })
                    .await
                    .unwrap_err();
                    (committed, rolled_back.0.unwrap())
                })
                .await;
            assert_eq!(committed.get(wait).await.unwrap(), 8);
            tokio::time::sleep(Duration::from_millis(200)).await;
            assert_eq!(
                rolled_back.status().await.unwrap(),
                TaskStatus::Pending,
                "never enqueued"
            );

            worker.stop().await;

            // Warm shutdown: a running task finishes within the timeout...
            let worker = RunningWorker::start(broker.clone(), config(&["shutdown"]));
            let finishing = nap::delay(300).await.unwrap();
            wait_for(&finishing, TaskStatus::Started).await;
            worker.stop().await;
            assert_eq!(finishing.status().await.unwrap(), TaskStatus::Success);

            // ...and one that outlasts it goes back to the queue, its attempt not counted, to run
            // again on the next worker.
            let cut = nap::delay(3_000).await.unwrap();
            let mut short = config(&["shutdown"]);
            short.shutdown_timeout = Duration::from_millis(100);
            let worker = RunningWorker::start(broker.clone(), short);
            wait_for(&cut, TaskStatus::Started).await;
            worker.stop().await;
            assert_eq!(
                broker.queue_length("shutdown").await.unwrap(),
                1,
                "back in the queue"
            );
            let worker = RunningWorker::start(broker.clone(), config(&["shutdown"]));
            assert_eq!(cut.get(wait).await.unwrap(), 3_000);
            worker.stop().await;

            // A task acked when it started (acks_late = false) is not put back: its message is gone,
            // as with Celery's default.
            let lost = early_nap::delay(3_000).await.unwrap();
            let mut short = config(&["shutdown"]);
            short.shutdown_timeout = Duration::from_millis(100);
            let worker = RunningWorker::start(broker.clone(), short);
            wait_for(&lost, TaskStatus::Started).await;
            worker.stop().await;
            assert_eq!(
                broker.queue_length("shutdown").await.unwrap(),
                0,
                "not put back"
            );

            // Cold shutdown (a second signal): a warm shutdown with a long timeout is cut short, and
            // the running task goes back to the queue at once.
            let long = nap::delay(60_000).await.unwrap();
            let mut patient = config(&["shutdown"]);
            patient.shutdown_timeout = Duration::from_secs(600);
            let (warm, warm_rx) = tokio::sync::oneshot::channel::<()>();
            let (cold, cold_rx) = tokio::sync::oneshot::channel::<()>();
            let worker = tokio::spawn(Worker::new(registry(), broker.clone(), patient).run_until(
                async move {
                    let _ = warm_rx.await;
                },
                async move {
                    let _ = cold_rx.await;
                },
            ));
            wait_for(&long, TaskStatus::Started).await;
            warm.send(()).unwrap();
            tokio::time::sleep(Duration::from_millis(100)).await;
            assert!(
                !worker.is_finished(),
                "a warm shutdown waits for the running task"
            );
            cold.send(()).unwrap();
            tokio::time::timeout(Duration::from_secs(30), worker)
                .await
                .expect("the cold shutdown returns")
                .unwrap()
                .unwrap();
            assert_eq!(
                broker.queue_length("shutdown").await.unwrap(),
                1,
                "back in the queue"
            );

            operations::inspection_and_control(broker.clone()).await;

            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{scratch}.orm.sqlite3{suffix}"));
            }
        })
        .await
}

async fn wait_for<T: serde::de::DeserializeOwned>(handle: &AsyncResult<T>, status: TaskStatus) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while handle.status().await.unwrap() != status {
        assert!(
            Instant::now() < deadline,
            "{handle:?} never reached {status:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// An error that rolls an atomic block back, carrying the handle out.
struct Rollback(Option<AsyncResult<i64>>);

impl From<canter_orm::OrmError> for Rollback {
    fn from(_: canter_orm::OrmError) -> Self {
        Rollback(None)
    }
}
