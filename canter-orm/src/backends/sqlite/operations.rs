//! How SQLite spells lookups (Django's `DatabaseOperations`). SQLite's LIKE ignores ASCII case,
//! so the case-sensitive lookups use GLOB (Django uses LIKE there and is case-insensitive on
//! SQLite; canter is not). `REGEXP` is sqlx's, with Rust regex syntax.

use sea_query::Expr;

use crate::expressions::{Op, Transform};
use crate::fields::SqlType;

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

pub(crate) fn text_lookup(op: Op, column: Expr, value: &str) -> Expr {
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

pub(crate) fn transform(transform: Transform, column: Expr, _sql_type: SqlType) -> Expr {
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

pub(crate) const RANDOM: &str = "RANDOM()";

/// Whether a table exists (one bound value: its name).
pub(crate) const TABLE_EXISTS: &str =
    "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?";

#[cfg(test)]
mod tests {
    #[test]
    fn escaping() {
        assert_eq!(super::escape_like("50%_a\\b"), "50\\%\\_a\\\\b");
        assert_eq!(super::escape_glob("a*b?[c"), "a[*]b[?][[]c");
    }
}
