//! PostgreSQL, for production: a pool with an acquire timeout, so an exhausted pool or a
//! database that went away gives a clear error instead of hanging.

mod features;
mod introspection;
mod operations;
mod schema;

use std::str::FromStr;
use std::time::Duration;

use sea_query::Values;
use sqlx::postgres::{PgArguments, PgConnectOptions, PgPoolOptions, PgRow};
use sqlx::{Connection as _, PgConnection, Row as _, TypeInfo, ValueRef};

use super::{Backend, Database, Features, Pool, Row, RowInner};
use crate::db::DatabaseConfig;

/// The PostgreSQL backend.
pub(crate) struct PostgresBackend;

pub(crate) static BACKEND: PostgresBackend = PostgresBackend;

impl Backend for PostgresBackend {
    fn features(&self) -> &'static Features {
        &features::FEATURES
    }
}

pub(crate) fn connect(config: &DatabaseConfig) -> Result<Pool, String> {
    let options = PgConnectOptions::from_str(&config.url).map_err(|e| e.to_string())?;
    let pool = PgPoolOptions::new()
        .max_connections(config.max_connections.unwrap_or(10))
        .acquire_timeout(Duration::from_secs_f64(config.acquire_timeout));
    Ok(Pool::Postgres(pool.connect_lazy_with(options)))
}

macro_rules! bind_decimal {
    ($args:ident, $v:ident) => {
        $args.add($v)
    };
}

driver_statements!(sqlx::Postgres, PgArguments, Postgres, execute: execute_once, fetch_all: fetch_once);

/// A statement cached on a connection whose table changed shape since (a migration here, or
/// from another process: a Django deployment sharing the database) fails once with "cached plan
/// must not change result type"; the connection's cache is cleared and the statement retried.
fn is_stale_plan(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Database(db) => {
            db.code().as_deref() == Some("0A000") && db.message().contains("cached plan")
        }
        _ => false,
    }
}

pub(crate) async fn execute(
    conn: &mut PgConnection,
    sql: &str,
    values: Values,
) -> Result<u64, sqlx::Error> {
    match execute_once(&mut *conn, sql, values.clone()).await {
        Err(e) if is_stale_plan(&e) => {
            conn.clear_cached_statements().await?;
            execute_once(conn, sql, values).await
        }
        other => other,
    }
}

pub(crate) async fn fetch_all(
    conn: &mut PgConnection,
    sql: &str,
    values: Values,
) -> Result<Vec<Row>, sqlx::Error> {
    match fetch_once(&mut *conn, sql, values.clone()).await {
        Err(e) if is_stale_plan(&e) => {
            conn.clear_cached_statements().await?;
            fetch_once(conn, sql, values).await
        }
        other => other,
    }
}

pub(crate) async fn execute_pool(
    pool: &sqlx::PgPool,
    sql: &str,
    values: Values,
) -> Result<u64, sqlx::Error> {
    execute(&mut *pool.acquire().await?, sql, values).await
}

pub(crate) async fn fetch_all_pool(
    pool: &sqlx::PgPool,
    sql: &str,
    values: Values,
) -> Result<Vec<Row>, sqlx::Error> {
    fetch_all(&mut *pool.acquire().await?, sql, values).await
}

/// A column as JSON, by its runtime type.
pub(crate) fn column_json(row: &PgRow, index: usize) -> serde_json::Value {
    let Ok(raw) = row.try_get_raw(index) else {
        return serde_json::Value::Null;
    };
    if raw.is_null() {
        return serde_json::Value::Null;
    }
    let type_name = raw.type_info().name().to_ascii_uppercase();
    let get = |row: &PgRow| -> Option<serde_json::Value> {
        Some(match type_name.as_str() {
            "BOOL" => row.try_get::<bool, _>(index).ok()?.into(),
            "INT2" => row.try_get::<i16, _>(index).ok()?.into(),
            "INT4" => row.try_get::<i32, _>(index).ok()?.into(),
            "INT8" => row.try_get::<i64, _>(index).ok()?.into(),
            "FLOAT4" => row.try_get::<f32, _>(index).ok()?.into(),
            "FLOAT8" => row.try_get::<f64, _>(index).ok()?.into(),
            "JSON" | "JSONB" => {
                row.try_get::<sqlx::types::Json<serde_json::Value>, _>(index)
                    .ok()?
                    .0
            }
            "UUID" => row.try_get::<uuid::Uuid, _>(index).ok()?.to_string().into(),
            "DATE" => row
                .try_get::<chrono::NaiveDate, _>(index)
                .ok()?
                .to_string()
                .into(),
            "TIME" => row
                .try_get::<chrono::NaiveTime, _>(index)
                .ok()?
                .to_string()
                .into(),
            "TIMESTAMPTZ" => row
                .try_get::<chrono::DateTime<chrono::Utc>, _>(index)
                .ok()?
                .to_rfc3339()
                .into(),
            "BYTEA" => row.try_get::<Vec<u8>, _>(index).ok()?.into(),
            "NUMERIC" => {
                let d = row.try_get::<rust_decimal::Decimal, _>(index).ok()?;
                serde_json::Number::from_f64(d.try_into().ok()?)
                    .map(serde_json::Value::Number)
                    .unwrap_or(d.to_string().into())
            }
            _ => row.try_get::<String, _>(index).ok()?.into(),
        })
    };
    get(row).unwrap_or(serde_json::Value::Null)
}
