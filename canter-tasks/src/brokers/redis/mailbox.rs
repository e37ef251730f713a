//! Celery's remote control and events on Redis, as kombu's Redis transport carries them:
//! fanout exchanges are PUB/SUB channels (`<global_keyprefix>/<db>.celery.pidbox` for requests,
//! `<global_keyprefix>/<db>.celeryev/<routing key>` for events), and a reply goes through the
//! direct exchange `reply.celery.pidbox`: the queues bound to its routing key are read from
//! `_kombu.binding.reply.celery.pidbox` and the reply is pushed on each (kombu's way: a reply
//! whose asker has gone, its binding removed, goes nowhere rather than into an orphan list).
//! Every message is kombu's JSON envelope with a base64 body (checked against Celery 5.5.3 on
//! the wire).

use std::time::Duration;

use base64::Engine as _;
use futures_util::future::BoxFuture;
use futures_util::stream::{BoxStream, StreamExt};
use redis::aio::ConnectionManager;
use serde_json::{json, Value};

use super::celery::{delivery_tag, SEP};
use crate::broker::now;
use crate::error::TaskError;
use crate::mailbox::{ControlRequest, Mailbox, ReplyTo, EVENT_EXCHANGE, EXCHANGE, REPLY_EXCHANGE};

/// See the module docs.
pub(crate) struct RedisMailbox {
    pub(super) client: redis::Client,
    pub(super) conn: ConnectionManager,
    pub(super) prefix: String,
    pub(super) db: i64,
    /// `hostname`, `port` of the broker (what `stats` shows).
    pub(super) address: (String, u16),
}

/// kombu's envelope of `body` (JSON, base64), sent to `exchange` with `routing_key`.
fn envelope(body: &Value, headers: Value, exchange: &str, routing_key: &str, mode: u8) -> String {
    json!({
        "body": base64::engine::general_purpose::STANDARD.encode(body.to_string()),
        "content-encoding": "utf-8",
        "content-type": "application/json",
        "headers": headers,
        "properties": {
            "delivery_mode": mode,
            "delivery_info": {"exchange": exchange, "routing_key": routing_key},
            "priority": 0,
            "body_encoding": "base64",
            "delivery_tag": delivery_tag(),
        },
    })
    .to_string()
}

/// An envelope's headers and decoded body.
fn open(raw: &[u8]) -> Option<(Value, Value)> {
    let envelope: Value = serde_json::from_slice(raw).ok()?;
    let body = envelope.get("body")?.as_str()?;
    let body = match envelope["properties"]["body_encoding"].as_str() {
        Some("base64") => base64::engine::general_purpose::STANDARD
            .decode(body)
            .ok()?,
        _ => body.as_bytes().to_vec(),
    };
    let body = serde_json::from_slice(&body).ok()?;
    Some((
        envelope.get("headers").cloned().unwrap_or(Value::Null),
        body,
    ))
}

impl RedisMailbox {
    /// The PUB/SUB channel of fanout `exchange` (with kombu's `fanout_patterns`: the routing
    /// key after a `/` when there is one).
    fn channel(&self, exchange: &str, routing_key: &str) -> String {
        match routing_key {
            "" => format!("{}/{}.{exchange}", self.prefix, self.db),
            key => format!("{}/{}.{exchange}/{key}", self.prefix, self.db),
        }
    }

    fn key(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    /// Pushes `raw` on every queue bound to `routing_key` of direct exchange `exchange`.
    async fn deliver(&self, exchange: &str, routing_key: &str, raw: &str) -> Result<(), TaskError> {
        let mut conn = self.conn.clone();
        let bindings: Vec<String> = redis::cmd("SMEMBERS")
            .arg(self.key(&format!("_kombu.binding.{exchange}")))
            .query_async(&mut conn)
            .await?;
        for binding in bindings {
            let mut parts = binding.split(SEP);
            let (Some(key), Some(_pattern), Some(queue)) =
                (parts.next(), parts.next(), parts.next())
            else {
                continue;
            };
            if key == routing_key {
                let _: () = redis::cmd("LPUSH")
                    .arg(self.key(queue))
                    .arg(raw)
                    .query_async(&mut conn)
                    .await?;
            }
        }
        Ok(())
    }

    /// Waits on reply queue `queue` for the replies to `ticket`: until `wait` passes without
    /// one, or `limit` came.
    async fn collect(
        &self,
        queue: &str,
        ticket: &str,
        wait: Duration,
        limit: Option<usize>,
    ) -> Result<Vec<Value>, TaskError> {
        // A blocking pop holds its connection: one of its own, waiting longer than the pop.
        let config = redis::AsyncConnectionConfig::new()
            .set_response_timeout(Some(wait + Duration::from_secs(5)))
            .set_connection_timeout(Some(Duration::from_secs(2)));
        let mut conn = self
            .client
            .get_multiplexed_async_connection_with_config(&config)
            .await?;
        let mut replies = Vec::new();
        while limit.is_none_or(|limit| replies.len() < limit) {
            let popped: Option<(String, Vec<u8>)> = redis::cmd("BRPOP")
                .arg(self.key(queue))
                .arg(wait.as_secs_f64())
                .query_async(&mut conn)
                .await?;
            let Some((_, raw)) = popped else { break };
            match open(&raw) {
                Some((headers, body)) if headers["ticket"].as_str() == Some(ticket) => {
                    replies.push(body)
                }
                _ => {}
            }
        }
        Ok(replies)
    }
}

impl Mailbox for RedisMailbox {
    fn listen<'a>(
        &'a self,
        _node: &'a str,
    ) -> BoxFuture<'a, Result<BoxStream<'static, ControlRequest>, TaskError>> {
        Box::pin(async move {
            let mut pubsub = self.client.get_async_pubsub().await?;
            pubsub.subscribe(self.channel(EXCHANGE, "")).await?;
            let requests = pubsub.into_on_message().filter_map(|message| async move {
                let (headers, body) = open(message.get_payload_bytes())?;
                let clock = headers["clock"].as_u64().unwrap_or(0);
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
            let headers = json!({"ticket": ticket, "clock": clock});
            let raw = envelope(&reply, headers, &to.exchange, &to.routing_key, 1);
            self.deliver(&to.exchange, &to.routing_key, &raw).await
        })
    }

    fn broadcast(
        &self,
        mut request: ControlRequest,
        wait: Option<Duration>,
        limit: Option<usize>,
    ) -> BoxFuture<'_, Result<Vec<Value>, TaskError>> {
        Box::pin(async move {
            let mut conn = self.conn.clone();
            let oid = uuid::Uuid::new_v4().to_string();
            let queue = format!("{oid}.{REPLY_EXCHANGE}");
            let binding = format!("{oid}{SEP}{SEP}{queue}");
            let bindings = self.key(&format!("_kombu.binding.{REPLY_EXCHANGE}"));
            let ticket = uuid::Uuid::new_v4().to_string();
            if wait.is_some() {
                let _: () = redis::cmd("SADD")
                    .arg(&bindings)
                    .arg(&binding)
                    .query_async(&mut conn)
                    .await?;
                request.ticket = Some(ticket.clone());
                request.reply_to = Some(ReplyTo {
                    exchange: REPLY_EXCHANGE.into(),
                    routing_key: oid.clone(),
                });
            }
            let expires = wait.map_or(0.0, |w| now() + w.as_secs_f64());
            let headers = json!({"clock": request.clock, "expires": expires});
            let raw = envelope(&request.to_body(), headers, EXCHANGE, "", 2);
            let _: () = redis::cmd("PUBLISH")
                .arg(self.channel(EXCHANGE, ""))
                .arg(raw)
                .query_async(&mut conn)
                .await?;
            let Some(wait) = wait else {
                return Ok(Vec::new());
            };
            let replies = self.collect(&queue, &ticket, wait, limit).await;
            // The reply queue goes, binding first (kombu's `queue_delete`): late replies go
            // nowhere.
            let _: Result<(), _> = redis::cmd("SREM")
                .arg(&bindings)
                .arg(&binding)
                .query_async(&mut conn)
                .await;
            let _: Result<(), _> = redis::cmd("DEL")
                .arg(self.key(&queue))
                .query_async(&mut conn)
                .await;
            replies
        })
    }

    fn send_event<'a>(&'a self, event: &'a Value) -> BoxFuture<'a, Result<(), TaskError>> {
        Box::pin(async move {
            let kind = event["type"].as_str().unwrap_or("unknown");
            let routing_key = kind.replace('-', ".");
            let headers = json!({"hostname": event["hostname"]});
            let raw = envelope(event, headers, EVENT_EXCHANGE, &routing_key, 1);
            let mut conn = self.conn.clone();
            let _: () = redis::cmd("PUBLISH")
                .arg(self.channel(EVENT_EXCHANGE, &routing_key))
                .arg(raw)
                .query_async(&mut conn)
                .await?;
            Ok(())
        })
    }

    fn broker_info(&self) -> Value {
        json!({
            "alternates": [], "connect_timeout": 4, "failover_strategy": "round-robin",
            "heartbeat": 120.0, "hostname": self.address.0, "insist": false, "login_method": null,
            "port": self.address.1, "ssl": false, "transport": "redis", "transport_options": {},
            "uri_prefix": null, "userid": null, "virtual_host": self.db.to_string(),
        })
    }
}

/// The database and the address of a `redis://` URL (`/db`, default 0).
pub(super) fn db_and_address(url: &str) -> (i64, (String, u16)) {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let rest = rest.split(['?', '#']).next().unwrap_or(rest);
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let (host, port) = match host_port.rsplit_once(':') {
        Some((host, port)) => (host, port.parse().unwrap_or(6379)),
        None => (host_port, 6379),
    };
    let db = path.trim_matches('/').parse().unwrap_or(0);
    (db, (host.to_owned(), port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_database_and_address_of_a_url() {
        assert_eq!(
            db_and_address("redis://127.0.0.1:6379"),
            (0, ("127.0.0.1".into(), 6379))
        );
        assert_eq!(
            db_and_address("redis://:pw@h:7000/3?x=1"),
            (3, ("h".into(), 7000))
        );
    }

    #[test]
    fn envelopes_open() {
        let raw = envelope(
            &json!({"a@h": {"ok": "pong"}}),
            json!({"ticket": "t"}),
            "x",
            "k",
            1,
        );
        let (headers, body) = open(raw.as_bytes()).unwrap();
        assert_eq!(
            (headers["ticket"].as_str(), body),
            (Some("t"), json!({"a@h": {"ok": "pong"}}))
        );
    }
}
