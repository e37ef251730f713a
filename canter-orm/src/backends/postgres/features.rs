//! What PostgreSQL can do.

use crate::backends::Features;

pub(crate) static FEATURES: Features = Features {
    transactional_ddl: true,
    can_return_rows_from_insert: true,
    // The wire protocol counts parameters in 16 bits.
    max_query_params: 65_535,
    supports_savepoints: true,
    has_native_json: true,
    has_select_for_update: true,
    embedded: false,
    schema_changes_unenforce_foreign_keys: false,
};
