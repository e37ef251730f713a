//! The interface every backend implements (Django's `BaseDatabaseWrapper` with its
//! `ops`, `features`, `schema_editor` and `introspection`): generic code asks the database's
//! [`Backend`] how to spell what differs, and never names a vendor.

use sea_query::{DeleteStatement, Expr, InsertStatement, SelectStatement, UpdateStatement, Values};

use super::Vendor;
use crate::expressions::{Op, Transform};
use crate::fields::SqlType;
use crate::schema::SchemaEditor;
use crate::transaction::Isolation;

/// What a database can do (Django's `DatabaseFeatures`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Features {
    /// Schema changes run inside a transaction: a failed migration rolls back whole.
    pub transactional_ddl: bool,
    /// `INSERT … RETURNING` gives back the new rows' keys.
    pub can_return_rows_from_insert: bool,
    /// The most bound parameters one statement may carry.
    pub max_query_params: usize,
    /// `SAVEPOINT` inside a transaction (nested `atomic`).
    pub supports_savepoints: bool,
    /// A JSON column type of its own (else JSON is stored as text).
    pub has_native_json: bool,
    /// `SELECT … FOR UPDATE [NOWAIT | SKIP LOCKED]`.
    pub has_select_for_update: bool,
    /// An embedded database in a file: one writer at a time, migrations may apply themselves.
    pub embedded: bool,
    /// Schema changes run with foreign-key enforcement off, every reference checked before the
    /// commit (a table rebuild drops tables others point at).
    pub schema_changes_unenforce_foreign_keys: bool,
}

/// How a backend spells statements and lookups (Django's `DatabaseOperations`).
pub trait Operations: Send + Sync {
    fn vendor(&self) -> Vendor;

    /// sea-query statements in this backend's dialect.
    fn build_select(&self, statement: &SelectStatement) -> (String, Values);
    fn build_insert(&self, statement: &InsertStatement) -> (String, Values);
    fn build_update(&self, statement: &UpdateStatement) -> (String, Values);
    fn build_delete(&self, statement: &DeleteStatement) -> (String, Values);

    /// A value as this dialect writes it inline (`'text'`, `TRUE`, …).
    fn value_literal(&self, value: &sea_query::Value) -> String;

    /// Appends the placeholder of the `number`th bound value (from 1) to `sql`.
    fn push_placeholder(&self, sql: &mut String, number: usize);

    /// An INSERT of one row of defaults into `table`, returning its `pk`.
    fn insert_defaults_sql(&self, table: &str, pk: &str) -> String {
        format!(
            "INSERT INTO {} DEFAULT VALUES RETURNING {}",
            crate::schema::quote_name(table),
            crate::schema::quote_name(pk)
        )
    }

    /// A text lookup (`contains`, `iexact`, `regex`, …) of `column` against `value`.
    fn text_lookup(&self, op: Op, column: Expr, value: &str) -> Expr;

    /// A date part (`__year`, …) of `column`, as an integer.
    fn date_part(&self, transform: Transform, column: Expr, sql_type: SqlType) -> Expr;

    /// A `__regex` pattern the database would refuse, refused before any SQL is sent (where
    /// the database's own error would mislead).
    fn check_regex(&self, _pattern: &str) -> Result<(), String> {
        Ok(())
    }

    /// The type a `CAST` to a 64-bit integer names.
    fn integer_cast_type(&self) -> &'static str {
        "BIGINT"
    }

    /// The type a `CAST` to a double names.
    fn float_cast_type(&self) -> &'static str {
        "DOUBLE PRECISION"
    }

    /// `ORDER BY ?`: a random order.
    fn random_function(&self) -> &'static str {
        "RANDOM()"
    }

    /// What goes before a query to have its plan explained.
    fn explain_prefix(&self) -> &'static str {
        "EXPLAIN "
    }

    /// The statements that open a transaction (with an isolation level, where it has them).
    fn begin_statements(&self, isolation: Option<Isolation>) -> Vec<String>;

    /// Turns foreign-key enforcement on this connection on or off (outside a transaction), for
    /// backends whose schema changes unenforce them ([`Features::schema_changes_unenforce_foreign_keys`]).
    fn foreign_keys_sql(&self, _enforced: bool) -> &'static str {
        ""
    }

    /// Takes the migration lock, held until the surrounding transaction ends (none where the
    /// transaction's own lock already serializes migrations).
    fn migration_lock_sql(&self) -> Option<String> {
        None
    }

    /// Releases the migration lock, for backends whose lock outlives transactions.
    fn migration_unlock_sql(&self) -> Option<String> {
        None
    }

    /// Whether an error says the database was locked by another writer and the attempt may be
    /// made again at once.
    fn is_retryable_lock_error(&self, _message: &str) -> bool {
        false
    }
}

/// What a backend can say about an existing database (Django's `DatabaseIntrospection`).
pub trait Introspection {
    /// Whether a table exists: one bound value, its name; one row, one integer column.
    fn table_exists_sql(&self) -> &'static str;

    /// Rows that point at rows that do not exist (one result row each), for backends that
    /// check references themselves after a schema change.
    fn dangling_references_sql(&self) -> Option<&'static str> {
        None
    }

    /// The user's tables, by name: no bound value; rows of one text column.
    fn table_names_sql(&self) -> &'static str;

    /// A table's columns in order: one bound value, the table's name; rows of five text
    /// columns: name, type, `1` if nullable, `1` if in the primary key, the maximum length.
    fn columns_sql(&self) -> &'static str;

    /// A table's foreign keys: one bound value, the table's name; rows of three text columns:
    /// the column, the table and the column it points at.
    fn foreign_keys_of_table_sql(&self) -> &'static str;

    /// A table's indexes and unique constraints but its primary key: one bound value, the
    /// table's name; rows of four text columns: the index's name, `1` if unique, a column,
    /// `1` if partial (a condition); an index's rows together, its columns in order.
    fn indexes_sql(&self) -> &'static str;
}

/// One database backend: its operations, schema editor, introspection and features.
pub trait Backend: SchemaEditor + Introspection {
    fn features(&self) -> &'static Features;
}
