//! The crash test on RabbitMQ: many tasks, worker processes SIGKILLed over and over
//! (the scenario is `common::repeated_worker_kills`): what a killed worker held comes back
//! because its connection closed, not after a timeout. In a vhost of its own, results in a
//! SQLite file. Against `CANTER_TEST_AMQP_URL` (skipped without it; a failure under
//! `CANTER_REQUIRE_SERVICES=1`).

use crate::common;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_worker_kills_lose_no_task_on_rabbitmq() {
    if common::is_doomed_worker() {
        return common::repeated_worker_kills("", "", std::path::Path::new("")).await;
    }
    let Some(vhost) = common::AmqpVhost::create("canter-kills") else {
        return;
    };
    let dir = common::TempDir::new("kills-amqp");
    let results = format!("sqlite://{}", dir.path().join("results.sqlite3").display());
    let test = common::test_name(
        module_path!(),
        "repeated_worker_kills_lose_no_task_on_rabbitmq",
    );
    let url = format!("{}|{results}", vhost.url);
    common::repeated_worker_kills(&test, &url, dir.path()).await;
}
