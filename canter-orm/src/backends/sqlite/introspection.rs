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
}
