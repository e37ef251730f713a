//! canter's async ORM: Django's models and querysets on real async drivers (sqlx), SQLite
//! embedded by default and PostgreSQL for production.
//!
//! | Django | canter |
//! |---|---|
//! | `class MyModel(models.Model)` | `#[derive(Model)] struct MyModel { id: i64, … }` |
//! | `MyModel.objects.filter(active=True)` | `MyModel::objects().filter(MyModel::active.eq(true))` |
//! | `await qs.afirst()` | `qs.first().await?` |
//! | `Q(a=1) \| ~Q(b=2)` | `MyModel::a.eq(1) \| !MyModel::b.eq(2)` |
//! | `F("views") + 1` | `MyModel::views.f() + 1` |
//! | `transaction.atomic()` | [`transaction::atomic`] |
//! | `transaction.on_commit(f)` | [`transaction::on_commit`] |
//!
//! Django's "async" ORM runs the sync ORM in a thread pool; here every query is a future on the
//! driver's socket, with no thread hop.
//!
//! Module map (Django's layout): [`queryset`] (public, lazy) → `query` (internal
//! representation) → `compiler` (SQL per backend, via sea-query) → [`backends`] (one folder per
//! database: connection, `operations`, `schema`).

#[cfg(not(any(feature = "sqlite", feature = "postgres", feature = "mysql")))]
compile_error!("canter-orm needs a database: enable its `sqlite`, `postgres` or `mysql` feature (canter's facade forwards them)");

pub mod aggregates;
pub mod backends;
mod compiler;
pub mod db;
pub mod error;
pub mod expressions;
pub mod fields;
pub mod keys;
pub mod migrations;
pub mod model;
mod plugin;
pub mod prefetch;
mod query;
pub mod queryset;
pub mod relations;
pub mod schema;
pub mod select_related;
pub mod transaction;
#[doc(hidden)]
pub mod validation;

pub use backends::{Database, Row, Vendor};
pub use canter_macros::Model;
pub use db::{database, DatabaseConfig, Databases, DEFAULT_DB_ALIAS};
pub use error::{OrmError, ValidationError};
pub use expressions::{Assignment, Column, ManyToManyField, OrderBy, F, Q};
pub use fields::{FieldMeta, FieldType, Json, Operand, SqlType};
pub use keys::{AutoPk, PrimaryKey};
pub use model::{HasState, IndexMeta, Model, ModelExt, ModelMeta, ModelState};
pub use plugin::Orm;
pub use prefetch::Prefetch;
pub use queryset::{QuerySet, MAX_FILTER_DEPTH, MAX_FILTER_VALUES};
pub use relations::{ForeignKey, ManyToMany, OnDelete, OneToOne};
pub use sea_query::Value;
pub use transaction::{
    atomic, atomic_isolated, atomic_using, on_commit, on_commit_async, Isolation,
};

/// Re-exported for code the derive generates and for users' field types.
pub use chrono;
pub use rust_decimal;
pub use uuid;
