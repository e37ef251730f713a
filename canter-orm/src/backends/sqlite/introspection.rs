//! What SQLite says about an existing database.

use super::SqliteBackend;
use crate::backends::Introspection;

impl Introspection for SqliteBackend {
    fn table_exists_sql(&self) -> &'static str {
        "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?"
    }

    fn dangling_references_sql(&self) -> Option<&'static str> {
        Some("PRAGMA foreign_key_check")
    }

    fn table_names_sql(&self) -> &'static str {
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' \
         ORDER BY name"
    }

    /// The length is read back from the declared type (`varchar(40)`).
    fn columns_sql(&self) -> &'static str {
        "SELECT name, lower(type), CAST(\"notnull\" = 0 AS TEXT), CAST(pk > 0 AS TEXT), \
         CASE WHEN instr(type, '(') > 0 \
         THEN rtrim(substr(type, instr(type, '(') + 1), ')') ELSE '' END \
         FROM pragma_table_info(?) ORDER BY cid"
    }

    fn foreign_keys_of_table_sql(&self) -> &'static str {
        "SELECT \"from\", \"table\", COALESCE(\"to\", '') FROM pragma_foreign_key_list(?)"
    }

    /// `sqlite_autoindex_…` are a column's or a table's `UNIQUE`.
    fn indexes_sql(&self) -> &'static str {
        "SELECT il.name, CAST(il.\"unique\" AS TEXT), ii.name, CAST(il.partial AS TEXT) \
         FROM pragma_index_list(?) AS il JOIN pragma_index_info(il.name) AS ii \
         WHERE il.origin != 'pk' ORDER BY il.name, ii.seqno"
    }
}
