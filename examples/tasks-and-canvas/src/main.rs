//! Celery in Rust: three tasks, a view that enqueues one, a view that starts a chain and a
//! chord (Celery's canvas), and a view that reports a task's state and result.
//!
//! `cargo run -p example-tasks-and-canvas -- runserver` (an in-process worker runs the tasks on
//! the embedded broker, `tasks.sqlite3`), then `curl -X POST localhost:8000/canvas/`.

use canter::prelude::*;
use canter::tasks::canvas::{chain, chord, group, Signature};
use canter::tasks::{task, AsyncResult, Task, TaskError, Tasks};
use serde_json::{json, Value};

#[task(name = "maths.add")]
async fn add(a: i64, b: i64) -> Result<i64, TaskError> {
    Ok(a + b)
}

#[task(name = "maths.mul")]
async fn mul(a: i64, b: i64) -> Result<i64, TaskError> {
    Ok(a * b)
}

/// A chord's callback: the members' results come first, as a list.
#[task(name = "maths.total")]
async fn total(numbers: Vec<i64>) -> Result<i64, TaskError> {
    Ok(numbers.iter().sum())
}

fn tasks() -> Tasks {
    Tasks::new().task::<add>().task::<mul>().task::<total>()
}

/// POST `add/<a>/<b>/`: `add.delay(a, b)`, answered at once with the task's id.
async fn start_add(Path((a, b)): Path<(i64, i64)>) -> Result<(StatusCode, Json<Value>)> {
    let handle = add::delay(a, b).await?;
    Ok((StatusCode::ACCEPTED, Json(json!({ "task_id": handle.id }))))
}

/// POST `canvas/`: `chain(add.s(2, 3), mul.s(10))` → 50, and
/// `chord([add.s(1, 1), add.s(2, 2), add.s(3, 3)], total.s())` → 12.
async fn start_canvas(_req: Request) -> Result<Json<Value>> {
    let step = |name: &str, args: Value| Signature::new(name, args);
    let chained = chain(vec![
        step(add::NAME, json!([2, 3])),
        step(mul::NAME, json!([10])),
    ]);
    let members = (1..=3).map(|n| step(add::NAME, json!([n, n]))).collect();
    let summed = chord(group(members), step(total::NAME, json!([])));
    let (chained, summed) = (chained.apply_async().await?, summed.apply_async().await?);
    Ok(Json(json!({ "chain": chained.id, "chord": summed.id })))
}

/// GET `tasks/<id>/`: PENDING, STARTED, SUCCESS (with the result), FAILURE, …
async fn task_status(Path(id): Path<String>) -> Result<Json<Value>> {
    let info = AsyncResult::<Value>::new(id).info().await?;
    Ok(Json(
        json!({ "status": info.status.as_str(), "result": info.result }),
    ))
}

fn app() -> App {
    App::new()
        .settings_toml("debug = true")
        .plugin(tasks()) // the broker, `worker`, and a worker inside `runserver`
        .urls(vec![
            path("add/<int:a>/<int:b>/", start_add).methods([Method::POST]),
            path("canvas/", start_canvas).methods([Method::POST]),
            path("tasks/<str:id>/", task_status).name("task-status"),
        ])
}

fn main() -> std::process::ExitCode {
    app().main()
}

#[cfg(test)]
mod tests {
    use std::{sync::Arc, time::Duration};

    use canter::tasks::{tasks_app, AsyncResult, MemoryBroker, Worker, WorkerConfig};
    use canter::test::TestClient;
    use serde_json::Value;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn tasks_chains_and_chords_run_on_a_worker() {
        let broker = Arc::new(MemoryBroker::new());
        tasks_app(broker.clone()) // the app's broker, as the plugin would start it
            .scope(async move {
                let config = WorkerConfig {
                    poll_interval: Duration::from_millis(10),
                    ..Default::default()
                };
                let worker = Worker::new(super::tasks().registry(), broker, config);
                let worker = tokio::spawn(worker.run(std::future::pending()));

                let client = TestClient::new(super::app());
                let r = client.post("/add/2/3/").await;
                assert_eq!(r.status(), 202, "{}", r.text());
                let id = r.json::<Value>()["task_id"].as_str().unwrap().to_owned();
                let sum: i64 = AsyncResult::new(id.clone())
                    .get(Duration::from_secs(10))
                    .await
                    .unwrap();
                assert_eq!(sum, 5);
                let status: Value = client.get(&format!("/tasks/{id}/")).await.json();
                assert_eq!(
                    (status["status"].as_str(), status["result"].as_i64()),
                    (Some("SUCCESS"), Some(5))
                );

                let ids: Value = client.post("/canvas/").await.json();
                let result = |key: &str| AsyncResult::<i64>::new(ids[key].as_str().unwrap());
                assert_eq!(
                    result("chain").get(Duration::from_secs(10)).await.unwrap(),
                    50
                );
                assert_eq!(
                    result("chord").get(Duration::from_secs(10)).await.unwrap(),
                    12
                );
                worker.abort();
            })
            .await;
    }
}
