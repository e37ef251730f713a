//! The operations commands (Celery's `inspect`, `purge`, `control revoke`, `events`):
//! `inspect workers|queues|active|reserved|scheduled|dead-letters [--json]`, `purge`,
//! `revoke`, `retry-dead-letters` and `events`. Tables for people, `--json` for scripts.

use std::io::{BufRead, Write};

use canter_kernel::management::{CommandContext, CommandError, ManagementCommand};
use clap::{Arg, ArgAction, ArgMatches};
use futures_util::future::BoxFuture;
use serde::Serialize;

use crate::broker::now;
use crate::control::{self, DeadLetter, QueueInfo, TaskInfo, WorkerInfo};

fn json_flag() -> Arg {
    Arg::new("json")
        .long("json")
        .action(ArgAction::SetTrue)
        .help("Print JSON instead of a table")
}

fn queues_arg() -> Arg {
    Arg::new("queues")
        .short('Q')
        .long("queues")
        .help("Comma-separated queues")
}

fn queue_list(args: &ArgMatches) -> Vec<String> {
    args.get_one::<String>("queues")
        .map(|q| {
            q.split(',')
                .map(|q| q.trim().to_owned())
                .filter(|q| !q.is_empty())
                .collect()
        })
        .unwrap_or_default()
}

/// Columns padded to their widest cell.
fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        padded.join("  ").trim_end().to_owned() + "\n"
    };
    let mut out = line(headers.to_vec());
    for row in rows {
        out += &line(row.iter().map(String::as_str).collect());
    }
    out
}

fn print<T: Serialize>(json: bool, items: &[T], headers: &[&str], row: impl Fn(&T) -> Vec<String>) {
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(items).unwrap_or_else(|_| "[]".into())
        );
    } else if items.is_empty() {
        println!("(none)");
    } else {
        let rows: Vec<Vec<String>> = items.iter().map(row).collect();
        print!("{}", table(headers, &rows));
    }
}

/// `12.3s`, `4m05s`, `2h03m`.
fn duration(seconds: f64) -> String {
    let s = seconds.max(0.0);
    if s < 60.0 {
        format!("{s:.1}s")
    } else if s < 3600.0 {
        format!("{}m{:02}s", (s / 60.0) as u64, (s % 60.0) as u64)
    } else {
        format!(
            "{}h{:02}m",
            (s / 3600.0) as u64,
            ((s % 3600.0) / 60.0) as u64
        )
    }
}

fn short(value: &serde_json::Value) -> String {
    let text = value.to_string();
    if text.chars().count() > 40 {
        text.chars().take(39).collect::<String>() + "…"
    } else {
        text
    }
}

fn task_rows(tasks: &[TaskInfo], json: bool, running: bool) {
    let now = now();
    if running {
        print(
            json,
            tasks,
            &["ID", "TASK", "WORKER", "RUNNING FOR", "ARGS"],
            |t| {
                vec![
                    t.id.clone(),
                    t.name.clone(),
                    t.worker.clone().unwrap_or_default(),
                    duration(now - t.started.unwrap_or(now)),
                    short(&t.args),
                ]
            },
        );
    } else {
        print(
            json,
            tasks,
            &["ID", "TASK", "QUEUE", "DUE IN", "RETRIES", "WORKER", "ARGS"],
            |t| {
                vec![
                    t.id.clone(),
                    t.name.clone(),
                    t.queue.clone(),
                    duration(t.eta - now),
                    t.retries.to_string(),
                    t.worker.clone().unwrap_or_else(|| "-".into()),
                    short(&t.args),
                ]
            },
        );
    }
}

/// `inspect <what>`: workers, queues, active, reserved, scheduled, dead letters.
pub(crate) struct InspectCommand;

impl ManagementCommand for InspectCommand {
    fn name(&self) -> &'static str {
        "inspect"
    }

    fn command(&self) -> clap::Command {
        let what = |name: &'static str, about: &'static str| {
            clap::Command::new(name).about(about).arg(json_flag())
        };
        clap::Command::new("inspect")
            .about("Shows workers, queues and tasks (from the broker: every worker sharing it)")
            .subcommand_required(true)
            .subcommand(what("workers", "Workers heard of in the last hour: alive, heartbeat age, concurrency, tasks in flight"))
            .subcommand(what("queues", "Queue lengths (tasks waiting) and their alive consumers").arg(queues_arg()))
            .subcommand(what("active", "Tasks running on alive workers"))
            .subcommand(what("reserved", "Tasks alive workers took and have not started"))
            .subcommand(what("scheduled", "Tasks waiting for their ETA (countdown, retry)"))
            .subcommand(what("dead-letters", "Tasks no worker could run, with why"))
    }

    // Long because it is the `inspect` command's table: one arm per subcommand, each a few lines.
    fn run<'a>(
        &'a self,
        _ctx: &'a CommandContext,
        args: &'a ArgMatches,
    ) -> BoxFuture<'a, Result<(), CommandError>> {
        Box::pin(async move {
            let (what, sub) = args.subcommand().expect("subcommand_required");
            let json = sub.get_flag("json");
            match what {
                "workers" => {
                    let workers = control::workers().await?;
                    print(
                        json,
                        &workers,
                        &[
                            "WORKER",
                            "ALIVE",
                            "HEARTBEAT",
                            "HOST",
                            "PID",
                            "CONCURRENCY",
                            "ACTIVE",
                            "PROCESSED",
                            "QUEUES",
                        ],
                        |w: &WorkerInfo| {
                            vec![
                                w.name.clone(),
                                if w.alive() { "yes" } else { "no" }.into(),
                                format!("{} ago", duration(w.heartbeat_age())),
                                w.hostname.clone(),
                                w.pid.to_string(),
                                w.concurrency.to_string(),
                                w.active.len().to_string(),
                                w.processed.to_string(),
                                w.queues.join(","),
                            ]
                        },
                    );
                }
                "queues" => {
                    let queues = control::queues(&queue_list(sub)).await?;
                    print(
                        json,
                        &queues,
                        &["QUEUE", "WAITING", "CONSUMERS"],
                        |q: &QueueInfo| {
                            vec![
                                q.name.clone(),
                                q.waiting.to_string(),
                                q.consumers.to_string(),
                            ]
                        },
                    );
                }
                "active" => task_rows(&control::active().await?, json, true),
                "reserved" => task_rows(&control::reserved().await?, json, false),
                "scheduled" => task_rows(&control::scheduled().await?, json, false),
                "dead-letters" => {
                    let letters = control::dead_letters().await?;
                    let now = now();
                    print(
                        json,
                        &letters,
                        &["ID", "TASK", "QUEUE", "AGE", "RETRIABLE", "REASON"],
                        |d: &DeadLetter| {
                            vec![
                                d.id.clone(),
                                d.name.clone(),
                                d.queue.clone(),
                                duration(now - d.at),
                                if d.retriable { "yes" } else { "no" }.into(),
                                d.reason.clone(),
                            ]
                        },
                    );
                }
                other => unreachable!("clap knows no {other}"),
            }
            Ok(())
        })
    }
}

/// `purge -Q q1,q2 [-f]`: removes waiting tasks (Celery's `celery purge`).
pub(crate) struct PurgeCommand;

impl ManagementCommand for PurgeCommand {
    fn name(&self) -> &'static str {
        "purge"
    }

    fn command(&self) -> clap::Command {
        clap::Command::new("purge")
            .about("Removes every task waiting in the queues (not those workers hold); asks first unless -f")
            .arg(queues_arg().default_value("celery"))
            .arg(
                Arg::new("force")
                    .short('f')
                    .long("force")
                    .action(ArgAction::SetTrue)
                    .help("Do not ask"),
            )
    }

    fn run<'a>(
        &'a self,
        _ctx: &'a CommandContext,
        args: &'a ArgMatches,
    ) -> BoxFuture<'a, Result<(), CommandError>> {
        Box::pin(async move {
            let queues = queue_list(args);
            if !args.get_flag("force") {
                let broker = crate::broker::broker()?;
                let mut waiting = 0;
                for queue in &queues {
                    waiting += broker.queue_length(queue).await?;
                }
                print!(
                    "Remove {waiting} waiting task(s) from {}? This cannot be undone. [y/N] ",
                    queues.join(", ")
                );
                let _ = std::io::stdout().flush();
                let answer = tokio::task::spawn_blocking(|| {
                    let mut line = String::new();
                    let _ = std::io::stdin().lock().read_line(&mut line);
                    line
                })
                .await
                .unwrap_or_default();
                if !matches!(answer.trim(), "y" | "Y" | "yes") {
                    println!("Nothing removed.");
                    return Ok(());
                }
            }
            for queue in &queues {
                let removed = control::purge(queue).await?;
                println!("Purged {removed} task(s) from {queue}.");
            }
            Ok(())
        })
    }
}

/// `revoke ID…` (Celery's `celery control revoke`).
pub(crate) struct RevokeCommand;

impl ManagementCommand for RevokeCommand {
    fn name(&self) -> &'static str {
        "revoke"
    }

    fn command(&self) -> clap::Command {
        clap::Command::new("revoke")
            .about("Revokes tasks by id: skipped if not started, stopped at their next await if running")
            .arg(Arg::new("ids").required(true).num_args(1..).help("Task ids"))
    }

    fn run<'a>(
        &'a self,
        _ctx: &'a CommandContext,
        args: &'a ArgMatches,
    ) -> BoxFuture<'a, Result<(), CommandError>> {
        Box::pin(async move {
            for id in args.get_many::<String>("ids").into_iter().flatten() {
                control::revoke(id).await?;
                println!("Revoked {id}.");
            }
            Ok(())
        })
    }
}

/// `retry-dead-letters`: sends the dead-letter record back to its queues.
pub(crate) struct RetryDeadLettersCommand;

impl ManagementCommand for RetryDeadLettersCommand {
    fn name(&self) -> &'static str {
        "retry-dead-letters"
    }

    fn command(&self) -> clap::Command {
        clap::Command::new("retry-dead-letters").about(
            "Sends every retriable dead letter back to its queue as a fresh task (after deploying the worker that knows it)",
        )
    }

    fn run<'a>(
        &'a self,
        _ctx: &'a CommandContext,
        _args: &'a ArgMatches,
    ) -> BoxFuture<'a, Result<(), CommandError>> {
        Box::pin(async move {
            let sent = control::retry_dead_letters().await?;
            let left = control::dead_letters().await?.len();
            println!(
                "Sent {sent} dead letter(s) back to their queues; {left} left (not retriable)."
            );
            Ok(())
        })
    }
}

/// `events`: follows the event stream (Celery's `celery events --dump`).
pub(crate) struct EventsCommand;

impl ManagementCommand for EventsCommand {
    fn name(&self) -> &'static str {
        "events"
    }

    fn command(&self) -> clap::Command {
        clap::Command::new("events")
            .about("Prints task and worker events as they come (workers send them with -E), until SIGINT")
            .arg(json_flag())
            .arg(
                Arg::new("from-start")
                    .long("from-start")
                    .action(ArgAction::SetTrue)
                    .help("Begin with the oldest event kept, not with new ones"),
            )
            .arg(
                Arg::new("count")
                    .long("count")
                    .value_parser(clap::value_parser!(usize))
                    .help("Stop after this many events"),
            )
    }

    fn run<'a>(
        &'a self,
        _ctx: &'a CommandContext,
        args: &'a ArgMatches,
    ) -> BoxFuture<'a, Result<(), CommandError>> {
        Box::pin(async move {
            let json = args.get_flag("json");
            let limit = args.get_one::<usize>("count").copied();
            let mut cursor = args.get_flag("from-start").then(|| "0".to_owned());
            let mut printed = 0;
            let follow = async {
                loop {
                    let (next, events) = crate::events::next(cursor.as_deref()).await?;
                    cursor = Some(next);
                    for event in events {
                        if json {
                            println!("{event}");
                        } else {
                            println!("{}", describe(&event));
                        }
                        printed += 1;
                        if limit.is_some_and(|l| printed >= l) {
                            return Ok::<(), crate::TaskError>(());
                        }
                    }
                }
            };
            tokio::select! {
                done = follow => done?,
                () = canter_kernel::signals::shutdown_signal() => {}
            }
            Ok(())
        })
    }
}

/// One line per event: time, type, who, and the fields of its kind.
fn describe(event: &serde_json::Value) -> String {
    let field = |key: &str| event.get(key).filter(|v| !v.is_null());
    let mut line = format!(
        "{:.3} {} {}",
        field("timestamp").and_then(|t| t.as_f64()).unwrap_or(0.0),
        field("type").and_then(|t| t.as_str()).unwrap_or("?"),
        field("hostname").and_then(|t| t.as_str()).unwrap_or("?"),
    );
    for key in [
        "uuid",
        "name",
        "args",
        "result",
        "runtime",
        "exception",
        "active",
        "processed",
    ] {
        if let Some(value) = field(key) {
            let shown = value.as_str().map_or_else(|| short(value), str::to_owned);
            line += &format!(" {key}={shown}");
        }
    }
    line
}

#[cfg(test)]
mod tests {
    #[test]
    fn tables_pad_columns_to_the_widest_cell() {
        let text = super::table(
            &["QUEUE", "WAITING"],
            &[
                vec!["celery".into(), "3".into()],
                vec!["a".into(), "12".into()],
            ],
        );
        assert_eq!(text, "QUEUE   WAITING\ncelery  3\na       12\n");
        assert_eq!(super::duration(75.0), "1m15s");
        assert_eq!(super::duration(7260.0), "2h01m");
    }
}
