//! The [`Broker`] trait for [`RedisBroker`]: what workers, producers and the control
//! commands call.

use super::*;
use crate::broker::{Control, Coordination, ResultBackend, Transport};

impl ResultBackend for RedisBroker {
    fn chord_part_done<'a>(
        &'a self,
        group_id: &'a str,
        member: &'a str,
    ) -> BoxFuture<'a, Result<Option<u64>, TaskError>> {
        Box::pin(async move {
            // SADD and SCARD in one transaction: a redelivered member is not counted twice,
            // and members finishing at once each see their own count.
            let key = self.inner.key(&format!("canter.chord.{group_id}"));
            let (added, done, _): (i64, u64, i64) = redis::pipe()
                .atomic()
                .cmd("SADD")
                .arg(&key)
                .arg(member)
                .cmd("SCARD")
                .arg(&key)
                .cmd("EXPIRE")
                .arg(&key)
                .arg(self.inner.options.result_expires.max(3600))
                .query_async(&mut self.inner.conn.clone())
                .await?;
            Ok((added == 1).then_some(done))
        })
    }

    fn celery_chords(&self) -> bool {
        true
    }

    fn start_celery_chord<'a>(
        &'a self,
        group_id: &'a str,
        members: &'a [String],
    ) -> BoxFuture<'a, Result<(), TaskError>> {
        Box::pin(async move {
            let key = self.inner.key(&celery::chord_key(group_id, "s"));
            redis::cmd("SET")
                .arg(key)
                .arg(members.len())
                .query_async::<()>(&mut self.inner.conn.clone())
                .await?;
            Ok(())
        })
    }

    /// As Celery's Redis backend counts (`on_chord_part_return`, with its default
    /// `result_chord_ordered`): the member's `[1, id, state, value]` in the sorted set `.j`
    /// scored by its index, the count and the size (`.s`, plus `.t`) read in one transaction, so
    /// of members finishing at once (canter's or Python's) exactly one sees the chord complete;
    /// a redelivered member adds nothing.
    fn celery_chord_part<'a>(
        &'a self,
        group_id: &'a str,
        member: &'a str,
        index: Option<u64>,
        state: TaskStatus,
        value: serde_json::Value,
    ) -> BoxFuture<'a, Result<Option<Vec<crate::broker::ChordPart>>, TaskError>> {
        Box::pin(async move {
            let key = |suffix: &str| self.inner.key(&celery::chord_key(group_id, suffix));
            let (jkey, tkey, skey) = (key("j"), key("t"), key("s"));
            let encoded = serde_json::json!([1, member, state.as_str(), value]).to_string();
            let score = index.map_or("+inf".to_owned(), |i| i.to_string());
            let mut pipe = redis::pipe();
            pipe.atomic()
                .cmd("ZADD")
                .arg(&jkey)
                .arg(&score)
                .arg(&encoded)
                .cmd("ZCOUNT")
                .arg(&jkey)
                .arg("-inf")
                .arg("+inf")
                .cmd("GET")
                .arg(&tkey)
                .cmd("GET")
                .arg(&skey);
            let expires = self.inner.options.result_expires;
            if expires > 0 {
                for k in [&jkey, &tkey, &skey] {
                    pipe.cmd("EXPIRE").arg(k).arg(expires).ignore();
                }
            }
            let mut conn = self.inner.conn.clone();
            let (_, ready, extra, size): (i64, u64, Option<i64>, Option<i64>) =
                pipe.query_async(&mut conn).await?;
            let Some(size) = size else { return Ok(None) };
            if ready as i64 != size + extra.unwrap_or(0) {
                return Ok(None);
            }
            let entries: Vec<String> = redis::cmd("ZRANGE")
                .arg(&jkey)
                .arg(0)
                .arg(-1)
                .query_async(&mut conn)
                .await?;
            redis::cmd("DEL")
                .arg(&jkey)
                .arg(&tkey)
                .arg(&skey)
                .query_async::<()>(&mut conn)
                .await?;
            Ok(Some(
                entries
                    .iter()
                    .filter_map(|e| celery::chord_part(e))
                    .collect(),
            ))
        })
    }

    fn store_result<'a>(
        &'a self,
        id: &'a str,
        result: TaskResult,
    ) -> BoxFuture<'a, Result<(), TaskError>> {
        Box::pin(async move { self.inner.store(id, &result).await })
    }

    fn get_result<'a>(
        &'a self,
        id: &'a str,
    ) -> BoxFuture<'a, Result<Option<TaskResult>, TaskError>> {
        Box::pin(async move {
            let raw: Option<String> = redis::cmd("GET")
                .arg(celery::result_key(&self.inner.options.prefix, id))
                .query_async(&mut self.inner.conn.clone())
                .await?;
            Ok(raw.as_deref().and_then(celery::decode_result))
        })
    }

    fn forget<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<(), TaskError>> {
        Box::pin(async move {
            redis::cmd("DEL")
                .arg(celery::result_key(&self.inner.options.prefix, id))
                .query_async::<()>(&mut self.inner.conn.clone())
                .await?;
            Ok(())
        })
    }
}

impl Transport for RedisBroker {
    fn queues(&self) -> BoxFuture<'_, Result<Vec<String>, TaskError>> {
        Box::pin(self.inner.queues())
    }

    fn held(&self, queues: &[String]) -> (Vec<TaskMessage>, Vec<TaskMessage>) {
        let local = self.inner.lock();
        let of = |list: &mut dyn Iterator<Item = &Delivery>| -> Vec<TaskMessage> {
            list.filter(|d| queues.contains(&d.message.queue))
                .map(|d| d.message.clone())
                .collect()
        };
        (of(&mut local.ready.iter()), of(&mut local.held.iter()))
    }

    fn purge<'a>(&'a self, queue: &'a str) -> BoxFuture<'a, Result<u64, TaskError>> {
        Box::pin(self.inner.purge(queue))
    }

    fn dead_letters(&self) -> BoxFuture<'_, Result<Vec<DeadLetter>, TaskError>> {
        Box::pin(self.inner.dead_letters())
    }

    fn retry_dead_letters(&self) -> BoxFuture<'_, Result<u64, TaskError>> {
        Box::pin(self.inner.retry_dead_letters())
    }

    fn mailbox(&self) -> Option<Arc<dyn crate::mailbox::Mailbox>> {
        Some(self.mailbox.clone())
    }

    fn publish<'a>(&'a self, message: TaskMessage) -> BoxFuture<'a, Result<(), TaskError>> {
        Box::pin(async move {
            let inner = &self.inner;
            let (envelope, _) = celery::encode_message(&message, &inner.origin, &inner.reply_to);
            crate::broker::check_size(
                envelope.len(),
                inner.max_message_size.load(Ordering::Relaxed),
            )?;
            redis::cmd("LPUSH")
                .arg(celery::queue_key(
                    &inner.options.prefix,
                    &message.queue,
                    message.priority,
                ))
                .arg(envelope)
                .query_async::<()>(&mut inner.conn.clone())
                .await?;
            Ok(())
        })
    }

    fn fetch<'a>(
        &'a self,
        queues: &'a [String],
        worker: &'a str,
        visibility: Duration,
    ) -> BoxFuture<'a, Result<Option<Delivery>, TaskError>> {
        Box::pin(async move {
            let inner = &self.inner;
            let Some(first) = queues.first() else {
                return Ok(None);
            };
            inner
                .visibility_ms
                .store(visibility.as_millis() as u64, Ordering::Relaxed);
            let source = celery::queue_key(&inner.options.prefix, first, 0);
            let new_worker = inner
                .lock()
                .workers
                .insert(worker.to_owned(), (source.clone(), queues.to_vec()))
                .is_none();
            if new_worker {
                inner.beat(&[(worker.to_owned(), source.clone())]).await?;
            }
            let mut blocked = false;
            loop {
                if let Some(delivery) = inner.take_local(queues) {
                    return Ok(Some(delivery));
                }
                let token = uuid::Uuid::new_v4().simple().to_string();
                let fetched = match inner.run_fetch(worker, queues, &token).await {
                    Ok(fetched) => fetched,
                    Err(e) => {
                        match inner.recover_batch(worker, &token).await {
                            Ok(0) => {}
                            Ok(restored) => {
                                tracing::warn!(target: "canter::tasks", restored, "a fetch failed ({e}): what it took went back to the queue")
                            }
                            Err(again) => {
                                tracing::warn!(target: "canter::tasks", "a fetch failed ({e}) and what it took stays unacked until the visibility timeout: {again}")
                            }
                        }
                        return Err(e);
                    }
                };
                if !fetched.is_empty() {
                    inner.accept(fetched, first).await;
                    continue;
                }
                if blocked {
                    return Ok(None);
                }
                // Idle: wait on the first queue's main list (other lists are checked by the
                // script on every fetch), no longer than until a held message is due.
                let next_due = inner
                    .lock()
                    .held
                    .iter()
                    .filter(|d| queues.contains(&d.message.queue))
                    .map(|d| d.message.eta)
                    .fold(f64::INFINITY, f64::min);
                let wait = BLOCK.min(Duration::from_secs_f64(
                    (next_due - now()).clamp(0.0, 3600.0),
                ));
                if wait < Duration::from_millis(10) {
                    // A held message is due in a moment: wait for it here, not in a loop of
                    // fetches.
                    tokio::time::sleep(wait).await;
                    continue;
                }
                inner.block(&source, worker, wait).await?;
                blocked = true;
            }
        })
    }

    fn extend<'a>(
        &'a self,
        _delivery: &'a Delivery,
        _visibility: Duration,
    ) -> BoxFuture<'a, Result<(), TaskError>> {
        // Nothing to do: the upkeep loop renews everything this process holds unacked (running
        // ones included) in one ZADD a tick; a ZADD per running task would repeat it.
        Box::pin(async { Ok(()) })
    }

    fn ack<'a>(&'a self, delivery: &'a Delivery) -> BoxFuture<'a, Result<(), TaskError>> {
        Box::pin(async move {
            let inner = &self.inner;
            inner.lock().envelopes.remove(&delivery.lease);
            inner
                .acks
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(delivery.lease.clone());
            inner.acks_waiting.notify_one();
            Ok(())
        })
    }

    fn requeue<'a>(
        &'a self,
        delivery: &'a Delivery,
        eta: f64,
        retries: u32,
    ) -> BoxFuture<'a, Result<(), TaskError>> {
        Box::pin(async move {
            let inner = &self.inner;
            let m = &delivery.message;
            let original = inner.lock().envelopes.get(&delivery.lease).cloned();
            let envelope = original
                .and_then(|raw| celery::resend(&raw, retries, eta))
                .unwrap_or_else(|| {
                    let mut again = m.clone();
                    again.retries = retries;
                    again.eta = eta;
                    celery::encode_message(&again, &inner.origin, &inner.reply_to).0
                });
            redis::pipe()
                .atomic()
                .cmd("LPUSH")
                .arg(celery::queue_key(
                    &inner.options.prefix,
                    &m.queue,
                    m.priority,
                ))
                .arg(envelope)
                .ignore()
                .cmd("ZREM")
                .arg(inner.unacked_index())
                .arg(&delivery.lease)
                .ignore()
                .cmd("HDEL")
                .arg(inner.unacked())
                .arg(&delivery.lease)
                .ignore()
                .query_async::<()>(&mut inner.conn.clone())
                .await?;
            inner.lock().envelopes.remove(&delivery.lease);
            Ok(())
        })
    }

    fn dead_letter<'a>(
        &'a self,
        delivery: &'a Delivery,
        reason: &'a str,
    ) -> BoxFuture<'a, Result<(), TaskError>> {
        Box::pin(async move {
            let raw = self
                .inner
                .lock()
                .envelopes
                .get(&delivery.lease)
                .cloned()
                .unwrap_or_default();
            self.inner.bury(&delivery.lease, &raw, reason).await
        })
    }

    fn queue_length<'a>(&'a self, queue: &'a str) -> BoxFuture<'a, Result<u64, TaskError>> {
        Box::pin(async move {
            let mut pipe = redis::pipe();
            for step in celery::PRIORITY_STEPS {
                pipe.cmd("LLEN")
                    .arg(celery::queue_key(&self.inner.options.prefix, queue, step));
            }
            let lengths: Vec<u64> = pipe.query_async(&mut self.inner.conn.clone()).await?;
            Ok(lengths.iter().sum())
        })
    }

    fn drop_lease<'a>(&'a self, delivery: &'a Delivery) -> BoxFuture<'a, Result<(), TaskError>> {
        Box::pin(async move {
            // No longer renewed by the upkeep loop: restored after the visibility timeout.
            self.inner.lock().envelopes.remove(&delivery.lease);
            Ok(())
        })
    }

    fn release<'a>(&'a self, worker: &'a str) -> BoxFuture<'a, Result<(), TaskError>> {
        Box::pin(async move {
            let inner = &self.inner;
            inner.send_acks().await?;
            let (tags, source) = {
                let mut local = inner.lock();
                let (source, queues) = match local.workers.remove(worker) {
                    Some((source, queues)) => (Some(source), queues),
                    None => (None, Vec::new()),
                };
                let mut tags = Vec::new();
                local.ready.retain(|d| {
                    let mine = queues.contains(&d.message.queue);
                    if mine {
                        tags.push((d.lease.clone(), d.message.id.clone()));
                    }
                    !mine
                });
                local.held.retain(|d| {
                    let mine = queues.contains(&d.message.queue);
                    if mine {
                        tags.push((d.lease.clone(), d.message.id.clone()));
                    }
                    !mine
                });
                (tags, source)
            };
            for (tag, id) in &tags {
                inner.restore_tag(tag, f64::INFINITY).await?;
                let mut local = inner.lock();
                local.envelopes.remove(tag);
                local.revocation_checked.remove(id);
            }
            if let Some(source) = source {
                // A BLMOVE cut short by the shutdown still runs on the server and may yet move
                // a message into the hand-over list: a PING on its connection answers only
                // after it has finished (one connection's commands run in order).
                if let Some(conn) = inner.blocking.lock().await.as_mut() {
                    let _ = redis::cmd("PING").query_async::<String>(conn).await;
                }
                redis::cmd("DEL")
                    .arg(inner.heartbeat(worker))
                    .arg(inner.batch(worker))
                    .query_async::<()>(&mut inner.conn.clone())
                    .await?;
                inner
                    .abandon
                    .key(inner.handover(worker))
                    .key(&source)
                    .key(inner.key("canter.workers"))
                    .key(inner.heartbeat(worker))
                    .arg(worker)
                    .invoke_async::<i64>(&mut inner.conn.clone())
                    .await?;
            }
            if !tags.is_empty() {
                tracing::info!(target: "canter::tasks", worker, restored = tags.len(), "prefetched messages went back to their queues");
            }
            Ok(())
        })
    }
}

impl Coordination for RedisBroker {
    fn claim_fire<'a>(
        &'a self,
        entry: &'a str,
        due: f64,
    ) -> BoxFuture<'a, Result<bool, TaskError>> {
        Box::pin(async move {
            // A sorted set of the entry's fired due times: ZADD NX adds a due time once, for
            // exactly one of any number of schedulers; the last hundred are kept.
            let key = self.inner.key(&format!("canter.beat.{entry}"));
            let (added, _): (i64, i64) = redis::pipe()
                .atomic()
                .cmd("ZADD")
                .arg(&key)
                .arg("NX")
                .arg(due)
                .arg(due.to_string())
                .cmd("ZREMRANGEBYRANK")
                .arg(&key)
                .arg(0)
                .arg(-101)
                .query_async(&mut self.inner.conn.clone())
                .await?;
            Ok(added == 1)
        })
    }

    fn claim_unique<'a>(
        &'a self,
        key: &'a str,
        id: &'a str,
        ttl: f64,
    ) -> BoxFuture<'a, Result<Option<String>, TaskError>> {
        Box::pin(async move {
            let key = self.inner.key(&format!("canter.unique.{key}"));
            let mut conn = self.inner.conn.clone();
            for _ in 0..3 {
                let claimed: Option<String> = redis::cmd("SET")
                    .arg(&key)
                    .arg(id)
                    .arg("NX")
                    .arg("EX")
                    .arg(ttl.ceil().max(1.0) as u64)
                    .query_async(&mut conn)
                    .await?;
                if claimed.is_some() {
                    return Ok(None);
                }
                let holder: Option<String> =
                    redis::cmd("GET").arg(&key).query_async(&mut conn).await?;
                match holder {
                    Some(holder) if holder != id => return Ok(Some(holder)),
                    Some(_) => return Ok(None),
                    None => continue, // released in between: claim again
                }
            }
            Ok(None)
        })
    }

    fn release_unique<'a>(
        &'a self,
        key: &'a str,
        id: &'a str,
    ) -> BoxFuture<'a, Result<(), TaskError>> {
        Box::pin(async move {
            self.inner
                .unlock
                .key(self.inner.key(&format!("canter.unique.{key}")))
                .arg(id)
                .invoke_async::<i64>(&mut self.inner.conn.clone())
                .await?;
            Ok(())
        })
    }

    fn rate_count<'a>(&'a self, key: &'a str, until: f64) -> BoxFuture<'a, Result<u64, TaskError>> {
        Box::pin(async move {
            let key = self.inner.key(&format!("canter.rate.{key}"));
            let (count, _): (u64, i64) = redis::pipe()
                .atomic()
                .cmd("INCR")
                .arg(&key)
                .cmd("EXPIREAT")
                .arg(&key)
                .arg(until.ceil() as i64 + 1)
                .query_async(&mut self.inner.conn.clone())
                .await?;
            Ok(count)
        })
    }

    fn last_fire<'a>(&'a self, entry: &'a str) -> BoxFuture<'a, Result<Option<f64>, TaskError>> {
        Box::pin(async move {
            let last: Vec<(String, f64)> = redis::cmd("ZRANGE")
                .arg(self.inner.key(&format!("canter.beat.{entry}")))
                .arg(-1)
                .arg(-1)
                .arg("WITHSCORES")
                .query_async(&mut self.inner.conn.clone())
                .await?;
            Ok(last.first().map(|(_, due)| *due))
        })
    }

    fn revoke<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<(), TaskError>> {
        Box::pin(async move {
            // A task of this process's buffers, checked already, learns it here; other
            // processes' buffers (fetched within the last moments) do not: see the docs.
            if let Some(revoked) = self.inner.lock().revocation_checked.get_mut(id) {
                *revoked = true;
            }
            redis::cmd("SET")
                .arg(self.inner.key(&format!("canter.revoked.{id}")))
                .arg(1)
                .arg("EX")
                .arg(self.inner.options.result_expires.max(3600))
                .query_async::<()>(&mut self.inner.conn.clone())
                .await?;
            Ok(())
        })
    }

    fn is_revoked<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<bool, TaskError>> {
        Box::pin(async move {
            if let Some(revoked) = self.inner.lock().revocation_checked.remove(id) {
                return Ok(revoked);
            }
            Ok(redis::cmd("EXISTS")
                .arg(self.inner.key(&format!("canter.revoked.{id}")))
                .query_async::<i64>(&mut self.inner.conn.clone())
                .await?
                > 0)
        })
    }
}

impl Control for RedisBroker {
    fn worker_heartbeat<'a>(
        &'a self,
        info: &'a WorkerInfo,
    ) -> BoxFuture<'a, Result<(), TaskError>> {
        Box::pin(self.inner.worker_heartbeat(info))
    }

    fn worker_offline<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<(), TaskError>> {
        Box::pin(self.inner.worker_offline(name))
    }

    fn workers(&self) -> BoxFuture<'_, Result<Vec<WorkerInfo>, TaskError>> {
        Box::pin(self.inner.workers())
    }

    fn send_event<'a>(
        &'a self,
        event: &'a serde_json::Value,
    ) -> BoxFuture<'a, Result<(), TaskError>> {
        Box::pin(self.inner.send_event(event))
    }

    fn events<'a>(
        &'a self,
        cursor: Option<&'a str>,
        wait: Duration,
    ) -> BoxFuture<'a, Result<(String, Vec<serde_json::Value>), TaskError>> {
        Box::pin(self.inner.events(cursor, wait))
    }
}
