//! A result row of any backend, and its columns decoded.

use crate::error::OrmError;
use crate::fields::FieldType;

#[cfg(feature = "mysql")]
use super::mysql;
#[cfg(feature = "postgres")]
use super::postgres;
#[cfg(feature = "sqlite")]
use super::sqlite;
use super::Vendor;

/// A result row.
pub struct Row {
    pub(super) inner: RowInner,
}

pub(super) enum RowInner {
    #[cfg(feature = "sqlite")]
    Sqlite(sqlx::sqlite::SqliteRow),
    #[cfg(feature = "postgres")]
    Postgres(sqlx::postgres::PgRow),
    #[cfg(feature = "mysql")]
    Mysql(sqlx::mysql::MySqlRow),
}

#[cfg(feature = "sqlite")]
#[doc(hidden)]
pub trait SqliteDecode: for<'r> sqlx::Decode<'r, sqlx::Sqlite> + sqlx::Type<sqlx::Sqlite> {}
#[cfg(feature = "sqlite")]
impl<T: for<'r> sqlx::Decode<'r, sqlx::Sqlite> + sqlx::Type<sqlx::Sqlite>> SqliteDecode for T {}
#[cfg(not(feature = "sqlite"))]
#[doc(hidden)]
pub trait SqliteDecode {}
#[cfg(not(feature = "sqlite"))]
impl<T> SqliteDecode for T {}

#[cfg(feature = "postgres")]
#[doc(hidden)]
pub trait PgDecode: for<'r> sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres> {}
#[cfg(feature = "postgres")]
impl<T: for<'r> sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres>> PgDecode for T {}
#[cfg(not(feature = "postgres"))]
#[doc(hidden)]
pub trait PgDecode {}
#[cfg(not(feature = "postgres"))]
impl<T> PgDecode for T {}

#[cfg(feature = "mysql")]
#[doc(hidden)]
pub trait MySqlDecode: for<'r> sqlx::Decode<'r, sqlx::MySql> + sqlx::Type<sqlx::MySql> {}
#[cfg(feature = "mysql")]
impl<T: for<'r> sqlx::Decode<'r, sqlx::MySql> + sqlx::Type<sqlx::MySql>> MySqlDecode for T {}
#[cfg(not(feature = "mysql"))]
#[doc(hidden)]
pub trait MySqlDecode {}
#[cfg(not(feature = "mysql"))]
impl<T> MySqlDecode for T {}

impl Row {
    /// Column `index` as field type `T`.
    pub fn get<T: FieldType>(&self, index: usize) -> Result<T, OrmError> {
        T::decode(self, index).map_err(|message| OrmError::Decode {
            model: "",
            column: self.column_name(index),
            message,
        })
    }

    #[doc(hidden)]
    pub fn try_get_raw<T: SqliteDecode + PgDecode + MySqlDecode>(
        &self,
        index: usize,
    ) -> Result<T, String> {
        use sqlx::Row as _;
        match &self.inner {
            #[cfg(feature = "sqlite")]
            RowInner::Sqlite(row) => row.try_get::<T, _>(index).map_err(|e| e.to_string()),
            #[cfg(feature = "postgres")]
            RowInner::Postgres(row) => row.try_get::<T, _>(index).map_err(|e| e.to_string()),
            #[cfg(feature = "mysql")]
            RowInner::Mysql(row) => row.try_get::<T, _>(index).map_err(|e| e.to_string()),
        }
    }

    /// A PostgreSQL-only type (decimals, …).
    #[cfg(feature = "postgres")]
    #[doc(hidden)]
    pub fn try_get_pg<T: PgDecode>(&self, index: usize) -> Result<T, String> {
        use sqlx::Row as _;
        match &self.inner {
            RowInner::Postgres(row) => row.try_get::<T, _>(index).map_err(|e| e.to_string()),
            #[allow(unreachable_patterns)]
            _ => Err("not a PostgreSQL row".into()),
        }
    }

    /// Column `index` as a decimal. SQLite has no decimal type: the column's NUMERIC affinity
    /// stores a REAL (or an INTEGER), as with Django on SQLite; it reads back through its
    /// shortest decimal text, so 1.99 stays 1.99 (precision is that of a double, ~15 digits).
    #[doc(hidden)]
    pub fn try_get_decimal(&self, index: usize) -> Result<rust_decimal::Decimal, String> {
        match &self.inner {
            #[cfg(feature = "sqlite")]
            RowInner::Sqlite(_) => {
                let text = match self.try_get_raw::<i64>(index) {
                    Ok(n) => n.to_string(),
                    Err(_) => match self.try_get_raw::<f64>(index) {
                        Ok(f) => f.to_string(),
                        Err(_) => self.try_get_raw::<String>(index)?,
                    },
                };
                text.parse()
                    .map_err(|e| format!("{text:?} is not a decimal: {e}"))
            }
            #[cfg(feature = "postgres")]
            RowInner::Postgres(_) => self.try_get_pg::<rust_decimal::Decimal>(index),
            #[cfg(feature = "mysql")]
            RowInner::Mysql(row) => {
                use sqlx::Row as _;
                row.try_get::<rust_decimal::Decimal, _>(index)
                    .map(|d| d.normalize())
                    .map_err(|e| e.to_string())
            }
        }
    }

    /// Which backend produced this row.
    pub fn vendor(&self) -> Vendor {
        match &self.inner {
            #[cfg(feature = "sqlite")]
            RowInner::Sqlite(_) => Vendor::Sqlite,
            #[cfg(feature = "postgres")]
            RowInner::Postgres(_) => Vendor::Postgres,
            #[cfg(feature = "mysql")]
            RowInner::Mysql(_) => Vendor::Mysql,
        }
    }

    pub fn is_null(&self, index: usize) -> bool {
        use sqlx::{Row as _, ValueRef};
        match &self.inner {
            #[cfg(feature = "sqlite")]
            RowInner::Sqlite(row) => row.try_get_raw(index).map(|v| v.is_null()).unwrap_or(true),
            #[cfg(feature = "postgres")]
            RowInner::Postgres(row) => row.try_get_raw(index).map(|v| v.is_null()).unwrap_or(true),
            #[cfg(feature = "mysql")]
            RowInner::Mysql(row) => row.try_get_raw(index).map(|v| v.is_null()).unwrap_or(true),
        }
    }

    pub fn len(&self) -> usize {
        use sqlx::Row as _;
        match &self.inner {
            #[cfg(feature = "sqlite")]
            RowInner::Sqlite(row) => row.len(),
            #[cfg(feature = "postgres")]
            RowInner::Postgres(row) => row.len(),
            #[cfg(feature = "mysql")]
            RowInner::Mysql(row) => row.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn column_name(&self, index: usize) -> String {
        use sqlx::{Column as _, Row as _};
        match &self.inner {
            #[cfg(feature = "sqlite")]
            RowInner::Sqlite(row) => row
                .columns()
                .get(index)
                .map(|c| c.name().to_owned())
                .unwrap_or_default(),
            #[cfg(feature = "postgres")]
            RowInner::Postgres(row) => row
                .columns()
                .get(index)
                .map(|c| c.name().to_owned())
                .unwrap_or_default(),
            #[cfg(feature = "mysql")]
            RowInner::Mysql(row) => row
                .columns()
                .get(index)
                .map(|c| c.name().to_owned())
                .unwrap_or_default(),
        }
    }

    /// Column `index` as JSON, whatever its type (for `values()`).
    pub fn get_json(&self, index: usize) -> serde_json::Value {
        match &self.inner {
            #[cfg(feature = "sqlite")]
            RowInner::Sqlite(row) => sqlite::column_json(row, index),
            #[cfg(feature = "postgres")]
            RowInner::Postgres(row) => postgres::column_json(row, index),
            #[cfg(feature = "mysql")]
            RowInner::Mysql(row) => mysql::column_json(row, index),
        }
    }
}
