//! How MariaDB spells lookups: text compares are binary (the tables' collation), so `LIKE` is
//! case-sensitive and the `i…` lookups compare `LOWER()`s; `REGEXP` is PCRE (`(?i)` for
//! `iregex`); date parts with `EXTRACT` (the connection and the stored values are UTC).

use sea_query::Expr;

use super::MysqlBackend;
use crate::backends::{Operations, Vendor};
use crate::expressions::{Op, Transform};
use crate::fields::SqlType;
use crate::transaction::Isolation;

/// The name of the lock `migrate` holds (`GET_LOCK`: a named lock of the connection, server-
/// wide; the database's name is added, so migrations of different databases do not wait).
pub(crate) const MIGRATION_LOCK: &str = "CONCAT('canter_migrate.', DATABASE())";

/// Seconds `migrate` waits for another process's migration lock.
const MIGRATION_LOCK_WAIT: u32 = 300;

impl Operations for MysqlBackend {
    fn vendor(&self) -> Vendor {
        Vendor::Mysql
    }

    sea_query_dialect!(MysqlQueryBuilder);

    fn push_placeholder(&self, sql: &mut String, _number: usize) {
        sql.push('?');
    }

    fn insert_defaults_sql(&self, table: &str, pk: &str) -> String {
        format!(
            "INSERT INTO {} () VALUES () RETURNING {}",
            crate::schema::quote_name(table),
            crate::schema::quote_name(pk)
        )
    }

    fn text_lookup(&self, op: Op, column: Expr, value: &str) -> Expr {
        let (template, pattern) = match op {
            Op::IExact => ("LOWER(?) = LOWER(?)", value.to_owned()),
            Op::Contains => ("? LIKE ?", format!("%{}%", escape_like(value))),
            Op::IContains => (
                "LOWER(?) LIKE LOWER(?)",
                format!("%{}%", escape_like(value)),
            ),
            Op::StartsWith => ("? LIKE ?", format!("{}%", escape_like(value))),
            Op::IStartsWith => ("LOWER(?) LIKE LOWER(?)", format!("{}%", escape_like(value))),
            Op::EndsWith => ("? LIKE ?", format!("%{}", escape_like(value))),
            Op::IEndsWith => ("LOWER(?) LIKE LOWER(?)", format!("%{}", escape_like(value))),
            Op::Regex => ("? REGEXP ?", value.to_owned()),
            Op::IRegex => ("? REGEXP ?", format!("(?i){value}")),
            _ => unreachable!("not a text lookup"),
        };
        Expr::cust_with_exprs(template, [column, Expr::val(pattern)])
    }

    fn date_part(&self, transform: Transform, column: Expr, _sql_type: SqlType) -> Expr {
        let part = match transform {
            Transform::Year => "YEAR",
            Transform::Month => "MONTH",
            Transform::Day => "DAY",
        };
        Expr::cust_with_exprs(format!("EXTRACT({part} FROM ?)"), [column])
    }

    fn integer_cast_type(&self) -> &'static str {
        "SIGNED"
    }

    fn float_cast_type(&self) -> &'static str {
        "DOUBLE"
    }

    fn random_function(&self) -> &'static str {
        "RAND()"
    }

    /// The level is set before the transaction starts (it applies to the next one only).
    fn begin_statements(&self, isolation: Option<Isolation>) -> Vec<String> {
        let mut statements = Vec::new();
        if let Some(level) = isolation {
            let level = match level {
                Isolation::ReadCommitted => "READ COMMITTED",
                Isolation::RepeatableRead => "REPEATABLE READ",
                Isolation::Serializable => "SERIALIZABLE",
            };
            statements.push(format!("SET TRANSACTION ISOLATION LEVEL {level}"));
        }
        statements.push("START TRANSACTION".into());
        statements
    }

    /// A named lock of the connection: DDL commits on its own here, so the lock cannot end
    /// with a transaction; [`Operations::migration_unlock_sql`] releases it.
    fn migration_lock_sql(&self) -> Option<String> {
        Some(format!(
            "SELECT GET_LOCK({MIGRATION_LOCK}, {MIGRATION_LOCK_WAIT})"
        ))
    }

    fn migration_unlock_sql(&self) -> Option<String> {
        Some(format!("SELECT RELEASE_LOCK({MIGRATION_LOCK})"))
    }
}

fn escape_like(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}
