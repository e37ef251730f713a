//! How PostgreSQL spells lookups (Django's `DatabaseOperations`): `UPPER(..) LIKE UPPER(..)` for
//! the case-insensitive ones, `~` / `~*` for regexes, `EXTRACT` for date parts (in UTC for
//! time-zone-aware columns).

use sea_query::Expr;

use super::PostgresBackend;
use crate::backends::{Operations, Vendor};
use crate::expressions::{Op, Transform};
use crate::fields::SqlType;
use crate::transaction::Isolation;

/// The key of the advisory lock `migrate` holds (any constant; "canter" in ASCII).
const MIGRATION_LOCK: i64 = 0x63616e746572;

impl Operations for PostgresBackend {
    fn vendor(&self) -> Vendor {
        Vendor::Postgres
    }

    sea_query_dialect!(PostgresQueryBuilder);

    fn push_placeholder(&self, sql: &mut String, number: usize) {
        use std::fmt::Write as _;
        let _ = write!(sql, "${number}");
    }

    fn text_lookup(&self, op: Op, column: Expr, value: &str) -> Expr {
        text_lookup(op, column, value)
    }

    fn date_part(&self, transform: Transform, column: Expr, sql_type: SqlType) -> Expr {
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

    fn begin_statements(&self, isolation: Option<Isolation>) -> Vec<String> {
        let mut statements = vec!["BEGIN".to_owned()];
        if let Some(level) = isolation {
            let level = match level {
                Isolation::ReadCommitted => "READ COMMITTED",
                Isolation::RepeatableRead => "REPEATABLE READ",
                Isolation::Serializable => "SERIALIZABLE",
            };
            statements.push(format!("SET TRANSACTION ISOLATION LEVEL {level}"));
        }
        statements
    }

    /// A transaction-level advisory lock: released when the migration's transaction ends.
    fn migration_lock_sql(&self) -> Option<String> {
        Some(format!("SELECT pg_advisory_xact_lock({MIGRATION_LOCK})"))
    }
}

fn escape_like(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

fn text_lookup(op: Op, column: Expr, value: &str) -> Expr {
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
