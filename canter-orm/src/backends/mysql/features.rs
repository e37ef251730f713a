//! What MariaDB can do.

use crate::backends::Features;

pub(crate) static FEATURES: Features = Features {
    // DDL commits the transaction it runs in: migrations record their progress step by step.
    transactional_ddl: false,
    // MariaDB 10.5 and later (MySQL 8 has none).
    can_return_rows_from_insert: true,
    // The prepared-statement protocol counts parameters in 16 bits.
    max_query_params: 65_535,
    supports_savepoints: true,
    has_native_json: true,
    has_select_for_update: true,
    embedded: false,
    schema_changes_unenforce_foreign_keys: false,
};
