//! SQLite's schema editor: column types and CREATE TABLE.

use crate::fields::SqlType;

pub(crate) fn column_type(sql_type: SqlType, max_length: Option<u32>) -> String {
    match sql_type {
        SqlType::Integer | SqlType::BigInteger => "integer".into(),
        SqlType::Boolean => "bool".into(),
        SqlType::Double => "real".into(),
        SqlType::Text => match max_length {
            Some(n) => format!("varchar({n})"),
            None => "text".into(),
        },
        SqlType::Bytes => "blob".into(),
        SqlType::Date => "date".into(),
        SqlType::Time => "time".into(),
        SqlType::DateTime => "datetime".into(),
        SqlType::Uuid => "char(32)".into(),
        SqlType::Decimal => "decimal".into(),
        SqlType::Json => "text".into(),
    }
}

pub(crate) fn auto_pk_definition() -> &'static str {
    "integer NOT NULL PRIMARY KEY AUTOINCREMENT"
}
