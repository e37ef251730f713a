//! The parts of a broker, as Celery has them apart: the [`Transport`] (queues, deliveries,
//! dead letters, the remote-control wire), the [`ResultBackend`] (results, chord counts), the
//! [`Coordination`] store (revocations, periodic fires, unique claims, rate-limit counts) and
//! [`Control`]'s records (worker snapshots, events). A [`Broker`] is all four: one store can be
//! all of them (SQLite, Redis, memory), or a broker is put together from others
//! ([`WithResultBackend`](crate::WithResultBackend): results elsewhere; RabbitMQ: coordination,
//! snapshots and events in another store) with the `forward_*!` macros.

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use serde_json::Value;

use super::{ChordPart, Delivery, TaskMessage};
use crate::control::{DeadLetter, TaskInfo, WorkerInfo};
use crate::error::TaskError;
use crate::result::{TaskResult, TaskStatus};

/// Where results are kept (Celery's result backend), and what chords count: a broker's own
/// store, or one apart (see [`WithResultBackend`](crate::WithResultBackend)).
pub trait ResultBackend: Send + Sync + 'static {
    fn store_result<'a>(
        &'a self,
        id: &'a str,
        result: TaskResult,
    ) -> BoxFuture<'a, Result<(), TaskError>>;
    fn get_result<'a>(
        &'a self,
        id: &'a str,
    ) -> BoxFuture<'a, Result<Option<TaskResult>, TaskError>>;
    fn forget<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<(), TaskError>>;
    /// Whether chords go by Celery's protocol here (its Redis result backend's counter, or
    /// django-celery-results' chord counter table, so Python workers count members too):
    /// [`start_celery_chord`](Self::start_celery_chord) and
    /// [`celery_chord_part`](Self::celery_chord_part) work.
    fn celery_chords(&self) -> bool {
        false
    }
    /// Celery's `apply_chord` (on Redis, `set_chord_size`): chord `group_id` has these
    /// members, in order.
    fn start_celery_chord<'a>(
        &'a self,
        group_id: &'a str,
        members: &'a [String],
    ) -> BoxFuture<'a, Result<(), TaskError>> {
        let _ = (group_id, members);
        Box::pin(async { Err(TaskError::Broker("no Celery chords on this broker".into())) })
    }
    /// Celery's `on_chord_part_return`: records member `member` (at `index`) of chord
    /// `group_id` finishing with `state` and `value`; every member's outcome, in the group's
    /// order, for the one that completes the chord (then the record goes), else `None`.
    fn celery_chord_part<'a>(
        &'a self,
        group_id: &'a str,
        member: &'a str,
        index: Option<u64>,
        state: TaskStatus,
        value: Value,
    ) -> BoxFuture<'a, Result<Option<Vec<ChordPart>>, TaskError>> {
        let _ = (group_id, member, index, state, value);
        Box::pin(async { Err(TaskError::Broker("no Celery chords on this broker".into())) })
    }
    /// Records that `member` of chord `group_id` finished and returns how many members have,
    /// or `None` if this member was already recorded (a redelivery). Atomic: of the members
    /// finishing at once, exactly one sees the full count.
    fn chord_part_done<'a>(
        &'a self,
        group_id: &'a str,
        member: &'a str,
    ) -> BoxFuture<'a, Result<Option<u64>, TaskError>>;
}

/// Where tasks wait and are delivered (Celery's broker transport), with its dead letters and,
/// where the transport has one, Celery's remote-control wire.
pub trait Transport: Send + Sync + 'static {
    fn publish<'a>(&'a self, message: TaskMessage) -> BoxFuture<'a, Result<(), TaskError>>;
    /// Leases the next due task of these queues (the lowest priority number, then the oldest:
    /// see [`clamp_priority`](crate::clamp_priority)), for `visibility`.
    fn fetch<'a>(
        &'a self,
        queues: &'a [String],
        worker: &'a str,
        visibility: Duration,
    ) -> BoxFuture<'a, Result<Option<Delivery>, TaskError>>;
    /// Keeps a running task's lease alive.
    fn extend<'a>(
        &'a self,
        delivery: &'a Delivery,
        visibility: Duration,
    ) -> BoxFuture<'a, Result<(), TaskError>>;
    /// Done with it: removed for good.
    fn ack<'a>(&'a self, delivery: &'a Delivery) -> BoxFuture<'a, Result<(), TaskError>>;
    /// Back to the queue, due at `eta`, with `retries` attempts counted.
    fn requeue<'a>(
        &'a self,
        delivery: &'a Delivery,
        eta: f64,
        retries: u32,
    ) -> BoxFuture<'a, Result<(), TaskError>>;
    /// A task no worker knows: kept aside (with why) rather than dropped or retried forever.
    fn dead_letter<'a>(
        &'a self,
        delivery: &'a Delivery,
        reason: &'a str,
    ) -> BoxFuture<'a, Result<(), TaskError>>;
    /// Tasks waiting in a queue (not leased).
    fn queue_length<'a>(&'a self, queue: &'a str) -> BoxFuture<'a, Result<u64, TaskError>>;
    /// Stops renewing `delivery`'s lease without acking it: it comes back to the queue after
    /// the visibility timeout (the worker could not store its result). Leases that are only
    /// renewed by the worker need nothing here.
    fn drop_lease<'a>(&'a self, delivery: &'a Delivery) -> BoxFuture<'a, Result<(), TaskError>> {
        let _ = delivery;
        Box::pin(async { Ok(()) })
    }
    /// What this process's idle workers on this broker wait on between polls: a broker that
    /// workers poll (the embedded ones) notifies it on every publish through this object,
    /// so a task published here starts at once. `None`: workers block on the broker itself.
    fn published(&self) -> Option<&tokio::sync::Notify> {
        None
    }
    /// Worker `worker` stops: what the broker fetched ahead for it goes back to the queue.
    fn release<'a>(&'a self, worker: &'a str) -> BoxFuture<'a, Result<(), TaskError>> {
        let _ = worker;
        Box::pin(async { Ok(()) })
    }
    /// The queues this broker knows (holding tasks, or declared).
    fn queues(&self) -> BoxFuture<'_, Result<Vec<String>, TaskError>>;
    /// Tasks waiting in the broker for their ETA. Brokers whose workers hold ETA tasks (Redis,
    /// as Celery's) have none here: those are in the workers' snapshots.
    fn scheduled(&self) -> BoxFuture<'_, Result<Vec<TaskInfo>, TaskError>> {
        Box::pin(async { Ok(Vec::new()) })
    }
    /// What this process took for workers of `queues` and has not handed over yet: the
    /// ready ones and those held for their ETA.
    fn held(&self, queues: &[String]) -> (Vec<TaskMessage>, Vec<TaskMessage>) {
        let _ = queues;
        (Vec::new(), Vec::new())
    }
    /// Removes the tasks waiting in `queue`; returns how many.
    fn purge<'a>(&'a self, queue: &'a str) -> BoxFuture<'a, Result<u64, TaskError>>;
    /// The dead-letter record, oldest first.
    fn dead_letters(&self) -> BoxFuture<'_, Result<Vec<DeadLetter>, TaskError>>;
    /// Sends every retriable dead letter back to its queue as a fresh first attempt, and out
    /// of the record; returns how many.
    fn retry_dead_letters(&self) -> BoxFuture<'_, Result<u64, TaskError>>;
    /// Celery's remote control and events wire on this transport (see [`crate::mailbox`]);
    /// `None` where there is none (the embedded brokers: their workers are inspected through
    /// their snapshots).
    fn mailbox(&self) -> Option<Arc<dyn crate::mailbox::Mailbox>> {
        None
    }
}

/// What workers and schedulers agree on through a shared store: revocations, periodic fires,
/// unique claims and rate-limit windows. Each claim is atomic across processes.
pub trait Coordination: Send + Sync + 'static {
    fn revoke<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<(), TaskError>>;
    fn is_revoked<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<bool, TaskError>>;
    /// Records that periodic entry `entry` fired for its due time `due` (seconds since the
    /// epoch). Atomic: of any number of schedulers, exactly one gets `true` for a due time.
    fn claim_fire<'a>(&'a self, entry: &'a str, due: f64)
        -> BoxFuture<'a, Result<bool, TaskError>>;
    /// The latest due time `entry` fired for, if any.
    fn last_fire<'a>(&'a self, entry: &'a str) -> BoxFuture<'a, Result<Option<f64>, TaskError>>;
    /// Claims unique-task key `key` for task `id` for at most `ttl` seconds; `Some(holder)` if
    /// another task holds it (atomic: of concurrent claims, one wins).
    fn claim_unique<'a>(
        &'a self,
        key: &'a str,
        id: &'a str,
        ttl: f64,
    ) -> BoxFuture<'a, Result<Option<String>, TaskError>>;
    /// Releases `key` if task `id` holds it.
    fn release_unique<'a>(
        &'a self,
        key: &'a str,
        id: &'a str,
    ) -> BoxFuture<'a, Result<(), TaskError>>;
    /// Counts one more start in rate-limit window `key` (kept until `until`, seconds since the
    /// epoch) and returns the count so far.
    fn rate_count<'a>(&'a self, key: &'a str, until: f64) -> BoxFuture<'a, Result<u64, TaskError>>;
}

/// What inspection reads where there is no remote-control wire (see `crate::control` and
/// `crate::events`): worker snapshots and the event stream.
pub trait Control: Send + Sync + 'static {
    /// Records a worker's snapshot, replacing its previous one.
    fn worker_heartbeat<'a>(&'a self, info: &'a WorkerInfo)
        -> BoxFuture<'a, Result<(), TaskError>>;
    /// Worker `name` stopped: its snapshot goes.
    fn worker_offline<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<(), TaskError>>;
    /// The snapshots of the last hour (older ones are forgotten here).
    fn workers(&self) -> BoxFuture<'_, Result<Vec<WorkerInfo>, TaskError>>;
    /// Appends `event` to the event stream (bounded: the oldest go first).
    fn send_event<'a>(&'a self, event: &'a Value) -> BoxFuture<'a, Result<(), TaskError>>;
    /// The events after `cursor` (`None`: from now on; `"0"`: from the oldest kept), waiting
    /// up to `wait` for one; returns them with the cursor to pass next time.
    fn events<'a>(
        &'a self,
        cursor: Option<&'a str>,
        wait: Duration,
    ) -> BoxFuture<'a, Result<(String, Vec<Value>), TaskError>>;
}

/// A whole broker: a transport, a result backend, a coordination store and control records
/// (any type that is all four is one).
pub trait Broker: Transport + ResultBackend + Coordination + Control {}

impl<T: Transport + ResultBackend + Coordination + Control> Broker for T {}
