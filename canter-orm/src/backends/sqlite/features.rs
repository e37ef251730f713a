//! What SQLite can do.

use crate::backends::Features;

pub(crate) static FEATURES: Features = Features {
    transactional_ddl: true,
    can_return_rows_from_insert: true,
    // SQLITE_MAX_VARIABLE_NUMBER since SQLite 3.32.
    max_query_params: 32_766,
    supports_savepoints: true,
    has_native_json: false,
    // No row locks: its transactions take the database's write lock up front (BEGIN
    // IMMEDIATE), which already serializes what FOR UPDATE would.
    has_select_for_update: false,
    embedded: true,
    schema_changes_unenforce_foreign_keys: true,
};
