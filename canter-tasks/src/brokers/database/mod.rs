//! The ORM's database as the result backend (`result_backend = "db"`, Celery's
//! `result_backend = "django-db"`): results in django-celery-results' table, one row per task
//! id, as its `DatabaseBackend` writes them, so Python's `AsyncResult` on that backend reads
//! canter's results and the other way round; chords counted in its chord counter table as
//! Python's workers count them (a chord may mix canter and Python members and callbacks).
//! Works on SQLite, PostgreSQL and MariaDB, whatever the transport is.

mod chords;
pub mod models;

use std::sync::Arc;

use canter_orm::chrono::Utc;
use canter_orm::{Databases, OrmError};
use futures_util::future::BoxFuture;
use serde_json::{json, Value};

use self::models::TaskResultRow;
use crate::broker::{ChordPart, ResultBackend};
use crate::brokers::celery;
use crate::error::TaskError;
use crate::result::{TaskResult, TaskStatus};

/// See the module docs. Holds the app's databases and uses one alias of them.
#[derive(Clone)]
pub struct DatabaseResultBackend {
    databases: Arc<Databases>,
    alias: String,
    hostname: String,
}

impl DatabaseResultBackend {
    /// Results in database `alias` of `databases` (the tables must exist: Django's or canter's
    /// `migrate` with [`models::register`], or [`models::create_tables`]).
    pub fn new(databases: Arc<Databases>, alias: &str) -> Result<Self, TaskError> {
        databases.get(alias).map_err(orm_error)?;
        Ok(DatabaseResultBackend {
            databases,
            alias: alias.to_owned(),
            hostname: crate::broker::hostname(),
        })
    }

    /// Creates the tables if missing (without migrations: tests, scripts).
    pub async fn create_tables(&self) -> Result<(), TaskError> {
        let alias = self.alias.clone();
        self.run(async move { models::create_tables(&alias).await })
            .await
    }

    /// Runs an ORM future against this backend's databases, wherever it is polled.
    async fn run<T>(
        &self,
        work: impl std::future::Future<Output = Result<T, OrmError>>,
    ) -> Result<T, TaskError> {
        self.databases.clone().scope(work).await.map_err(orm_error)
    }

    async fn store(&self, id: &str, result: TaskResult) -> Result<(), TaskError> {
        let alias = self.alias.as_str();
        let now = Utc::now();
        let value = celery::result_value(&result, &self.hostname).to_string();
        let status = result.status.as_str().to_owned();
        let started = (result.status == TaskStatus::Started).then_some(now);
        self.run(async move {
            let rows = || TaskResultRow::objects().using(alias);
            let changes = || {
                let mut changes = vec![
                    TaskResultRow::status.set(status.clone()),
                    TaskResultRow::result.set(Some(value.clone())),
                    TaskResultRow::date_done.set(now),
                ];
                if let Some(started) = started {
                    changes.push(TaskResultRow::date_started.set(Some(started)));
                }
                changes
            };
            let by_id = || rows().filter(TaskResultRow::task_id.eq(id.to_owned()));
            if by_id().update(changes()).await? > 0 {
                return Ok(());
            }
            let row = TaskResultRow {
                task_id: id.to_owned(),
                status: status.clone(),
                content_type: "application/json".into(),
                content_encoding: "utf-8".into(),
                result: Some(value.clone()),
                date_created: now,
                date_started: started,
                date_done: now,
                meta_json: Some(json!({"children": []}).to_string()),
                ..Default::default()
            };
            match rows().create(row).await {
                Ok(_) => Ok(()),
                // Another writer created it since: update that row (Django's update_or_create
                // retried).
                Err(OrmError::Integrity { .. }) => by_id().update(changes()).await.map(drop),
                Err(e) => Err(e),
            }
        })
        .await
    }

    async fn load(&self, id: &str) -> Result<Option<TaskResult>, TaskError> {
        let alias = self.alias.as_str();
        let row = self
            .run(async move {
                TaskResultRow::objects()
                    .using(alias)
                    .filter(TaskResultRow::task_id.eq(id.to_owned()))
                    .first()
                    .await
            })
            .await?;
        Ok(row.and_then(|row| decode_row(&row)))
    }
}

/// A row as a result: its state and its `result` column (JSON; a binary encoding, which only a
/// non-JSON serializer writes, reads as no value).
fn decode_row(row: &TaskResultRow) -> Option<TaskResult> {
    let value = row
        .result
        .as_deref()
        .filter(|_| row.content_encoding != "binary")
        .and_then(|text| serde_json::from_str::<Value>(text).ok())
        .unwrap_or(Value::Null);
    celery::decode_record(&json!({"status": row.status, "result": value}))
}

fn orm_error(e: OrmError) -> TaskError {
    TaskError::Broker(format!("the database result backend: {e}"))
}

impl ResultBackend for DatabaseResultBackend {
    fn store_result<'a>(
        &'a self,
        id: &'a str,
        result: TaskResult,
    ) -> BoxFuture<'a, Result<(), TaskError>> {
        Box::pin(self.store(id, result))
    }

    fn get_result<'a>(
        &'a self,
        id: &'a str,
    ) -> BoxFuture<'a, Result<Option<TaskResult>, TaskError>> {
        Box::pin(self.load(id))
    }

    fn forget<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<(), TaskError>> {
        let alias = self.alias.as_str();
        Box::pin(async move {
            let rows = TaskResultRow::objects()
                .using(alias)
                .filter(TaskResultRow::task_id.eq(id.to_owned()));
            self.run(rows.delete()).await.map(drop)
        })
    }

    fn celery_chords(&self) -> bool {
        true
    }

    fn start_celery_chord<'a>(
        &'a self,
        group_id: &'a str,
        members: &'a [String],
    ) -> BoxFuture<'a, Result<(), TaskError>> {
        Box::pin(self.start_chord(group_id, members))
    }

    fn celery_chord_part<'a>(
        &'a self,
        group_id: &'a str,
        member: &'a str,
        _index: Option<u64>,
        state: TaskStatus,
        value: Value,
    ) -> BoxFuture<'a, Result<Option<Vec<ChordPart>>, TaskError>> {
        Box::pin(self.chord_part(group_id, member, state, value))
    }

    fn chord_part_done<'a>(
        &'a self,
        group_id: &'a str,
        member: &'a str,
    ) -> BoxFuture<'a, Result<Option<u64>, TaskError>> {
        Box::pin(self.count_member(group_id, member))
    }
}
