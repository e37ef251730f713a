//! What MariaDB says about an existing database.

use super::MysqlBackend;
use crate::backends::Introspection;

impl Introspection for MysqlBackend {
    /// A base table of the connection's database.
    fn table_exists_sql(&self) -> &'static str {
        "SELECT COUNT(*) FROM information_schema.tables \
         WHERE table_schema = DATABASE() AND table_name = ? AND table_type = 'BASE TABLE'"
    }

    fn table_names_sql(&self) -> &'static str {
        "SELECT CAST(table_name AS CHAR) FROM information_schema.tables \
         WHERE table_schema = DATABASE() AND table_type = 'BASE TABLE' ORDER BY 1"
    }

    /// `binary(16)` is told apart (the ORM's UUIDs) by its `column_type`.
    fn columns_sql(&self) -> &'static str {
        "SELECT CAST(column_name AS CHAR), \
         CAST(CASE WHEN column_type = 'binary(16)' THEN 'uuid' \
         WHEN column_type = 'tinyint(1)' THEN 'boolean' ELSE data_type END AS CHAR), \
         CAST(IF(is_nullable = 'YES', '1', '0') AS CHAR), CAST(IF(column_key = 'PRI', '1', '0') AS CHAR), \
         CAST(COALESCE(character_maximum_length, '') AS CHAR) \
         FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = ? \
         ORDER BY ordinal_position"
    }

    fn foreign_keys_of_table_sql(&self) -> &'static str {
        "SELECT CAST(column_name AS CHAR), CAST(referenced_table_name AS CHAR), \
         CAST(referenced_column_name AS CHAR) FROM information_schema.key_column_usage \
         WHERE table_schema = DATABASE() AND table_name = ? AND referenced_table_name IS NOT NULL"
    }

    /// A foreign key's own index (InnoDB makes one) is listed too; MariaDB has no partial
    /// indexes.
    fn indexes_sql(&self) -> &'static str {
        "SELECT CAST(index_name AS CHAR), CAST(IF(non_unique = 0, '1', '0') AS CHAR), \
         CAST(column_name AS CHAR), CAST('0' AS CHAR) FROM information_schema.statistics \
         WHERE table_schema = DATABASE() AND table_name = ? AND index_name != 'PRIMARY' \
         ORDER BY index_name, seq_in_index"
    }
}
