//! Prometheus metrics of this process's workers: per task name, counts by outcome and
//! histograms of run time and of queue wait (due → started), in Prometheus' text format on
//! `GET /metrics` of `worker --metrics ADDR` (or `[tasks] metrics_addr`).
//!
//! | metric | kind | labels |
//! |---|---|---|
//! | `canter_tasks_received_total` | counter | `task` |
//! | `canter_tasks_succeeded_total`, `_failed_total`, `_retried_total`, `_revoked_total` | counter | `task` |
//! | `canter_task_runtime_seconds` | histogram | `task` |
//! | `canter_task_wait_seconds` | histogram (due → started) | `task` |
//! | `canter_tasks_active` | gauge | — |

use std::collections::BTreeMap;
use std::fmt::Write as _;
#[cfg(feature = "http")]
use std::net::SocketAddr;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{LazyLock, Mutex};

/// Histogram bucket bounds, seconds.
const BUCKETS: [f64; 12] = [
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

#[derive(Default, Clone)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

impl Histogram {
    fn observe(&mut self, seconds: f64) {
        if let Some(i) = BUCKETS.iter().position(|b| seconds <= *b) {
            self.counts[i] += 1;
        }
        self.count += 1;
        self.sum += seconds;
    }
}

#[derive(Default, Clone)]
struct TaskStats {
    received: u64,
    succeeded: u64,
    failed: u64,
    retried: u64,
    revoked: u64,
    runtime: Histogram,
    wait: Histogram,
}

/// An outcome counted by [`record`].
#[derive(Debug, Clone, Copy)]
pub(crate) enum Outcome {
    Received,
    Succeeded,
    Failed,
    Retried,
    Revoked,
}

static TASKS: LazyLock<Mutex<BTreeMap<String, TaskStats>>> = LazyLock::new(Default::default);
static ACTIVE: AtomicI64 = AtomicI64::new(0);

fn with_stats(task: &str, f: impl FnOnce(&mut TaskStats)) {
    let mut tasks = TASKS.lock().unwrap_or_else(|e| e.into_inner());
    match tasks.get_mut(task) {
        Some(stats) => f(stats),
        None => f(tasks.entry(task.to_owned()).or_default()),
    }
}

pub(crate) fn record(task: &str, outcome: Outcome) {
    with_stats(task, |s| match outcome {
        Outcome::Received => s.received += 1,
        Outcome::Succeeded => s.succeeded += 1,
        Outcome::Failed => s.failed += 1,
        Outcome::Retried => s.retried += 1,
        Outcome::Revoked => s.revoked += 1,
    });
}

/// A task started `wait` seconds after it came due.
pub(crate) fn started(task: &str, wait: f64) {
    ACTIVE.fetch_add(1, Ordering::Relaxed);
    with_stats(task, |s| s.wait.observe(wait.max(0.0)));
}

/// A started task is no longer running (however it ended, aborted included).
pub(crate) fn stopped() {
    ACTIVE.fetch_sub(1, Ordering::Relaxed);
}

/// A task ran for `runtime` seconds.
pub(crate) fn ran(task: &str, runtime: f64) {
    with_stats(task, |s| s.runtime.observe(runtime));
}

/// This process's metrics in Prometheus' text exposition format.
pub fn render() -> String {
    let tasks = TASKS.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let mut out = String::new();
    // (metric name, its help, how to read it from a task's stats)
    type Counter = (&'static str, &'static str, fn(&TaskStats) -> u64);
    type Histogram_ = (&'static str, &'static str, fn(&TaskStats) -> &Histogram);
    let counters: [Counter; 5] = [
        ("received", "Tasks taken from the queue", |s| s.received),
        ("succeeded", "Tasks that succeeded", |s| s.succeeded),
        ("failed", "Tasks that failed for good", |s| s.failed),
        ("retried", "Task attempts that will be retried", |s| {
            s.retried
        }),
        ("revoked", "Tasks revoked or expired", |s| s.revoked),
    ];
    for (name, help, value) in counters {
        let _ = writeln!(out, "# HELP canter_tasks_{name}_total {help}.");
        let _ = writeln!(out, "# TYPE canter_tasks_{name}_total counter");
        for (task, stats) in &tasks {
            let _ = writeln!(
                out,
                "canter_tasks_{name}_total{{task=\"{}\"}} {}",
                escape(task),
                value(stats)
            );
        }
    }
    let histograms: [Histogram_; 2] = [
        ("runtime", "How long tasks ran", |s| &s.runtime),
        ("wait", "How long tasks waited from due to started", |s| {
            &s.wait
        }),
    ];
    for (name, help, histogram) in histograms {
        let _ = writeln!(out, "# HELP canter_task_{name}_seconds {help}.");
        let _ = writeln!(out, "# TYPE canter_task_{name}_seconds histogram");
        for (task, stats) in &tasks {
            let h = histogram(stats);
            let task = escape(task);
            let mut cumulative = 0;
            for (bound, count) in BUCKETS.iter().zip(h.counts) {
                cumulative += count;
                let _ = writeln!(
                    out,
                    "canter_task_{name}_seconds_bucket{{task=\"{task}\",le=\"{bound}\"}} {cumulative}"
                );
            }
            let _ = writeln!(
                out,
                "canter_task_{name}_seconds_bucket{{task=\"{task}\",le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(
                out,
                "canter_task_{name}_seconds_sum{{task=\"{task}\"}} {}",
                h.sum
            );
            let _ = writeln!(
                out,
                "canter_task_{name}_seconds_count{{task=\"{task}\"}} {}",
                h.count
            );
        }
    }
    let _ = writeln!(out, "# HELP canter_tasks_active Tasks running now.");
    let _ = writeln!(out, "# TYPE canter_tasks_active gauge");
    let _ = writeln!(
        out,
        "canter_tasks_active {}",
        ACTIVE.load(Ordering::Relaxed)
    );
    out
}

/// A label value as Prometheus reads it.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Serves `GET /metrics` on `addr` until the process ends; returns the bound address (port 0
/// picks a free one). The `http` feature.
#[cfg(feature = "http")]
pub async fn serve(addr: SocketAddr) -> Result<SocketAddr, std::io::Error> {
    let listener = canter_core::server::bind(addr)?;
    let bound = listener.local_addr()?;
    let settings = canter_core::settings::Settings::from_toml("allowed_hosts = [\"*\"]")
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    use canter_core::{routing::path, App, Body, Response};
    let service = App::new()
        .urls(vec![path("metrics", |_req: canter_core::Request| async {
            let mut response = Response::new(Body::from(render()));
            response.headers_mut().insert(
                canter_core::http::header::CONTENT_TYPE,
                canter_core::http::HeaderValue::from_static(
                    "text/plain; version=0.0.4; charset=utf-8",
                ),
            );
            response
        })])
        .build(settings)
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    tokio::spawn(async move {
        if let Err(e) = canter_core::server::serve(listener, service, std::future::pending()).await
        {
            tracing::error!(target: "canter::tasks", "the metrics endpoint stopped: {e}");
        }
    });
    Ok(bound)
}

#[cfg(test)]
mod tests {
    #[test]
    fn histograms_are_cumulative_and_labels_escaped() {
        super::started("metrics.\"test\"", 0.002);
        super::ran("metrics.\"test\"", 0.3);
        super::stopped();
        super::record("metrics.\"test\"", super::Outcome::Succeeded);
        let text = super::render();
        assert!(
            text.contains("canter_tasks_succeeded_total{task=\"metrics.\\\"test\\\"\"} 1"),
            "{text}"
        );
        assert!(
            text.contains(
                "canter_task_runtime_seconds_bucket{task=\"metrics.\\\"test\\\"\",le=\"0.25\"} 0"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "canter_task_runtime_seconds_bucket{task=\"metrics.\\\"test\\\"\",le=\"0.5\"} 1"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "canter_task_wait_seconds_bucket{task=\"metrics.\\\"test\\\"\",le=\"0.005\"} 1"
            ),
            "{text}"
        );
        assert!(
            text.contains("canter_task_runtime_seconds_count{task=\"metrics.\\\"test\\\"\"} 1"),
            "{text}"
        );
    }
}
