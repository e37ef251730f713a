//! Celery's remote control and events on RabbitMQ, declared as kombu declares them (Celery
//! 5.5): requests on the fanout exchange `celery.pidbox` (transient), each worker's queue
//! `<node>.celery.pidbox` bound to it (auto-delete, `x-expires` 10 s, `x-message-ttl` 300 s,
//! consumed without acks); replies on the direct exchange `reply.celery.pidbox` with the
//! asker's routing key; events on the durable topic exchange `celeryev`, routed by type
//! (`worker.heartbeat`), transient.

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use futures_util::stream::{BoxStream, StreamExt};
use lapin::options::{
    BasicConsumeOptions, BasicPublishOptions, ExchangeDeclareOptions, QueueBindOptions,
    QueueDeclareOptions, QueueDeleteOptions,
};
use lapin::types::{AMQPValue, FieldTable, ShortString};
use lapin::{BasicProperties, Channel, Connection, ExchangeKind};
use serde_json::{json, Map, Value};

use super::wire::{table_to_json, to_table};
use crate::broker::now;
use crate::error::TaskError;
use crate::mailbox::{ControlRequest, Mailbox, ReplyTo, EVENT_EXCHANGE, EXCHANGE, REPLY_EXCHANGE};

/// See the module docs.
pub(crate) struct AmqpMailbox {
    connection: Arc<Connection>,
    /// The channel replies and events are published on.
    publisher: tokio::sync::Mutex<Option<Channel>>,
    /// What `stats` shows of the connection.
    info: Value,
}

/// kombu's pidbox and reply queues' arguments (Celery's `control_queue_expires` and
/// `control_queue_ttl`).
fn control_queue_arguments() -> FieldTable {
    let mut arguments = FieldTable::default();
    arguments.insert("x-expires".into(), AMQPValue::LongInt(10_000));
    arguments.insert("x-message-ttl".into(), AMQPValue::LongInt(300_000));
    arguments
}

fn json_properties(headers: &Value, mode: u8) -> BasicProperties {
    let headers = headers.as_object().cloned().unwrap_or_default();
    BasicProperties::default()
        .with_content_type("application/json".into())
        .with_content_encoding("utf-8".into())
        .with_delivery_mode(mode)
        .with_priority(0)
        .with_headers(to_table(&headers))
}

/// A message's headers and JSON body.
fn open(properties: &BasicProperties, data: &[u8]) -> Option<(Map<String, Value>, Value)> {
    let headers = properties
        .headers()
        .as_ref()
        .map(table_to_json)
        .unwrap_or_default();
    Some((headers, serde_json::from_slice(data).ok()?))
}

impl AmqpMailbox {
    pub(crate) fn new(connection: Arc<Connection>, url: &str) -> Self {
        AmqpMailbox {
            connection,
            publisher: tokio::sync::Mutex::new(None),
            info: broker_info(url),
        }
    }

    async fn publisher(&self) -> Result<Channel, TaskError> {
        let mut publisher = self.publisher.lock().await;
        if let Some(channel) = publisher.as_ref().filter(|c| c.status().connected()) {
            return Ok(channel.clone());
        }
        let channel = self.connection.create_channel().await?;
        *publisher = Some(channel.clone());
        Ok(channel)
    }

    async fn declare_exchange(
        channel: &Channel,
        name: &str,
        kind: ExchangeKind,
        durable: bool,
    ) -> Result<(), TaskError> {
        let options = ExchangeDeclareOptions {
            durable,
            ..Default::default()
        };
        channel
            .exchange_declare(name.into(), kind, options, FieldTable::default())
            .await?;
        Ok(())
    }

    async fn publish(
        &self,
        exchange: &str,
        routing_key: &str,
        body: &Value,
        properties: BasicProperties,
    ) -> Result<(), TaskError> {
        let channel = self.publisher().await?;
        channel
            .basic_publish(
                exchange.into(),
                routing_key.into(),
                BasicPublishOptions::default(),
                body.to_string().as_bytes(),
                properties,
            )
            .await?;
        Ok(())
    }

    /// A queue of its own bound to `exchange` with `routing_key`, consumed without acks.
    async fn consume(
        &self,
        queue: &str,
        exchange: &str,
        routing_key: &str,
    ) -> Result<lapin::Consumer, TaskError> {
        let channel = self.connection.create_channel().await?;
        let options = QueueDeclareOptions {
            auto_delete: true,
            ..Default::default()
        };
        let name = ShortString::from(queue);
        channel
            .queue_declare(name.clone(), options, control_queue_arguments())
            .await?;
        channel
            .queue_bind(
                name.clone(),
                exchange.into(),
                routing_key.into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await?;
        let no_ack = BasicConsumeOptions {
            no_ack: true,
            ..Default::default()
        };
        Ok(channel
            .basic_consume(name, "".into(), no_ack, FieldTable::default())
            .await?)
    }
}

impl Mailbox for AmqpMailbox {
    fn listen<'a>(
        &'a self,
        node: &'a str,
    ) -> BoxFuture<'a, Result<BoxStream<'static, ControlRequest>, TaskError>> {
        Box::pin(async move {
            let channel = self.publisher().await?;
            Self::declare_exchange(&channel, EXCHANGE, ExchangeKind::Fanout, false).await?;
            let queue = format!("{node}.{EXCHANGE}");
            let consumer = self.consume(&queue, EXCHANGE, "").await?;
            let requests = consumer.filter_map(|delivery| async move {
                let delivery = delivery.ok()?;
                let (headers, body) = open(&delivery.properties, &delivery.data)?;
                let clock = headers.get("clock").and_then(Value::as_u64).unwrap_or(0);
                ControlRequest::from_body(&body, clock)
            });
            Ok(requests.boxed())
        })
    }

    fn reply<'a>(
        &'a self,
        to: &'a ReplyTo,
        ticket: &'a str,
        reply: Value,
        clock: u64,
    ) -> BoxFuture<'a, Result<(), TaskError>> {
        Box::pin(async move {
            let channel = self.publisher().await?;
            Self::declare_exchange(&channel, &to.exchange, ExchangeKind::Direct, false).await?;
            let properties = json_properties(&json!({"ticket": ticket, "clock": clock}), 1);
            self.publish(&to.exchange, &to.routing_key, &reply, properties)
                .await
        })
    }

    fn broadcast(
        &self,
        mut request: ControlRequest,
        wait: Option<Duration>,
        limit: Option<usize>,
    ) -> BoxFuture<'_, Result<Vec<Value>, TaskError>> {
        Box::pin(async move {
            let channel = self.publisher().await?;
            Self::declare_exchange(&channel, EXCHANGE, ExchangeKind::Fanout, false).await?;
            let oid = uuid::Uuid::new_v4().to_string();
            let ticket = uuid::Uuid::new_v4().to_string();
            let queue = format!("{oid}.{REPLY_EXCHANGE}");
            let mut replies = None;
            if wait.is_some() {
                Self::declare_exchange(&channel, REPLY_EXCHANGE, ExchangeKind::Direct, false)
                    .await?;
                replies = Some(self.consume(&queue, REPLY_EXCHANGE, &oid).await?);
                request.ticket = Some(ticket.clone());
                request.reply_to = Some(ReplyTo {
                    exchange: REPLY_EXCHANGE.into(),
                    routing_key: oid.clone(),
                });
            }
            let expires = wait.map_or(0.0, |w| now() + w.as_secs_f64());
            let properties =
                json_properties(&json!({"clock": request.clock, "expires": expires}), 2);
            self.publish(EXCHANGE, "", &request.to_body(), properties)
                .await?;
            let (Some(wait), Some(mut replies)) = (wait, replies) else {
                return Ok(Vec::new());
            };
            let mut collected = Vec::new();
            while limit.is_none_or(|limit| collected.len() < limit) {
                let Ok(Some(Ok(delivery))) = tokio::time::timeout(wait, replies.next()).await
                else {
                    break;
                };
                if let Some((headers, body)) = open(&delivery.properties, &delivery.data) {
                    if headers.get("ticket").and_then(Value::as_str) == Some(ticket.as_str()) {
                        collected.push(body);
                    }
                }
            }
            let _ = channel
                .queue_delete(queue.as_str().into(), QueueDeleteOptions::default())
                .await;
            Ok(collected)
        })
    }

    fn send_event<'a>(&'a self, event: &'a Value) -> BoxFuture<'a, Result<(), TaskError>> {
        Box::pin(async move {
            let channel = self.publisher().await?;
            Self::declare_exchange(&channel, EVENT_EXCHANGE, ExchangeKind::Topic, true).await?;
            let kind = event["type"].as_str().unwrap_or("unknown");
            let properties = json_properties(&json!({"hostname": event["hostname"]}), 1);
            self.publish(EVENT_EXCHANGE, &kind.replace('-', "."), event, properties)
                .await
        })
    }

    fn broker_info(&self) -> Value {
        self.info.clone()
    }
}

/// The connection as Celery's `stats` shows it (no password).
fn broker_info(url: &str) -> Value {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let rest = rest.split(['?', '#']).next().unwrap_or(rest);
    let (authority, vhost) = rest.split_once('/').unwrap_or((rest, ""));
    let (user, host_port) = match authority.rsplit_once('@') {
        Some((credentials, host)) => (credentials.split(':').next(), host),
        None => (None, authority),
    };
    let (host, port) = match host_port.rsplit_once(':') {
        Some((host, port)) => (host, port.parse().unwrap_or(5672)),
        None => (host_port, 5672),
    };
    let vhost = match vhost {
        "" | "%2f" | "%2F" => "/".to_owned(),
        other => other.replace("%2f", "/").replace("%2F", "/"),
    };
    json!({
        "alternates": [], "connect_timeout": 4, "failover_strategy": "round-robin",
        "heartbeat": 120.0, "hostname": host, "insist": false, "login_method": "AMQPLAIN",
        "port": port, "ssl": false, "transport": "amqp", "transport_options": {},
        "uri_prefix": null, "userid": user.unwrap_or("guest"), "virtual_host": vhost,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn stats_show_the_connection_without_its_password() {
        let info = super::broker_info("amqp://guest:secret@127.0.0.1:5672/%2f");
        assert_eq!(
            (&info["hostname"], &info["port"]),
            (&"127.0.0.1".into(), &5672.into())
        );
        assert_eq!(
            (&info["userid"], &info["virtual_host"]),
            (&"guest".into(), &"/".into())
        );
        assert!(!info.to_string().contains("secret"));
    }
}
