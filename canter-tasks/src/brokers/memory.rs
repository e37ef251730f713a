//! An in-memory broker, for tests: the same leases, retries and results as the embedded one,
//! kept in this process only (nothing survives it).

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::Duration;

use futures_util::future::BoxFuture;

use crate::broker::{now, Delivery, TaskMessage};
use crate::broker::{Control, Coordination, ResultBackend, Transport};
use crate::control::{DeadLetter, TaskInfo, WorkerInfo, FORGET_AFTER};
use crate::error::TaskError;
use crate::result::TaskResult;
use crate::task::Registry;
use serde_json::Value;

#[derive(Default)]
struct State {
    /// Queued and leased messages, with their lease (holder, until).
    queue: Vec<(TaskMessage, Option<(String, f64)>)>,
    results: HashMap<String, TaskResult>,
    revoked: HashSet<String>,
    dead_letters: Vec<(TaskMessage, String, f64)>,
    workers: HashMap<String, WorkerInfo>,
    /// The event stream, with the sequence number of its first entry.
    events: std::collections::VecDeque<Value>,
    events_start: u64,
    /// Unique tasks' claims: key → (id, until).
    unique: HashMap<String, (String, f64)>,
    /// Rate-limit windows' counts.
    rates: HashMap<String, u64>,
    /// Chords' finished members, by group id.
    chords: HashMap<String, HashSet<String>>,
    /// Periodic entries' fired due times.
    fires: HashMap<String, std::collections::BTreeSet<u64>>,
    /// Publication order, the tie-breaker after priority and eta.
    sequence: u64,
    order: HashMap<String, u64>,
}

/// See the module docs.
pub struct MemoryBroker {
    state: Mutex<State>,
    /// Messages larger than this (their arguments and `embed` as JSON) are refused.
    max_message_size: u64,
    /// Notified on every publish: this process's idle workers wake at once.
    published: tokio::sync::Notify,
    /// Eager mode: the tasks that `publish` runs at once instead of queueing.
    eager: Option<Registry>,
}

impl Default for MemoryBroker {
    fn default() -> Self {
        MemoryBroker {
            state: Mutex::default(),
            max_message_size: crate::broker::DEFAULT_MAX_MESSAGE_SIZE,
            published: tokio::sync::Notify::new(),
            eager: None,
        }
    }
}

impl MemoryBroker {
    pub fn new() -> Self {
        Self::default()
    }

    /// Eager mode (Celery's `task_always_eager`, for tests): publishing a task runs it at
    /// once, in the caller, retries included (their countdowns skipped), and stores its
    /// result here, so `delay()` returns a finished handle. A failure is stored, not raised
    /// (Celery's `task_eager_propagates = False`); a task missing from `tasks` is stored as a
    /// `NotRegistered` failure, as a worker would. `[tasks] always_eager = true` makes this
    /// the app's broker, with the app's tasks.
    pub fn eager(tasks: Registry) -> Self {
        MemoryBroker {
            eager: Some(tasks),
            ..Self::default()
        }
    }

    /// Refuses messages over `bytes` (default [`DEFAULT_MAX_MESSAGE_SIZE`](crate::broker::DEFAULT_MAX_MESSAGE_SIZE)).
    pub fn with_max_message_size(mut self, bytes: u64) -> Self {
        self.max_message_size = bytes;
        self
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Removes the message if `delivery` still holds its lease.
    fn take(state: &mut State, delivery: &Delivery) -> Option<TaskMessage> {
        let index = state.queue.iter().position(|(m, lease)| {
            m.id == delivery.message.id && lease.as_ref().is_some_and(|(l, _)| *l == delivery.lease)
        })?;
        Some(state.queue.remove(index).0)
    }
}

fn ready<T: Send + 'static>(value: T) -> BoxFuture<'static, T> {
    Box::pin(std::future::ready(value))
}

impl ResultBackend for MemoryBroker {
    fn chord_part_done<'a>(
        &'a self,
        group_id: &'a str,
        member: &'a str,
    ) -> BoxFuture<'a, Result<Option<u64>, TaskError>> {
        Box::pin(async move {
            let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
            let done = state.chords.entry(group_id.to_owned()).or_default();
            Ok(done.insert(member.to_owned()).then_some(done.len() as u64))
        })
    }

    fn store_result<'a>(
        &'a self,
        id: &'a str,
        result: TaskResult,
    ) -> BoxFuture<'a, Result<(), TaskError>> {
        self.lock().results.insert(id.to_owned(), result);
        ready(Ok(()))
    }

    fn get_result<'a>(
        &'a self,
        id: &'a str,
    ) -> BoxFuture<'a, Result<Option<TaskResult>, TaskError>> {
        ready(Ok(self.lock().results.get(id).cloned()))
    }

    fn forget<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<(), TaskError>> {
        self.lock().results.remove(id);
        ready(Ok(()))
    }
}

impl Transport for MemoryBroker {
    fn publish<'a>(&'a self, mut message: TaskMessage) -> BoxFuture<'a, Result<(), TaskError>> {
        message.priority = crate::broker::clamp_priority(message.priority);
        let size = message.args.to_string().len()
            + message.kwargs.to_string().len()
            + message.embed.as_ref().map_or(0, |e| e.to_string().len());
        if let Err(e) = crate::broker::check_size(size, self.max_message_size) {
            return ready(Err(e));
        }
        if let Some(tasks) = &self.eager {
            return Box::pin(crate::body::run_published_eagerly(tasks, message, self));
        }
        let mut state = self.lock();
        state.sequence += 1;
        let sequence = state.sequence;
        state.order.insert(message.id.clone(), sequence);
        state.queue.push((message, None));
        drop(state);
        self.published.notify_waiters();
        ready(Ok(()))
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
        let now = now();
        let mut state = self.lock();
        let State { queue, order, .. } = &mut *state;
        let due = queue
            .iter_mut()
            .filter(|(m, lease)| {
                queues.contains(&m.queue)
                    && m.eta <= now
                    && lease.as_ref().is_none_or(|(_, until)| *until < now)
            })
            .max_by(|(a, _), (b, _)| {
                b.priority
                    .cmp(&a.priority)
                    .then(b.eta.total_cmp(&a.eta))
                    .then(order.get(&b.id).cmp(&order.get(&a.id)))
            });
        let delivery = due.map(|(message, lease)| {
            let holder = format!("{worker}:{}", uuid::Uuid::new_v4().simple());
            *lease = Some((holder.clone(), now + visibility.as_secs_f64()));
            Delivery {
                message: message.clone(),
                lease: holder,
            }
        });
        ready(Ok(delivery))
    }

    fn extend<'a>(
        &'a self,
        delivery: &'a Delivery,
        visibility: Duration,
    ) -> BoxFuture<'a, Result<(), TaskError>> {
        let mut state = self.lock();
        for (m, lease) in &mut state.queue {
            if let Some((holder, until)) = lease {
                if m.id == delivery.message.id && *holder == delivery.lease {
                    *until = now() + visibility.as_secs_f64();
                }
            }
        }
        ready(Ok(()))
    }

    fn ack<'a>(&'a self, delivery: &'a Delivery) -> BoxFuture<'a, Result<(), TaskError>> {
        Self::take(&mut self.lock(), delivery);
        ready(Ok(()))
    }

    fn requeue<'a>(
        &'a self,
        delivery: &'a Delivery,
        eta: f64,
        retries: u32,
    ) -> BoxFuture<'a, Result<(), TaskError>> {
        let mut state = self.lock();
        if let Some(mut message) = Self::take(&mut state, delivery) {
            message.eta = eta;
            message.retries = retries;
            state.queue.push((message, None));
        }
        ready(Ok(()))
    }

    fn dead_letter<'a>(
        &'a self,
        delivery: &'a Delivery,
        reason: &'a str,
    ) -> BoxFuture<'a, Result<(), TaskError>> {
        let mut state = self.lock();
        if let Some(message) = Self::take(&mut state, delivery) {
            state.dead_letters.push((message, reason.to_owned(), now()));
        }
        ready(Ok(()))
    }

    fn queue_length<'a>(&'a self, queue: &'a str) -> BoxFuture<'a, Result<u64, TaskError>> {
        let now = now();
        let n = self
            .lock()
            .queue
            .iter()
            .filter(|(m, lease)| {
                m.queue == queue && lease.as_ref().is_none_or(|(_, until)| *until < now)
            })
            .count();
        ready(Ok(n as u64))
    }

    fn queues(&self) -> BoxFuture<'_, Result<Vec<String>, TaskError>> {
        let names: std::collections::BTreeSet<String> = self
            .lock()
            .queue
            .iter()
            .map(|(m, _)| m.queue.clone())
            .collect();
        ready(Ok(names.into_iter().collect()))
    }

    fn scheduled(&self) -> BoxFuture<'_, Result<Vec<TaskInfo>, TaskError>> {
        let now = now();
        let tasks = self
            .lock()
            .queue
            .iter()
            .filter(|(m, lease)| {
                m.eta > now && lease.as_ref().is_none_or(|(_, until)| *until < now)
            })
            .map(|(m, _)| TaskInfo::of(m, None))
            .collect();
        ready(Ok(tasks))
    }

    fn purge<'a>(&'a self, queue: &'a str) -> BoxFuture<'a, Result<u64, TaskError>> {
        let now = now();
        let mut state = self.lock();
        let before = state.queue.len();
        state.queue.retain(|(m, lease)| {
            m.queue != queue || lease.as_ref().is_some_and(|(_, until)| *until >= now)
        });
        ready(Ok((before - state.queue.len()) as u64))
    }

    fn dead_letters(&self) -> BoxFuture<'_, Result<Vec<DeadLetter>, TaskError>> {
        let letters = self
            .lock()
            .dead_letters
            .iter()
            .map(|(m, reason, at)| DeadLetter {
                id: m.id.clone(),
                name: m.name.clone(),
                queue: m.queue.clone(),
                args: m.args.clone(),
                kwargs: m.kwargs.clone(),
                reason: reason.clone(),
                at: *at,
                retriable: true,
            })
            .collect();
        ready(Ok(letters))
    }

    fn retry_dead_letters(&self) -> BoxFuture<'_, Result<u64, TaskError>> {
        let mut state = self.lock();
        let letters = std::mem::take(&mut state.dead_letters);
        let sent = letters.len() as u64;
        for (message, _, _) in letters {
            // Its FAILURE result goes: whoever waits on it sees the new run's.
            state.results.remove(&message.id);
            let message = TaskMessage {
                eta: now(),
                retries: 0,
                ..message
            };
            state.sequence += 1;
            let sequence = state.sequence;
            state.order.insert(message.id.clone(), sequence);
            state.queue.push((message, None));
        }
        ready(Ok(sent))
    }
}

impl Coordination for MemoryBroker {
    fn claim_fire<'a>(
        &'a self,
        entry: &'a str,
        due: f64,
    ) -> BoxFuture<'a, Result<bool, TaskError>> {
        Box::pin(async move {
            let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
            Ok(state
                .fires
                .entry(entry.to_owned())
                .or_default()
                .insert(due.to_bits()))
        })
    }

    fn claim_unique<'a>(
        &'a self,
        key: &'a str,
        id: &'a str,
        ttl: f64,
    ) -> BoxFuture<'a, Result<Option<String>, TaskError>> {
        Box::pin(async move {
            let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
            let now = now();
            match state.unique.get(key) {
                Some((holder, until)) if *until > now && holder != id => Ok(Some(holder.clone())),
                _ => {
                    state
                        .unique
                        .insert(key.to_owned(), (id.to_owned(), now + ttl));
                    Ok(None)
                }
            }
        })
    }

    fn release_unique<'a>(
        &'a self,
        key: &'a str,
        id: &'a str,
    ) -> BoxFuture<'a, Result<(), TaskError>> {
        Box::pin(async move {
            let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
            if state
                .unique
                .get(key)
                .is_some_and(|(holder, _)| holder == id)
            {
                state.unique.remove(key);
            }
            Ok(())
        })
    }

    fn rate_count<'a>(
        &'a self,
        key: &'a str,
        _until: f64,
    ) -> BoxFuture<'a, Result<u64, TaskError>> {
        Box::pin(async move {
            let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
            let count = state.rates.entry(key.to_owned()).or_default();
            *count += 1;
            Ok(*count)
        })
    }

    fn last_fire<'a>(&'a self, entry: &'a str) -> BoxFuture<'a, Result<Option<f64>, TaskError>> {
        Box::pin(async move {
            let state = self.state.lock().unwrap_or_else(|e| e.into_inner());
            Ok(state
                .fires
                .get(entry)
                .and_then(|f| f.iter().map(|b| f64::from_bits(*b)).reduce(f64::max)))
        })
    }

    fn revoke<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<(), TaskError>> {
        self.lock().revoked.insert(id.to_owned());
        ready(Ok(()))
    }

    fn is_revoked<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<bool, TaskError>> {
        ready(Ok(self.lock().revoked.contains(id)))
    }
}

impl Control for MemoryBroker {
    fn worker_heartbeat<'a>(
        &'a self,
        info: &'a WorkerInfo,
    ) -> BoxFuture<'a, Result<(), TaskError>> {
        self.lock().workers.insert(info.name.clone(), info.clone());
        ready(Ok(()))
    }

    fn worker_offline<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<(), TaskError>> {
        self.lock().workers.remove(name);
        ready(Ok(()))
    }

    fn workers(&self) -> BoxFuture<'_, Result<Vec<WorkerInfo>, TaskError>> {
        let mut state = self.lock();
        let oldest = now() - FORGET_AFTER;
        state.workers.retain(|_, w| w.heartbeat >= oldest);
        ready(Ok(state.workers.values().cloned().collect()))
    }

    fn send_event<'a>(&'a self, event: &'a Value) -> BoxFuture<'a, Result<(), TaskError>> {
        let mut state = self.lock();
        state.events.push_back(event.clone());
        if state.events.len() > 10_000 {
            state.events.pop_front();
            state.events_start += 1;
        }
        ready(Ok(()))
    }

    fn events<'a>(
        &'a self,
        cursor: Option<&'a str>,
        wait: Duration,
    ) -> BoxFuture<'a, Result<(String, Vec<Value>), TaskError>> {
        Box::pin(async move {
            let until = std::time::Instant::now() + wait;
            let mut after = match cursor {
                Some(c) => c.parse::<u64>().map_err(|_| {
                    TaskError::Broker(format!("event cursor {c:?} is not a sequence number"))
                })?,
                None => {
                    let state = self.lock();
                    state.events_start + state.events.len() as u64
                }
            };
            loop {
                let events: Vec<Value> = {
                    let state = self.lock();
                    let skip = after.saturating_sub(state.events_start) as usize;
                    state.events.iter().skip(skip).cloned().collect()
                };
                after += events.len() as u64;
                if !events.is_empty() || std::time::Instant::now() >= until {
                    return Ok((after.to_string(), events));
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    }
}
