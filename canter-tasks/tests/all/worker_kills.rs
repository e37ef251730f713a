//! The crash test on the embedded broker: many tasks, worker processes SIGKILLed over and
//! over (the scenario is `common::repeated_worker_kills`).

use crate::common;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_worker_kills_lose_no_task() {
    if common::is_doomed_worker() {
        return common::repeated_worker_kills("", "", std::path::Path::new("")).await;
    }
    let dir = common::TempDir::new("kills");
    let url = format!("sqlite://{}", dir.path().join("broker.sqlite3").display());
    let test = common::test_name(module_path!(), "repeated_worker_kills_lose_no_task");
    common::repeated_worker_kills(&test, &url, dir.path()).await;
}
