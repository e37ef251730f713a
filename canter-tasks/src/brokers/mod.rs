//! Broker implementations: [`SqliteBroker`] (embedded, durable, the default) and
//! [`MemoryBroker`] (tests).

mod memory;
mod sqlite;

pub use memory::MemoryBroker;
pub use sqlite::SqliteBroker;
