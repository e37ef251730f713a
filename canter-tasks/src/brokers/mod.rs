//! Broker implementations.

mod sqlite;

pub use sqlite::SqliteBroker;
