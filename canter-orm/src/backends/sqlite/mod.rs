//! SQLite, the embedded default: WAL mode, foreign keys on, a `REGEXP` function, a busy
//! timeout so concurrent writers wait instead of failing.

mod features;
mod introspection;
mod operations;
mod schema;

use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{
    SqliteArguments, SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{Column, Row as _, Sqlite, TypeInfo, ValueRef};

use super::{Backend, Database, Features, Pool, Row, RowInner};
use crate::db::DatabaseConfig;

/// The SQLite backend.
pub(crate) struct SqliteBackend;

pub(crate) static BACKEND: SqliteBackend = SqliteBackend;

impl Backend for SqliteBackend {
    fn features(&self) -> &'static Features {
        &features::FEATURES
    }
}

pub(crate) fn connect(config: &DatabaseConfig) -> Result<Pool, String> {
    let options = SqliteConnectOptions::from_str(&config.url)
        .map_err(|e| e.to_string())?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .foreign_keys(true)
        .busy_timeout(Duration::from_secs_f64(config.busy_timeout))
        .with_regexp();
    let in_memory = config.url.contains(":memory:") || config.url.contains("mode=memory");
    let mut pool = SqlitePoolOptions::new()
        .max_connections(if in_memory {
            1
        } else {
            config.max_connections.unwrap_or(8)
        })
        .acquire_timeout(Duration::from_secs_f64(config.acquire_timeout));
    if in_memory {
        // One connection that never closes: each connection to :memory: is its own database.
        pool = pool
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None);
    }
    Ok(Pool::Sqlite(pool.connect_lazy_with(options)))
}

/// SQLite has no decimal type. Decimals are bound as their text, but the column's NUMERIC
/// affinity converts a well-formed number to REAL (a double: ~15 significant digits, as Django
/// on SQLite); `Decimal`'s decoding reads it back through its shortest decimal text.
macro_rules! bind_decimal {
    ($args:ident, $v:ident) => {
        $args.add($v.map(|d| d.to_string()))
    };
}

driver_statements!(Sqlite, SqliteArguments, Sqlite, execute: execute, fetch_all: fetch_all);

/// A column as JSON, by its runtime type.
pub(crate) fn column_json(row: &SqliteRow, index: usize) -> serde_json::Value {
    let Ok(raw) = row.try_get_raw(index) else {
        return serde_json::Value::Null;
    };
    if raw.is_null() {
        return serde_json::Value::Null;
    }
    let type_name = raw.type_info().name().to_ascii_uppercase();
    let declared = row
        .columns()
        .get(index)
        .map(|c| c.type_info().name().to_ascii_uppercase())
        .unwrap_or_default();
    if declared == "BOOLEAN" {
        return row
            .try_get::<bool, _>(index)
            .map(Into::into)
            .unwrap_or_default();
    }
    match type_name.as_str() {
        "INTEGER" => row
            .try_get::<i64, _>(index)
            .map(Into::into)
            .unwrap_or_default(),
        "REAL" => row
            .try_get::<f64, _>(index)
            .map(Into::into)
            .unwrap_or_default(),
        "BLOB" => row
            .try_get::<Vec<u8>, _>(index)
            .map(serde_json::Value::from)
            .unwrap_or_default(),
        _ => row
            .try_get::<String, _>(index)
            .map(Into::into)
            .unwrap_or_default(),
    }
}
