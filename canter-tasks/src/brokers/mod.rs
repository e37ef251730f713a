//! Broker implementations: [`SqliteBroker`] (embedded, durable, the default), `RedisBroker`
//! (Celery's protocol on Redis, shared with Python workers and producers), `AmqpBroker`
//! (Celery's protocol on RabbitMQ, feature `amqp`) and [`MemoryBroker`] (tests).

#[cfg(feature = "amqp")]
pub mod amqp;
#[cfg(any(feature = "redis", feature = "amqp", feature = "orm"))]
pub mod celery;
#[cfg(feature = "orm")]
pub mod database;
mod memory;
#[cfg(feature = "redis")]
pub mod redis;
mod split;
mod sqlite;

#[cfg(feature = "amqp")]
pub use self::amqp::AmqpBroker;
#[cfg(feature = "redis")]
pub use self::redis::RedisBroker;
#[cfg(feature = "orm")]
pub use database::DatabaseResultBackend;
pub use memory::MemoryBroker;
pub use split::WithResultBackend;
pub use sqlite::SqliteBroker;
