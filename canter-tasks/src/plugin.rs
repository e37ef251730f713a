//! Wiring tasks into an [`App`](canter_core::App): the broker from settings, the `worker`
//! command, and an in-process worker under `runserver`.
//!
//! ```toml
//! [tasks]
//! broker = "sqlite://tasks.sqlite3"   # the default: the embedded, durable broker;
//!                                     # unset: BROKER_URL, else REDIS_URL if set (Celery's
//!                                     # protocol on Redis, or on RabbitMQ: amqp://…)
//! result_backend = "redis://…"        # results apart from the broker (Celery's; "db": the
//!                                     # default database, django-celery-results' tables), or unset:
//!                                     # RESULT_BACKEND, else the broker's own; RabbitMQ keeps
//!                                     # none: then REDIS_URL, else tasks.sqlite3
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

use canter_kernel::management::{CommandContext, CommandError, ManagementCommand};
use canter_kernel::plugin::{Plugin, StartContext};
use canter_kernel::services::{self, Services};
use clap::{Arg, ArgMatches};
use futures_util::future::BoxFuture;
use serde::Deserialize;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::broker::Broker;
use crate::brokers::MemoryBroker;
use crate::error::TaskError;
use crate::open::{broker_url, open_broker_with_backend, open_broker_with_results};
use crate::task::{Registry, Task};
use crate::worker::{Worker, WorkerConfig};

#[derive(Deserialize, Clone)]
#[serde(default, deny_unknown_fields)]
struct TaskSettings {
    broker: Option<String>,
    result_backend: Option<String>,
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
            result_backend: None,
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

/// The app's tasks, its plugin: `App::new().plugin(Tasks::new().task::<add>())`.
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
}

/// How long start-up waits for a configured broker before failing (the process must exit
/// within 10 s when it is unreachable).
const CONNECT_LIMIT: Duration = Duration::from_secs(8);

impl Plugin for Tasks {
    fn name(&self) -> &'static str {
        "tasks"
    }

    fn commands(&self) -> Vec<Arc<dyn ManagementCommand>> {
        vec![
            Arc::new(WorkerCommand(self.registry.clone(), self.beat.clone())),
            Arc::new(BeatCommand(self.beat.clone())),
            Arc::new(crate::commands::InspectCommand),
            Arc::new(crate::commands::PurgeCommand),
            Arc::new(crate::commands::RevokeCommand),
            Arc::new(crate::commands::RetryDeadLettersCommand),
            Arc::new(crate::commands::EventsCommand),
        ]
    }

    /// The app's broker: `[tasks] always_eager` → an eager one; else the configured one
    /// (`[tasks] broker`, else `REDIS_URL`, else the embedded SQLite file — in-memory for an
    /// app a test starts), which must answer within 8 s or start-up fails naming the setting
    /// and the address. None for commands
    /// that need no services (`check`, `migrate`, …: no broker file is created for them).
    fn start<'a>(&'a self, ctx: &'a StartContext) -> BoxFuture<'a, Result<Services, CommandError>> {
        Box::pin(async move {
            let config: TaskSettings = ctx.settings.section("tasks")?;
            if !ctx.needs_services {
                return Ok(Services::new());
            }
            let mut opened_from = None;
            let broker: Arc<dyn Broker> = if config.always_eager {
                Arc::new(
                    MemoryBroker::eager(self.registry.clone())
                        .with_max_message_size(config.max_message_size),
                )
            } else {
                let env = |name: &str| std::env::var(name).ok();
                let (mut url, setting) = broker_url(
                    config.broker.as_deref(),
                    env("BROKER_URL"),
                    env("REDIS_URL"),
                );
                // Results apart only when asked for (RabbitMQ: always; see `open`).
                let backend = config
                    .result_backend
                    .clone()
                    .or_else(|| env("RESULT_BACKEND"));
                // An app started by a test with no broker configured gets an in-memory one (as
                // Django's test runner gets a test database): no broker file in the project.
                if ctx.command == "test" && setting == "the default" {
                    url = "memory://".to_owned();
                }
                let shown = crate::broker::redacted(&url);
                let opening = async {
                    if backend.as_deref() == Some("db") {
                        let results = database_results(ctx)?;
                        open_broker_with_results(&url, results, config.max_message_size).await
                    } else {
                        open_broker_with_backend(&url, backend.as_deref(), config.max_message_size)
                            .await
                    }
                };
                let opened = tokio::time::timeout(CONNECT_LIMIT, opening)
                    .await
                    .unwrap_or_else(|_| {
                        Err(TaskError::Broker(format!(
                            "no answer within {}s",
                            CONNECT_LIMIT.as_secs()
                        )))
                    });
                let broker =
                    opened.map_err(|e| format!("the task broker {shown} (from {setting}): {e}"))?;
                tracing::info!(target: "canter::tasks", broker = %shown, "task broker");
                opened_from = Some(BrokerUrl(url));
                broker
            };
            let services = Services::new()
                .with(broker)
                .with(InProcessWorker::default());
            Ok(match opened_from {
                Some(url) => services.with(url),
                None => services,
            })
        })
    }

    /// Under `runserver`, the in-process worker (or a line saying where tasks go and what
    /// runs them, when there is none).
    fn ready<'a>(&'a self, ctx: &'a StartContext) -> BoxFuture<'a, Result<(), CommandError>> {
        Box::pin(async move {
            if ctx.command != "runserver" {
                return Ok(());
            }
            let config: TaskSettings = ctx.settings.section("tasks")?;
            // No URL among the services: an eager broker, which needs no worker.
            let (Some(broker), Some(in_process), Some(BrokerUrl(url))) = (
                ctx.services.get::<Arc<dyn Broker>>(),
                ctx.services.get::<InProcessWorker>(),
                ctx.services.get::<BrokerUrl>(),
            ) else {
                return Ok(());
            };
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
                let shown = crate::broker::redacted(url);
                tracing::warn!(target: "canter::tasks", "{}", no_worker_notice(&shown, &program));
                return Ok(());
            }
            // The server's grace, which the worker's runs beside.
            let grace = Duration::from_secs_f64(ctx.settings.server.shutdown_timeout);
            let worker_config = WorkerConfig {
                concurrency: config.concurrency,
                visibility_timeout: Duration::from_secs_f64(config.visibility_timeout),
                send_events: config.send_events,
                shutdown_timeout: grace,
                stall_threshold: ctx.settings.stall_threshold(),
                ..WorkerConfig::default()
            };
            let worker = Worker::new(self.registry.clone(), broker.clone(), worker_config);
            in_process.start(worker, grace, broker.clone(), self.beat.clone());
            println!(
                "Running an in-process task worker ([tasks] worker_in_runserver = false turns it off)."
            );
            Ok(())
        })
    }

    /// runserver's in-process worker finishes its running tasks.
    fn stop<'a>(&'a self, services: &'a Services) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            if let Some(in_process) = services.get::<InProcessWorker>() {
                in_process.finish().await;
            }
        })
    }
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
        let (first_signal, second_signal) = canter_kernel::signals::shutdown_phases();
        let warm = {
            let stopped = until_stopped(stopped.clone());
            async move {
                tokio::select! {
                    () = first_signal => {}
                    () = stopped => {}
                }
            }
        };
        let worker = services::spawn(worker.run_until(warm, second_signal));
        if !beat.entries().is_empty() {
            services::spawn(async move {
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

/// The URL `start` opened the app's broker from, kept among its services for `ready`.
#[derive(Clone)]
struct BrokerUrl(String);

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
                #[cfg(feature = "http")]
                {
                    let bound = crate::metrics::serve(addr)
                        .await
                        .map_err(|e| format!("metrics endpoint on {addr}: {e}"))?;
                    println!("Metrics: http://{bound}/metrics");
                }
                #[cfg(not(feature = "http"))]
                return Err(format!(
                    "metrics endpoint on {addr}: canter-tasks is built without its `http` feature"
                )
                .into());
            }
            let broker = crate::broker::broker()?;
            if args.get_flag("beat") {
                let (beat, broker) = (self.1.clone(), broker.clone());
                services::spawn(async move {
                    if let Err(e) = beat.run(broker, std::future::pending()).await {
                        tracing::error!(target: "canter::tasks", "beat stopped: {e}");
                    }
                });
            }
            let worker = Worker::new(self.0.clone(), broker, config);
            // The first SIGINT/SIGTERM starts a warm shutdown; a second one makes it cold.
            let (warm, cold) = canter_kernel::signals::shutdown_phases();
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
                    canter_kernel::signals::shutdown_signal(),
                )
                .await?;
            Ok(())
        })
    }
}

/// `result_backend = "db"`: results in the app's default database (django-celery-results'
/// tables), from the ORM's plugin, which must come before the tasks plugin.
fn database_results(
    ctx: &StartContext,
) -> Result<Arc<dyn crate::broker::ResultBackend>, TaskError> {
    #[cfg(feature = "orm")]
    {
        let databases = ctx.services.get::<Arc<canter_orm::Databases>>().ok_or_else(|| {
            TaskError::Broker(
                "the result backend `db` needs the ORM's plugin before the tasks plugin (App::plugin(Orm::new()).plugin(Tasks::new()…))".into(),
            )
        })?;
        let backend = crate::brokers::DatabaseResultBackend::new(
            databases.clone(),
            canter_orm::DEFAULT_DB_ALIAS,
        )?;
        Ok(Arc::new(backend))
    }
    #[cfg(not(feature = "orm"))]
    {
        let _ = ctx;
        Err(TaskError::Broker(
            "the result backend `db` needs canter-tasks' `orm` feature".into(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::no_worker_notice;

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
}
