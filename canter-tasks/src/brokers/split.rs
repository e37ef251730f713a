//! A broker whose results live elsewhere (Celery's `broker_url` and `result_backend` apart):
//! the transport keeps the queues, revocations, schedules, unique claims, rate limits, worker
//! snapshots and events; the result backend keeps results and what chords count (the members'
//! results are gathered there). So `[tasks] result_backend = "redis://…"` puts results in
//! Celery's Redis records, where Python's `AsyncResult` reads them, whatever the transport is.

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use serde_json::Value;

use crate::broker::{Broker, Delivery, ResultBackend, TaskMessage};
use crate::control::{DeadLetter, TaskInfo, WorkerInfo};
use crate::error::TaskError;
use crate::result::TaskResult;

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

impl ResultBackend for WithResultBackend {
    fn store_result<'a>(
        &'a self,
        id: &'a str,
        result: TaskResult,
    ) -> BoxFuture<'a, Result<(), TaskError>> {
        self.results.store_result(id, result)
    }

    fn get_result<'a>(
        &'a self,
        id: &'a str,
    ) -> BoxFuture<'a, Result<Option<TaskResult>, TaskError>> {
        self.results.get_result(id)
    }

    fn forget<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<(), TaskError>> {
        self.results.forget(id)
    }

    fn chord_part_done<'a>(
        &'a self,
        group_id: &'a str,
        member: &'a str,
    ) -> BoxFuture<'a, Result<Option<u64>, TaskError>> {
        self.results.chord_part_done(group_id, member)
    }

    fn celery_chords(&self) -> bool {
        self.results.celery_chords()
    }

    fn set_chord_size<'a>(
        &'a self,
        group_id: &'a str,
        size: u64,
    ) -> BoxFuture<'a, Result<(), TaskError>> {
        self.results.set_chord_size(group_id, size)
    }

    fn celery_chord_part<'a>(
        &'a self,
        group_id: &'a str,
        member: &'a str,
        index: Option<u64>,
        state: crate::result::TaskStatus,
        value: Value,
    ) -> BoxFuture<'a, Result<Option<Vec<crate::broker::ChordPart>>, TaskError>> {
        self.results
            .celery_chord_part(group_id, member, index, state, value)
    }
}

impl Broker for WithResultBackend {
    // The result backend's part.

    // The transport's part.

    fn publish<'a>(&'a self, message: TaskMessage) -> BoxFuture<'a, Result<(), TaskError>> {
        self.transport.publish(message)
    }

    fn fetch<'a>(
        &'a self,
        queues: &'a [String],
        worker: &'a str,
        visibility: Duration,
    ) -> BoxFuture<'a, Result<Option<Delivery>, TaskError>> {
        self.transport.fetch(queues, worker, visibility)
    }

    fn extend<'a>(
        &'a self,
        delivery: &'a Delivery,
        visibility: Duration,
    ) -> BoxFuture<'a, Result<(), TaskError>> {
        self.transport.extend(delivery, visibility)
    }

    fn ack<'a>(&'a self, delivery: &'a Delivery) -> BoxFuture<'a, Result<(), TaskError>> {
        self.transport.ack(delivery)
    }

    fn requeue<'a>(
        &'a self,
        delivery: &'a Delivery,
        eta: f64,
        retries: u32,
    ) -> BoxFuture<'a, Result<(), TaskError>> {
        self.transport.requeue(delivery, eta, retries)
    }

    fn revoke<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<(), TaskError>> {
        self.transport.revoke(id)
    }

    fn is_revoked<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<bool, TaskError>> {
        self.transport.is_revoked(id)
    }

    fn dead_letter<'a>(
        &'a self,
        delivery: &'a Delivery,
        reason: &'a str,
    ) -> BoxFuture<'a, Result<(), TaskError>> {
        self.transport.dead_letter(delivery, reason)
    }

    fn queue_length<'a>(&'a self, queue: &'a str) -> BoxFuture<'a, Result<u64, TaskError>> {
        self.transport.queue_length(queue)
    }

    fn claim_fire<'a>(
        &'a self,
        entry: &'a str,
        due: f64,
    ) -> BoxFuture<'a, Result<bool, TaskError>> {
        self.transport.claim_fire(entry, due)
    }

    fn claim_unique<'a>(
        &'a self,
        key: &'a str,
        id: &'a str,
        ttl: f64,
    ) -> BoxFuture<'a, Result<Option<String>, TaskError>> {
        self.transport.claim_unique(key, id, ttl)
    }

    fn release_unique<'a>(
        &'a self,
        key: &'a str,
        id: &'a str,
    ) -> BoxFuture<'a, Result<(), TaskError>> {
        self.transport.release_unique(key, id)
    }

    fn rate_count<'a>(&'a self, key: &'a str, until: f64) -> BoxFuture<'a, Result<u64, TaskError>> {
        self.transport.rate_count(key, until)
    }

    fn last_fire<'a>(&'a self, entry: &'a str) -> BoxFuture<'a, Result<Option<f64>, TaskError>> {
        self.transport.last_fire(entry)
    }

    fn drop_lease<'a>(&'a self, delivery: &'a Delivery) -> BoxFuture<'a, Result<(), TaskError>> {
        self.transport.drop_lease(delivery)
    }

    fn published(&self) -> Option<&tokio::sync::Notify> {
        self.transport.published()
    }

    fn release<'a>(&'a self, worker: &'a str) -> BoxFuture<'a, Result<(), TaskError>> {
        self.transport.release(worker)
    }

    fn worker_heartbeat<'a>(
        &'a self,
        info: &'a WorkerInfo,
    ) -> BoxFuture<'a, Result<(), TaskError>> {
        self.transport.worker_heartbeat(info)
    }

    fn worker_offline<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<(), TaskError>> {
        self.transport.worker_offline(name)
    }

    fn workers(&self) -> BoxFuture<'_, Result<Vec<WorkerInfo>, TaskError>> {
        self.transport.workers()
    }

    fn queues(&self) -> BoxFuture<'_, Result<Vec<String>, TaskError>> {
        self.transport.queues()
    }

    fn scheduled(&self) -> BoxFuture<'_, Result<Vec<TaskInfo>, TaskError>> {
        self.transport.scheduled()
    }

    fn held(&self, queues: &[String]) -> (Vec<TaskMessage>, Vec<TaskMessage>) {
        self.transport.held(queues)
    }

    fn purge<'a>(&'a self, queue: &'a str) -> BoxFuture<'a, Result<u64, TaskError>> {
        self.transport.purge(queue)
    }

    fn dead_letters(&self) -> BoxFuture<'_, Result<Vec<DeadLetter>, TaskError>> {
        self.transport.dead_letters()
    }

    /// The letters' FAILURE results go from the result backend first (the transport removes
    /// them from its own store only).
    fn retry_dead_letters(&self) -> BoxFuture<'_, Result<u64, TaskError>> {
        Box::pin(async move {
            for letter in self.transport.dead_letters().await? {
                if letter.retriable {
                    self.results.forget(&letter.id).await?;
                }
            }
            self.transport.retry_dead_letters().await
        })
    }

    fn mailbox(&self) -> Option<Arc<dyn crate::mailbox::Mailbox>> {
        self.transport.mailbox()
    }

    fn send_event<'a>(&'a self, event: &'a Value) -> BoxFuture<'a, Result<(), TaskError>> {
        self.transport.send_event(event)
    }

    fn events<'a>(
        &'a self,
        cursor: Option<&'a str>,
        wait: Duration,
    ) -> BoxFuture<'a, Result<(String, Vec<Value>), TaskError>> {
        self.transport.events(cursor, wait)
    }
}
