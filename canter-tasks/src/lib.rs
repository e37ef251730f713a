//! canter's background tasks (Celery's model): define with `#[task]`, enqueue with `delay`,
//! run with workers that retry and store results, on an embedded durable broker.
//!
//! | Celery | canter |
//! |---|---|
//! | `@shared_task def add(a, b)` | `#[task(name = "demo.add")] async fn add(a: i64, b: i64) -> Result<i64, TaskError>` |
//! | `add.delay(2, 3)` | `add::delay(2, 3).await?` |
//! | `add.apply_async((2, 3), countdown=10)` | `add::apply_async((2, 3), ApplyOptions { countdown: Some(10.0), ..Default::default() })` |
//! | `transaction.on_commit(lambda: add.delay(2, 3))` | `add::delay_on_commit(2, 3)?` |
//! | `AsyncResult(id).get(timeout=5)` / `.state` | `AsyncResult::<i64>::new(id).get(Duration::from_secs(5)).await?` / `.status()` |
//! | `self.retry(countdown=5)` | `Err(TaskError::retry(Some(5.0)))` |
//! | `except SoftTimeLimitExceeded:` | `select!` on [`soft_time_limit()`] |
//! | `celery -A proj worker -Q q -c 10` | `demo worker -Q q -c 10` |
//! | `beat_schedule = {"hb": {"task": …, "schedule": 10.0}}` + `celery beat` | `Tasks::new().every::<heartbeat>("hb", 10 s, args)` + `demo beat` (or `worker -B`) |

pub(crate) mod arguments;
pub mod beat;
mod body;
pub mod broker;
pub mod brokers;
pub mod canvas;
mod commands;
pub mod control;
mod error;
pub mod events;
pub mod mailbox;
pub mod metrics;
mod open;
mod plugin;
pub mod request;
mod result;
pub mod task;
pub mod worker;

pub use beat::Beat;
pub use broker::{
    broker, clamp_priority, enqueue, send_task, tasks_app, ApplyOptions, Broker, BrokerServices,
    Control, Coordination, Delivery, ResultBackend, TaskMessage, Transport,
    DEFAULT_MAX_MESSAGE_SIZE,
};
#[cfg(feature = "amqp")]
pub use brokers::AmqpBroker;
#[cfg(feature = "orm")]
pub use brokers::DatabaseResultBackend;
#[cfg(feature = "redis")]
pub use brokers::RedisBroker;
pub use brokers::{MemoryBroker, SqliteBroker, WithResultBackend};
pub use canter_macros::task;
pub use error::TaskError;
pub use open::{
    open_broker, open_broker_limited, open_broker_with_backend, open_broker_with_results,
};
pub use plugin::Tasks;
pub use request::{request, Request};
pub use result::{AsyncResult, TaskResult, TaskStatus};
pub use task::{soft_time_limit, soft_time_limit_exceeded, Registry, Task, TaskOptions};
pub use worker::{Worker, WorkerConfig};

#[doc(hidden)]
pub mod __private {
    pub use futures_util::future::BoxFuture;
    pub use serde_json;
    pub use tokio::sync::Notify;
}
