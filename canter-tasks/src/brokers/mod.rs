//! Broker implementations: [`SqliteBroker`] (embedded, durable, the default), [`RedisBroker`]
//! (Celery's protocol on Redis, shared with Python workers and producers) and [`MemoryBroker`]
//! (tests).

#[cfg(any(feature = "redis", feature = "amqp"))]
pub mod celery;
mod memory;
#[cfg(feature = "redis")]
pub mod redis;
mod sqlite;

#[cfg(feature = "redis")]
pub use self::redis::RedisBroker;
pub use memory::MemoryBroker;
pub use sqlite::SqliteBroker;
