//! The board: everything the dashboard shows, refreshed by three loops each process with the
//! ops plugin runs (see [`OpsState::start_loops`]): one publishes this process's counters, one follows the
//! broker's task events into the [`TaskBook`], one samples workers, queues, process records and
//! groups every period into the [`History`]. Views read the board; the page's stream wakes on
//! its [`OpsState::updates`].

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use canter_channels::counters::SocketCounters;
use canter_channels::ChannelLayer;
use canter_core::counters::HttpCounters;
use canter_kernel::stall::StallLog;
use canter_tasks::control::{DeadLetter, QueueInfo, TaskInfo, WorkerInfo};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::book::TaskBook;
use crate::history::{History, Sample};
use crate::process::{hostname, now, ProcessRecord, RecordStore};
use crate::settings::OpsSettings;

/// What the dashboard knows, as of its last sample and event.
#[derive(Default)]
pub struct Board {
    pub book: TaskBook,
    pub history: History,
    pub workers: Vec<WorkerInfo>,
    pub queues: Vec<QueueInfo>,
    /// Tasks due later (ETA), held by workers or waiting in the broker.
    pub scheduled: Vec<TaskInfo>,
    pub dead_letters: Vec<DeadLetter>,
    /// Periodic entries with their next run, seconds since the epoch.
    pub periodic: Vec<(String, String, Option<f64>)>,
    pub processes: Vec<ProcessRecord>,
    pub groups: Vec<(String, usize)>,
    /// What could not be read at the last sample, by source (`broker`, `layer`), shown on the
    /// page instead of stale figures passing for current.
    pub problems: BTreeMap<String, String>,
    counted: Counted,
}

/// The processes' cumulative counts summed as growth since the dashboard started: a process
/// appearing adds what it counts from then on (not its whole past as one burst on the
/// charts), one going away takes nothing back. In order: HTTP requests, 5xx, group sends,
/// deliveries, drops.
#[derive(Default)]
struct Counted {
    last: HashMap<String, [u64; 5]>,
    totals: [u64; 5],
}

impl Counted {
    fn update(&mut self, processes: &[ProcessRecord]) -> [u64; 5] {
        let mut seen = HashMap::with_capacity(processes.len());
        for p in processes {
            let now = [
                p.http.routes.iter().map(|r| r.requests).sum(),
                p.http.routes.iter().map(|r| r.status[4]).sum(),
                p.sockets.group_sends,
                p.sockets.deliveries,
                p.sockets.drops,
            ];
            if let Some(before) = self.last.get(&p.id) {
                for i in 0..5 {
                    self.totals[i] += now[i].saturating_sub(before[i]);
                }
            }
            seen.insert(p.id.clone(), now);
        }
        self.last = seen;
        self.totals
    }
}

/// The dashboard's service: this process's counters, its identity, and the board.
pub struct OpsState {
    pub settings: OpsSettings,
    /// This process's record key: `<host>:<pid>:<random>`.
    pub process_id: String,
    pub host: String,
    pub command: String,
    pub started: f64,
    pub http: Arc<HttpCounters>,
    pub sockets: Arc<SocketCounters>,
    pub stalls: Arc<StallLog>,
    board: Mutex<Board>,
    /// Bumped whenever the board changes.
    pub updates: watch::Sender<u64>,
    store: OnceLock<RecordStore>,
    layer: OnceLock<Arc<dyn ChannelLayer>>,
    beat: Option<canter_tasks::beat::Beat>,
    loops: Mutex<Vec<JoinHandle<()>>>,
}

impl OpsState {
    /// A state for `command`, with fresh counters.
    pub fn new(
        settings: OpsSettings,
        command: &str,
        beat: Option<canter_tasks::beat::Beat>,
    ) -> Self {
        let host = hostname();
        Self {
            settings,
            process_id: format!(
                "{host}:{}:{}",
                std::process::id(),
                &uuid::Uuid::new_v4().simple().to_string()[..8]
            ),
            host,
            command: command.to_owned(),
            started: now(),
            http: Arc::new(HttpCounters::new()),
            sockets: Arc::new(SocketCounters::new()),
            stalls: Arc::new(StallLog::default()),
            board: Mutex::new(Board::default()),
            updates: watch::channel(0).0,
            store: OnceLock::new(),
            layer: OnceLock::new(),
            beat,
            loops: Mutex::new(Vec::new()),
        }
    }

    /// The board, locked (briefly: views copy what they show).
    pub fn board(&self) -> MutexGuard<'_, Board> {
        self.board.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn changed(&self) {
        self.updates.send_modify(|v| *v += 1);
    }

    /// The app's channel layer, if it has one.
    pub fn layer(&self) -> Option<&Arc<dyn ChannelLayer>> {
        self.layer.get()
    }

    /// This process's record now.
    pub fn own_record(&self) -> ProcessRecord {
        let drops = self.layer().map_or(0, |l| l.dropped_messages());
        ProcessRecord {
            id: self.process_id.clone(),
            host: self.host.clone(),
            pid: std::process::id(),
            command: self.command.clone(),
            started: self.started,
            at: now(),
            http: self.http.snapshot(),
            sockets: self.sockets.snapshot(drops),
            stalls: self.stalls.latest(),
        }
    }

    /// Starts the loops (in the app's scope): publishing, following events, sampling.
    pub fn start_loops(self: &Arc<Self>, layer: Option<Arc<dyn ChannelLayer>>) {
        let store = match &layer {
            Some(layer) => RecordStore::Layer(layer.clone()),
            None => RecordStore::Local(Mutex::new(Default::default())),
        };
        let _ = self.store.set(store);
        if let Some(layer) = layer {
            let _ = self.layer.set(layer);
        }
        let mut loops = self.loops.lock().unwrap_or_else(|e| e.into_inner());
        let state = self.clone();
        loops.push(canter_kernel::services::spawn(async move {
            state.publish_loop().await
        }));
        let state = self.clone();
        loops.push(canter_kernel::services::spawn(async move {
            state.events_loop().await
        }));
        let state = self.clone();
        loops.push(canter_kernel::services::spawn(async move {
            state.sample_loop().await
        }));
    }

    /// Ends the loops.
    pub fn stop_loops(&self) {
        for handle in self
            .loops
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .drain(..)
        {
            handle.abort();
        }
    }

    async fn publish_loop(self: Arc<Self>) {
        let period = self.settings.period();
        let mut tick = tokio::time::interval(period);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            self.publish(period * 3).await;
        }
    }

    /// Publishes this process's record, kept for `ttl`.
    pub async fn publish(&self, ttl: Duration) {
        let Some(store) = self.store.get() else {
            return;
        };
        if let Err(e) = store.put(&self.own_record(), ttl).await {
            tracing::debug!(target: "canter::ops", "counters not published: {e}");
        }
    }

    async fn events_loop(self: Arc<Self>) {
        if canter_tasks::broker().is_err() {
            return;
        }
        let mut cursor: Option<String> = None;
        loop {
            match canter_tasks::events::next(cursor.as_deref()).await {
                Ok((next, events)) => {
                    cursor = Some(next);
                    if !events.is_empty() {
                        let mut board = self.board();
                        for event in &events {
                            board.book.apply(event);
                        }
                        drop(board);
                        self.changed();
                    }
                }
                Err(e) => {
                    self.board().problems.insert("events".into(), e.to_string());
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    }

    async fn sample_loop(self: Arc<Self>) {
        let mut tick = tokio::time::interval(self.settings.period());
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            self.sample().await;
        }
    }

    /// Reads everything once into the board (what the sample loop does each period).
    pub async fn sample(&self) {
        let mut problems = BTreeMap::new();
        let tasks = crate::gather::tasks(self.beat.as_ref()).await;
        if let Err(e) = &tasks {
            problems.insert("broker".to_owned(), e.clone());
        }
        // A layer that keeps no records (a custom one): this process's own counters at least.
        let processes = match self.store.get() {
            Some(store) => store.all().await.unwrap_or_else(|e| {
                problems.insert("records".to_owned(), e);
                vec![self.own_record()]
            }),
            None => vec![self.own_record()],
        };
        let groups = match self.layer() {
            Some(layer) => layer.groups().await.unwrap_or_else(|e| {
                problems.insert("layer".to_owned(), e.to_string());
                Vec::new()
            }),
            None => Vec::new(),
        };
        let mut board = self.board();
        if let Ok(tasks) = tasks {
            board.workers = tasks.workers;
            board.queues = tasks.queues;
            board.scheduled = tasks.scheduled;
            board.dead_letters = tasks.dead_letters;
            board.periodic = tasks.periodic;
        }
        let totals = board.counted.update(&processes);
        let sample = sample_of(&board, &processes, totals);
        board.history.push(sample, &processes);
        board.processes = processes;
        board.groups = groups;
        board.problems.retain(|k, _| k == "events");
        board.problems.extend(problems);
        drop(board);
        self.changed();
    }
}

/// The sample of `board`, with the processes' counts (`totals`: see `Counted`).
fn sample_of(board: &Board, processes: &[ProcessRecord], totals: [u64; 5]) -> Sample {
    let alive: Vec<&WorkerInfo> = board.workers.iter().filter(|w| w.alive()).collect();
    let [http_requests, http_errors, group_sends, deliveries, drops] = totals;
    Sample {
        at: now(),
        tasks: board.book.counts(),
        http_requests,
        http_errors,
        http_in_flight: processes.iter().map(|p| p.http.in_flight).sum(),
        sockets_open: processes.iter().map(|p| p.sockets.open).sum(),
        group_sends,
        deliveries,
        drops,
        queues: board
            .queues
            .iter()
            .map(|q| (q.name.clone(), q.waiting))
            .collect(),
        workers_alive: alive.len(),
        tasks_active: alive.iter().map(|w| w.active.len()).sum(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use canter_core::counters::RouteSnapshot;

    fn process(id: &str, requests: u64) -> ProcessRecord {
        let mut record = ProcessRecord {
            id: id.into(),
            ..ProcessRecord::default()
        };
        record.http.routes.push(RouteSnapshot {
            route: "r".into(),
            requests,
            ..RouteSnapshot::default()
        });
        record
    }

    #[test]
    fn a_process_adds_its_growth_only() {
        let mut counted = Counted::default();
        assert_eq!(
            counted.update(&[process("a", 100)])[0],
            0,
            "its past is not a burst"
        );
        assert_eq!(counted.update(&[process("a", 110)])[0], 10);
        assert_eq!(
            counted.update(&[process("a", 115), process("b", 50)])[0],
            15
        );
        assert_eq!(
            counted.update(&[process("b", 52)])[0],
            17,
            "a process gone takes nothing back"
        );
    }
}
