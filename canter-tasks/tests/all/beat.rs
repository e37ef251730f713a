//! Periodic tasks: two schedulers sharing a broker (the embedded one and Redis) fire each due
//! time once; a restarted scheduler fires the latest missed run once, and never again what
//! already fired.

use crate::common;

use std::sync::Arc;
use std::time::Duration;

use canter_tasks::beat::Schedule;
use canter_tasks::{task, Beat, Broker, SqliteBroker, TaskError};

#[task(name = "beat.tick", crate = canter_tasks, queue = "ticks")]
async fn tick() -> Result<(), TaskError> {
    Ok(())
}

fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// Runs `beat` on `broker` for `time`.
async fn run_for(beat: Beat, broker: Arc<dyn Broker>, time: Duration) {
    beat.run(broker, tokio::time::sleep(time)).await.unwrap();
}

/// Sleeps until `offset` seconds past the next multiple of `period` (the due-time grid).
async fn align(period: f64, offset: f64) {
    let at = now();
    let next = (at / period).floor() * period + period + offset;
    tokio::time::sleep(Duration::from_secs_f64(next - at)).await;
}

/// Two schedulers, each with its own connection to the same broker, for about a second with a
/// 100 ms interval: one message per due time, not two.
async fn two_schedulers_fire_each_due_time_once(a: Arc<dyn Broker>, b: Arc<dyn Broker>) {
    let period = 0.1;
    let beat = Beat::new().every::<tick>(
        "tick",
        Duration::from_secs_f64(period),
        serde_json::json!([]),
    );
    align(period, 0.03).await;
    let start_due = (now() / period).floor();
    tokio::join!(
        run_for(beat.clone(), a.clone(), Duration::from_millis(1000)),
        run_for(beat, b, Duration::from_millis(1000)),
    );
    let end_due = (now() / period).floor();
    let expected = (end_due - start_due) as u64 + 1;
    let fired = a.queue_length("ticks").await.unwrap();
    assert!(
        fired == expected || fired + 1 == expected,
        "{fired} fires for {expected} due times (two schedulers must not both fire one)"
    );
}

/// A scheduler down for two due times fires once when it is back (the latest), then nothing
/// more until the next due time; started again at once, it fires nothing already fired.
async fn a_restart_catches_up_once(broker: Arc<dyn Broker>) {
    let period = 1.0;
    let beat = Beat::new().every::<tick>(
        "catch-up",
        Duration::from_secs_f64(period),
        serde_json::json!([]),
    );
    align(period, 0.05).await;
    run_for(beat.clone(), broker.clone(), Duration::from_millis(200)).await;
    assert_eq!(
        broker.queue_length("ticks").await.unwrap(),
        1,
        "the first start fires the current due time"
    );
    align(period, 0.05).await;
    align(period, 0.05).await; // two due times pass with no scheduler
    run_for(beat.clone(), broker.clone(), Duration::from_millis(200)).await;
    assert_eq!(
        broker.queue_length("ticks").await.unwrap(),
        2,
        "one catch-up fire, not one per missed run"
    );
    run_for(beat, broker.clone(), Duration::from_millis(200)).await;
    assert_eq!(
        broker.queue_length("ticks").await.unwrap(),
        2,
        "a restart does not fire again"
    );
}

async fn sqlite(file: &std::path::Path) -> Arc<dyn Broker> {
    Arc::new(
        SqliteBroker::open(&format!("sqlite://{}", file.display()))
            .await
            .unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn beat_on_the_embedded_broker() {
    let dir = common::TempDir::new("beat");
    let (a, b) = (
        sqlite(&dir.join("one.sqlite3")).await,
        sqlite(&dir.join("one.sqlite3")).await,
    );
    two_schedulers_fire_each_due_time_once(a, b).await;
    a_restart_catches_up_once(sqlite(&dir.join("two.sqlite3")).await).await;
}

/// A crontab firing every second, two schedulers for about 2.5 s: one message per second, and
/// none for the second before they started (a crontab entry that never fired waits for its
/// next occurrence).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crontab_fires_once_per_occurrence() {
    let dir = common::TempDir::new("beat-cron");
    let file = dir.join("cron.sqlite3");
    let (a, b) = (sqlite(&file).await, sqlite(&file).await);
    let every_second = Schedule::crontab("* * * * * *", "Europe/Paris").unwrap();
    let beat = Beat::new().schedule::<tick>("cron", every_second, serde_json::json!([]));
    align(1.0, 0.2).await;
    let start = now().floor();
    tokio::join!(
        run_for(beat.clone(), a.clone(), Duration::from_millis(2500)),
        run_for(beat, b, Duration::from_millis(2500)),
    );
    let expected = (now().floor() - start) as u64; // the occurrences after the start
    let fired = a.queue_length("ticks").await.unwrap();
    assert!(
        fired == expected || fired + 1 == expected,
        "{fired} fires for {expected} occurrences"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn beat_on_the_redis_broker() {
    // Two prefixes of the test's own, their keys deleted however the test ends.
    let (Some(first), Some(second)) = (
        common::RedisKeys::create("canter-beat"),
        common::RedisKeys::create("canter-beat"),
    ) else {
        return;
    };
    let connect = |keys: &common::RedisKeys| {
        let url = keys.broker_url();
        async move {
            let broker: Arc<dyn Broker> =
                Arc::new(canter_tasks::RedisBroker::connect(&url).await.unwrap());
            broker
        }
    };
    two_schedulers_fire_each_due_time_once(connect(&first).await, connect(&first).await).await;
    a_restart_catches_up_once(connect(&second).await).await;
}
