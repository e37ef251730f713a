//! A task file written by an earlier canter (before embeds, dead-letter priorities and keyword
//! arguments were stored) opens: the missing columns are added, its queued rows are read with
//! no keyword arguments, and new ones keep theirs.

use std::time::Duration;

use canter_tasks::{SqliteBroker, TaskMessage, Transport};
use serde_json::json;

/// The first release's queue and dead-letter tables.
const OLD_SCHEMA: &str = r"
CREATE TABLE canter_task_queue (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, queue TEXT NOT NULL,
    priority INTEGER NOT NULL DEFAULT 0, args TEXT NOT NULL, eta REAL NOT NULL, expires REAL,
    retries INTEGER NOT NULL DEFAULT 0, lease TEXT, lease_until REAL, created REAL NOT NULL
);
CREATE TABLE canter_task_dead_letter (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, queue TEXT NOT NULL, args TEXT NOT NULL,
    reason TEXT NOT NULL, at REAL NOT NULL
);
INSERT INTO canter_task_queue (id, name, queue, args, eta, created) VALUES ('old', 't.add', 'celery', '[2, 3]', 0, 0);
INSERT INTO canter_task_dead_letter (id, name, queue, args, reason, at) VALUES ('dead', 't.x', 'celery', '[]', 'why', 0);
";

#[tokio::test]
async fn a_file_of_an_earlier_version_opens_with_its_tasks() {
    let dir = crate::common::TempDir::new("sqlite-upgrade");
    let path = dir.path().join("old.sqlite3");
    let url = format!("sqlite://{}", path.display());
    {
        use sqlx::ConnectOptions;
        let options: sqlx::sqlite::SqliteConnectOptions = url.parse().unwrap();
        let mut old = options.create_if_missing(true).connect().await.unwrap();
        sqlx::raw_sql(OLD_SCHEMA).execute(&mut old).await.unwrap();
    }
    let broker = SqliteBroker::open(&url).await.unwrap();
    let queues = ["celery".to_owned()];
    let visibility = Duration::from_secs(30);
    let old = broker
        .fetch(&queues, "w", visibility)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (old.message.args.clone(), old.message.kwargs.clone()),
        (json!([2, 3]), json!({}))
    );
    broker.ack(&old).await.unwrap();
    let dead = broker.dead_letters().await.unwrap();
    assert_eq!((dead.len(), dead[0].kwargs.clone()), (1, json!({})));

    broker
        .publish(TaskMessage {
            id: "new".into(),
            name: "t.add".into(),
            queue: "celery".into(),
            priority: 0,
            args: json!([]),
            kwargs: json!({"a": 1}),
            eta: 0.0,
            expires: None,
            retries: 0,
            embed: None,
            ..Default::default()
        })
        .await
        .unwrap();
    let new = broker
        .fetch(&queues, "w", visibility)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(new.message.kwargs, json!({"a": 1}));
}
