//! The [`Broker`] trait for [`SqliteBroker`]: what workers, producers and the control
//! commands call, each a statement or a short transaction on the broker's file.

use super::*;
use crate::broker::{Control, Coordination, ResultBackend, Transport};

impl ResultBackend for SqliteBroker {
    fn chord_part_done<'a>(
        &'a self,
        group_id: &'a str,
        member: &'a str,
    ) -> BoxFuture<'a, Result<Option<u64>, TaskError>> {
        Box::pin(async move {
            // The insert and the count in one write transaction: members finishing at once
            // each see their own count.
            let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
            let added = sqlx::query(
                "INSERT OR IGNORE INTO canter_chord_part (group_id, member, at) VALUES (?, ?, ?)",
            )
            .bind(group_id)
            .bind(member)
            .bind(now())
            .execute(&mut *tx)
            .await?
            .rows_affected()
                == 1;
            let (done,): (i64,) =
                sqlx::query_as("SELECT count(*) FROM canter_chord_part WHERE group_id = ?")
                    .bind(group_id)
                    .fetch_one(&mut *tx)
                    .await?;
            tx.commit().await?;
            Ok(added.then_some(done as u64))
        })
    }

    fn store_result<'a>(
        &'a self,
        id: &'a str,
        result: TaskResult,
    ) -> BoxFuture<'a, Result<(), TaskError>> {
        Box::pin(async move {
            let now = now();
            let (kind, message) = result
                .error
                .map(|(k, m)| (Some(k), Some(m)))
                .unwrap_or((None, None));
            sqlx::query(
                "INSERT INTO canter_task_result (id, status, result, error_kind, error_message, date_done) VALUES (?, ?, ?, ?, ?, ?)
                 ON CONFLICT (id) DO UPDATE SET status = excluded.status, result = excluded.result,
                   error_kind = excluded.error_kind, error_message = excluded.error_message, date_done = excluded.date_done",
            )
            .bind(id)
            .bind(result.status.as_str())
            .bind(result.result.map(|v| v.to_string()))
            .bind(kind)
            .bind(message)
            .bind(now)
            .execute(&self.pool)
            .await?;
            // Results older than result_expires go (Celery's result_expires), in one sweep a
            // minute; whoever swaps the timestamp does it.
            let last = f64::from_bits(self.last_purge.load(std::sync::atomic::Ordering::Relaxed));
            if now - last >= PURGE_EVERY
                && self
                    .last_purge
                    .compare_exchange(
                        last.to_bits(),
                        now.to_bits(),
                        std::sync::atomic::Ordering::Relaxed,
                        std::sync::atomic::Ordering::Relaxed,
                    )
                    .is_ok()
            {
                sqlx::query("DELETE FROM canter_task_result WHERE date_done < ?")
                    .bind(now - self.result_expires)
                    .execute(&self.pool)
                    .await?;
            }
            Ok(())
        })
    }

    fn get_result<'a>(
        &'a self,
        id: &'a str,
    ) -> BoxFuture<'a, Result<Option<TaskResult>, TaskError>> {
        Box::pin(async move {
            let row = sqlx::query("SELECT status, result, error_kind, error_message FROM canter_task_result WHERE id = ? AND date_done >= ?")
                .bind(id)
                .bind(now() - self.result_expires)
                .fetch_optional(&self.reads)
                .await?;
            let Some(row) = row else { return Ok(None) };
            let result: Option<String> = row.try_get("result")?;
            let kind: Option<String> = row.try_get("error_kind")?;
            let message: Option<String> = row.try_get("error_message")?;
            Ok(Some(TaskResult {
                status: TaskStatus::parse(&row.try_get::<String, _>("status")?),
                result: result.map(|r| serde_json::from_str(&r)).transpose()?,
                error: kind.map(|k| (k, message.unwrap_or_default())),
            }))
        })
    }

    fn forget<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<(), TaskError>> {
        Box::pin(async move {
            sqlx::query("DELETE FROM canter_task_result WHERE id = ?")
                .bind(id)
                .execute(&self.pool)
                .await?;
            Ok(())
        })
    }
}

impl Transport for SqliteBroker {
    fn publish<'a>(&'a self, m: TaskMessage) -> BoxFuture<'a, Result<(), TaskError>> {
        Box::pin(async move {
            let args = m.args.to_string();
            let kwargs = m.kwargs.to_string();
            let embed = m.embed.as_ref().map(Value::to_string);
            let size = args.len() + kwargs.len() + embed.as_ref().map_or(0, String::len);
            crate::broker::check_size(size, self.max_message_size)?;
            sqlx::query("INSERT INTO canter_task_queue (id, name, queue, priority, args, eta, expires, retries, created, embed, kwargs, parent_id, root_id, group_id, group_index) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
                .bind(&m.id)
                .bind(&m.name)
                .bind(&m.queue)
                .bind(crate::broker::clamp_priority(m.priority))
                .bind(args)
                .bind(m.eta)
                .bind(m.expires)
                .bind(i64::from(m.retries))
                .bind(now())
                .bind(embed)
                .bind(kwargs)
                .bind(&m.parent_id)
                .bind(&m.root_id)
                .bind(&m.group)
                .bind(m.group_index.map(|i| i as i64))
                .execute(&self.pool)
                .await?;
            self.published.notify_waiters();
            Ok(())
        })
    }

    fn published(&self) -> Option<&tokio::sync::Notify> {
        Some(&self.published)
    }

    fn fetch<'a>(
        &'a self,
        queues: &'a [String],
        worker: &'a str,
        visibility: Duration,
    ) -> BoxFuture<'a, Result<Option<Delivery>, TaskError>> {
        Box::pin(async move {
            if queues.is_empty() {
                return Ok(None);
            }
            loop {
                let now = now();
                let lease = format!("{worker}:{}", uuid::Uuid::new_v4().simple());
                let placeholders = vec!["?"; queues.len()].join(", ");
                // One statement: the choice and the lease are atomic, whatever other workers
                // do. A row over the size limit comes back without its arguments (never read
                // out of SQLite) and goes to the dead letters; the next one is fetched at once.
                let sql = format!(
                    "UPDATE canter_task_queue SET lease = ?, lease_until = ? WHERE id = (
                        SELECT id FROM canter_task_queue
                        WHERE queue IN ({placeholders}) AND eta <= ? AND (lease_until IS NULL OR lease_until < ?)
                        ORDER BY priority, eta, created LIMIT 1)
                     RETURNING id, name, queue, priority, eta, expires, retries, parent_id, root_id, group_id, group_index,
                       {SIZE} AS size,
                       CASE WHEN {SIZE} > ? THEN '[]' ELSE args END AS args,
                       CASE WHEN {SIZE} > ? THEN NULL ELSE kwargs END AS kwargs,
                       CASE WHEN {SIZE} > ? THEN NULL ELSE embed END AS embed"
                );
                let mut query = sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(&lease)
                    .bind(now + visibility.as_secs_f64());
                for queue in queues {
                    query = query.bind(queue);
                }
                let limit = i64::try_from(self.max_message_size).unwrap_or(i64::MAX);
                let row = query
                    .bind(now)
                    .bind(now)
                    .bind(limit)
                    .bind(limit)
                    .bind(limit)
                    .fetch_optional(&self.pool)
                    .await?;
                let Some(row) = row else { return Ok(None) };
                let size: i64 = row.try_get("size")?;
                if size > limit {
                    let id: String = row.try_get("id")?;
                    self.bury_oversized(&id, &lease, size as u64).await?;
                    continue;
                }
                return Ok(Some(Delivery {
                    message: Self::message(&row)?,
                    lease,
                }));
            }
        })
    }

    fn extend<'a>(
        &'a self,
        delivery: &'a Delivery,
        visibility: Duration,
    ) -> BoxFuture<'a, Result<(), TaskError>> {
        Box::pin(async move {
            sqlx::query("UPDATE canter_task_queue SET lease_until = ? WHERE id = ? AND lease = ?")
                .bind(now() + visibility.as_secs_f64())
                .bind(&delivery.message.id)
                .bind(&delivery.lease)
                .execute(&self.pool)
                .await?;
            Ok(())
        })
    }

    fn ack<'a>(&'a self, delivery: &'a Delivery) -> BoxFuture<'a, Result<(), TaskError>> {
        Box::pin(async move {
            sqlx::query("DELETE FROM canter_task_queue WHERE id = ? AND lease = ?")
                .bind(&delivery.message.id)
                .bind(&delivery.lease)
                .execute(&self.pool)
                .await?;
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
            sqlx::query("UPDATE canter_task_queue SET lease = NULL, lease_until = NULL, eta = ?, retries = ? WHERE id = ? AND lease = ?")
                .bind(eta)
                .bind(i64::from(retries))
                .bind(&delivery.message.id)
                .bind(&delivery.lease)
                .execute(&self.pool)
                .await?;
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
            let mut tx = self.pool.begin().await?;
            sqlx::query("INSERT OR REPLACE INTO canter_task_dead_letter (id, name, queue, args, reason, at, priority, embed, kwargs) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)")
                .bind(&m.id)
                .bind(&m.name)
                .bind(&m.queue)
                .bind(m.args.to_string())
                .bind(reason)
                .bind(now())
                .bind(m.priority)
                .bind(m.embed.as_ref().map(Value::to_string))
                .bind(m.kwargs.to_string())
                .execute(&mut *tx)
                .await?;
            sqlx::query("DELETE FROM canter_task_queue WHERE id = ? AND lease = ?")
                .bind(&m.id)
                .bind(&delivery.lease)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(())
        })
    }

    fn queue_length<'a>(&'a self, queue: &'a str) -> BoxFuture<'a, Result<u64, TaskError>> {
        Box::pin(async move {
            let row = sqlx::query("SELECT COUNT(*) FROM canter_task_queue WHERE queue = ? AND (lease_until IS NULL OR lease_until < ?)")
                .bind(queue)
                .bind(now())
                .fetch_one(&self.reads)
                .await?;
            Ok(row.try_get::<i64, _>(0)? as u64)
        })
    }

    fn queues(&self) -> BoxFuture<'_, Result<Vec<String>, TaskError>> {
        Box::pin(async move {
            let rows: Vec<(String,)> =
                sqlx::query_as("SELECT DISTINCT queue FROM canter_task_queue ORDER BY queue")
                    .fetch_all(&self.reads)
                    .await?;
            Ok(rows.into_iter().map(|(q,)| q).collect())
        })
    }

    fn scheduled(&self) -> BoxFuture<'_, Result<Vec<TaskInfo>, TaskError>> {
        Box::pin(async move {
            let now = now();
            let rows = sqlx::query("SELECT * FROM canter_task_queue WHERE eta > ? AND (lease_until IS NULL OR lease_until < ?) ORDER BY eta LIMIT 1000")
                .bind(now)
                .bind(now)
                .fetch_all(&self.reads)
                .await?;
            rows.iter()
                .map(|row| Ok(TaskInfo::of(&Self::message(row)?, None)))
                .collect()
        })
    }

    fn purge<'a>(&'a self, queue: &'a str) -> BoxFuture<'a, Result<u64, TaskError>> {
        Box::pin(async move {
            Ok(sqlx::query("DELETE FROM canter_task_queue WHERE queue = ? AND (lease_until IS NULL OR lease_until < ?)")
                .bind(queue)
                .bind(now())
                .execute(&self.pool)
                .await?
                .rows_affected())
        })
    }

    fn dead_letters(&self) -> BoxFuture<'_, Result<Vec<DeadLetter>, TaskError>> {
        Box::pin(async move {
            let rows = sqlx::query(
                "SELECT id, name, queue, args, kwargs, reason, at FROM canter_task_dead_letter ORDER BY at",
            )
            .fetch_all(&self.reads)
            .await?;
            rows.iter()
                .map(|row| {
                    Ok(DeadLetter {
                        id: row.try_get("id")?,
                        name: row.try_get("name")?,
                        queue: row.try_get("queue")?,
                        args: serde_json::from_str(&row.try_get::<String, _>("args")?)?,
                        kwargs: super::kwargs_of(row)?,
                        reason: row.try_get("reason")?,
                        at: row.try_get("at")?,
                        retriable: true,
                    })
                })
                .collect()
        })
    }

    fn retry_dead_letters(&self) -> BoxFuture<'_, Result<u64, TaskError>> {
        Box::pin(async move {
            // One transaction: each dead letter is either back in its queue or still recorded.
            let now = now();
            let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
            let sent = sqlx::query(
                "INSERT OR IGNORE INTO canter_task_queue (id, name, queue, priority, args, eta, retries, created, embed, kwargs)
                 SELECT id, name, queue, priority, args, ?, 0, ?, embed, kwargs FROM canter_task_dead_letter",
            )
            .bind(now)
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            // Their FAILURE results go: whoever waits on them sees the new run's.
            sqlx::query("DELETE FROM canter_task_result WHERE id IN (SELECT id FROM canter_task_dead_letter WHERE id IN (SELECT id FROM canter_task_queue))")
                .execute(&mut *tx)
                .await?;
            sqlx::query("DELETE FROM canter_task_dead_letter WHERE id IN (SELECT id FROM canter_task_queue)")
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(sent)
        })
    }
}

impl Coordination for SqliteBroker {
    fn claim_fire<'a>(
        &'a self,
        entry: &'a str,
        due: f64,
    ) -> BoxFuture<'a, Result<bool, TaskError>> {
        Box::pin(async move {
            // schedulers sharing the file.
            let claimed = sqlx::query(
                "INSERT OR IGNORE INTO canter_beat_fire (entry, due, at) VALUES (?, ?, ?)",
            )
            .bind(entry)
            .bind(due)
            .bind(now())
            .execute(&self.pool)
            .await?
            .rows_affected()
                == 1;
            if claimed {
                // Keep the last hundred fires of the entry: enough to tell what was missed.
                sqlx::query("DELETE FROM canter_beat_fire WHERE entry = ? AND due < (SELECT min(due) FROM (SELECT due FROM canter_beat_fire WHERE entry = ? ORDER BY due DESC LIMIT 100))")
                    .bind(entry)
                    .bind(entry)
                    .execute(&self.pool)
                    .await?;
            }
            Ok(claimed)
        })
    }

    fn claim_unique<'a>(
        &'a self,
        key: &'a str,
        id: &'a str,
        ttl: f64,
    ) -> BoxFuture<'a, Result<Option<String>, TaskError>> {
        Box::pin(async move {
            // One write transaction: an expired claim goes, then the first insert wins.
            let now = now();
            let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
            sqlx::query("DELETE FROM canter_unique WHERE key = ? AND until < ?")
                .bind(key)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            sqlx::query("INSERT OR IGNORE INTO canter_unique (key, id, until) VALUES (?, ?, ?)")
                .bind(key)
                .bind(id)
                .bind(now + ttl)
                .execute(&mut *tx)
                .await?;
            let (holder,): (String,) = sqlx::query_as("SELECT id FROM canter_unique WHERE key = ?")
                .bind(key)
                .fetch_one(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok((holder != id).then_some(holder))
        })
    }

    fn release_unique<'a>(
        &'a self,
        key: &'a str,
        id: &'a str,
    ) -> BoxFuture<'a, Result<(), TaskError>> {
        Box::pin(async move {
            sqlx::query("DELETE FROM canter_unique WHERE key = ? AND id = ?")
                .bind(key)
                .bind(id)
                .execute(&self.pool)
                .await?;
            Ok(())
        })
    }

    fn rate_count<'a>(&'a self, key: &'a str, until: f64) -> BoxFuture<'a, Result<u64, TaskError>> {
        Box::pin(async move {
            let (count,): (i64,) = sqlx::query_as(
                "INSERT INTO canter_rate (key, count, until) VALUES (?, 1, ?)
                 ON CONFLICT (key) DO UPDATE SET count = count + 1 RETURNING count",
            )
            .bind(key)
            .bind(until)
            .fetch_one(&self.pool)
            .await?;
            if count == 1 {
                // A new window: the ones that ended go.
                sqlx::query("DELETE FROM canter_rate WHERE until < ?")
                    .bind(now())
                    .execute(&self.pool)
                    .await?;
            }
            Ok(count as u64)
        })
    }

    fn last_fire<'a>(&'a self, entry: &'a str) -> BoxFuture<'a, Result<Option<f64>, TaskError>> {
        Box::pin(async move {
            let row: Option<(Option<f64>,)> =
                sqlx::query_as("SELECT max(due) FROM canter_beat_fire WHERE entry = ?")
                    .bind(entry)
                    .fetch_optional(&self.reads)
                    .await?;
            Ok(row.and_then(|r| r.0))
        })
    }

    fn revoke<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<(), TaskError>> {
        Box::pin(async move {
            sqlx::query("INSERT OR IGNORE INTO canter_task_revoked (id, at) VALUES (?, ?)")
                .bind(id)
                .bind(now())
                .execute(&self.pool)
                .await?;
            Ok(())
        })
    }

    fn is_revoked<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<bool, TaskError>> {
        Box::pin(async move {
            Ok(
                sqlx::query("SELECT 1 FROM canter_task_revoked WHERE id = ?")
                    .bind(id)
                    .fetch_optional(&self.reads)
                    .await?
                    .is_some(),
            )
        })
    }
}

impl Control for SqliteBroker {
    fn worker_heartbeat<'a>(
        &'a self,
        info: &'a WorkerInfo,
    ) -> BoxFuture<'a, Result<(), TaskError>> {
        Box::pin(async move {
            sqlx::query(
                "INSERT OR REPLACE INTO canter_worker (name, info, heartbeat) VALUES (?, ?, ?)",
            )
            .bind(&info.name)
            .bind(serde_json::to_string(info)?)
            .bind(info.heartbeat)
            .execute(&self.pool)
            .await?;
            Ok(())
        })
    }

    fn worker_offline<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<(), TaskError>> {
        Box::pin(async move {
            sqlx::query("DELETE FROM canter_worker WHERE name = ?")
                .bind(name)
                .execute(&self.pool)
                .await?;
            Ok(())
        })
    }

    fn workers(&self) -> BoxFuture<'_, Result<Vec<WorkerInfo>, TaskError>> {
        Box::pin(async move {
            sqlx::query("DELETE FROM canter_worker WHERE heartbeat < ?")
                .bind(now() - FORGET_AFTER)
                .execute(&self.pool)
                .await?;
            let rows: Vec<(String,)> = sqlx::query_as("SELECT info FROM canter_worker")
                .fetch_all(&self.pool)
                .await?;
            Ok(rows
                .iter()
                .filter_map(|(info,)| serde_json::from_str(info).ok())
                .collect())
        })
    }

    fn send_event<'a>(&'a self, event: &'a Value) -> BoxFuture<'a, Result<(), TaskError>> {
        Box::pin(async move {
            let seq = sqlx::query("INSERT INTO canter_task_event (at, event) VALUES (?, ?)")
                .bind(now())
                .bind(event.to_string())
                .execute(&self.pool)
                .await?
                .last_insert_rowid();
            if seq % 1000 == 0 {
                sqlx::query("DELETE FROM canter_task_event WHERE seq <= ?")
                    .bind(seq - EVENTS_KEPT)
                    .execute(&self.pool)
                    .await?;
            }
            Ok(())
        })
    }

    fn events<'a>(
        &'a self,
        cursor: Option<&'a str>,
        wait: Duration,
    ) -> BoxFuture<'a, Result<(String, Vec<Value>), TaskError>> {
        Box::pin(async move {
            let mut after: i64 = match cursor {
                Some(cursor) => cursor.parse().map_err(|_| {
                    TaskError::Broker(format!("event cursor {cursor:?} is not a sequence number"))
                })?,
                None => {
                    let (last,): (Option<i64>,) =
                        sqlx::query_as("SELECT max(seq) FROM canter_task_event")
                            .fetch_one(&self.reads)
                            .await?;
                    last.unwrap_or(0)
                }
            };
            // Polled: SQLite has no blocking read (another process may be the writer).
            let until = std::time::Instant::now() + wait;
            loop {
                let rows: Vec<(i64, String)> = sqlx::query_as(
                    "SELECT seq, event FROM canter_task_event WHERE seq > ? ORDER BY seq LIMIT 500",
                )
                .bind(after)
                .fetch_all(&self.reads)
                .await?;
                if let Some((last, _)) = rows.last() {
                    after = *last;
                }
                let events: Vec<Value> = rows
                    .iter()
                    .filter_map(|(_, e)| serde_json::from_str(e).ok())
                    .collect();
                if !events.is_empty() || std::time::Instant::now() >= until {
                    return Ok((after.to_string(), events));
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
    }
}
