//! `Broker` for the AMQP transport: the queues on RabbitMQ (its `Transport`); results,
//! coordination and control records in the store beside it (see the module docs).

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use lapin::options::{
    BasicAckOptions, BasicGetOptions, BasicNackOptions, QueueDeclareOptions, QueuePurgeOptions,
};
use lapin::types::FieldTable;
use serde_json::Value;

use super::{lock, wire, AmqpBroker, DEAD_LETTER_QUEUE};
use crate::broker::{now, Delivery, TaskMessage, Transport};
use crate::control::{DeadLetter, TaskInfo};
use crate::error::TaskError;

impl AmqpBroker {
    fn leased(&self, delivery: &Delivery) -> Option<super::consumer::Leased> {
        lock(&self.inner.leases).remove(&delivery.lease)
    }

    /// The dead letters, each read and left unacked on `channel` (closing it puts them back).
    async fn read_dead_letters(
        &self,
        channel: &lapin::Channel,
    ) -> Result<Vec<(DeadLetter, Option<TaskMessage>, u64)>, TaskError> {
        self.inner.declare(channel, DEAD_LETTER_QUEUE).await?;
        let mut letters = Vec::new();
        while let Some(got) = channel
            .basic_get(DEAD_LETTER_QUEUE.into(), BasicGetOptions::default())
            .await?
        {
            let delivery = got.delivery;
            let headers = delivery.properties.headers().clone().unwrap_or_default();
            let header = |key: &str| headers.inner().get(key).map(wire::to_json);
            let queue = header("x-canter-queue")
                .and_then(|q| q.as_str().map(str::to_owned))
                .unwrap_or_else(|| "celery".into());
            let decoded = wire::decode(&delivery.properties, &delivery.data, &queue, false);
            let mut letter = DeadLetter {
                id: String::new(),
                name: String::new(),
                queue: queue.clone(),
                args: Value::Null,
                kwargs: Value::Null,
                reason: header("x-canter-reason")
                    .and_then(|r| r.as_str().map(str::to_owned))
                    .unwrap_or_default(),
                at: header("x-canter-at")
                    .and_then(|a| a.as_f64())
                    .unwrap_or(0.0),
                retriable: decoded.is_ok(),
            };
            let message = match decoded {
                Ok((m, _)) => {
                    (letter.id, letter.name) = (m.id.clone(), m.name.clone());
                    (letter.args, letter.kwargs) = (m.args.clone(), m.kwargs.clone());
                    Some(m)
                }
                Err(invalid) => {
                    letter.id = invalid.id.unwrap_or_default();
                    letter.name = invalid.name.unwrap_or_default();
                    None
                }
            };
            letters.push((letter, message, delivery.delivery_tag));
        }
        Ok(letters)
    }
}

crate::forward_result_backend!(AmqpBroker => inner.backend);

impl Transport for AmqpBroker {
    fn publish<'a>(&'a self, message: TaskMessage) -> BoxFuture<'a, Result<(), TaskError>> {
        Box::pin(async move { self.inner.publish_task(&message, None).await })
    }

    fn fetch<'a>(
        &'a self,
        queues: &'a [String],
        worker: &'a str,
        _visibility: Duration,
    ) -> BoxFuture<'a, Result<Option<Delivery>, TaskError>> {
        Box::pin(self.inner.fetch(queues, worker))
    }

    /// Nothing to renew: an unacked message stays the worker's until its channel closes.
    fn extend<'a>(
        &'a self,
        _delivery: &'a Delivery,
        _visibility: Duration,
    ) -> BoxFuture<'a, Result<(), TaskError>> {
        Box::pin(async { Ok(()) })
    }

    fn ack<'a>(&'a self, delivery: &'a Delivery) -> BoxFuture<'a, Result<(), TaskError>> {
        Box::pin(async move {
            let Some(leased) = self.leased(delivery) else {
                return Ok(());
            };
            leased
                .channel
                .basic_ack(leased.tag, BasicAckOptions::default())
                .await?;
            Ok(())
        })
    }

    /// Sent again (a new message with the same id and the headers it came with), then acked.
    fn requeue<'a>(
        &'a self,
        delivery: &'a Delivery,
        eta: f64,
        retries: u32,
    ) -> BoxFuture<'a, Result<(), TaskError>> {
        Box::pin(async move {
            let again = TaskMessage {
                eta,
                retries,
                redelivered: false,
                ..delivery.message.clone()
            };
            let leased = self.leased(delivery);
            let headers = leased
                .as_ref()
                .map(|l| wire::resent_headers(&l.headers, retries, eta));
            self.inner.publish_task(&again, headers.as_ref()).await?;
            if let Some(leased) = leased {
                let _ = leased
                    .channel
                    .basic_ack(leased.tag, BasicAckOptions::default())
                    .await;
            }
            Ok(())
        })
    }

    /// Back to the queue now (the worker could not store its result).
    fn drop_lease<'a>(&'a self, delivery: &'a Delivery) -> BoxFuture<'a, Result<(), TaskError>> {
        Box::pin(async move {
            if let Some(leased) = self.leased(delivery) {
                let requeue = BasicNackOptions {
                    requeue: true,
                    ..Default::default()
                };
                leased.channel.basic_nack(leased.tag, requeue).await?;
            }
            Ok(())
        })
    }

    fn release<'a>(&'a self, worker: &'a str) -> BoxFuture<'a, Result<(), TaskError>> {
        Box::pin(async move {
            self.inner.release(worker).await;
            Ok(())
        })
    }

    fn dead_letter<'a>(
        &'a self,
        delivery: &'a Delivery,
        reason: &'a str,
    ) -> BoxFuture<'a, Result<(), TaskError>> {
        Box::pin(async move {
            let m = &delivery.message;
            let leased = self.leased(delivery);
            let headers = leased.as_ref().map(|l| l.headers.clone());
            let (properties, body) = wire::encode(
                m,
                &self.inner.origin,
                &self.inner.reply_to,
                headers.as_ref(),
            );
            self.inner
                .bury(&properties, &body, &m.queue, reason)
                .await?;
            if let Some(leased) = leased {
                leased
                    .channel
                    .basic_ack(leased.tag, BasicAckOptions::default())
                    .await?;
            }
            Ok(())
        })
    }

    fn queue_length<'a>(&'a self, queue: &'a str) -> BoxFuture<'a, Result<u64, TaskError>> {
        Box::pin(async move {
            // Passive: a queue that does not exist holds nothing (and closes this channel).
            let channel = self.inner.channel().await?;
            let passive = QueueDeclareOptions {
                passive: true,
                ..Default::default()
            };
            let length = match channel
                .queue_declare(queue.into(), passive, FieldTable::default())
                .await
            {
                Ok(declared) => u64::from(declared.message_count()),
                Err(_) => 0,
            };
            let _ = channel.close(200, "done".into()).await;
            Ok(length)
        })
    }

    fn purge<'a>(&'a self, queue: &'a str) -> BoxFuture<'a, Result<u64, TaskError>> {
        Box::pin(async move {
            let channel = self.inner.channel().await?;
            let purged = channel
                .queue_purge(queue.into(), QueuePurgeOptions::default())
                .await
                .map_or(0, u64::from);
            let _ = channel.close(200, "done".into()).await;
            Ok(purged)
        })
    }

    fn queues(&self) -> BoxFuture<'_, Result<Vec<String>, TaskError>> {
        Box::pin(async move {
            let mut queues: Vec<String> = lock(&self.inner.declared)
                .iter()
                .filter(|q| *q != DEAD_LETTER_QUEUE)
                .cloned()
                .collect();
            if !queues.iter().any(|q| q == "celery") {
                queues.push("celery".into());
            }
            Ok(queues)
        })
    }

    fn held(&self, queues: &[String]) -> (Vec<TaskMessage>, Vec<TaskMessage>) {
        let workers = lock(&self.inner.workers);
        let held = workers
            .values()
            .filter(|w| w.serves(queues))
            .flat_map(|w| w.held())
            .collect();
        (Vec::new(), held)
    }

    fn dead_letters(&self) -> BoxFuture<'_, Result<Vec<DeadLetter>, TaskError>> {
        Box::pin(async move {
            let channel = self.inner.channel().await?;
            let letters = self.read_dead_letters(&channel).await;
            // Closed unacked: every letter stays.
            let _ = channel.close(200, "done".into()).await;
            Ok(letters?.into_iter().map(|(letter, ..)| letter).collect())
        })
    }

    fn retry_dead_letters(&self) -> BoxFuture<'_, Result<u64, TaskError>> {
        Box::pin(async move {
            let channel = self.inner.channel().await?;
            let letters = self.read_dead_letters(&channel).await;
            let mut sent = 0;
            for (_, message, tag) in letters.into_iter().flatten() {
                let Some(message) = message else { continue };
                let fresh = TaskMessage {
                    eta: now(),
                    retries: 0,
                    ..message
                };
                // Its FAILURE result goes: whoever waits on it sees the new run's.
                let _ = self.inner.backend.forget(&fresh.id).await;
                self.inner.publish_task(&fresh, None).await?;
                channel.basic_ack(tag, BasicAckOptions::default()).await?;
                sent += 1;
            }
            let _ = channel.close(200, "done".into()).await;
            Ok(sent)
        })
    }

    fn mailbox(&self) -> Option<Arc<dyn crate::mailbox::Mailbox>> {
        Some(self.inner.mailbox.clone())
    }

    fn scheduled(&self) -> BoxFuture<'_, Result<Vec<TaskInfo>, TaskError>> {
        Box::pin(async { Ok(Vec::new()) })
    }
}

crate::forward_coordination!(AmqpBroker => inner.backend);
crate::forward_control!(AmqpBroker => inner.backend);
