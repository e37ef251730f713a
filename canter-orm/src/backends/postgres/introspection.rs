//! What PostgreSQL says about an existing database.

use super::PostgresBackend;
use crate::backends::Introspection;

impl Introspection for PostgresBackend {
    /// A table on the search path (a test's schema, a deployment's `public`).
    fn table_exists_sql(&self) -> &'static str {
        "SELECT COUNT(*) FROM pg_catalog.pg_class c \
         JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
         WHERE c.relname = $1 AND c.relkind IN ('r', 'p') AND n.nspname = ANY (current_schemas(false))"
    }
}
