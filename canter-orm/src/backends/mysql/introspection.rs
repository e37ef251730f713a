//! What MariaDB says about an existing database.

use super::MysqlBackend;
use crate::backends::Introspection;

impl Introspection for MysqlBackend {
    /// A base table of the connection's database.
    fn table_exists_sql(&self) -> &'static str {
        "SELECT COUNT(*) FROM information_schema.tables \
         WHERE table_schema = DATABASE() AND table_name = ? AND table_type = 'BASE TABLE'"
    }
}
