//! The task book: what the dashboard learned of tasks from the broker's event stream (Celery's
//! task events): each task's state, arguments, result and history; counts by event kind; run
//! and wait times per task name; the latest failures. Bounded: the newest [`TASKS_KEPT`] tasks,
//! [`SAMPLES_KEPT`] times per name, [`FAILURES_KEPT`] failures.

use std::collections::{BTreeMap, HashMap, VecDeque};

use serde::Serialize;
use serde_json::Value;

/// Tasks kept (the oldest are forgotten first).
pub const TASKS_KEPT: usize = 10_000;
/// Run and wait times kept per task name.
pub const SAMPLES_KEPT: usize = 1_000;
/// Failures kept.
pub const FAILURES_KEPT: usize = 50;

/// One task as its events told it.
#[derive(Debug, Clone, Default, Serialize)]
pub struct TaskRecord {
    pub id: String,
    pub name: String,
    /// `RECEIVED`, `STARTED`, `SUCCESS`, `FAILURE`, `RETRY` or `REVOKED` (Celery's names).
    pub state: String,
    pub args: Value,
    pub kwargs: Value,
    pub queue: Option<String>,
    /// Not before, seconds since the epoch.
    pub eta: Option<f64>,
    /// The worker that took it.
    pub worker: Option<String>,
    pub retries: u64,
    pub received: Option<f64>,
    pub started: Option<f64>,
    /// Seconds the last run took.
    pub runtime: Option<f64>,
    /// The result as the worker showed it (success).
    pub result: Option<Value>,
    /// The error (failure, retry).
    pub exception: Option<String>,
    /// Every event: `(kind, timestamp)`, oldest first.
    pub history: Vec<(String, f64)>,
}

/// Counts of task events by kind since the dashboard started following them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct EventCounts {
    pub received: u64,
    pub started: u64,
    pub succeeded: u64,
    pub failed: u64,
    pub retried: u64,
    pub revoked: u64,
}

/// Percentiles of one task name's run and wait times, seconds.
#[derive(Debug, Clone, Serialize)]
pub struct TaskTimes {
    pub name: String,
    /// Runs measured (of the newest [`SAMPLES_KEPT`]).
    pub runs: usize,
    pub runtime_p50: Option<f64>,
    pub runtime_p90: Option<f64>,
    pub runtime_p99: Option<f64>,
    /// Due (received or ETA) → started.
    pub wait_p50: Option<f64>,
    pub wait_p90: Option<f64>,
    pub wait_p99: Option<f64>,
}

/// See the module docs.
#[derive(Default)]
pub struct TaskBook {
    tasks: HashMap<String, TaskRecord>,
    order: VecDeque<String>,
    counts: EventCounts,
    runtimes: BTreeMap<String, VecDeque<f64>>,
    waits: BTreeMap<String, VecDeque<f64>>,
    failures: VecDeque<String>,
}

/// Task `id`'s record, made (forgetting the oldest past [`TASKS_KEPT`]) when new.
fn entry<'m>(
    tasks: &'m mut HashMap<String, TaskRecord>,
    order: &mut VecDeque<String>,
    id: &str,
) -> &'m mut TaskRecord {
    if !tasks.contains_key(id) {
        if order.len() == TASKS_KEPT {
            if let Some(oldest) = order.pop_front() {
                tasks.remove(&oldest);
            }
        }
        order.push_back(id.to_owned());
        let record = TaskRecord {
            id: id.to_owned(),
            ..TaskRecord::default()
        };
        tasks.insert(id.to_owned(), record);
    }
    tasks.get_mut(id).expect("inserted above")
}

fn push_bounded<T>(queue: &mut VecDeque<T>, value: T, kept: usize) {
    if queue.len() == kept {
        queue.pop_front();
    }
    queue.push_back(value);
}

impl TaskBook {
    /// Takes one event (Celery's shape: `type`, `uuid`, `timestamp`, `hostname`, …); events
    /// that are not a task's are ignored.
    pub fn apply(&mut self, event: &Value) {
        let Some(kind) = event["type"].as_str().and_then(|k| k.strip_prefix("task-")) else {
            return;
        };
        let Some(id) = event["uuid"].as_str() else {
            return;
        };
        let at = event["timestamp"].as_f64().unwrap_or(0.0);
        let task = entry(&mut self.tasks, &mut self.order, id);
        let counts = &mut self.counts;
        if let Some(name) = event["name"].as_str() {
            task.name = name.to_owned();
        }
        task.history.push((format!("task-{kind}"), at));
        if let Some(host) = event["hostname"].as_str() {
            task.worker = Some(host.to_owned());
        }
        let mut started_wait = None;
        let mut ran = None;
        match kind {
            "received" => {
                task.state = "RECEIVED".into();
                task.args = event["args"].clone();
                task.kwargs = event["kwargs"].clone();
                task.queue = event["queue"].as_str().map(str::to_owned);
                task.eta = event["eta"].as_f64();
                task.retries = event["retries"].as_u64().unwrap_or(0);
                task.received = Some(at);
                counts.received += 1;
            }
            "started" => {
                task.state = "STARTED".into();
                task.started = Some(at);
                let due = match (task.received, task.eta) {
                    (Some(r), Some(e)) => Some(r.max(e)),
                    (r, e) => r.or(e),
                };
                started_wait = due.map(|due| (at - due).max(0.0));
                counts.started += 1;
            }
            "succeeded" => {
                task.state = "SUCCESS".into();
                task.result = Some(event["result"].clone());
                task.runtime = event["runtime"].as_f64();
                ran = task.runtime;
                counts.succeeded += 1;
            }
            "failed" => {
                task.state = "FAILURE".into();
                task.exception = event["exception"].as_str().map(str::to_owned);
                task.runtime = event["runtime"].as_f64();
                ran = task.runtime;
                counts.failed += 1;
            }
            "retried" => {
                task.state = "RETRY".into();
                task.exception = event["exception"].as_str().map(str::to_owned);
                counts.retried += 1;
            }
            "revoked" => {
                task.state = "REVOKED".into();
                counts.revoked += 1;
            }
            _ => {}
        }
        let name = task.name.clone();
        if let Some(wait) = started_wait {
            push_bounded(
                self.waits.entry(name.clone()).or_default(),
                wait,
                SAMPLES_KEPT,
            );
        }
        if let Some(runtime) = ran {
            push_bounded(
                self.runtimes.entry(name).or_default(),
                runtime,
                SAMPLES_KEPT,
            );
        }
        if kind == "failed" {
            self.failures.retain(|f| f != id);
            push_bounded(&mut self.failures, id.to_owned(), FAILURES_KEPT);
        }
    }

    /// Task `id`, if its events were seen.
    pub fn task(&self, id: &str) -> Option<&TaskRecord> {
        self.tasks.get(id)
    }

    /// Event counts since the dashboard started.
    pub fn counts(&self) -> EventCounts {
        self.counts
    }

    /// Tasks kept, by their last state.
    pub fn states(&self) -> BTreeMap<String, u64> {
        let mut states = BTreeMap::new();
        for task in self.tasks.values() {
            let state = if task.state.is_empty() {
                "PENDING"
            } else {
                &task.state
            };
            *states.entry(state.to_owned()).or_insert(0) += 1;
        }
        states
    }

    /// The latest failures, newest first (a task that succeeded since is left out).
    pub fn failures(&self) -> Vec<&TaskRecord> {
        self.failures
            .iter()
            .rev()
            .filter_map(|id| self.tasks.get(id))
            .filter(|t| t.state == "FAILURE")
            .collect()
    }

    /// The newest `limit` tasks, newest first.
    pub fn recent(&self, limit: usize) -> Vec<&TaskRecord> {
        self.order
            .iter()
            .rev()
            .take(limit)
            .filter_map(|id| self.tasks.get(id))
            .collect()
    }

    /// Run and wait percentiles per task name.
    pub fn times(&self) -> Vec<TaskTimes> {
        let mut names: Vec<&String> = self.runtimes.keys().chain(self.waits.keys()).collect();
        names.sort();
        names.dedup();
        names
            .into_iter()
            .map(|name| {
                let runs = sorted(self.runtimes.get(name));
                let waits = sorted(self.waits.get(name));
                TaskTimes {
                    name: name.clone(),
                    runs: runs.len(),
                    runtime_p50: percentile(&runs, 0.50),
                    runtime_p90: percentile(&runs, 0.90),
                    runtime_p99: percentile(&runs, 0.99),
                    wait_p50: percentile(&waits, 0.50),
                    wait_p90: percentile(&waits, 0.90),
                    wait_p99: percentile(&waits, 0.99),
                }
            })
            .collect()
    }
}

fn sorted(samples: Option<&VecDeque<f64>>) -> Vec<f64> {
    let mut values: Vec<f64> = samples
        .map(|s| s.iter().copied().collect())
        .unwrap_or_default();
    values.sort_by(f64::total_cmp);
    values
}

/// The nearest-rank percentile `q` (0–1) of sorted `values`.
pub fn percentile(values: &[f64], q: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let rank = ((q * values.len() as f64).ceil() as usize).clamp(1, values.len());
    Some(values[rank - 1])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn follows_a_task_through_its_events() {
        let mut book = TaskBook::default();
        book.apply(
            &json!({"type": "task-received", "uuid": "t1", "name": "demo.add",
            "timestamp": 10.0, "args": [2, 3], "kwargs": {}, "queue": "celery", "eta": 10.0,
            "hostname": "w1"}),
        );
        book.apply(
            &json!({"type": "task-started", "uuid": "t1", "name": "demo.add", "timestamp": 10.5}),
        );
        book.apply(
            &json!({"type": "task-failed", "uuid": "t1", "name": "demo.add",
            "timestamp": 11.0, "exception": "ValueError: no", "runtime": 0.5}),
        );
        book.apply(&json!({"type": "worker-heartbeat", "hostname": "w1"}));
        let task = book.task("t1").unwrap();
        assert_eq!(task.state, "FAILURE");
        assert_eq!(task.args, json!([2, 3]));
        assert_eq!(task.history.len(), 3);
        assert_eq!(book.failures().len(), 1);
        assert_eq!(book.counts().failed, 1);
        let times = book.times();
        assert_eq!(times[0].runtime_p50, Some(0.5));
        assert_eq!(times[0].wait_p50, Some(0.5));
        assert_eq!(book.states()["FAILURE"], 1);
    }

    #[test]
    fn keeps_a_bounded_number_of_tasks() {
        let mut book = TaskBook::default();
        for i in 0..TASKS_KEPT + 5 {
            book.apply(
                &json!({"type": "task-received", "uuid": format!("t{i}"), "timestamp": 1.0}),
            );
        }
        assert!(book.task("t0").is_none());
        assert!(book.task(&format!("t{}", TASKS_KEPT + 4)).is_some());
        assert_eq!(book.recent(3).len(), 3);
    }

    #[test]
    fn percentiles_by_nearest_rank() {
        let values: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&values, 0.5), Some(50.0));
        assert_eq!(percentile(&values, 0.99), Some(99.0));
        assert_eq!(percentile(&[], 0.5), None);
    }
}
