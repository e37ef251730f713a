//! How SQLite spells lookups (Django's `DatabaseOperations`). SQLite's LIKE ignores ASCII case,
//! so the case-sensitive lookups use GLOB (Django uses LIKE there and is case-insensitive on
//! SQLite; canter is not). `REGEXP` is sqlx's, with Rust regex syntax.

use sea_query::Expr;

use super::SqliteBackend;
use crate::backends::{Operations, Vendor};
use crate::expressions::{Op, Transform};
use crate::fields::SqlType;
use crate::transaction::Isolation;

impl Operations for SqliteBackend {
    fn vendor(&self) -> Vendor {
        Vendor::Sqlite
    }

    sea_query_dialect!(SqliteQueryBuilder);

    fn push_placeholder(&self, sql: &mut String, _number: usize) {
        sql.push('?');
    }

    fn text_lookup(&self, op: Op, column: Expr, value: &str) -> Expr {
        text_lookup(op, column, value)
    }

    fn date_part(&self, transform: Transform, column: Expr, _sql_type: SqlType) -> Expr {
        let format = match transform {
            Transform::Year => "%Y",
            Transform::Month => "%m",
            Transform::Day => "%d",
        };
        Expr::cust_with_exprs(
            format!("CAST(strftime('{format}', ?) AS INTEGER)"),
            [column],
        )
    }

    /// SQLite's `REGEXP` is sqlx's, built on the `regex` crate, so the same crate checks the
    /// pattern exactly (sqlx reports a bad one as a misleading "constraint failed").
    fn check_regex(&self, pattern: &str) -> Result<(), String> {
        regex::Regex::new(pattern)
            .map(drop)
            .map_err(|e| e.to_string())
    }

    fn foreign_keys_sql(&self, enforced: bool) -> &'static str {
        if enforced {
            "PRAGMA foreign_keys = ON"
        } else {
            "PRAGMA foreign_keys = OFF"
        }
    }

    fn explain_prefix(&self) -> &'static str {
        "EXPLAIN QUERY PLAN "
    }

    /// IMMEDIATE takes the write lock up front, so two transactions never deadlock upgrading a
    /// read lock (SQLITE_BUSY), they queue on busy_timeout instead. (SQLite transactions are
    /// always serializable: there is no level to set.)
    fn begin_statements(&self, _isolation: Option<Isolation>) -> Vec<String> {
        vec!["BEGIN IMMEDIATE".into()]
    }

    /// "database is locked" at once, without waiting out busy_timeout: a connection being
    /// opened while another process writes, or a lock it cannot wait for without risking a
    /// deadlock.
    fn is_retryable_lock_error(&self, message: &str) -> bool {
        message.contains("database is locked")
    }
}

fn escape_like(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

fn escape_glob(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '*' => out.push_str("[*]"),
            '?' => out.push_str("[?]"),
            '[' => out.push_str("[[]"),
            c => out.push(c),
        }
    }
    out
}

fn text_lookup(op: Op, column: Expr, value: &str) -> Expr {
    let (template, pattern) = match op {
        Op::IExact => ("? LIKE ? ESCAPE '\\'", escape_like(value)),
        Op::Contains => ("? GLOB ?", format!("*{}*", escape_glob(value))),
        Op::IContains => ("? LIKE ? ESCAPE '\\'", format!("%{}%", escape_like(value))),
        Op::StartsWith => ("? GLOB ?", format!("{}*", escape_glob(value))),
        Op::IStartsWith => ("? LIKE ? ESCAPE '\\'", format!("{}%", escape_like(value))),
        Op::EndsWith => ("? GLOB ?", format!("*{}", escape_glob(value))),
        Op::IEndsWith => ("? LIKE ? ESCAPE '\\'", format!("%{}", escape_like(value))),
        Op::Regex => ("? REGEXP ?", value.to_owned()),
        Op::IRegex => ("? REGEXP ?", format!("(?i){value}")),
        _ => unreachable!("not a text lookup"),
    };
    Expr::cust_with_exprs(template, [column, Expr::val(pattern)])
}

#[cfg(test)]
mod tests {
    #[test]
    fn escaping() {
        assert_eq!(super::escape_like("50%_a\\b"), "50\\%\\_a\\\\b");
        assert_eq!(super::escape_glob("a*b?[c"), "a[*]b[?][[]c");
    }
}
