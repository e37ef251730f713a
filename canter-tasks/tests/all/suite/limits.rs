//! Time and rate limits: the hard time limit fails a task, the soft one lets its body wind
//! down (async and blocking bodies), a rate limit holds starts per second.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use canter_tasks::{Broker, TaskError};

use super::tasks::{blocking_winds_down, fresh_key, limited, starts, too_slow, winds_down};
use super::{config, RunningWorker, WAIT};

on_every_broker!(
    the_hard_time_limit_fails_the_task,
    the_soft_time_limit_lets_the_body_wind_down,
    a_rate_limit_holds_starts_per_second,
);

async fn the_hard_time_limit_fails_the_task(broker: Arc<dyn Broker>) {
    let worker = RunningWorker::start(broker, config(&["celery"]));
    match too_slow::delay().await.unwrap().get(WAIT).await {
        Err(TaskError::Failed { kind, .. }) => assert_eq!(kind, "TimeLimit"),
        other => panic!("expected a time limit failure, got {other:?}"),
    }
    worker.stop().await;
}

/// The body is told, and winds down: an async body at once, a blocking one when it looks.
async fn the_soft_time_limit_lets_the_body_wind_down(broker: Arc<dyn Broker>) {
    let worker = RunningWorker::start(broker, config(&["celery"]));
    let started = Instant::now();
    assert_eq!(
        winds_down::delay().await.unwrap().get(WAIT).await.unwrap(),
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
            .get(WAIT)
            .await
            .unwrap(),
        "stopped in time"
    );
    worker.stop().await;
}

/// 10 tasks at once under a limit of 4 a second: by the end of any second, at most 4 for each
/// second since they were enqueued have started. (A task admitted in one second may start in a
/// later one on a busy machine, so "at most 4 in any one second" of the bodies' clocks is not
/// the property; this is, and load cannot break it: a start is never before its admission.)
async fn a_rate_limit_holds_starts_per_second(broker: Arc<dyn Broker>) {
    let worker = RunningWorker::start(broker, config(&["celery"]));
    let key = fresh_key();
    let first_window = seconds_now().floor() as u64;
    let mut handles = Vec::new();
    for _ in 0..10 {
        handles.push(limited::delay(key.clone()).await.unwrap());
    }
    for handle in &handles {
        handle.get(WAIT).await.unwrap();
    }
    let mut per_second: BTreeMap<u64, usize> = BTreeMap::new();
    for at in starts(&key) {
        *per_second.entry(at as u64).or_default() += 1;
    }
    assert_eq!(per_second.values().sum::<usize>(), 10);
    let mut started = 0;
    for (second, count) in &per_second {
        started += count;
        let windows = (second - first_window + 1) as usize;
        assert!(
            started <= 4 * windows,
            "{started} started by the end of second {second}, {windows} s after the enqueue (starts per second: {per_second:?})"
        );
    }
    worker.stop().await;
}

fn seconds_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}
