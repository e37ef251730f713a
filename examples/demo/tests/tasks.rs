//! The demo's tasks through its views: enqueue the article's long_running_task, watch its
//! state go from PENDING to SUCCESS, and bad input answered with 400.

use std::sync::Arc;
use std::time::{Duration, Instant};

use canter::tasks::{SqliteBroker, Worker, WorkerConfig};
use canter::test::TestClient;
use serde_json::Value;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_running_task_is_enqueued_run_and_reported() {
    let file = std::env::temp_dir().join(format!(
        "demo-tasks-{}.sqlite3",
        uuid::Uuid::new_v4().simple()
    ));
    let broker = Arc::new(
        SqliteBroker::open(&format!("sqlite://{}", file.display()))
            .await
            .unwrap(),
    );
    canter::tasks::tasks_app(broker.clone())
        .scope(async move {
            let client = TestClient::new(demo::app());

            let r = client.post("/tasks/long-running/?seconds=1").await;
            assert_eq!(r.status(), 202, "{}", r.text());
            let body: Value = r.json();
            let id = body["task_id"].as_str().unwrap().to_owned();
            assert_eq!(body["status_url"], format!("/tasks/{id}/"));

            // No worker yet: PENDING, as in Celery.
            let status: Value = client.get(&format!("/tasks/{id}/")).await.json();
            assert_eq!(status["status"], "PENDING");

            let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
            let config = WorkerConfig {
                poll_interval: Duration::from_millis(10),
                ..WorkerConfig::default()
            };
            let worker = tokio::spawn(
                Worker::new(demo::tasks::tasks().registry(), broker, config).run(async move {
                    let _ = stopped.await;
                }),
            );
            let deadline = Instant::now() + Duration::from_secs(20);
            let done = loop {
                let status: Value = client.get(&format!("/tasks/{id}/")).await.json();
                if status["status"] == "SUCCESS" {
                    break status;
                }
                assert!(
                    ["PENDING", "STARTED"].contains(&status["status"].as_str().unwrap()),
                    "{status}"
                );
                assert!(Instant::now() < deadline, "never finished: {status}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            };
            assert_eq!(done["result"], "Task completed!");

            // A task's own failure is reported with its type and message.
            let overflow = demo::tasks::add::delay(i64::MAX, 1).await.unwrap();
            assert!(overflow.get(Duration::from_secs(10)).await.is_err());
            let status: Value = client.get(&format!("/tasks/{}/", overflow.id)).await.json();
            assert_eq!(status["status"], "FAILURE");
            assert_eq!(status["error"]["type"], "OverflowError");

            // The canvas endpoint: a chain, (2 + 3) + 4, and a chord, sum of 1+1, 2+2, 3+3.
            let r = client.post("/tasks/pipeline/").await;
            assert_eq!(r.status(), 202, "{}", r.text());
            let body: Value = r.json();
            let finished = |url: String| {
                let client = &client;
                async move {
                    let deadline = Instant::now() + Duration::from_secs(20);
                    loop {
                        let status: Value = client.get(&url).await.json();
                        if status["status"] == "SUCCESS" {
                            return status["result"].clone();
                        }
                        assert!(Instant::now() < deadline, "never finished: {status}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                }
            };
            assert_eq!(
                finished(body["status_url"].as_str().unwrap().to_owned()).await,
                12
            );
            assert_eq!(
                finished(body["chain"]["status_url"].as_str().unwrap().to_owned()).await,
                9
            );

            let r = client.post("/tasks/long-running/?seconds=600").await;
            assert_eq!(r.status(), 400);
            let r = client.post("/tasks/long-running/?seconds=soon").await;
            assert_eq!(r.status(), 400);

            let _ = stop.send(());
            worker.await.unwrap().unwrap();
            let _ = std::fs::remove_file(&file);
        })
        .await
}

/// The demo's periodic entry: `demo.heartbeat`, every 10 s, known to its workers.
#[test]
fn the_heartbeat_is_scheduled_every_ten_seconds() {
    let tasks = demo::tasks::tasks();
    assert!(tasks.registry().names().contains(&"demo.heartbeat"));
    let entries = tasks.beat().entries().to_vec();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].task, "demo.heartbeat");
    assert!(matches!(
        entries[0].schedule,
        canter::tasks::beat::Schedule::Every(every) if every == std::time::Duration::from_secs(10)
    ));
}
