//! The ORM's database as the result backend (`result_backend = "db"`, issue 18) on SQLite,
//! PostgreSQL and MariaDB: tasks on a transport, their results (and a chord's count) in
//! django-celery-results' tables; and those tables as Django migrated them, read and written by
//! Celery with django-celery-results (from PyPI) while canter reads and writes them: results
//! both ways, a chord started on either side counted by the other.
//!
//! The Python side needs `CANTER_TEST_PYTHON` with `django-celery-results` and `PyMySQL`
//! (`.ci/run`'s venv has them); skipped with a printed reason otherwise.

use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use canter_orm::Databases;
use canter_tasks::brokers::database::models::{ChordCounterRow, TaskResultRow};
use canter_tasks::canvas::{chord, group, Signature};
use canter_tasks::{
    task, Broker, DatabaseResultBackend, MemoryBroker, Registry, ResultBackend, TaskError,
    TaskResult, TaskStatus, WithResultBackend, Worker, WorkerConfig,
};
use canter_test_kit::{MysqlDatabase, PgSchema, SqliteFile};
use serde_json::json;

#[task(name = "dbres.add", crate = canter_tasks)]
async fn add(a: i64, b: i64) -> Result<i64, TaskError> {
    Ok(a + b)
}

#[task(name = "dbres.total", crate = canter_tasks)]
async fn total(values: Vec<i64>) -> Result<i64, TaskError> {
    Ok(values.iter().sum())
}

#[task(name = "dbres.fail", crate = canter_tasks)]
async fn fail() -> Result<i64, TaskError> {
    Err(TaskError::Failed {
        kind: "ValueError".into(),
        message: "boom".into(),
    })
}

/// The backend on database `url` (its tables made by canter when `create`).
async fn backend(url: &str, create: bool) -> (Arc<Databases>, DatabaseResultBackend) {
    let databases = Arc::new(Databases::single(url).unwrap());
    let backend = DatabaseResultBackend::new(databases.clone(), "default").unwrap();
    if create {
        backend.create_tables().await.unwrap();
    }
    (databases, backend)
}

async fn rows_of(databases: &Arc<Databases>, task_id: &str) -> Vec<TaskResultRow> {
    let rows = TaskResultRow::objects().filter(TaskResultRow::task_id.eq(task_id.to_owned()));
    databases.clone().scope(rows.all()).await.unwrap()
}

/// Tasks on an in-memory transport, results in the database: a value, a failure, a chord of
/// eight members finishing at once, a forgotten result.
async fn results_and_a_chord_in(url: &str) {
    let (databases, results) = backend(url, true).await;
    let broker: Arc<dyn Broker> = Arc::new(WithResultBackend::new(
        Arc::new(MemoryBroker::new()),
        Arc::new(results.clone()),
    ));
    assert!(
        broker.celery_chords(),
        "chords by django-celery-results' counter"
    );
    canter_tasks::tasks_app(broker.clone())
        .scope(async move {
            let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
            let registry = Registry::new()
                .register::<add>()
                .register::<total>()
                .register::<fail>();
            let worker = Worker::new(registry, broker.clone(), WorkerConfig::default());
            let running = tokio::spawn(worker.run(async move {
                let _ = stopped.await;
            }));
            let wait = Duration::from_secs(20);

            let sum = add::delay(2, 3).await.unwrap();
            assert_eq!(sum.get(wait).await.unwrap(), 5);
            let row = rows_of(&databases, &sum.id).await.remove(0);
            assert_eq!(
                (row.status.as_str(), row.result.as_deref()),
                ("SUCCESS", Some("5"))
            );
            assert_eq!(
                (row.content_type.as_str(), row.content_encoding.as_str()),
                ("application/json", "utf-8")
            );
            assert_eq!(row.meta_json.as_deref(), Some(r#"{"children":[]}"#));

            let failed = fail::delay().await.unwrap();
            let error = failed.get(wait).await.unwrap_err().to_string();
            assert!(
                error.contains("ValueError") && error.contains("boom"),
                "{error}"
            );
            let row = rows_of(&databases, &failed.id).await.remove(0);
            assert_eq!(row.status, "FAILURE");
            let exception: serde_json::Value =
                serde_json::from_str(row.result.as_deref().unwrap()).unwrap();
            assert_eq!(exception["exc_type"], "ValueError");

            let members = (1..=8)
                .map(|n| Signature::new("dbres.add", json!([n, n])))
                .collect();
            let gathered = chord(group(members), Signature::new("dbres.total", json!([])))
                .apply_async()
                .await
                .unwrap();
            assert_eq!(gathered.get(wait).await.unwrap(), json!(72));
            let counters = databases
                .clone()
                .scope(ChordCounterRow::objects().count())
                .await
                .unwrap();
            assert_eq!(counters, 0, "the completed chord's counter is gone");

            // canter's own chord count (a chord sent where results were elsewhere): a member
            // counted once, however often it is delivered.
            let group = uuid::Uuid::new_v4().to_string();
            assert_eq!(results.chord_part_done(&group, "a").await.unwrap(), Some(1));
            assert_eq!(results.chord_part_done(&group, "a").await.unwrap(), None);
            assert_eq!(results.chord_part_done(&group, "b").await.unwrap(), Some(2));

            sum.forget().await.unwrap();
            assert!(rows_of(&databases, &sum.id).await.is_empty());
            assert_eq!(broker.get_result(&sum.id).await.unwrap(), None);

            let _ = stop.send(());
            running.await.unwrap().unwrap();
        })
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn results_and_chords_in_sqlite() {
    let file = SqliteFile::new("canter-dbres");
    results_and_a_chord_in(&file.url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn results_and_chords_in_postgres() {
    let Some(schema) = PgSchema::create("canter_dbres") else {
        return;
    };
    results_and_a_chord_in(&schema.url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn results_and_chords_in_mariadb() {
    let Some(database) = MysqlDatabase::create("canter_dbres") else {
        return;
    };
    results_and_a_chord_in(&database.url).await;
}

/// The test's Python with django-celery-results, or why there is none (then the test skips,
/// or fails under `CANTER_REQUIRE_SERVICES=1`).
fn python_with_django_celery_results() -> Option<String> {
    let interpreter = canter_core::test::require_service("CANTER_TEST_PYTHON")?;
    let check = Command::new(&interpreter)
        .args(["-c", "import django_celery_results, pymysql"])
        .output()
        .unwrap();
    if check.status.success() {
        return Some(interpreter);
    }
    let why = format!(
        "CANTER_TEST_PYTHON={interpreter} lacks django-celery-results or PyMySQL (pip install 'django-celery-results==2.6.*' 'PyMySQL==1.1.*'; .ci/run's venv has them)"
    );
    assert!(
        std::env::var("CANTER_REQUIRE_SERVICES").as_deref() != Ok("1"),
        "{why}"
    );
    eprintln!("skipped: {why}");
    None
}

/// Runs db_results.py `args` against database `url`; what it printed.
async fn python(interpreter: &str, url: &str, args: &[&str]) -> String {
    let mut command = Command::new(interpreter);
    command
        .current_dir(crate::celery_interop::interop_dir())
        .env("CANTER_DB_URL", url)
        .env("PYTHONWARNINGS", "ignore")
        .arg("db_results.py")
        .args(args);
    let out = tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "db_results.py {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn success(value: serde_json::Value) -> TaskResult {
    TaskResult {
        status: TaskStatus::Success,
        result: Some(value),
        error: None,
    }
}

/// Django's tables, both sides reading and writing them.
async fn shared_with_django_celery_results(interpreter: &str, url: &str) {
    python(interpreter, url, &["migrate"]).await;
    let (_databases, canter) = backend(url, false).await;
    let id = |name: &str| format!("{name}-{}", uuid::Uuid::new_v4());

    // canter writes, Python reads.
    let (ok, failed) = (id("ok"), id("failed"));
    canter
        .store_result(&ok, success(json!({"sum": [5]})))
        .await
        .unwrap();
    let failure = TaskResult {
        status: TaskStatus::Failure,
        result: None,
        error: Some(("ValueError".into(), "boom".into())),
    };
    canter.store_result(&failed, failure).await.unwrap();
    let read = python(interpreter, url, &["read", &ok, &failed]).await;
    assert_eq!(
        read.lines().collect::<Vec<_>>(),
        ["SUCCESS {'sum': [5]}", "FAILURE ValueError: boom"]
    );

    // Python writes, canter reads.
    let (ok, failed) = (id("py-ok"), id("py-failed"));
    python(interpreter, url, &["write", &ok, &failed]).await;
    assert_eq!(
        canter.get_result(&ok).await.unwrap(),
        Some(success(json!({"x": [1, 2]})))
    );
    let python_failure = canter.get_result(&failed).await.unwrap().unwrap();
    assert_eq!(python_failure.status, TaskStatus::Failure);
    assert_eq!(
        python_failure.error,
        Some(("ValueError".into(), "boom".into()))
    );

    // A chord started by canter, read by Python's ChordCounter.
    let (group_id, members) = (id("group"), vec![id("m0"), id("m1")]);
    canter
        .start_celery_chord(&group_id, &members)
        .await
        .unwrap();
    assert_eq!(
        python(interpreter, url, &["group", &group_id]).await,
        format!("2 {} {}", members[0], members[1])
    );

    // A chord started by Python (Celery's apply_chord), counted by canter: the second member
    // completes it with both outcomes in order.
    let (group_id, members) = (id("py-group"), vec![id("p0"), id("p1")]);
    let mut args = vec!["apply_chord", group_id.as_str()];
    args.extend(members.iter().map(String::as_str));
    python(interpreter, url, &args).await;
    canter
        .store_result(&members[1], success(json!(2)))
        .await
        .unwrap();
    let first = canter
        .celery_chord_part(
            &group_id,
            &members[1],
            Some(1),
            TaskStatus::Success,
            json!(2),
        )
        .await
        .unwrap();
    assert_eq!(first, None, "one of two");
    canter
        .store_result(&members[0], success(json!(1)))
        .await
        .unwrap();
    let parts = canter
        .celery_chord_part(
            &group_id,
            &members[0],
            Some(0),
            TaskStatus::Success,
            json!(1),
        )
        .await
        .unwrap()
        .expect("the second member completes the chord");
    assert_eq!(
        parts,
        vec![
            (members[0].clone(), TaskStatus::Success, json!(1)),
            (members[1].clone(), TaskStatus::Success, json!(2)),
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn django_celery_results_shares_sqlite() {
    let Some(interpreter) = python_with_django_celery_results() else {
        return;
    };
    let file = SqliteFile::new("canter-dbres-py");
    shared_with_django_celery_results(&interpreter, &file.url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn django_celery_results_shares_postgres() {
    let Some(schema) = PgSchema::create("canter_dbres_py") else {
        return;
    };
    let Some(interpreter) = python_with_django_celery_results() else {
        return;
    };
    shared_with_django_celery_results(&interpreter, &schema.url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn django_celery_results_shares_mariadb() {
    let Some(database) = MysqlDatabase::create("canter_dbres_py") else {
        return;
    };
    let Some(interpreter) = python_with_django_celery_results() else {
        return;
    };
    shared_with_django_celery_results(&interpreter, &database.url).await;
}
