//! A worker's side of the AMQP transport: its channel, its consumers (late acks), the messages
//! it holds for their ETA, and the leases that name each delivery for the ack.

use std::sync::{Arc, Mutex};

use futures_util::stream::{SelectAll, StreamExt};
use lapin::message::Delivery as AmqpDelivery;
use lapin::options::{BasicAckOptions, BasicConsumeOptions, BasicQosOptions};
use lapin::types::FieldTable;
use lapin::{Channel, Consumer};
use serde_json::{Map, Value};

use super::{lock, wire, Inner, BLOCK};
use crate::broker::{now, Delivery, TaskMessage};
use crate::error::TaskError;
use crate::result::{TaskResult, TaskStatus};

/// A delivery a worker holds: what its ack needs, and its headers for a retry.
pub(crate) struct Leased {
    pub(super) channel: Channel,
    pub(super) tag: u64,
    pub(super) headers: Map<String, Value>,
}

/// A message held for its ETA (unacked).
struct Held {
    message: TaskMessage,
    headers: Map<String, Value>,
    tag: u64,
}

/// See the module docs.
pub(crate) struct WorkerChannel {
    pub(super) channel: Channel,
    consumers: tokio::sync::Mutex<SelectAll<Consumer>>,
    held: Mutex<Vec<Held>>,
    queues: Vec<String>,
}

impl WorkerChannel {
    /// The held messages, as inspection shows them.
    pub(super) fn held(&self) -> Vec<TaskMessage> {
        lock(&self.held).iter().map(|h| h.message.clone()).collect()
    }

    pub(super) fn serves(&self, queues: &[String]) -> bool {
        self.queues.iter().any(|q| queues.contains(q))
    }

    /// The first held message that is due, taken out.
    fn take_due(&self) -> Option<Held> {
        let mut held = lock(&self.held);
        let now = now();
        let index = held.iter().position(|h| h.message.eta <= now)?;
        Some(held.remove(index))
    }

    /// How long until the next held message is due.
    fn next_due_in(&self) -> Option<f64> {
        let held = lock(&self.held);
        let now = now();
        held.iter()
            .map(|h| (h.message.eta - now).max(0.0))
            .reduce(f64::min)
    }
}

impl Inner {
    /// `worker`'s channel, made (and its queues consumed) on its first fetch.
    async fn worker_channel(
        &self,
        worker: &str,
        queues: &[String],
    ) -> Result<Arc<WorkerChannel>, TaskError> {
        if let Some(existing) = lock(&self.workers).get(worker) {
            if existing.channel.status().connected() {
                return Ok(existing.clone());
            }
        }
        let channel = self.channel().await?;
        self.set_qos(&channel, 0).await?;
        let mut consumers = SelectAll::new();
        for queue in queues {
            self.declare(&channel, queue).await?;
            let tag = format!("{worker}:{queue}");
            let consumer = channel
                .basic_consume(
                    queue.as_str().into(),
                    tag.as_str().into(),
                    BasicConsumeOptions::default(),
                    FieldTable::default(),
                )
                .await?;
            consumers.push(consumer);
        }
        let made = Arc::new(WorkerChannel {
            channel,
            consumers: tokio::sync::Mutex::new(consumers),
            held: Mutex::default(),
            queues: queues.to_vec(),
        });
        lock(&self.workers).insert(worker.to_owned(), made.clone());
        Ok(made)
    }

    /// The channel's prefetch: the configured one, plus one per message held for its ETA (so
    /// held messages never stop the rest, as Celery raises its QoS for them).
    async fn set_qos(&self, channel: &Channel, held: usize) -> Result<(), TaskError> {
        let count = usize::from(self.options.prefetch).saturating_add(held);
        let count = u16::try_from(count).unwrap_or(u16::MAX);
        channel
            .basic_qos(count, BasicQosOptions { global: true })
            .await?;
        Ok(())
    }

    /// The next task due for `worker` (waiting up to [`BLOCK`] for one), leased to it.
    pub(super) async fn fetch(
        &self,
        queues: &[String],
        worker: &str,
    ) -> Result<Option<Delivery>, TaskError> {
        let wc = self.worker_channel(worker, queues).await?;
        loop {
            if let Some(due) = wc.take_due() {
                let held = lock(&wc.held).len();
                self.set_qos(&wc.channel, held).await?;
                return Ok(Some(self.lease(worker, &wc, due)));
            }
            let wait = wc
                .next_due_in()
                .map_or(BLOCK, |s| BLOCK.min(std::time::Duration::from_secs_f64(s)));
            let next = {
                let mut consumers = wc.consumers.lock().await;
                tokio::time::timeout(wait, consumers.next()).await
            };
            let delivery = match next {
                Err(_) if wc.next_due_in().is_some_and(|s| s <= 0.0) => continue,
                Err(_) => return Ok(None),
                Ok(Some(Ok(delivery))) => delivery,
                Ok(Some(Err(e))) => {
                    lock(&self.workers).remove(worker);
                    return Err(e.into());
                }
                Ok(None) => {
                    lock(&self.workers).remove(worker);
                    return Err(TaskError::Broker(
                        "amqp: the worker's channel closed".into(),
                    ));
                }
            };
            if let Some(due) = self.receive(&wc, delivery).await? {
                return Ok(Some(self.lease(worker, &wc, due)));
            }
        }
    }

    /// A received delivery: a task due now (returned), one held for its ETA, or one no worker
    /// can read (dead-lettered, its FAILURE stored when it names its id).
    async fn receive(
        &self,
        wc: &WorkerChannel,
        delivery: AmqpDelivery,
    ) -> Result<Option<Held>, TaskError> {
        let queue = delivery.routing_key.as_str().to_owned();
        let decoded = wire::decode(
            &delivery.properties,
            &delivery.data,
            &queue,
            delivery.redelivered,
        );
        let (message, headers) = match decoded {
            Ok(read) => read,
            Err(invalid) => {
                tracing::error!(target: "canter::tasks", id = ?invalid.id, "{}: moved to the dead letters", invalid.reason);
                self.bury(
                    &delivery.properties,
                    &delivery.data,
                    &queue,
                    &invalid.reason,
                )
                .await?;
                wc.channel
                    .basic_ack(delivery.delivery_tag, BasicAckOptions::default())
                    .await?;
                if let Some(id) = &invalid.id {
                    let failure = TaskResult {
                        status: TaskStatus::Failure,
                        result: None,
                        error: Some(("InvalidTaskError".into(), invalid.reason.clone())),
                    };
                    let _ = self.backend.store_result(id, failure).await;
                }
                return Ok(None);
            }
        };
        let held = Held {
            message,
            headers,
            tag: delivery.delivery_tag,
        };
        if held.message.eta <= now() {
            return Ok(Some(held));
        }
        let count = {
            let mut all = lock(&wc.held);
            all.push(held);
            all.len()
        };
        self.set_qos(&wc.channel, count).await?;
        Ok(None)
    }

    fn lease(&self, worker: &str, wc: &WorkerChannel, held: Held) -> Delivery {
        let lease = format!("{worker}#{}#{}", wc.channel.id(), held.tag);
        let leased = Leased {
            channel: wc.channel.clone(),
            tag: held.tag,
            headers: held.headers,
        };
        lock(&self.leases).insert(lease.clone(), leased);
        Delivery {
            message: held.message,
            lease,
        }
    }

    /// `worker` stops: its channel closes, and what it held goes back to the queue.
    pub(super) async fn release(&self, worker: &str) {
        let Some(wc) = lock(&self.workers).remove(worker) else {
            return;
        };
        let prefix = format!("{worker}#");
        lock(&self.leases).retain(|lease, _| !lease.starts_with(&prefix));
        let _ = wc.channel.close(200, "worker stopped".into()).await;
    }
}
