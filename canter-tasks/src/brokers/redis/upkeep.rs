//! Upkeep, in the background: heartbeats, acks sent in batches, keep-alive of buffered
//! messages, and (as kombu's worker does) restoring what timed out or what dead workers left.

use super::*;

impl Inner {
    /// Marks `worker` alive and records which list its BLMOVE takes from.
    pub(super) async fn beat(&self, workers: &[(String, String)]) -> Result<(), TaskError> {
        if workers.is_empty() {
            return Ok(());
        }
        let mut pipe = redis::pipe();
        for (worker, source) in workers {
            pipe.cmd("SET")
                .arg(self.heartbeat(worker))
                .arg(1)
                .arg("PX")
                .arg(HEARTBEAT_TTL.as_millis() as u64)
                .ignore()
                .cmd("HSET")
                .arg(self.key("canter.workers"))
                .arg(worker)
                .arg(source)
                .ignore();
        }
        pipe.query_async::<()>(&mut self.conn.clone()).await?;
        Ok(())
    }

    /// Puts one unacked message back on its queue (kombu's `restore_by_tag`), unless it was
    /// renewed after `ceiling` (seconds since the epoch; `f64::INFINITY`: whatever its age).
    pub(super) async fn restore_tag(&self, tag: &str, ceiling: f64) -> Result<(), TaskError> {
        let mut conn = self.conn.clone();
        let entry: Option<String> = redis::cmd("HGET")
            .arg(self.unacked())
            .arg(tag)
            .query_async(&mut conn)
            .await?;
        let Some(entry) = entry else {
            // Acked meanwhile; a stray index entry goes.
            redis::cmd("ZREM")
                .arg(self.unacked_index())
                .arg(tag)
                .query_async::<()>(&mut conn)
                .await?;
            return Ok(());
        };
        let Some((envelope, exchange, routing_key, priority)) = celery::restored(&entry) else {
            tracing::error!(target: "canter::tasks", tag, "an unacked entry that is not [envelope, exchange, routing_key]: moved to the dead-letter list");
            return self.bury(tag, &entry, "unreadable unacked entry").await;
        };
        let queue = if exchange.is_empty() {
            routing_key
        } else {
            self.bound_queue(&exchange, &routing_key).await?
        };
        self.restore
            .key(self.unacked())
            .key(self.unacked_index())
            .key(celery::queue_key(&self.options.prefix, &queue, priority))
            .arg(tag)
            .arg(&entry)
            .arg(envelope)
            .arg(ceiling.min(1e300))
            .invoke_async::<i64>(&mut conn)
            .await?;
        Ok(())
    }

    /// The queue a named exchange routes `routing_key` to (kombu's `_kombu.binding.<exchange>`
    /// set, members `routing_key␆␖pattern␆␖queue`); the routing key itself when unbound.
    pub(super) async fn bound_queue(
        &self,
        exchange: &str,
        routing_key: &str,
    ) -> Result<String, TaskError> {
        let members: Vec<String> = redis::cmd("SMEMBERS")
            .arg(self.key(&format!("_kombu.binding.{exchange}")))
            .query_async(&mut self.conn.clone())
            .await?;
        Ok(members
            .iter()
            .filter_map(|m| {
                let parts: Vec<&str> = m.split(celery::SEP).collect();
                (parts.len() == 3 && parts[0] == routing_key).then(|| parts[2].to_owned())
            })
            .next()
            .unwrap_or_else(|| routing_key.to_owned()))
    }

    /// kombu's `restore_visible`: under the `unacked_mutex` lock, every unacked message not
    /// heard of for `visibility` goes back to its queue.
    pub(super) async fn restore_visible(&self, visibility: Duration) -> Result<usize, TaskError> {
        let mut conn = self.conn.clone();
        let token = uuid::Uuid::new_v4().to_string();
        let mutex = self.key("unacked_mutex");
        let locked: Option<String> = redis::cmd("SET")
            .arg(&mutex)
            .arg(&token)
            .arg("NX")
            .arg("PX")
            .arg(MUTEX_EXPIRE_MS)
            .query_async(&mut conn)
            .await?;
        if locked.is_none() {
            return Ok(0);
        }
        let ceiling = now() - visibility.as_secs_f64();
        let stale: Result<Vec<String>, _> = redis::cmd("ZRANGEBYSCORE")
            .arg(self.unacked_index())
            .arg("-inf")
            .arg(ceiling)
            .arg("LIMIT")
            .arg(0)
            .arg(1000)
            .query_async(&mut conn)
            .await;
        let mut restored = 0;
        let mut outcome = Ok(());
        let started = std::time::Instant::now();
        if let Ok(tags) = &stale {
            for tag in tags {
                if started.elapsed() > RESTORE_BUDGET {
                    break; // the rest in the next pass, under a fresh lock
                }
                if let Err(e) = self.restore_tag(tag, ceiling).await {
                    outcome = Err(e);
                    break;
                }
                restored += 1;
            }
        }
        self.unlock
            .key(&mutex)
            .arg(&token)
            .invoke_async::<i64>(&mut conn)
            .await?;
        stale?;
        outcome?;
        if restored > 0 {
            tracing::warn!(target: "canter::tasks", restored, "unacked messages past the visibility timeout went back to their queues");
        }
        Ok(restored)
    }

    /// Returns the hand-over lists of workers whose heartbeat lapsed to their queues.
    pub(super) async fn abandon_dead(&self) -> Result<(), TaskError> {
        let mut conn = self.conn.clone();
        let workers: HashMap<String, String> = redis::cmd("HGETALL")
            .arg(self.key("canter.workers"))
            .query_async(&mut conn)
            .await?;
        for (worker, source) in workers {
            let moved: i64 = self
                .abandon
                .key(self.handover(&worker))
                .key(&source)
                .key(self.key("canter.workers"))
                .key(self.heartbeat(&worker))
                .arg(&worker)
                .invoke_async(&mut conn)
                .await?;
            if moved > 0 {
                tracing::warn!(target: "canter::tasks", worker, moved, "a dead worker's hand-over list went back to its queue");
            }
        }
        Ok(())
    }

    /// Removes every waiting ack's message from `unacked` and `unacked_index` (kombu's ack),
    /// in one write. Not a transaction: should this process die between the two, an index
    /// entry without its message is left, and the restorer drops it.
    pub(super) async fn send_acks(&self) -> Result<(), TaskError> {
        let tags = std::mem::take(&mut *self.acks.lock().unwrap_or_else(|e| e.into_inner()));
        if tags.is_empty() {
            return Ok(());
        }
        let sent = redis::pipe()
            .cmd("HDEL")
            .arg(self.unacked())
            .arg(&tags)
            .ignore()
            .cmd("ZREM")
            .arg(self.unacked_index())
            .arg(&tags)
            .ignore()
            .query_async::<()>(&mut self.conn.clone())
            .await;
        if let Err(e) = sent {
            self.acks
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .extend(tags);
            return Err(e.into());
        }
        Ok(())
    }

    /// Keeps every message this process holds unacked (buffered, held for its ETA, or
    /// running) from looking abandoned: one ZADD for all of them.
    pub(super) async fn extend_local(&self) -> Result<(), TaskError> {
        let tags: Vec<String> = self.lock().envelopes.keys().cloned().collect();
        if tags.is_empty() {
            return Ok(());
        }
        let now = now();
        let mut zadd = redis::cmd("ZADD");
        zadd.arg(self.unacked_index()).arg("XX");
        for tag in tags {
            zadd.arg(now).arg(tag);
        }
        zadd.query_async::<()>(&mut self.conn.clone()).await?;
        Ok(())
    }
}

/// Sends the acks that are waiting, in one write, as they come.
pub(super) async fn flush_acks(inner: Arc<Inner>) {
    loop {
        inner.acks_waiting.notified().await;
        while let Err(e) = inner.send_acks().await {
            tracing::warn!(target: "canter::tasks", "sending acks failed (retrying): {e}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// The background loop: heartbeats, keep-alive of buffered messages, and (as kombu's worker)
/// restoring what dead workers left.
pub(super) async fn maintain(inner: Weak<Inner>) {
    let mut last_restore = std::time::Instant::now();
    loop {
        let Some(inner) = inner.upgrade() else { return };
        let visibility = Duration::from_millis(inner.visibility_ms.load(Ordering::Relaxed));
        let tick = (visibility / 3).clamp(Duration::from_millis(100), Duration::from_secs(1));
        let workers: Vec<(String, String)> = inner
            .lock()
            .workers
            .iter()
            .map(|(w, (s, _))| (w.clone(), s.clone()))
            .collect();
        let mut result = inner.beat(&workers).await;
        if result.is_ok() {
            result = inner.extend_local().await;
        }
        // kombu restores every 10 s; a short visibility timeout restores sooner.
        let restore_every =
            (visibility / 2).clamp(Duration::from_millis(200), Duration::from_secs(10));
        if result.is_ok() && !workers.is_empty() && last_restore.elapsed() >= restore_every {
            last_restore = std::time::Instant::now();
            result = inner.abandon_dead().await;
            if result.is_ok() {
                result = inner.restore_visible(visibility).await.map(drop);
            }
        }
        if let Err(e) = result {
            tracing::warn!(target: "canter::tasks", "Redis broker upkeep failed (retrying): {e}");
        }
        drop(inner);
        tokio::time::sleep(tick).await;
    }
}
