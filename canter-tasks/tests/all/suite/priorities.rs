//! One priority order on every broker (issue 18): 0 to 9, the lowest number first — Celery's
//! order on Redis — the default (0) among the first, out-of-range numbers clamped. Tasks are
//! queued before the worker starts, so its one slot takes them in the broker's order. (Redis
//! serves kombu's steps, 0–2, 3–5, 6–8 and 9, each in arrival order: the priorities below are
//! one per step.)

use std::sync::Arc;
use std::time::{Duration, Instant};

use canter_tasks::{ApplyOptions, Broker, WorkerConfig};

use super::tasks::{fresh_key, record, runs};
use super::{config, RunningWorker};

on_every_broker!(the_lowest_number_runs_first_everywhere);

async fn the_lowest_number_runs_first_everywhere(broker: Arc<dyn Broker>) {
    let key = fresh_key();
    // Sent in the reverse of the order they run in; `None` is the task's default, 0.
    let sent = [
        ("clamped-to-9", Some(42)),
        ("nine", Some(9)),
        ("six", Some(6)),
        ("three", Some(3)),
        ("default", None),
        ("clamped-to-0", Some(-5)),
    ];
    for (label, priority) in sent {
        let options = ApplyOptions {
            priority,
            ..Default::default()
        };
        record::apply_async((key.clone(), label.to_owned()), options)
            .await
            .unwrap();
    }
    let worker = RunningWorker::start(
        broker,
        WorkerConfig {
            concurrency: 1,
            ..config(&["priorities"])
        },
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while runs(&key).len() < sent.len() {
        assert!(Instant::now() < deadline, "ran only {:?}", runs(&key));
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let ran = runs(&key);
    // One priority (0 and the default; 9 and 42) runs in arrival order.
    assert_eq!(
        ran,
        [
            "default",
            "clamped-to-0",
            "three",
            "six",
            "clamped-to-9",
            "nine"
        ],
        "{ran:?}"
    );
    worker.stop().await;
}
