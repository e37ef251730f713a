//! Inspection, control and events against a live worker: the worker listed with its running
//! tasks, queue lengths, scheduled tasks, purge, revoke, the dead-letter record and its retry,
//! the event stream, and the worker gone from the list once stopped.

use std::sync::Arc;
use std::time::{Duration, Instant};

use canter_tasks::{
    control, task, ApplyOptions, AsyncResult, Broker, Registry, TaskError, TaskStatus, Worker,
    WorkerConfig,
};
use serde_json::Value;
use tokio::sync::Semaphore;

/// Released one permit per run by the test.
static GATE: Semaphore = Semaphore::const_new(0);

#[task(name = "ops.hold", crate = canter_tasks, queue = "ops")]
async fn hold(n: i64) -> Result<i64, TaskError> {
    GATE.acquire().await.expect("never closed").forget();
    Ok(n)
}

#[task(name = "ops.later", crate = canter_tasks, queue = "ops-dead")]
async fn later(n: i64) -> Result<i64, TaskError> {
    Ok(n * 2)
}

fn start(
    broker: Arc<dyn Broker>,
    registry: Registry,
    queue: &str,
) -> (
    String,
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<Result<(), TaskError>>,
) {
    let config = WorkerConfig {
        queues: vec![queue.into()],
        concurrency: 3,
        poll_interval: Duration::from_millis(5),
        shutdown_timeout: Duration::from_secs(5),
        send_events: true,
        ..WorkerConfig::default()
    };
    let worker = Worker::new(registry, broker, config);
    let name = worker.name().to_owned();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let handle = tokio::spawn(worker.run(async move {
        let _ = stopped.await;
    }));
    (name, stop, handle)
}

/// Polls `check` until it holds (workers announce themselves every two seconds).
async fn until<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(15);
    while !check().await {
        assert!(Instant::now() < deadline, "never: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub async fn inspection_and_control(broker: Arc<dyn Broker>) {
    let (cursor_now, _) = broker.events(None, Duration::ZERO).await.unwrap();

    // Three tasks waiting in a queue no worker consumes.
    for n in 0..3 {
        hold::apply_async(
            (n,),
            ApplyOptions {
                queue: Some("ops-idle".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    }
    // A worker running two held tasks, with one due in a minute.
    let (name, stop, handle) = start(broker.clone(), Registry::new().register::<hold>(), "ops");
    let first = hold::delay(1).await.unwrap();
    let second = hold::delay(2).await.unwrap();
    let due_later = hold::apply_async(
        (3,),
        ApplyOptions {
            countdown: Some(60.0),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    until("the worker announces two running tasks", || async {
        control::workers().await.unwrap().iter().any(|w| {
            w.name == name
                && w.alive()
                && w.active.len() == 2
                && w.concurrency == 3
                && w.queues == ["ops"]
        })
    })
    .await;
    let active = control::active().await.unwrap();
    for id in [first.id.as_str(), second.id.as_str()] {
        let task = active
            .iter()
            .find(|t| t.id == id)
            .unwrap_or_else(|| panic!("{id} not active: {active:?}"));
        assert_eq!(task.name, "ops.hold");
        assert_eq!(task.worker.as_deref(), Some(name.as_str()));
        assert!(task.started.is_some());
    }
    until("the countdown task is listed as scheduled", || async {
        control::scheduled()
            .await
            .unwrap()
            .iter()
            .any(|t| t.id == due_later.id.as_str() && t.eta > canter_tasks_now() + 30.0)
    })
    .await;
    assert!(control::reserved()
        .await
        .unwrap()
        .iter()
        .all(|t| t.id != first.id.as_str()));

    // Queue lengths: the idle queue holds three, consumed by nobody; `ops` by our worker.
    let queues = control::queues(&[]).await.unwrap();
    let idle = queues
        .iter()
        .find(|q| q.name == "ops-idle")
        .unwrap_or_else(|| panic!("{queues:?}"));
    assert_eq!((idle.waiting, idle.consumers), (3, 0));
    let ops = queues.iter().find(|q| q.name == "ops").unwrap();
    assert_eq!(ops.consumers, 1);

    // Purge empties the idle queue, and only it.
    assert_eq!(control::purge("ops-idle").await.unwrap(), 3);
    assert_eq!(broker.queue_length("ops-idle").await.unwrap(), 0);
    assert_eq!(control::purge("ops-idle").await.unwrap(), 0);

    // Revoke by id: the scheduled one never runs; a running one stops.
    control::revoke(due_later.id.as_str()).await.unwrap();
    control::revoke(second.id.as_str()).await.unwrap();
    wait_status(second.id.as_str(), TaskStatus::Revoked).await;
    GATE.add_permits(1);
    assert_eq!(first.get(Duration::from_secs(10)).await.unwrap(), 1);

    // A task no worker of the `ops-dead` queue knows goes to the dead-letter record; once a
    // worker that knows it runs, retrying the record runs it.
    let (dead_worker, dead_stop, dead_handle) = start(
        broker.clone(),
        Registry::new().register::<hold>(),
        "ops-dead",
    );
    let unknown = later::delay(21).await.unwrap();
    until("the unknown task is dead-lettered", || async {
        control::dead_letters()
            .await
            .unwrap()
            .iter()
            .any(|d| d.id == unknown.id.as_str())
    })
    .await;
    let letter = control::dead_letters()
        .await
        .unwrap()
        .into_iter()
        .find(|d| d.id == unknown.id.as_str())
        .unwrap();
    assert_eq!(
        (
            letter.name.as_str(),
            letter.queue.as_str(),
            letter.retriable
        ),
        ("ops.later", "ops-dead", true)
    );
    assert!(letter.reason.contains("ops.later"), "{letter:?}");
    assert_eq!(letter.args, serde_json::json!([21]));
    let _ = dead_stop.send(());
    dead_handle.await.unwrap().unwrap();
    assert!(
        control::workers()
            .await
            .unwrap()
            .iter()
            .all(|w| w.name != dead_worker),
        "a stopped worker leaves the list"
    );
    assert!(control::retry_dead_letters().await.unwrap() >= 1);
    assert!(control::dead_letters()
        .await
        .unwrap()
        .iter()
        .all(|d| d.id != unknown.id.as_str()));
    assert_eq!(
        broker.queue_length("ops-dead").await.unwrap(),
        1,
        "back in its queue"
    );
    let (_, fixed_stop, fixed_handle) = start(
        broker.clone(),
        Registry::new().register::<later>(),
        "ops-dead",
    );
    assert_eq!(unknown.get(Duration::from_secs(10)).await.unwrap(), 42);
    let _ = fixed_stop.send(());
    fixed_handle.await.unwrap().unwrap();

    // The event stream tells the story, in Celery's shapes.
    let events = collect_events(&*broker, &cursor_now).await;
    let kinds_of = |id: &str| -> Vec<String> {
        events
            .iter()
            .filter(|e| e["uuid"] == id)
            .map(|e| e["type"].as_str().unwrap_or_default().to_owned())
            .collect()
    };
    let first_kinds = kinds_of(first.id.as_str());
    assert_eq!(
        first_kinds,
        ["task-received", "task-started", "task-succeeded"],
        "{events:#?}"
    );
    assert!(kinds_of(second.id.as_str()).contains(&"task-revoked".to_owned()));
    assert!(kinds_of(unknown.id.as_str()).contains(&"task-failed".to_owned()));
    let succeeded = events
        .iter()
        .find(|e| e["uuid"] == first.id.as_str() && e["type"] == "task-succeeded")
        .unwrap();
    assert_eq!(succeeded["hostname"], name.as_str());
    assert_eq!(succeeded["name"], "ops.hold");
    assert!(succeeded["runtime"].as_f64().is_some() && succeeded["timestamp"].as_f64().is_some());
    assert!(events
        .iter()
        .any(|e| e["type"] == "worker-online" && e["hostname"] == name.as_str()));
    assert!(events
        .iter()
        .any(|e| e["type"] == "worker-offline" && e["hostname"] == dead_worker.as_str()));

    let _ = stop.send(());
    handle.await.unwrap().unwrap();
    assert!(control::workers()
        .await
        .unwrap()
        .iter()
        .all(|w| w.name != name));
    // The revoked countdown task is still queued (skipped when it comes due): clear it.
    control::purge("ops").await.unwrap();

    // A worker that died without saying so (killed) stays listed as not alive, its heartbeat
    // aging, for an hour; then it is forgotten.
    let now = canter_tasks_now();
    let mut killed = control::WorkerInfo {
        name: "ops-killed".into(),
        hostname: "elsewhere".into(),
        pid: 1,
        queues: vec!["ops".into()],
        concurrency: 1,
        started: now - 60.0,
        heartbeat: now - 10.0,
        processed: 3,
        active: Vec::new(),
        reserved: Vec::new(),
        scheduled: Vec::new(),
        software: "canter-tasks".into(),
    };
    broker.worker_heartbeat(&killed).await.unwrap();
    let listed = control::workers().await.unwrap();
    let dead = listed.iter().find(|w| w.name == "ops-killed").unwrap();
    assert!(!dead.alive() && dead.heartbeat_age() >= 10.0, "{dead:?}");
    let queues = control::queues(&["ops".to_owned()]).await.unwrap();
    assert_eq!(
        queues.iter().find(|q| q.name == "ops").unwrap().consumers,
        0,
        "a dead worker consumes nothing"
    );
    killed.heartbeat = now - control::FORGET_AFTER - 1.0;
    broker.worker_heartbeat(&killed).await.unwrap();
    assert!(control::workers()
        .await
        .unwrap()
        .iter()
        .all(|w| w.name != "ops-killed"));
}

fn canter_tasks_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

async fn wait_status(id: &str, status: TaskStatus) {
    let handle = AsyncResult::<Value>::new(id);
    until(&format!("{id} is {status:?}"), || async {
        handle.status().await.unwrap() == status
    })
    .await;
}

/// Every event after `cursor`, read in pages until none come.
async fn collect_events(broker: &dyn Broker, cursor: &str) -> Vec<Value> {
    let mut cursor = cursor.to_owned();
    let mut all = Vec::new();
    loop {
        let (next, events) = broker
            .events(Some(&cursor), Duration::from_millis(200))
            .await
            .unwrap();
        if events.is_empty() {
            return all;
        }
        all.extend(events);
        cursor = next;
    }
}
