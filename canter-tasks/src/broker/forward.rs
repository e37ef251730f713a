//! Putting a broker together from parts: each macro implements one part of the broker
//! ([`Transport`](super::Transport), [`ResultBackend`](super::ResultBackend),
//! [`Coordination`](super::Coordination), [`Control`](super::Control)) for a type by handing
//! every call to one of its fields (a path of fields: `inner.backend`), so a wrapper writes
//! only the parts it changes.
//!
//! ```
//! use std::sync::Arc;
//! use canter_tasks::{Broker, MemoryBroker, ResultBackend};
//!
//! /// The memory broker's queues, claims and records; results in another store.
//! struct Split {
//!     queues: MemoryBroker,
//!     results: Arc<dyn ResultBackend>,
//! }
//! canter_tasks::forward_transport!(Split => queues);
//! canter_tasks::forward_coordination!(Split => queues);
//! canter_tasks::forward_control!(Split => queues);
//! canter_tasks::forward_result_backend!(Split => results);
//!
//! let split: Arc<dyn Broker> = Arc::new(Split {
//!     queues: MemoryBroker::new(),
//!     results: Arc::new(MemoryBroker::new()),
//! });
//! ```

/// Implements [`Transport`](crate::Transport) for `$ty` by calling field `$field`'s.
#[macro_export]
macro_rules! forward_transport {
    ($ty:ty => $($field:ident).+) => {
        impl $crate::Transport for $ty {
            fn publish<'a>(
                &'a self,
                message: $crate::broker::TaskMessage,
            ) -> $crate::__private::BoxFuture<'a, Result<(), $crate::TaskError>> {
                // The field may be a concrete part (the trait must be in scope) or a trait object.                #[allow(unused_imports)]                use $crate::Transport as _;
                self.$($field).+.publish(message)
            }
            fn fetch<'a>(
                &'a self,
                queues: &'a [String],
                worker: &'a str,
                visibility: ::std::time::Duration,
            ) -> $crate::__private::BoxFuture<
                'a,
                Result<Option<$crate::broker::Delivery>, $crate::TaskError>,
            > {
                // The field may be a concrete part (the trait must be in scope) or a trait object.                #[allow(unused_imports)]                use $crate::Transport as _;
                self.$($field).+.fetch(queues, worker, visibility)
            }
            fn extend<'a>(
                &'a self,
                delivery: &'a $crate::broker::Delivery,
                visibility: ::std::time::Duration,
            ) -> $crate::__private::BoxFuture<'a, Result<(), $crate::TaskError>> {
                // The field may be a concrete part (the trait must be in scope) or a trait object.                #[allow(unused_imports)]                use $crate::Transport as _;
                self.$($field).+.extend(delivery, visibility)
            }
            fn ack<'a>(
                &'a self,
                delivery: &'a $crate::broker::Delivery,
            ) -> $crate::__private::BoxFuture<'a, Result<(), $crate::TaskError>> {
                // The field may be a concrete part (the trait must be in scope) or a trait object.                #[allow(unused_imports)]                use $crate::Transport as _;
                self.$($field).+.ack(delivery)
            }
            fn requeue<'a>(
                &'a self,
                delivery: &'a $crate::broker::Delivery,
                eta: f64,
                retries: u32,
            ) -> $crate::__private::BoxFuture<'a, Result<(), $crate::TaskError>> {
                // The field may be a concrete part (the trait must be in scope) or a trait object.                #[allow(unused_imports)]                use $crate::Transport as _;
                self.$($field).+.requeue(delivery, eta, retries)
            }
            fn dead_letter<'a>(
                &'a self,
                delivery: &'a $crate::broker::Delivery,
                reason: &'a str,
            ) -> $crate::__private::BoxFuture<'a, Result<(), $crate::TaskError>> {
                // The field may be a concrete part (the trait must be in scope) or a trait object.                #[allow(unused_imports)]                use $crate::Transport as _;
                self.$($field).+.dead_letter(delivery, reason)
            }
            fn queue_length<'a>(
                &'a self,
                queue: &'a str,
            ) -> $crate::__private::BoxFuture<'a, Result<u64, $crate::TaskError>> {
                // The field may be a concrete part (the trait must be in scope) or a trait object.                #[allow(unused_imports)]                use $crate::Transport as _;
                self.$($field).+.queue_length(queue)
            }
            fn drop_lease<'a>(
                &'a self,
                delivery: &'a $crate::broker::Delivery,
            ) -> $crate::__private::BoxFuture<'a, Result<(), $crate::TaskError>> {
                // The field may be a concrete part (the trait must be in scope) or a trait object.                #[allow(unused_imports)]                use $crate::Transport as _;
                self.$($field).+.drop_lease(delivery)
            }
            fn published(&self) -> Option<&$crate::__private::Notify> {
                // The field may be a concrete part (the trait must be in scope) or a trait object.                #[allow(unused_imports)]                use $crate::Transport as _;
                self.$($field).+.published()
            }
            fn release<'a>(
                &'a self,
                worker: &'a str,
            ) -> $crate::__private::BoxFuture<'a, Result<(), $crate::TaskError>> {
                // The field may be a concrete part (the trait must be in scope) or a trait object.                #[allow(unused_imports)]                use $crate::Transport as _;
                self.$($field).+.release(worker)
            }
            fn queues(
                &self,
            ) -> $crate::__private::BoxFuture<'_, Result<Vec<String>, $crate::TaskError>> {
                // The field may be a concrete part (the trait must be in scope) or a trait object.                #[allow(unused_imports)]                use $crate::Transport as _;
                self.$($field).+.queues()
            }
            fn scheduled(
                &self,
            ) -> $crate::__private::BoxFuture<
                '_,
                Result<Vec<$crate::control::TaskInfo>, $crate::TaskError>,
            > {
                // The field may be a concrete part (the trait must be in scope) or a trait object.                #[allow(unused_imports)]                use $crate::Transport as _;
                self.$($field).+.scheduled()
            }
            fn held(
                &self,
                queues: &[String],
            ) -> (
                Vec<$crate::broker::TaskMessage>,
                Vec<$crate::broker::TaskMessage>,
            ) {
                // The field may be a concrete part (the trait must be in scope) or a trait object.                #[allow(unused_imports)]                use $crate::Transport as _;
                self.$($field).+.held(queues)
            }
            fn purge<'a>(
                &'a self,
                queue: &'a str,
            ) -> $crate::__private::BoxFuture<'a, Result<u64, $crate::TaskError>> {
                // The field may be a concrete part (the trait must be in scope) or a trait object.                #[allow(unused_imports)]                use $crate::Transport as _;
                self.$($field).+.purge(queue)
            }
            fn dead_letters(
                &self,
            ) -> $crate::__private::BoxFuture<
                '_,
                Result<Vec<$crate::control::DeadLetter>, $crate::TaskError>,
            > {
                // The field may be a concrete part (the trait must be in scope) or a trait object.                #[allow(unused_imports)]                use $crate::Transport as _;
                self.$($field).+.dead_letters()
            }
            fn retry_dead_letters(
                &self,
            ) -> $crate::__private::BoxFuture<'_, Result<u64, $crate::TaskError>> {
                // The field may be a concrete part (the trait must be in scope) or a trait object.                #[allow(unused_imports)]                use $crate::Transport as _;
                self.$($field).+.retry_dead_letters()
            }
            fn mailbox(&self) -> Option<::std::sync::Arc<dyn $crate::mailbox::Mailbox>> {
                // The field may be a concrete part (the trait must be in scope) or a trait object.                #[allow(unused_imports)]                use $crate::Transport as _;
                self.$($field).+.mailbox()
            }
        }
    };
}

/// Implements [`ResultBackend`](crate::ResultBackend) for `$ty` by calling field `$field`'s.
#[macro_export]
macro_rules! forward_result_backend {
    ($ty:ty => $($field:ident).+) => {
        impl $crate::ResultBackend for $ty {
            fn store_result<'a>(
                &'a self,
                id: &'a str,
                result: $crate::TaskResult,
            ) -> $crate::__private::BoxFuture<'a, Result<(), $crate::TaskError>> {
                // The field may be a concrete part (the trait must be in scope) or a trait object.                #[allow(unused_imports)]                use $crate::ResultBackend as _;
                self.$($field).+.store_result(id, result)
            }
            fn get_result<'a>(
                &'a self,
                id: &'a str,
            ) -> $crate::__private::BoxFuture<
                'a,
                Result<Option<$crate::TaskResult>, $crate::TaskError>,
            > {
                // The field may be a concrete part (the trait must be in scope) or a trait object.                #[allow(unused_imports)]                use $crate::ResultBackend as _;
                self.$($field).+.get_result(id)
            }
            fn forget<'a>(
                &'a self,
                id: &'a str,
            ) -> $crate::__private::BoxFuture<'a, Result<(), $crate::TaskError>> {
                // The field may be a concrete part (the trait must be in scope) or a trait object.                #[allow(unused_imports)]                use $crate::ResultBackend as _;
                self.$($field).+.forget(id)
            }
            fn celery_chords(&self) -> bool {
                // The field may be a concrete part (the trait must be in scope) or a trait object.                #[allow(unused_imports)]                use $crate::ResultBackend as _;
                self.$($field).+.celery_chords()
            }
            fn start_celery_chord<'a>(
                &'a self,
                group_id: &'a str,
                members: &'a [String],
            ) -> $crate::__private::BoxFuture<'a, Result<(), $crate::TaskError>> {
                // The field may be a concrete part (the trait must be in scope) or a trait object.                #[allow(unused_imports)]                use $crate::ResultBackend as _;
                self.$($field).+.start_celery_chord(group_id, members)
            }
            fn celery_chord_part<'a>(
                &'a self,
                group_id: &'a str,
                member: &'a str,
                index: Option<u64>,
                state: $crate::TaskStatus,
                value: $crate::__private::serde_json::Value,
            ) -> $crate::__private::BoxFuture<
                'a,
                Result<Option<Vec<$crate::broker::ChordPart>>, $crate::TaskError>,
            > {
                // The field may be a concrete part (the trait must be in scope) or a trait object.                #[allow(unused_imports)]                use $crate::ResultBackend as _;
                self.$($field).+.celery_chord_part(group_id, member, index, state, value)
            }
            fn chord_part_done<'a>(
                &'a self,
                group_id: &'a str,
                member: &'a str,
            ) -> $crate::__private::BoxFuture<'a, Result<Option<u64>, $crate::TaskError>> {
                // The field may be a concrete part (the trait must be in scope) or a trait object.                #[allow(unused_imports)]                use $crate::ResultBackend as _;
                self.$($field).+.chord_part_done(group_id, member)
            }
        }
    };
}

/// Implements [`Coordination`](crate::Coordination) for `$ty` by calling field `$field`'s.
#[macro_export]
macro_rules! forward_coordination {
    ($ty:ty => $($field:ident).+) => {
        impl $crate::Coordination for $ty {
            fn revoke<'a>(
                &'a self,
                id: &'a str,
            ) -> $crate::__private::BoxFuture<'a, Result<(), $crate::TaskError>> {
                // The field may be a concrete part (the trait must be in scope) or a trait object.                #[allow(unused_imports)]                use $crate::Coordination as _;
                self.$($field).+.revoke(id)
            }
            fn is_revoked<'a>(
                &'a self,
                id: &'a str,
            ) -> $crate::__private::BoxFuture<'a, Result<bool, $crate::TaskError>> {
                // The field may be a concrete part (the trait must be in scope) or a trait object.                #[allow(unused_imports)]                use $crate::Coordination as _;
                self.$($field).+.is_revoked(id)
            }
            fn claim_fire<'a>(
                &'a self,
                entry: &'a str,
                due: f64,
            ) -> $crate::__private::BoxFuture<'a, Result<bool, $crate::TaskError>> {
                // The field may be a concrete part (the trait must be in scope) or a trait object.                #[allow(unused_imports)]                use $crate::Coordination as _;
                self.$($field).+.claim_fire(entry, due)
            }
            fn last_fire<'a>(
                &'a self,
                entry: &'a str,
            ) -> $crate::__private::BoxFuture<'a, Result<Option<f64>, $crate::TaskError>> {
                // The field may be a concrete part (the trait must be in scope) or a trait object.                #[allow(unused_imports)]                use $crate::Coordination as _;
                self.$($field).+.last_fire(entry)
            }
            fn claim_unique<'a>(
                &'a self,
                key: &'a str,
                id: &'a str,
                ttl: f64,
            ) -> $crate::__private::BoxFuture<'a, Result<Option<String>, $crate::TaskError>>
            {
                // The field may be a concrete part (the trait must be in scope) or a trait object.                #[allow(unused_imports)]                use $crate::Coordination as _;
                self.$($field).+.claim_unique(key, id, ttl)
            }
            fn release_unique<'a>(
                &'a self,
                key: &'a str,
                id: &'a str,
            ) -> $crate::__private::BoxFuture<'a, Result<(), $crate::TaskError>> {
                // The field may be a concrete part (the trait must be in scope) or a trait object.                #[allow(unused_imports)]                use $crate::Coordination as _;
                self.$($field).+.release_unique(key, id)
            }
            fn rate_count<'a>(
                &'a self,
                key: &'a str,
                until: f64,
            ) -> $crate::__private::BoxFuture<'a, Result<u64, $crate::TaskError>> {
                // The field may be a concrete part (the trait must be in scope) or a trait object.                #[allow(unused_imports)]                use $crate::Coordination as _;
                self.$($field).+.rate_count(key, until)
            }
        }
    };
}

/// Implements [`Control`](crate::Control) for `$ty` by calling field `$field`'s.
#[macro_export]
macro_rules! forward_control {
    ($ty:ty => $($field:ident).+) => {
        impl $crate::Control for $ty {
            fn worker_heartbeat<'a>(
                &'a self,
                info: &'a $crate::control::WorkerInfo,
            ) -> $crate::__private::BoxFuture<'a, Result<(), $crate::TaskError>> {
                // The field may be a concrete part (the trait must be in scope) or a trait object.                #[allow(unused_imports)]                use $crate::Control as _;
                self.$($field).+.worker_heartbeat(info)
            }
            fn worker_offline<'a>(
                &'a self,
                name: &'a str,
            ) -> $crate::__private::BoxFuture<'a, Result<(), $crate::TaskError>> {
                // The field may be a concrete part (the trait must be in scope) or a trait object.                #[allow(unused_imports)]                use $crate::Control as _;
                self.$($field).+.worker_offline(name)
            }
            fn workers(
                &self,
            ) -> $crate::__private::BoxFuture<
                '_,
                Result<Vec<$crate::control::WorkerInfo>, $crate::TaskError>,
            > {
                // The field may be a concrete part (the trait must be in scope) or a trait object.                #[allow(unused_imports)]                use $crate::Control as _;
                self.$($field).+.workers()
            }
            fn send_event<'a>(
                &'a self,
                event: &'a $crate::__private::serde_json::Value,
            ) -> $crate::__private::BoxFuture<'a, Result<(), $crate::TaskError>> {
                // The field may be a concrete part (the trait must be in scope) or a trait object.                #[allow(unused_imports)]                use $crate::Control as _;
                self.$($field).+.send_event(event)
            }
            fn events<'a>(
                &'a self,
                cursor: Option<&'a str>,
                wait: ::std::time::Duration,
            ) -> $crate::__private::BoxFuture<
                'a,
                Result<(String, Vec<$crate::__private::serde_json::Value>), $crate::TaskError>,
            > {
                // The field may be a concrete part (the trait must be in scope) or a trait object.                #[allow(unused_imports)]                use $crate::Control as _;
                self.$($field).+.events(cursor, wait)
            }
        }
    };
}
