//! Inspection, control and events against a live worker: the worker listed with its running
//! tasks, queue lengths, scheduled tasks, purge, revoke, the dead-letter record and its retry,
//! the event stream, the worker gone from the list once stopped, and a killed one aging out.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use canter_tasks::{
    control, task, ApplyOptions, AsyncResult, Broker, Registry, TaskError, TaskStatus, Worker,
    WorkerConfig,
};
use serde_json::Value;
use tokio::sync::Semaphore;

on_every_broker!(
    a_worker_lists_its_tasks_and_obeys_purge_and_revoke,
    an_unknown_task_is_dead_lettered_and_retried_once_known,
    a_killed_worker_is_listed_as_not_alive_then_forgotten,
);

/// One gate per test (the per-broker tests run at once), opened one run at a time by the test.
static GATES: Mutex<Option<HashMap<String, Arc<Semaphore>>>> = Mutex::new(None);

fn gate(key: &str) -> Arc<Semaphore> {
    let mut gates = GATES.lock().unwrap();
    let gates = gates.get_or_insert_with(HashMap::new);
    gates
        .entry(key.to_owned())
        .or_insert_with(|| Arc::new(Semaphore::new(0)))
        .clone()
}

/// Waits at its test's gate.
#[task(name = "ops.hold", crate = canter_tasks, queue = "ops")]
async fn hold(key: String, n: i64) -> Result<i64, TaskError> {
    gate(&key).acquire().await.expect("never closed").forget();
    Ok(n)
}

#[task(name = "ops.later", crate = canter_tasks, queue = "ops-dead")]
async fn later(n: i64) -> Result<i64, TaskError> {
    Ok(n * 2)
}

/// A worker sending events on `queue`: its name, its stop, its handle.
type Started = (
    String,
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<Result<(), TaskError>>,
);

fn start(broker: Arc<dyn Broker>, registry: Registry, queue: &str) -> Started {
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

/// A worker running two held tasks, with one due in a minute and three waiting in a queue no
/// worker consumes: listed, purged, revoked, and told in the event stream.
async fn a_worker_lists_its_tasks_and_obeys_purge_and_revoke(broker: Arc<dyn Broker>) {
    let (cursor_now, _) = broker.events(None, Duration::ZERO).await.unwrap();
    let key = super::tasks::fresh_key();
    for n in 0..3 {
        let idle = ApplyOptions {
            queue: Some("ops-idle".into()),
            ..Default::default()
        };
        hold::apply_async((key.clone(), n), idle).await.unwrap();
    }
    let (name, stop, handle) = start(broker.clone(), Registry::new().register::<hold>(), "ops");
    let first = hold::delay(key.clone(), 1).await.unwrap();
    let second = hold::delay(key.clone(), 2).await.unwrap();
    let in_a_minute = ApplyOptions {
        countdown: Some(60.0),
        ..Default::default()
    };
    let due_later = hold::apply_async((key.clone(), 3), in_a_minute)
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
    listed_as_active_and_scheduled(&name, [&first, &second], &due_later).await;
    queues_counted_and_purged(&*broker).await;

    // Revoke by id: the scheduled one never runs; a running one stops.
    control::revoke(due_later.id.as_str()).await.unwrap();
    control::revoke(second.id.as_str()).await.unwrap();
    wait_status(second.id.as_str(), TaskStatus::Revoked).await;
    gate(&key).add_permits(1);
    assert_eq!(first.get(Duration::from_secs(10)).await.unwrap(), 1);

    // The event stream tells the story, in Celery's shapes.
    let events = collect_events(&*broker, &cursor_now).await;
    assert_eq!(
        kinds_of(&events, first.id.as_str()),
        ["task-received", "task-started", "task-succeeded"],
        "{events:#?}"
    );
    assert!(kinds_of(&events, second.id.as_str()).contains(&"task-revoked".to_owned()));
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

    let _ = stop.send(());
    handle.await.unwrap().unwrap();
    let workers = control::workers().await.unwrap();
    assert!(
        workers.iter().all(|w| w.name != name),
        "a stopped worker leaves the list"
    );
}

/// `control::active` lists the running tasks with their worker; `scheduled` the countdown one,
/// which `reserved` does not list.
async fn listed_as_active_and_scheduled(
    worker: &str,
    running: [&AsyncResult<i64>; 2],
    due_later: &AsyncResult<i64>,
) {
    let active = control::active().await.unwrap();
    for id in running.map(|handle| handle.id.as_str()) {
        let task = active
            .iter()
            .find(|t| t.id == id)
            .unwrap_or_else(|| panic!("{id} not active: {active:?}"));
        assert_eq!(task.name, "ops.hold");
        assert_eq!(task.worker.as_deref(), Some(worker));
        assert!(task.started.is_some());
    }
    until("the countdown task is listed as scheduled", || async {
        control::scheduled()
            .await
            .unwrap()
            .iter()
            .any(|t| t.id == due_later.id.as_str() && t.eta > now() + 30.0)
    })
    .await;
    let reserved = control::reserved().await.unwrap();
    assert!(reserved.iter().all(|t| t.id != running[0].id.as_str()));
}

/// Queue lengths: the idle queue holds three, consumed by nobody; `ops` by the worker. Purge
/// empties the idle queue, and only it.
async fn queues_counted_and_purged(broker: &dyn Broker) {
    let queues = control::queues(&[]).await.unwrap();
    let idle = queues
        .iter()
        .find(|q| q.name == "ops-idle")
        .unwrap_or_else(|| panic!("{queues:?}"));
    assert_eq!((idle.waiting, idle.consumers), (3, 0));
    let ops = queues.iter().find(|q| q.name == "ops").unwrap();
    assert_eq!(ops.consumers, 1);

    assert_eq!(control::purge("ops-idle").await.unwrap(), 3);
    assert_eq!(broker.queue_length("ops-idle").await.unwrap(), 0);
    assert_eq!(control::purge("ops-idle").await.unwrap(), 0);
}

/// A task no worker of the `ops-dead` queue knows goes to the dead-letter record; once a worker
/// that knows it runs, retrying the record runs it.
async fn an_unknown_task_is_dead_lettered_and_retried_once_known(broker: Arc<dyn Broker>) {
    let (cursor_now, _) = broker.events(None, Duration::ZERO).await.unwrap();
    let (dead_worker, dead_stop, dead_handle) = start(
        broker.clone(),
        Registry::new().register::<hold>(),
        "ops-dead",
    );
    let unknown = later::delay(21).await.unwrap();
    until("the unknown task is dead-lettered", || async {
        let letters = control::dead_letters().await.unwrap();
        letters.iter().any(|d| d.id == unknown.id.as_str())
    })
    .await;
    let letters = control::dead_letters().await.unwrap();
    let letter = letters
        .iter()
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
    let workers = control::workers().await.unwrap();
    assert!(
        workers.iter().all(|w| w.name != dead_worker),
        "a stopped worker leaves the list"
    );

    assert!(control::retry_dead_letters().await.unwrap() >= 1);
    let letters = control::dead_letters().await.unwrap();
    assert!(letters.iter().all(|d| d.id != unknown.id.as_str()));
    assert_eq!(
        broker.queue_length("ops-dead").await.unwrap(),
        1,
        "back in its queue"
    );
    let registry = Registry::new().register::<later>();
    let (_, fixed_stop, fixed_handle) = start(broker.clone(), registry, "ops-dead");
    assert_eq!(unknown.get(Duration::from_secs(10)).await.unwrap(), 42);
    let _ = fixed_stop.send(());
    fixed_handle.await.unwrap().unwrap();

    let events = collect_events(&*broker, &cursor_now).await;
    assert!(kinds_of(&events, unknown.id.as_str()).contains(&"task-failed".to_owned()));
    assert!(events
        .iter()
        .any(|e| e["type"] == "worker-offline" && e["hostname"] == dead_worker.as_str()));
}

/// A worker that died without saying so (killed) stays listed as not alive, its heartbeat
/// aging, for an hour; then it is forgotten.
async fn a_killed_worker_is_listed_as_not_alive_then_forgotten(broker: Arc<dyn Broker>) {
    let now = now();
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
    let workers = control::workers().await.unwrap();
    assert!(workers.iter().all(|w| w.name != "ops-killed"));
}

fn now() -> f64 {
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

/// The kinds of the events about task `id`, in order.
fn kinds_of(events: &[Value], id: &str) -> Vec<String> {
    events
        .iter()
        .filter(|e| e["uuid"] == id)
        .map(|e| e["type"].as_str().unwrap_or_default().to_owned())
        .collect()
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
