//! django-celery-results' tables as canter models, column for column (its `models.py`, 2.6):
//! `django_celery_results_taskresult` (one row per task id) and
//! `django_celery_results_chordcounter` (a chord's members left to finish). A database Django
//! migrated for django-celery-results serves canter as it is; without Django,
//! [`register`] them for `makemigrations` or [`create_tables`].

use canter_orm::chrono::{DateTime, Utc};
use canter_orm::{Model, Orm};

/// `django_celery_results.models.TaskResult`: a task's state and result. The result, its
/// arguments and `meta` are JSON text (`content_type` `application/json`, `content_encoding`
/// `utf-8`).
#[derive(Model, Debug, Clone, Default, PartialEq)]
#[model(
    crate = canter_orm,
    app = "django_celery_results",
    table = "django_celery_results_taskresult",
    index(fields = ["task_name"], name = "django_cele_task_na_08aec9_idx"),
    index(fields = ["status"], name = "django_cele_status_9b6201_idx"),
    index(fields = ["worker"], name = "django_cele_worker_d54dd8_idx"),
    index(fields = ["date_created"], name = "django_cele_date_cr_f04a50_idx"),
    index(fields = ["date_done"], name = "django_cele_date_do_f59aad_idx"),
    index(fields = ["periodic_task_name"], name = "django_cele_periodi_1993cf_idx")
)]
pub struct TaskResultRow {
    /// Django's `AutoField`.
    pub id: i32,
    #[field(max_length = 255, unique)]
    pub task_id: String,
    #[field(max_length = 255)]
    pub periodic_task_name: Option<String>,
    #[field(max_length = 255)]
    pub task_name: Option<String>,
    pub task_args: Option<String>,
    pub task_kwargs: Option<String>,
    /// Celery's state name (`SUCCESS`, …).
    #[field(max_length = 50)]
    pub status: String,
    #[field(max_length = 100)]
    pub worker: Option<String>,
    #[field(max_length = 128)]
    pub content_type: String,
    #[field(max_length = 64)]
    pub content_encoding: String,
    /// The value as JSON: a success's value, a failure's exception record.
    pub result: Option<String>,
    pub date_created: DateTime<Utc>,
    pub date_started: Option<DateTime<Utc>>,
    pub date_done: DateTime<Utc>,
    pub traceback: Option<String>,
    /// `{"children": […]}` as JSON (column `meta`; the Rust name keeps clear of
    /// `Model::meta()`).
    #[field(db_column = "meta")]
    pub meta_json: Option<String>,
}

/// `django_celery_results.models.ChordCounter`: a chord's header group, its members' result
/// tuples (`[[id, null], null]` each, Celery's `AsyncResult.as_tuple()`) and how many are left.
#[derive(Model, Debug, Clone, Default, PartialEq)]
#[model(
    crate = canter_orm,
    app = "django_celery_results",
    table = "django_celery_results_chordcounter"
)]
pub struct ChordCounterRow {
    pub id: i32,
    #[field(max_length = 255, unique)]
    pub group_id: String,
    pub sub_tasks: String,
    /// Starts at the chord's size; one less as each member finishes.
    pub count: i32,
}

/// Adds django-celery-results' models to the ORM (for `makemigrations`; `migrate` creates the
/// tables).
pub fn register(orm: Orm) -> Orm {
    orm.model::<TaskResultRow>().model::<ChordCounterRow>()
}

/// Creates the two tables without migrations (tests, scripts), if missing, on database
/// `alias` of the current app.
pub async fn create_tables(alias: &str) -> Result<(), canter_orm::OrmError> {
    canter_orm::schema::create_table::<TaskResultRow>(alias).await?;
    canter_orm::schema::create_table::<ChordCounterRow>(alias).await
}
