//! Fetching: the fetch script's run, filing what it took (buffers, dead letters), the
//! idle wait (BLMOVE into the worker's hand-over list) and the recovery of a fetch whose
//! reply was lost.

use super::*;

impl Inner {
    /// Takes what the local buffers hold for `queues`: ready first, then held ones now due.
    pub(super) fn take_local(&self, queues: &[String]) -> Option<Delivery> {
        let mut local = self.lock();
        if let Some(i) = local
            .ready
            .iter()
            .position(|d| queues.contains(&d.message.queue))
        {
            return local.ready.remove(i);
        }
        let now = now();
        let i = local
            .held
            .iter()
            .position(|d| d.message.eta <= now && queues.contains(&d.message.queue))?;
        Some(local.held.swap_remove(i))
    }

    /// Files freshly fetched messages: runnable ones in the buffers, broken ones in the
    /// dead-letter list (with a FAILURE result when they have an id, so a caller waiting on
    /// them learns why).
    pub(super) async fn accept(&self, fetched: Vec<Fetched>, fallback_queue: &str) {
        for (tag, raw, key, revoked, dead, oversized_id) in fetched {
            let queue = if key.is_empty() {
                fallback_queue.to_owned()
            } else {
                self.queue_of(&key)
            };
            if tag.is_empty() {
                // Dead-lettered by the script: an oversized one came without its envelope.
                tracing::error!(target: "canter::tasks", queue, "{dead}; moved to the dead-letter list");
                if raw.is_empty() {
                    let oversized = celery::Invalid {
                        id: Some(oversized_id).filter(|id| !id.is_empty()),
                        name: None,
                        reason: dead,
                    };
                    self.fail_invalid(&oversized).await;
                } else if let Err(invalid) = celery::decode_message(&raw, &queue) {
                    self.fail_invalid(&invalid).await;
                }
                continue;
            }
            let decoded = celery::decode_message(&raw, &queue);
            match decoded {
                Ok(received) => {
                    let delivery = Delivery {
                        message: received.message,
                        lease: tag.clone(),
                    };
                    let mut local = self.lock();
                    local.envelopes.insert(tag, raw);
                    if delivery.message.eta > now() {
                        local.held.push(delivery);
                    } else {
                        local
                            .revocation_checked
                            .insert(delivery.message.id.clone(), revoked == "1");
                        local.ready.push_back(delivery);
                    }
                }
                Err(invalid) => {
                    tracing::error!(target: "canter::tasks", queue, id = ?invalid.id, name = ?invalid.name, "cannot run this message: {}; moved to the dead-letter list", invalid.reason);
                    if let Err(e) = self.bury(&tag, &raw, &invalid.reason).await {
                        tracing::error!(target: "canter::tasks", "dead-lettering failed (the message stays unacked and comes back): {e}");
                    }
                    self.fail_invalid(&invalid).await;
                }
            }
        }
    }

    pub(super) async fn fail_invalid(&self, invalid: &celery::Invalid) {
        if let Some(id) = &invalid.id {
            let failure = TaskResult {
                status: TaskStatus::Failure,
                result: None,
                error: Some(("InvalidTaskError".into(), invalid.reason.clone())),
            };
            let _ = self.store(id, &failure).await;
        }
    }

    /// Moves an unacked message to the dead-letter list, in one step.
    pub(super) async fn bury(&self, tag: &str, raw: &str, reason: &str) -> Result<(), TaskError> {
        let record = serde_json::json!({"reason": reason, "at": now(), "message": raw});
        redis::pipe()
            .atomic()
            .cmd("LPUSH")
            .arg(self.key("canter.dead_letter"))
            .arg(record.to_string())
            .ignore()
            .cmd("ZREM")
            .arg(self.unacked_index())
            .arg(tag)
            .ignore()
            .cmd("HDEL")
            .arg(self.unacked())
            .arg(tag)
            .ignore()
            .query_async::<()>(&mut self.conn.clone())
            .await?;
        self.lock().envelopes.remove(tag);
        Ok(())
    }

    pub(super) async fn store(&self, id: &str, result: &TaskResult) -> Result<(), TaskError> {
        let record = celery::encode_result(id, result, now(), &self.origin);
        self.store_result
            .key(celery::result_key(&self.options.prefix, id))
            .arg(record)
            .arg(self.options.result_expires)
            .invoke_async::<i64>(&mut self.conn.clone())
            .await?;
        Ok(())
    }

    pub(super) async fn run_fetch(
        &self,
        worker: &str,
        queues: &[String],
        token: &str,
    ) -> Result<Vec<Fetched>, TaskError> {
        let mut invocation = self.fetch.prepare_invoke();
        invocation
            .key(self.handover(worker))
            .key(self.unacked())
            .key(self.unacked_index())
            .key(self.key("canter.dead_letter"))
            .key(self.batch(worker));
        for key in celery::consume_order(&self.options.prefix, queues) {
            invocation.key(key);
        }
        invocation
            .arg(now())
            .arg(self.options.prefetch)
            .arg(self.key("canter.revoked."))
            .arg(self.max_message_size.load(Ordering::Relaxed))
            .arg(token);
        Ok(invocation.invoke_async(&mut self.conn.clone()).await?)
    }

    /// After fetch `token` failed: what it took, if it ran (listed in the worker's batch key
    /// after the token; never filed here), goes back to its queue now, not after the visibility
    /// timeout.
    pub(super) async fn recover_batch(
        &self,
        worker: &str,
        token: &str,
    ) -> Result<usize, TaskError> {
        let batch = self.batch(worker);
        let listed: Vec<String> = redis::cmd("LRANGE")
            .arg(&batch)
            .arg(0)
            .arg(-1)
            .query_async(&mut self.conn.clone())
            .await?;
        let Some((first, tags)) = listed.split_first() else {
            return Ok(0);
        };
        if first != token {
            return Ok(0); // the script did not run: the list is an earlier fetch's, filed
        }
        // Last taken first: each goes to its queue's consuming end, so the first is next again.
        for tag in tags.iter().rev() {
            self.restore_tag(tag, f64::INFINITY).await?;
        }
        redis::cmd("DEL")
            .arg(&batch)
            .query_async::<()>(&mut self.conn.clone())
            .await?;
        Ok(tags.len())
    }

    /// The connection in `slot`, made on first use: a blocking command (BLMOVE, XREAD BLOCK)
    /// holds its connection, so it gets one of its own, without a response timeout.
    pub(super) async fn blocking_connection<'a>(
        &self,
        slot: &'a mut Option<MultiplexedConnection>,
    ) -> Result<&'a mut MultiplexedConnection, TaskError> {
        if slot.is_none() {
            let config = redis::AsyncConnectionConfig::new()
                .set_response_timeout(None)
                .set_connection_timeout(Some(Duration::from_secs(2)));
            *slot = Some(
                self.client
                    .get_multiplexed_async_connection_with_config(&config)
                    .await?,
            );
        }
        Ok(slot.as_mut().expect("connected above"))
    }

    /// Waits (at most `wait`) for a message on `source`, moving it into the hand-over list.
    pub(super) async fn block(
        &self,
        source: &str,
        worker: &str,
        wait: Duration,
    ) -> Result<bool, TaskError> {
        let mut slot = self.blocking.lock().await;
        let conn = self.blocking_connection(&mut slot).await?;
        let moved: Result<Option<String>, _> = redis::cmd("BLMOVE")
            .arg(source)
            .arg(self.handover(worker))
            .arg("RIGHT")
            .arg("LEFT")
            .arg(wait.as_secs_f64().max(0.01))
            .query_async(conn)
            .await;
        match moved {
            Ok(moved) => Ok(moved.is_some()),
            Err(e) => {
                *slot = None;
                Err(e.into())
            }
        }
    }
}
