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

    fn table_names_sql(&self) -> &'static str {
        "SELECT c.relname::text FROM pg_catalog.pg_class c \
         JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
         WHERE c.relkind IN ('r', 'p') AND n.nspname = current_schema() ORDER BY 1"
    }

    fn columns_sql(&self) -> &'static str {
        "SELECT c.column_name::text, c.data_type::text, \
         CASE WHEN c.is_nullable = 'YES' THEN '1' ELSE '0' END, \
         CASE WHEN EXISTS (SELECT 1 FROM information_schema.table_constraints t \
           JOIN information_schema.key_column_usage k ON k.constraint_name = t.constraint_name \
           AND k.table_schema = t.table_schema AND k.table_name = t.table_name \
           WHERE t.constraint_type = 'PRIMARY KEY' AND t.table_schema = c.table_schema \
           AND t.table_name = c.table_name AND k.column_name = c.column_name) \
         THEN '1' ELSE '0' END, \
         COALESCE(c.character_maximum_length::text, '') \
         FROM information_schema.columns c \
         WHERE c.table_schema = current_schema() AND c.table_name = $1 ORDER BY c.ordinal_position"
    }

    fn foreign_keys_of_table_sql(&self) -> &'static str {
        "SELECT k.column_name::text, u.table_name::text, u.column_name::text \
         FROM information_schema.table_constraints t \
         JOIN information_schema.key_column_usage k ON k.constraint_name = t.constraint_name \
         AND k.table_schema = t.table_schema \
         JOIN information_schema.constraint_column_usage u ON u.constraint_name = t.constraint_name \
         AND u.table_schema = t.table_schema \
         WHERE t.constraint_type = 'FOREIGN KEY' AND t.table_schema = current_schema() \
         AND t.table_name = $1"
    }

    /// Expression columns (no attribute) are left out.
    fn indexes_sql(&self) -> &'static str {
        "SELECT i.relname::text, CASE WHEN ix.indisunique THEN '1' ELSE '0' END, \
         a.attname::text, CASE WHEN ix.indpred IS NULL THEN '0' ELSE '1' END \
         FROM pg_catalog.pg_index ix \
         JOIN pg_catalog.pg_class t ON t.oid = ix.indrelid \
         JOIN pg_catalog.pg_class i ON i.oid = ix.indexrelid \
         JOIN pg_catalog.pg_namespace n ON n.oid = t.relnamespace \
         CROSS JOIN LATERAL unnest(ix.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord) \
         JOIN pg_catalog.pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum \
         WHERE t.relname = $1 AND n.nspname = current_schema() AND NOT ix.indisprimary \
         ORDER BY 1, k.ord"
    }
}
