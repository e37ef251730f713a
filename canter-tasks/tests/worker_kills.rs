//! The crash test on the embedded broker: many tasks, worker processes SIGKILLed over and
//! over (the scenario is `common::repeated_worker_kills`). Its own test binary: the broker is
//! process-wide, so it must not share a process with another test's broker.

mod common;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_worker_kills_lose_no_task() {
    if common::is_doomed_worker() {
        return common::repeated_worker_kills("", "", std::path::Path::new("")).await;
    }
    let dir = common::temp_dir("kills");
    let url = format!("sqlite://{}", dir.join("broker.sqlite3").display());
    common::repeated_worker_kills("repeated_worker_kills_lose_no_task", &url, &dir).await;
    let _ = std::fs::remove_dir_all(&dir);
}
