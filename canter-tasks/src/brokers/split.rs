//! A broker whose results live elsewhere (Celery's `broker_url` and `result_backend` apart):
//! the transport keeps the queues, revocations, schedules, unique claims, rate limits, worker
//! snapshots and events; the result backend keeps results and what chords count (the members'
//! results are gathered there). So `[tasks] result_backend = "redis://…"` puts results in
//! Celery's Redis records, where Python's `AsyncResult` reads them, and `"db"` in
//! django-celery-results' table, whatever the transport is.

use std::sync::Arc;

use crate::broker::{Broker, ResultBackend};

/// See the module docs.
pub struct WithResultBackend {
    transport: Arc<dyn Broker>,
    results: Arc<dyn ResultBackend>,
}

impl WithResultBackend {
    /// `transport`'s queues with `results` keeping the results (any [`ResultBackend`]: a
    /// broker's store, `Arc<dyn Broker>` coerces).
    pub fn new(transport: Arc<dyn Broker>, results: Arc<dyn ResultBackend>) -> Self {
        WithResultBackend { transport, results }
    }
}

crate::forward_transport!(WithResultBackend => transport);
crate::forward_coordination!(WithResultBackend => transport);
crate::forward_control!(WithResultBackend => transport);
crate::forward_result_backend!(WithResultBackend => results);
