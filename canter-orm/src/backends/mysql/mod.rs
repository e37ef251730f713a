//! MariaDB (10.5 or later) and MySQL's wire protocol. Each connection runs with `ANSI_QUOTES`
//! (identifiers in double quotes, as the other backends write them), in UTC, and compares text
//! byte for byte (`utf8mb4_nopad_bin`), so `exact` and `contains` are case-sensitive as on the
//! other backends.

mod features;
mod introspection;
mod operations;
mod schema;

use std::str::FromStr;
use std::time::Duration;

use sqlx::mysql::{MySqlArguments, MySqlConnectOptions, MySqlPoolOptions, MySqlRow};
use sqlx::{Column, Executor as _, MySql, Row as _, TypeInfo, ValueRef};

use super::{Backend, Database, Features, Pool, Row, RowInner};
use crate::db::DatabaseConfig;

/// The MariaDB / MySQL backend.
pub(crate) struct MysqlBackend;

pub(crate) static BACKEND: MysqlBackend = MysqlBackend;

impl Backend for MysqlBackend {
    fn features(&self) -> &'static Features {
        &features::FEATURES
    }
}

/// The collation of the connections and of the tables the ORM creates: binary (case-sensitive
/// compares) and without padding ('a' and 'a ' differ), as on SQLite and PostgreSQL.
pub(crate) const COLLATION: &str = "utf8mb4_nopad_bin";

/// What follows the ORM's `CREATE TABLE`s: the collation above.
pub(crate) const TABLE_OPTIONS: &str = " DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_nopad_bin";

pub(crate) fn connect(config: &DatabaseConfig) -> Result<Pool, String> {
    let options = MySqlConnectOptions::from_str(&config.url)
        .map_err(|e| e.to_string())?
        .charset("utf8mb4")
        .collation(COLLATION)
        .timezone(Some("+00:00".to_owned()));
    let pool = MySqlPoolOptions::new()
        .max_connections(config.max_connections.unwrap_or(10))
        .acquire_timeout(Duration::from_secs_f64(config.acquire_timeout))
        .after_connect(|conn, _| {
            Box::pin(async move {
                conn.execute("SET SESSION sql_mode = CONCAT(@@sql_mode, ',ANSI_QUOTES')")
                    .await
                    .map(drop)
            })
        });
    Ok(Pool::Mysql(pool.connect_lazy_with(options)))
}

macro_rules! bind_decimal {
    ($args:ident, $v:ident) => {
        $args.add($v)
    };
}

driver_statements!(MySql, MySqlArguments, Mysql, execute: execute, fetch_all: fetch_all);

/// A column as JSON, by its runtime type.
pub(crate) fn column_json(row: &MySqlRow, index: usize) -> serde_json::Value {
    let Ok(raw) = row.try_get_raw(index) else {
        return serde_json::Value::Null;
    };
    if raw.is_null() {
        return serde_json::Value::Null;
    }
    let type_name = raw.type_info().name().to_ascii_uppercase();
    let get = |row: &MySqlRow| -> Option<serde_json::Value> {
        Some(match type_name.as_str() {
            "BOOLEAN" => row.try_get::<bool, _>(index).ok()?.into(),
            "TINYINT" | "SMALLINT" | "INT" | "MEDIUMINT" | "BIGINT" => {
                row.try_get::<i64, _>(index).ok()?.into()
            }
            "FLOAT" => row.try_get::<f32, _>(index).ok()?.into(),
            "DOUBLE" => row.try_get::<f64, _>(index).ok()?.into(),
            "DECIMAL" => {
                let d = row.try_get::<rust_decimal::Decimal, _>(index).ok()?;
                serde_json::Number::from_f64(d.try_into().ok()?)
                    .map(serde_json::Value::Number)
                    .unwrap_or(d.to_string().into())
            }
            "JSON" => {
                row.try_get::<sqlx::types::Json<serde_json::Value>, _>(index)
                    .ok()?
                    .0
            }
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
            "DATETIME" | "TIMESTAMP" => row
                .try_get::<chrono::DateTime<chrono::Utc>, _>(index)
                .ok()?
                .to_rfc3339()
                .into(),
            // Text in a binary collation is flagged binary too: text when it decodes as text.
            "BINARY" | "VARBINARY" | "BLOB" | "TINYBLOB" | "MEDIUMBLOB" | "LONGBLOB" => {
                if let Ok(text) = row.try_get::<String, _>(index) {
                    return Some(text.into());
                }
                let bytes = row.try_get::<Vec<u8>, _>(index).ok()?;
                match uuid::Uuid::from_slice(&bytes) {
                    Ok(id) if bytes.len() == 16 && declared_binary16(row, index) => {
                        id.to_string().into()
                    }
                    _ => bytes.into(),
                }
            }
            _ => row.try_get::<String, _>(index).ok()?.into(),
        })
    };
    get(row).unwrap_or(serde_json::Value::Null)
}

/// Whether a column is a `binary(16)`: a UUID, as the schema editor makes them.
fn declared_binary16(row: &MySqlRow, index: usize) -> bool {
    row.columns()
        .get(index)
        .map(|c| c.type_info().name().eq_ignore_ascii_case("BINARY"))
        .unwrap_or(false)
}
