//! The RabbitMQ (AMQP 0-9-1) transport, on lapin, speaking kombu's AMQP conventions so Python
//! Celery producers and workers share its queues: each queue `q` is durable, bound to a durable
//! direct exchange `q` with routing key `q` (Celery's default queue `celery` to the exchange
//! `celery`), tasks are published through the default exchange with routing key `q` as
//! Celery's `send_task_message` does, persistent, with protocol v2's headers and JSON body
//! (`wire.rs`), and with publisher confirms (a `delay` returns once RabbitMQ has the message).
//!
//! A worker gets a channel of its own, consumes its queues with late acks, and holds messages
//! whose ETA has not come (unacked, as Celery's worker holds them), raising its channel's
//! prefetch (`basic.qos`, global) by one for each so the rest keep flowing. A worker that dies
//! — its channel or connection gone — leaves nothing behind: RabbitMQ delivers its unacked
//! messages again (marked `redelivered`). A retry is a new message with the same id and the
//! original headers, as Celery sends it. Messages no worker can run go to the durable queue
//! `canter.dead_letter` with the reason in their `x-canter-reason` header.
//!
//! AMQP has no result store: results, revocations, schedules, chords, unique claims, rate
//! limits, worker snapshots and the event stream are kept by the result backend it is opened
//! with (Redis, shared with Python's `result_backend`, or the embedded SQLite file).
//!
//! URL: `amqp://user:password@host:port/vhost`, with options as query parameters: `prefetch`
//! (messages a worker's channel takes ahead, default 16) and `max_priority` (declare queues
//! with `x-max-priority`, as Python's `task_queue_max_priority`; both sides must declare a
//! queue alike, or RabbitMQ refuses the second declaration). Other parameters go to lapin.

mod consumer;
mod impl_broker;
pub(crate) mod mailbox;
pub(crate) mod wire;

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use lapin::options::{
    BasicPublishOptions, ConfirmSelectOptions, ExchangeDeclareOptions, QueueBindOptions,
    QueueDeclareOptions,
};
use lapin::types::{AMQPValue, FieldTable, ShortString};
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties, ExchangeKind};
use serde_json::{Map, Value};

use crate::broker::{Broker, TaskMessage};
use crate::error::TaskError;

use consumer::WorkerChannel;

/// Where messages no worker can run are kept.
pub(crate) const DEAD_LETTER_QUEUE: &str = "canter.dead_letter";

impl From<lapin::Error> for TaskError {
    fn from(e: lapin::Error) -> Self {
        TaskError::Broker(format!("amqp: {e}"))
    }
}

/// Options read from the URL's query.
#[derive(Debug, Clone)]
struct Options {
    prefetch: u16,
    max_priority: Option<u8>,
}

fn parse_url(url: &str) -> Result<(String, Options), TaskError> {
    let mut options = Options {
        prefetch: 16,
        max_priority: None,
    };
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let mut kept = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let number = |what: &str| {
            value.parse::<u16>().map_err(|_| {
                TaskError::Broker(format!(
                    "broker URL: {what}={value:?} is not a whole number"
                ))
            })
        };
        match key {
            "prefetch" => options.prefetch = number("prefetch")?.max(1),
            "max_priority" => options.max_priority = Some(number("max_priority")?.min(255) as u8),
            _ => kept.push(pair),
        }
    }
    let base = match kept.is_empty() {
        true => base.to_owned(),
        false => format!("{base}?{}", kept.join("&")),
    };
    Ok((base, options))
}

/// See the module docs.
pub struct AmqpBroker {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    url: String,
    options: Options,
    connection: tokio::sync::Mutex<Arc<Connection>>,
    /// The channel tasks are published on (publisher confirms on); made again if it closes.
    publisher: tokio::sync::Mutex<Option<Channel>>,
    /// Results and coordination (see the module docs).
    backend: Arc<dyn Broker>,
    origin: String,
    reply_to: String,
    max_message_size: std::sync::atomic::AtomicU64,
    /// Queues declared on this connection.
    declared: Mutex<BTreeSet<String>>,
    /// Each worker's channel, by worker name.
    workers: Mutex<HashMap<String, Arc<WorkerChannel>>>,
    /// What a delivery's lease names: its channel, tag and headers.
    leases: Mutex<HashMap<String, consumer::Leased>>,
    mailbox: Arc<mailbox::AmqpMailbox>,
}

impl AmqpBroker {
    /// Connects (failing now, with the reason, if RabbitMQ cannot be reached), keeping results
    /// and coordination in `backend`.
    pub async fn connect(url: &str, backend: Arc<dyn Broker>) -> Result<Self, TaskError> {
        let (url, options) = parse_url(url)?;
        let connection = Arc::new(open(&url).await?);
        let inner = Arc::new(Inner {
            mailbox: Arc::new(mailbox::AmqpMailbox::new(connection.clone(), &url)),
            url,
            options,
            connection: tokio::sync::Mutex::new(connection),
            publisher: tokio::sync::Mutex::new(None),
            backend,
            origin: crate::brokers::celery::origin(),
            reply_to: uuid::Uuid::new_v4().to_string(),
            max_message_size: std::sync::atomic::AtomicU64::new(
                crate::broker::DEFAULT_MAX_MESSAGE_SIZE,
            ),
            declared: Mutex::default(),
            workers: Mutex::default(),
            leases: Mutex::default(),
        });
        Ok(AmqpBroker { inner })
    }

    /// Refuses messages over `bytes` (default [`DEFAULT_MAX_MESSAGE_SIZE`](crate::broker::DEFAULT_MAX_MESSAGE_SIZE)).
    pub fn with_max_message_size(self, bytes: u64) -> Self {
        (self.inner.max_message_size).store(bytes, std::sync::atomic::Ordering::Relaxed);
        self
    }
}

async fn open(url: &str) -> Result<Connection, TaskError> {
    let shown = crate::broker::redacted(url);
    Connection::connect(url, ConnectionProperties::default())
        .await
        .map_err(|e| TaskError::Broker(format!("cannot reach RabbitMQ at {shown}: {e}")))
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

impl Inner {
    /// The connection, made again if it was lost (a restarted RabbitMQ).
    async fn connection(&self) -> Result<Arc<Connection>, TaskError> {
        let mut connection = self.connection.lock().await;
        if !connection.status().connected() {
            *connection = Arc::new(open(&self.url).await?);
            lock(&self.declared).clear();
            *self.publisher.lock().await = None;
        }
        Ok(connection.clone())
    }

    /// A fresh channel (for one-off work: a passive declare that fails closes its channel).
    async fn channel(&self) -> Result<Channel, TaskError> {
        Ok(self.connection().await?.create_channel().await?)
    }

    /// Declares queue `queue` as kombu does (once per connection): a durable direct exchange
    /// and a durable queue of the same name, bound with the same routing key.
    async fn declare(&self, channel: &Channel, queue: &str) -> Result<(), TaskError> {
        if lock(&self.declared).contains(queue) {
            return Ok(());
        }
        let durable = ExchangeDeclareOptions {
            durable: true,
            ..Default::default()
        };
        let name = ShortString::from(queue);
        channel
            .exchange_declare(
                name.clone(),
                ExchangeKind::Direct,
                durable,
                FieldTable::default(),
            )
            .await?;
        let mut arguments = FieldTable::default();
        if let (Some(max), false) = (self.options.max_priority, queue == DEAD_LETTER_QUEUE) {
            // A 32-bit signed int, as py-amqp writes Python's int: RabbitMQ compares the two
            // declarations' arguments.
            arguments.insert("x-max-priority".into(), AMQPValue::LongInt(i32::from(max)));
        }
        let options = QueueDeclareOptions {
            durable: true,
            ..Default::default()
        };
        channel
            .queue_declare(name.clone(), options, arguments)
            .await?;
        channel
            .queue_bind(
                name.clone(),
                name.clone(),
                name,
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await?;
        lock(&self.declared).insert(queue.to_owned());
        Ok(())
    }

    /// Publishes a body with its properties to `queue` (through the default exchange, as
    /// Celery does) and waits for RabbitMQ's confirm.
    async fn publish_raw(
        &self,
        queue: &str,
        properties: BasicProperties,
        body: &[u8],
    ) -> Result<(), TaskError> {
        let channel = self.publisher().await?;
        let sent = async {
            self.declare(&channel, queue).await?;
            let confirm = channel
                .basic_publish(
                    "".into(),
                    queue.into(),
                    BasicPublishOptions::default(),
                    body,
                    properties,
                )
                .await?
                .await?;
            if confirm.is_nack() {
                return Err(TaskError::Broker(format!(
                    "RabbitMQ refused the message for {queue:?}"
                )));
            }
            Ok(())
        };
        let result = sent.await;
        if result.is_err() && !channel.status().connected() {
            // A refused declaration closes the channel: the next publish makes another.
            *self.publisher.lock().await = None;
        }
        result
    }

    async fn publisher(&self) -> Result<Channel, TaskError> {
        let mut publisher = self.publisher.lock().await;
        if let Some(channel) = publisher.as_ref().filter(|c| c.status().connected()) {
            return Ok(channel.clone());
        }
        let channel = self.channel().await?;
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await?;
        *publisher = Some(channel.clone());
        Ok(channel)
    }

    /// Publishes task `m` (`headers`: the ones it arrived with, for a retry).
    async fn publish_task(
        &self,
        m: &TaskMessage,
        headers: Option<&Map<String, Value>>,
    ) -> Result<(), TaskError> {
        let (properties, body) = wire::encode(m, &self.origin, &self.reply_to, headers);
        let limit = self
            .max_message_size
            .load(std::sync::atomic::Ordering::Relaxed);
        crate::broker::check_size(body.len(), limit)?;
        self.publish_raw(&m.queue, properties, &body).await
    }

    /// Sets `body` (with `properties`) aside in the dead-letter queue, with why.
    async fn bury(
        &self,
        properties: &BasicProperties,
        body: &[u8],
        queue: &str,
        reason: &str,
    ) -> Result<(), TaskError> {
        let mut headers = properties.headers().clone().unwrap_or_default();
        headers.insert(
            "x-canter-reason".into(),
            AMQPValue::LongString(reason.into()),
        );
        headers.insert("x-canter-queue".into(), AMQPValue::LongString(queue.into()));
        headers.insert(
            "x-canter-at".into(),
            AMQPValue::Double(crate::broker::now()),
        );
        let properties = properties.clone().with_headers(headers);
        self.publish_raw(DEAD_LETTER_QUEUE, properties, body).await
    }
}

/// How long an idle fetch waits for a message before returning `None`.
const BLOCK: Duration = Duration::from_secs(1);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_options_are_read_and_removed() {
        let (url, options) =
            parse_url("amqp://u:p@h:5672/v?prefetch=4&max_priority=10&heartbeat=30").unwrap();
        assert_eq!(url, "amqp://u:p@h:5672/v?heartbeat=30");
        assert_eq!((options.prefetch, options.max_priority), (4, Some(10)));
        assert!(parse_url("amqp://h/?prefetch=x").is_err());
    }
}
