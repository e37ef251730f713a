//! The crash test on the Redis broker: many tasks, worker processes SIGKILLed over and
//! over (the scenario is `common::repeated_worker_kills`), under a key prefix of its own.
//! Against `CANTER_TEST_REDIS_URL` (skipped without it; a failure under
//! `CANTER_REQUIRE_SERVICES=1`).

use crate::common;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_worker_kills_lose_no_task_on_redis() {
    if common::is_doomed_worker() {
        return common::repeated_worker_kills("", "", std::path::Path::new("")).await;
    }
    // Its keys and files go however the test ends (a failure leaves nothing behind).
    let Some(keys) = common::RedisKeys::create("canter-kills") else {
        return;
    };
    let dir = common::TempDir::new("kills-redis");
    let test = common::test_name(
        module_path!(),
        "repeated_worker_kills_lose_no_task_on_redis",
    );
    common::repeated_worker_kills(&test, &keys.broker_url(), dir.path()).await;
}
