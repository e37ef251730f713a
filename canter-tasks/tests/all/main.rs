//! canter-tasks' integration tests, one binary (one link) for all: a module per concern. Each
//! test brings its own broker (a fresh SQLite file, a Redis key prefix of its own, a memory
//! broker) and runs in its own app scope, so they run at once and alone alike
//! (`cargo test -p canter-tasks --test all -- suite::results`). The crash tests re-run this
//! binary, filtered to their own test, as worker processes (`common::spawn_worker_process`).

mod beat;
mod celery_control;
mod celery_interop;
#[cfg(feature = "amqp")]
mod celery_interop_amqp;
mod common;
#[cfg(feature = "orm")]
mod database_results;
mod eager;
mod memory_broker;
mod message_size;
mod metrics;
mod redis_broker;
mod redis_outage;
mod result_backend;
mod sqlite_upgrade;
mod stall;
mod suite;
mod worker_killed;
mod worker_kills;
#[cfg(feature = "amqp")]
mod worker_kills_amqp;
mod worker_kills_redis;
mod worker_panics;
