//! How PostgreSQL spells lookups (Django's `DatabaseOperations`): `UPPER(..) LIKE UPPER(..)` for
//! the case-insensitive ones, `~` / `~*` for regexes, `EXTRACT` for date parts (in UTC for
//! time-zone-aware columns).

use sea_query::Expr;

use crate::expressions::{Op, Transform};
use crate::fields::SqlType;

fn escape_like(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

pub(crate) fn text_lookup(op: Op, column: Expr, value: &str) -> Expr {
    let (template, pattern) = match op {
        Op::IExact => ("UPPER($1::text) = UPPER($2)", value.to_owned()),
        Op::Contains => ("$1::text LIKE $2", format!("%{}%", escape_like(value))),
        Op::IContains => (
            "UPPER($1::text) LIKE UPPER($2)",
            format!("%{}%", escape_like(value)),
        ),
        Op::StartsWith => ("$1::text LIKE $2", format!("{}%", escape_like(value))),
        Op::IStartsWith => (
            "UPPER($1::text) LIKE UPPER($2)",
            format!("{}%", escape_like(value)),
        ),
        Op::EndsWith => ("$1::text LIKE $2", format!("%{}", escape_like(value))),
        Op::IEndsWith => (
            "UPPER($1::text) LIKE UPPER($2)",
            format!("%{}", escape_like(value)),
        ),
        Op::Regex => ("$1::text ~ $2", value.to_owned()),
        Op::IRegex => ("$1::text ~* $2", value.to_owned()),
        _ => unreachable!("not a text lookup"),
    };
    Expr::cust_with_exprs(template, [column, Expr::val(pattern)])
}

pub(crate) fn transform(transform: Transform, column: Expr, sql_type: SqlType) -> Expr {
    let part = match transform {
        Transform::Year => "YEAR",
        Transform::Month => "MONTH",
        Transform::Day => "DAY",
    };
    let template = if sql_type == SqlType::DateTime {
        format!("CAST(EXTRACT({part} FROM $1 AT TIME ZONE 'UTC') AS BIGINT)")
    } else {
        format!("CAST(EXTRACT({part} FROM $1) AS BIGINT)")
    };
    Expr::cust_with_exprs(template, [column])
}

pub(crate) const RANDOM: &str = "RANDOM()";

/// Whether a table exists on the search path (one bound value: its name).
pub(crate) const TABLE_EXISTS: &str = "SELECT COUNT(*) FROM pg_catalog.pg_class c \
     JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
     WHERE c.relname = $1 AND c.relkind IN ('r', 'p') AND n.nspname = ANY (current_schemas(false))";
