//! Wiring tasks into an [`App`](canter_core::App): the broker from settings, the `worker`
//! command, and an in-process worker under `runserver`.
//!
//! ```toml
//! [tasks]
//! broker = "sqlite://tasks.sqlite3"   # the default: the embedded, durable broker;
//!                                     # unset and REDIS_URL set: that Redis (Celery's protocol)
//! worker_in_runserver = true          # runserver also runs a worker (default: true on the
//!                                     # embedded broker, false on Redis, where workers are
//!                                     # deployed apart, as Celery's are)
//! always_eager = false                # true: `delay` runs the task at once (tests)
//! send_events = false                 # true: workers send task/worker events (`worker -E`)
//! metrics_addr = "127.0.0.1:9808"     # workers serve Prometheus metrics here (`worker --metrics`)
//! max_message_size = 10485760         # bytes: larger messages fail at `delay`, and one found in
//!                                     # a queue is dead-lettered unread (default 10 MiB)
//! ```

use std::sync::{Arc, Mutex};
use std::time::Duration;

use canter_core::management::{CommandContext, CommandError, ManagementCommand};
use canter_core::App;
use clap::{Arg, ArgMatches};
use futures_util::future::BoxFuture;
use serde::Deserialize;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::broker::install;
use crate::broker::Broker;
use crate::brokers::{MemoryBroker, SqliteBroker};
use crate::error::TaskError;
use crate::task::{Registry, Task};
use crate::worker::{Worker, WorkerConfig};

#[derive(Deserialize, Clone)]
#[serde(default, deny_unknown_fields)]
struct TaskSettings {
    broker: Option<String>,
    worker_in_runserver: Option<bool>,
    concurrency: usize,
    visibility_timeout: f64,
    always_eager: bool,
    send_events: bool,
    metrics_addr: Option<std::net::SocketAddr>,
    max_message_size: u64,
}

impl Default for TaskSettings {
    fn default() -> Self {
        TaskSettings {
            broker: None,
            worker_in_runserver: None,
            concurrency: 10,
            visibility_timeout: 60.0,
            always_eager: false,
            send_events: false,
            metrics_addr: None,
            max_message_size: crate::broker::DEFAULT_MAX_MESSAGE_SIZE,
        }
    }
}

/// The app's tasks: `App::new().install(Tasks::new().task::<add>().plugin())`.
#[derive(Clone, Default)]
pub struct Tasks {
    registry: Registry,
    beat: crate::beat::Beat,
}

impl Tasks {
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers a task (its name is what workers look up).
    pub fn task<T: Task>(mut self) -> Self {
        self.registry = self.registry.register::<T>();
        self
    }

    /// A periodic entry (Celery's `beat_schedule`): task `T` with `args`, every `every`, sent by
    /// the `beat` command, by `worker -B`, and under `runserver` with the in-process worker.
    /// Registers `T` too.
    pub fn every<T: Task>(mut self, name: &str, every: Duration, args: serde_json::Value) -> Self {
        self.registry = self.registry.register::<T>();
        self.beat = self.beat.every::<T>(name, every, args);
        self
    }

    /// A periodic entry on any [`Schedule`](crate::beat::Schedule) (a crontab, for one).
    /// Registers `T` too.
    pub fn schedule<T: Task>(
        mut self,
        name: &str,
        schedule: crate::beat::Schedule,
        args: serde_json::Value,
    ) -> Self {
        self.registry = self.registry.register::<T>();
        self.beat = self.beat.schedule::<T>(name, schedule, args);
        self
    }

    /// The periodic entries (to run a [`Beat`](crate::Beat) yourself).
    pub fn beat(&self) -> crate::beat::Beat {
        self.beat.clone()
    }

    /// The registered tasks (to run a [`Worker`] yourself, as tests do).
    pub fn registry(&self) -> Registry {
        self.registry.clone()
    }

    pub fn plugin(self) -> impl FnOnce(App) -> App {
        let (registry, beat) = (self.registry, self.beat);
        move |app| {
            let for_startup = (registry.clone(), beat.clone());
            // runserver's in-process worker: started at start-up, waited for at shutdown.
            let in_process = InProcessWorker::default();
            let for_shutdown = in_process.clone();
            app.command(WorkerCommand(registry, beat.clone()))
                .command(BeatCommand(beat))
                .command(crate::commands::InspectCommand)
                .command(crate::commands::PurgeCommand)
                .command(crate::commands::RevokeCommand)
                .command(crate::commands::RetryDeadLettersCommand)
                .command(crate::commands::EventsCommand)
                .on_startup(move |settings, command| {
                    let (registry, beat) = for_startup.clone();
                    start_up(settings, command, registry, beat, in_process.clone())
                })
                .on_shutdown(move |_settings, _command| {
                    let in_process = for_shutdown.clone();
                    async move { in_process.finish().await }
                })
        }
    }
}

/// The start-up hook: the broker from settings, and under runserver the in-process worker (or
/// a line saying where tasks go and what runs them, when there is none).
async fn start_up(
    settings: Arc<canter_core::settings::Settings>,
    command: String,
    registry: Registry,
    beat: crate::beat::Beat,
    in_process: InProcessWorker,
) -> Result<(), CommandError> {
    let config: TaskSettings = settings.section("tasks")?;
    // The framework's own commands never enqueue: no broker file for `check`.
    if FRAMEWORK_COMMANDS_WITHOUT_TASKS.contains(&command.as_str()) {
        return Ok(());
    }
    let url = broker_url(config.broker.as_deref(), std::env::var("REDIS_URL").ok());
    let shown = crate::broker::redacted(&url);
    let broker = open_broker_limited(&url, config.max_message_size)
        .await
        .map_err(|e| format!("[tasks] broker {shown:?}: {e}"))?;
    tracing::info!(target: "canter::tasks", broker = %shown, "task broker");
    install(broker.clone());
    crate::broker::set_eager(config.always_eager);
    if command != "runserver" || config.always_eager {
        return Ok(());
    }
    let in_runserver = config
        .worker_in_runserver
        .unwrap_or(url.starts_with("sqlite:"));
    if !in_runserver {
        let program = std::env::args_os()
            .next()
            .as_deref()
            .and_then(|arg0| std::path::Path::new(arg0).file_stem())
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_else(|| "<your binary>".to_owned());
        tracing::warn!(target: "canter::tasks", "{}", no_worker_notice(&shown, &program));
        return Ok(());
    }
    // The server's grace, which the worker's runs beside.
    let grace = Duration::from_secs_f64(settings.server.shutdown_timeout);
    let worker_config = WorkerConfig {
        concurrency: config.concurrency,
        visibility_timeout: Duration::from_secs_f64(config.visibility_timeout),
        send_events: config.send_events,
        shutdown_timeout: grace,
        stall_threshold: settings.stall_threshold(),
        ..WorkerConfig::default()
    };
    let worker = Worker::new(registry, broker.clone(), worker_config);
    in_process.start(worker, grace, broker, beat);
    println!(
        "Running an in-process task worker ([tasks] worker_in_runserver = false turns it off)."
    );
    Ok(())
}

/// What runserver says when it runs no worker: where its tasks go (the URL's password
/// redacted) and the command that runs them, so they are not left PENDING unawares.
fn no_worker_notice(shown_url: &str, program: &str) -> String {
    let place = if shown_url.starts_with("redis") {
        format!("Redis at {shown_url}")
    } else {
        shown_url.to_owned()
    };
    format!(
        "tasks go to {place} and this process runs no worker for them: run `{program} worker` to process them ([tasks] worker_in_runserver = true runs one in runserver)"
    )
}

/// runserver's in-process worker, as `worker` runs one: the first SIGINT/SIGTERM (or
/// runserver returning) starts a warm shutdown (running tasks finish and are acked within
/// `server.shutdown_timeout`; nothing new is fetched), a second makes it cold (running tasks
/// go back to the queue at once). The process waits for it before exiting.
#[derive(Clone, Default)]
struct InProcessWorker(Arc<Mutex<Option<StartedWorker>>>);

struct StartedWorker {
    /// Set when runserver has returned: a warm shutdown even without a signal.
    stop: watch::Sender<bool>,
    worker: JoinHandle<Result<(), TaskError>>,
    grace: Duration,
}

impl InProcessWorker {
    fn start(
        &self,
        worker: Worker,
        grace: Duration,
        broker: Arc<dyn Broker>,
        beat: crate::beat::Beat,
    ) {
        let (stop, stopped) = watch::channel(false);
        let until_stopped = |mut stopped: watch::Receiver<bool>| async move {
            let _ = stopped.wait_for(|stop| *stop).await;
        };
        let (first_signal, second_signal) = canter_core::server::shutdown_phases();
        let warm = {
            let stopped = until_stopped(stopped.clone());
            async move {
                tokio::select! {
                    () = first_signal => {}
                    () = stopped => {}
                }
            }
        };
        let worker = tokio::spawn(worker.run_until(warm, second_signal));
        if !beat.entries().is_empty() {
            tokio::spawn(async move {
                if let Err(e) = beat.run(broker, until_stopped(stopped)).await {
                    tracing::error!(target: "canter::tasks", "beat stopped: {e}");
                }
            });
        }
        let started = StartedWorker {
            stop,
            worker,
            grace,
        };
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Some(started);
    }

    /// Shuts the worker down warmly (if no signal did) and waits for it: its running tasks
    /// finish within the grace, or go back to the queue after it.
    async fn finish(&self) {
        let Some(started) = self.0.lock().unwrap_or_else(|e| e.into_inner()).take() else {
            return;
        };
        let _ = started.stop.send(true);
        // The worker bounds its own wait; this bounds the broker calls after it (requeueing
        // the cut tasks) should the broker hang.
        let limit = started.grace + Duration::from_secs(10);
        match tokio::time::timeout(limit, started.worker).await {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(e))) => {
                tracing::error!(target: "canter::tasks", "the in-process worker stopped with an error: {e}")
            }
            Ok(Err(e)) => {
                tracing::error!(target: "canter::tasks", "the in-process worker panicked: {e}")
            }
            Err(_) => {
                tracing::warn!(target: "canter::tasks", "the in-process worker did not stop within {limit:?}; exiting without it (its tasks come back after the visibility timeout)")
            }
        }
    }
}

/// The broker URL: `[tasks] broker` if set, else `REDIS_URL` if set, else the embedded default.
fn broker_url(configured: Option<&str>, redis_url: Option<String>) -> String {
    match (configured, redis_url.filter(|u| !u.trim().is_empty())) {
        (Some(url), _) => url.to_owned(),
        (None, Some(redis)) => redis,
        (None, None) => "sqlite://tasks.sqlite3".to_owned(),
    }
}

/// The broker a URL names: `sqlite://FILE` (embedded, durable), `redis://HOST:PORT/DB`
/// (Celery's protocol, shared with Python; see [`RedisBroker`](crate::RedisBroker) for its
/// options) or `memory://` (this process only, for tests).
pub async fn open_broker(url: &str) -> Result<Arc<dyn Broker>, TaskError> {
    open_broker_limited(url, crate::broker::DEFAULT_MAX_MESSAGE_SIZE).await
}

/// [`open_broker`] with messages limited to `max_message_size` bytes: larger ones are refused
/// when enqueued, and dead-lettered unread when found in a queue.
pub async fn open_broker_limited(
    url: &str,
    max_message_size: u64,
) -> Result<Arc<dyn Broker>, TaskError> {
    if url.starts_with("sqlite:") {
        let broker = SqliteBroker::open(url).await?;
        Ok(Arc::new(broker.with_max_message_size(max_message_size)))
    } else if url == "memory://" {
        Ok(Arc::new(
            MemoryBroker::new().with_max_message_size(max_message_size),
        ))
    } else if url.starts_with("redis://") || url.starts_with("rediss://") {
        #[cfg(feature = "redis")]
        return Ok(Arc::new(
            crate::brokers::RedisBroker::connect(url)
                .await?
                .with_max_message_size(max_message_size),
        ));
        #[cfg(not(feature = "redis"))]
        Err(TaskError::Broker(
            "the Redis broker needs canter-tasks' `redis` feature".into(),
        ))
    } else {
        Err(TaskError::Broker(format!(
            "unknown broker URL {url:?}: expected sqlite://FILE, redis://HOST:PORT/DB or memory://"
        )))
    }
}

const FRAMEWORK_COMMANDS_WITHOUT_TASKS: &[&str] = &[
    "check",
    "routes",
    "makemigrations",
    "migrate",
    "showmigrations",
    "sqlmigrate",
];

struct WorkerCommand(Registry, crate::beat::Beat);

impl ManagementCommand for WorkerCommand {
    fn name(&self) -> &'static str {
        "worker"
    }

    fn command(&self) -> clap::Command {
        clap::Command::new("worker")
            .about("Runs a task worker until SIGINT/SIGTERM (warm shutdown; a second signal: cold)")
            .arg(
                Arg::new("queues")
                    .short('Q')
                    .long("queues")
                    .default_value("celery")
                    .help("Comma-separated queues"),
            )
            .arg(
                Arg::new("concurrency")
                    .short('c')
                    .long("concurrency")
                    .value_parser(clap::value_parser!(usize))
                    .help("Tasks at once"),
            )
            .arg(
                Arg::new("beat")
                    .short('B')
                    .long("beat")
                    .action(clap::ArgAction::SetTrue)
                    .help("Also run the periodic scheduler (as `beat`) in this worker"),
            )
            .arg(
                Arg::new("events")
                    .short('E')
                    .long("events")
                    .action(clap::ArgAction::SetTrue)
                    .help("Send task and worker events (see the `events` command)"),
            )
            .arg(
                Arg::new("metrics")
                    .long("metrics")
                    .value_name("ADDR")
                    .value_parser(clap::value_parser!(std::net::SocketAddr))
                    .help("Serve Prometheus metrics on http://ADDR/metrics"),
            )
    }

    fn run<'a>(
        &'a self,
        ctx: &'a CommandContext,
        args: &'a ArgMatches,
    ) -> BoxFuture<'a, Result<(), CommandError>> {
        Box::pin(async move {
            let settings: TaskSettings = ctx.settings.section("tasks")?;
            let queues = args
                .get_one::<String>("queues")
                .expect("default")
                .split(',')
                .map(|q| q.trim().to_owned())
                .filter(|q| !q.is_empty())
                .collect();
            let config = WorkerConfig {
                queues,
                concurrency: args
                    .get_one::<usize>("concurrency")
                    .copied()
                    .unwrap_or(settings.concurrency),
                visibility_timeout: Duration::from_secs_f64(settings.visibility_timeout),
                send_events: settings.send_events || args.get_flag("events"),
                stall_threshold: ctx.settings.stall_threshold(),
                ..WorkerConfig::default()
            };
            println!("Tasks: {}", self.0.names().join(", "));
            let metrics = args
                .get_one::<std::net::SocketAddr>("metrics")
                .copied()
                .or(settings.metrics_addr);
            if let Some(addr) = metrics {
                let bound = crate::metrics::serve(addr)
                    .await
                    .map_err(|e| format!("metrics endpoint on {addr}: {e}"))?;
                println!("Metrics: http://{bound}/metrics");
            }
            let broker = crate::broker::broker()?;
            if args.get_flag("beat") {
                let (beat, broker) = (self.1.clone(), broker.clone());
                tokio::spawn(async move {
                    if let Err(e) = beat.run(broker, std::future::pending()).await {
                        tracing::error!(target: "canter::tasks", "beat stopped: {e}");
                    }
                });
            }
            let worker = Worker::new(self.0.clone(), broker, config);
            // The first SIGINT/SIGTERM starts a warm shutdown; a second one makes it cold.
            let (warm, cold) = canter_core::server::shutdown_phases();
            worker.run_until(warm, cold).await?;
            Ok(())
        })
    }
}

/// `beat`: the periodic scheduler alone (Celery's `celery beat`).
struct BeatCommand(crate::beat::Beat);

impl ManagementCommand for BeatCommand {
    fn name(&self) -> &'static str {
        "beat"
    }

    fn command(&self) -> clap::Command {
        clap::Command::new("beat")
            .about("Sends the periodic tasks when they are due, until SIGINT/SIGTERM (any number may run: each due time fires once)")
    }

    fn run<'a>(
        &'a self,
        _ctx: &'a CommandContext,
        _args: &'a ArgMatches,
    ) -> BoxFuture<'a, Result<(), CommandError>> {
        Box::pin(async move {
            for entry in self.0.entries() {
                println!("{}: {} {}", entry.name, entry.task, entry.schedule);
            }
            self.0
                .clone()
                .run(
                    crate::broker::broker()?,
                    canter_core::server::shutdown_signal(),
                )
                .await?;
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::{broker_url, no_worker_notice};

    #[test]
    fn without_a_worker_runserver_says_where_tasks_go_and_what_runs_them() {
        let shown = crate::broker::redacted("redis://:s3cr@t@redis.example:6379/0");
        let notice = no_worker_notice(&shown, "demo");
        assert!(
            !notice.contains("s3cr"),
            "the password is redacted: {notice}"
        );
        assert!(
            notice.contains("Redis at redis://***@redis.example:6379/0"),
            "{notice}"
        );
        assert!(notice.contains("run `demo worker`"), "{notice}");
        assert_eq!(
            crate::broker::redacted("redis://host:6379/0?name=a@b"),
            "redis://host:6379/0?name=a@b"
        );
    }

    #[test]
    fn the_broker_is_the_setting_else_redis_url_else_embedded() {
        let redis = Some("redis://r:6379/0".to_owned());
        assert_eq!(
            broker_url(Some("sqlite://x.sqlite3"), redis.clone()),
            "sqlite://x.sqlite3"
        );
        assert_eq!(broker_url(None, redis), "redis://r:6379/0");
        assert_eq!(broker_url(None, Some(" ".into())), "sqlite://tasks.sqlite3");
        assert_eq!(broker_url(None, None), "sqlite://tasks.sqlite3");
    }
}
