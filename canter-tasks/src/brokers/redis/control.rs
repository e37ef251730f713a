//! Inspection, control and events on Redis: workers' snapshots in the `canter.worker_info`
//! hash, the dead-letter list, purging kombu's priority lists, and the event stream (a Redis
//! stream, `canter.events`, capped near [`EVENTS_KEPT`] entries).

use std::collections::BTreeSet;
use std::time::Duration;

use redis::streams::{StreamRangeReply, StreamReadReply};
use serde_json::Value;

use super::{celery, Inner};
use crate::broker::now;
use crate::control::{DeadLetter, WorkerInfo, FORGET_AFTER};
use crate::error::TaskError;

/// Events kept in the stream (approximately: Redis trims whole nodes).
const EVENTS_KEPT: u64 = 10_000;

impl Inner {
    fn worker_info(&self) -> String {
        self.key("canter.worker_info")
    }

    fn events_key(&self) -> String {
        self.key("canter.events")
    }

    pub(super) async fn worker_heartbeat(&self, info: &WorkerInfo) -> Result<(), TaskError> {
        redis::cmd("HSET")
            .arg(self.worker_info())
            .arg(&info.name)
            .arg(serde_json::to_string(info)?)
            .query_async::<()>(&mut self.conn.clone())
            .await?;
        Ok(())
    }

    pub(super) async fn worker_offline(&self, name: &str) -> Result<(), TaskError> {
        redis::cmd("HDEL")
            .arg(self.worker_info())
            .arg(name)
            .query_async::<()>(&mut self.conn.clone())
            .await?;
        Ok(())
    }

    pub(super) async fn workers(&self) -> Result<Vec<WorkerInfo>, TaskError> {
        let all: Vec<(String, String)> = redis::cmd("HGETALL")
            .arg(self.worker_info())
            .query_async(&mut self.conn.clone())
            .await?;
        let oldest = now() - FORGET_AFTER;
        let mut workers = Vec::new();
        let mut forgotten = Vec::new();
        for (name, raw) in all {
            match serde_json::from_str::<WorkerInfo>(&raw) {
                Ok(info) if info.heartbeat >= oldest => workers.push(info),
                _ => forgotten.push(name),
            }
        }
        if !forgotten.is_empty() {
            redis::cmd("HDEL")
                .arg(self.worker_info())
                .arg(&forgotten)
                .query_async::<()>(&mut self.conn.clone())
                .await?;
        }
        Ok(workers)
    }

    /// Queues declared in kombu's bindings (Python producers declare them) and every list
    /// holding messages.
    pub(super) async fn queues(&self) -> Result<Vec<String>, TaskError> {
        let mut conn = self.conn.clone();
        let prefix = &self.options.prefix;
        let mut names = BTreeSet::new();
        for key in scan(&mut conn, &format!("{prefix}_kombu.binding.*"), None).await? {
            let members: Vec<String> = redis::cmd("SMEMBERS")
                .arg(&key)
                .query_async(&mut conn)
                .await?;
            names.extend(members.iter().filter_map(|m| {
                let parts: Vec<&str> = m.split(celery::SEP).collect();
                (parts.len() == 3).then(|| parts[2].to_owned())
            }));
        }
        for key in scan(&mut conn, &format!("{prefix}*"), Some("list")).await? {
            let name = key.strip_prefix(prefix.as_str()).unwrap_or(&key);
            if !name.starts_with("canter.") && !name.starts_with("_kombu") {
                names.insert(self.queue_of(&key));
            }
        }
        Ok(names.into_iter().collect())
    }

    pub(super) async fn purge(&self, queue: &str) -> Result<u64, TaskError> {
        let mut pipe = redis::pipe();
        pipe.atomic();
        for step in celery::PRIORITY_STEPS {
            let key = celery::queue_key(&self.options.prefix, queue, step);
            pipe.cmd("LLEN").arg(&key).cmd("DEL").arg(&key).ignore();
        }
        let lengths: Vec<u64> = pipe.query_async(&mut self.conn.clone()).await?;
        Ok(lengths.iter().sum())
    }

    /// The dead-letter list's records (`{"reason", "at", "message": <envelope>}`, or for an
    /// oversized message `{"reason", "at", "id", "size", "head": <its first KiB>}`), oldest
    /// first.
    async fn dead_letter_records(&self) -> Result<Vec<String>, TaskError> {
        let mut raw: Vec<String> = redis::cmd("LRANGE")
            .arg(self.key("canter.dead_letter"))
            .arg(0)
            .arg(-1)
            .query_async(&mut self.conn.clone())
            .await?;
        raw.reverse();
        Ok(raw)
    }

    pub(super) async fn dead_letters(&self) -> Result<Vec<DeadLetter>, TaskError> {
        Ok(self
            .dead_letter_records()
            .await?
            .iter()
            .map(|record| read_dead_letter(record).0)
            .collect())
    }

    pub(super) async fn retry_dead_letters(&self) -> Result<u64, TaskError> {
        let mut sent = 0;
        for record in self.dead_letter_records().await? {
            let (letter, envelope) = read_dead_letter(&record);
            let Some(envelope) = envelope else { continue };
            // A fresh delivery tag, a first attempt, due now; the rest as it was sent.
            let Some(again) = celery::resend(&envelope, 0, now()) else {
                continue;
            };
            let priority = serde_json::from_str::<Value>(&again)
                .ok()
                .and_then(|e| e["properties"]["priority"].as_i64())
                .unwrap_or(0);
            // Out of the record and into the queue in one step: never both, never neither.
            // Its FAILURE result goes: whoever waits on it sees the new run's.
            let (removed, _): (i64, i64) = redis::pipe()
                .atomic()
                .cmd("LREM")
                .arg(self.key("canter.dead_letter"))
                .arg(1)
                .arg(&record)
                .cmd("DEL")
                .arg(celery::result_key(&self.options.prefix, &letter.id))
                .ignore()
                .cmd("LPUSH")
                .arg(celery::queue_key(
                    &self.options.prefix,
                    &letter.queue,
                    priority,
                ))
                .arg(&again)
                .query_async(&mut self.conn.clone())
                .await?;
            if removed == 0 {
                // Another process retried it between the read and now: take ours back out.
                redis::cmd("LREM")
                    .arg(celery::queue_key(
                        &self.options.prefix,
                        &letter.queue,
                        priority,
                    ))
                    .arg(1)
                    .arg(&again)
                    .query_async::<()>(&mut self.conn.clone())
                    .await?;
                continue;
            }
            sent += 1;
        }
        Ok(sent)
    }

    pub(super) async fn send_event(&self, event: &Value) -> Result<(), TaskError> {
        redis::cmd("XADD")
            .arg(self.events_key())
            .arg("MAXLEN")
            .arg("~")
            .arg(EVENTS_KEPT)
            .arg("*")
            .arg("event")
            .arg(event.to_string())
            .query_async::<()>(&mut self.conn.clone())
            .await?;
        Ok(())
    }

    pub(super) async fn events(
        &self,
        cursor: Option<&str>,
        wait: Duration,
    ) -> Result<(String, Vec<Value>), TaskError> {
        let cursor = match cursor {
            Some(cursor) => cursor.to_owned(),
            None => {
                let last: StreamRangeReply = redis::cmd("XREVRANGE")
                    .arg(self.events_key())
                    .arg("+")
                    .arg("-")
                    .arg("COUNT")
                    .arg(1)
                    .query_async(&mut self.conn.clone())
                    .await?;
                last.ids
                    .first()
                    .map_or_else(|| "0-0".to_owned(), |e| e.id.clone())
            }
        };
        let mut slot = self.events_conn.lock().await;
        let conn = self.blocking_connection(&mut slot).await?;
        let read: Result<Option<StreamReadReply>, _> = redis::cmd("XREAD")
            .arg("COUNT")
            .arg(500)
            .arg("BLOCK")
            .arg(wait.as_millis().max(1) as u64)
            .arg("STREAMS")
            .arg(self.events_key())
            .arg(&cursor)
            .query_async(conn)
            .await;
        let read = match read {
            Ok(read) => read,
            Err(e) => {
                *slot = None;
                return Err(e.into());
            }
        };
        let mut next = cursor;
        let mut events = Vec::new();
        for entry in read.into_iter().flat_map(|r| r.keys).flat_map(|k| k.ids) {
            if let Some(event) = entry
                .get::<String>("event")
                .and_then(|raw| serde_json::from_str(&raw).ok())
            {
                events.push(event);
            }
            next = entry.id;
        }
        Ok((next, events))
    }
}

/// A dead-letter record as shown, and its envelope when it can be sent again.
fn read_dead_letter(record: &str) -> (DeadLetter, Option<String>) {
    let parsed: Value = serde_json::from_str(record).unwrap_or(Value::Null);
    let raw = parsed["message"].as_str().unwrap_or_default();
    let mut letter = DeadLetter {
        id: String::new(),
        name: String::new(),
        queue: "celery".into(),
        args: Value::Null,
        kwargs: Value::Null,
        reason: parsed["reason"].as_str().unwrap_or("unknown").to_owned(),
        at: parsed["at"].as_f64().unwrap_or(0.0),
        retriable: false,
    };
    match celery::decode_message(raw, "celery") {
        Ok(received) => {
            let m = received.message;
            letter.id = m.id;
            letter.name = m.name;
            letter.queue = m.queue;
            letter.args = m.args;
            letter.kwargs = m.kwargs;
            letter.retriable = true;
            (letter, Some(raw.to_owned()))
        }
        Err(invalid) => {
            // An oversized message's record has its id beside it, not the message.
            letter.id = invalid
                .id
                .or_else(|| parsed["id"].as_str().map(str::to_owned))
                .unwrap_or_default();
            letter.name = invalid.name.unwrap_or_default();
            (letter, None)
        }
    }
}

/// Every key matching `pattern` (of `kind`, if given), by SCAN: never blocks Redis as KEYS would.
async fn scan(
    conn: &mut redis::aio::ConnectionManager,
    pattern: &str,
    kind: Option<&str>,
) -> Result<Vec<String>, TaskError> {
    let mut cursor: u64 = 0;
    let mut keys = Vec::new();
    loop {
        let mut cmd = redis::cmd("SCAN");
        cmd.arg(cursor)
            .arg("MATCH")
            .arg(pattern)
            .arg("COUNT")
            .arg(1000);
        if let Some(kind) = kind {
            cmd.arg("TYPE").arg(kind);
        }
        let (next, batch): (u64, Vec<String>) = cmd.query_async(conn).await?;
        keys.extend(batch);
        if next == 0 {
            return Ok(keys);
        }
        cursor = next;
    }
}
