//! The page's sections as HTML, rendered on the server from the board (every value escaped):
//! the first page load has them inline, and the stream sends them again as the board changes.

use std::fmt::Write as _;

use canter_core::escape_html as esc;
use serde_json::Value;

use crate::api::series_json;
use crate::board::Board;
use crate::history::SERIES_SECONDS;
use crate::process::now;
use crate::svg::{line_chart, Axis, Line};

/// Every section of the page, by id (the series read once for all).
pub fn sections(board: &Board) -> Vec<(&'static str, String)> {
    let series = series_json(board, SERIES_SECONDS);
    let times = values(&series, "at");
    let axis = Axis {
        times: &times,
        now: times.last().copied().unwrap_or_else(now),
        span: SERIES_SECONDS,
        label: "15 min",
    };
    vec![
        ("tasks", tasks(board, &series, &axis)),
        ("workers", workers(board)),
        ("queues", queues(board, &series, &axis)),
        ("channels", channels(board, &series, &axis)),
        ("http", http(board, &series, &axis)),
    ]
}

fn values(series: &Value, key: &str) -> Vec<f64> {
    series[key]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_f64).collect())
        .unwrap_or_default()
}

fn tile(out: &mut String, id: &str, label: &str, value: impl std::fmt::Display) {
    let _ = write!(
        out,
        r#"<div class="ops-tile"><span class="ops-value" data-stat="{id}">{}</span><span class="ops-label">{}</span></div>"#,
        esc(&value.to_string()),
        esc(label)
    );
}

fn seconds(value: Option<f64>) -> String {
    match value {
        Some(s) if s < 1.0 => format!("{:.1} ms", s * 1000.0),
        Some(s) => format!("{s:.2} s"),
        None => "–".into(),
    }
}

fn age(at: f64) -> String {
    let secs = (now() - at).max(0.0);
    if secs < 120.0 {
        format!("{secs:.0} s ago")
    } else {
        format!("{:.0} min ago", secs / 60.0)
    }
}

fn in_time(at: f64) -> String {
    let secs = at - now();
    if secs <= 0.0 {
        "due".into()
    } else if secs < 120.0 {
        format!("in {secs:.0} s")
    } else {
        format!("in {:.0} min", secs / 60.0)
    }
}

fn compact(value: &Value) -> String {
    let text = value.to_string();
    if text.chars().count() > 120 {
        format!("{}…", text.chars().take(120).collect::<String>())
    } else {
        text
    }
}

fn button(action: &str, label: &str) -> String {
    format!(
        r#"<form method="post" action="{}" data-ops-action><button type="submit">{}</button></form>"#,
        esc(action),
        esc(label)
    )
}

fn tasks(board: &Board, series: &Value, axis: &Axis<'_>) -> String {
    let mut out = String::from(r#"<div class="ops-tiles">"#);
    let counts = board.book.counts();
    tile(&mut out, "tasks-received", "received", counts.received);
    tile(&mut out, "tasks-succeeded", "succeeded", counts.succeeded);
    tile(&mut out, "tasks-failed", "failed", counts.failed);
    tile(&mut out, "tasks-retried", "retried", counts.retried);
    tile(&mut out, "tasks-revoked", "revoked", counts.revoked);
    let active: usize = board
        .workers
        .iter()
        .filter(|w| w.alive())
        .map(|w| w.active.len())
        .sum();
    tile(&mut out, "tasks-active", "running", active);
    out.push_str("</div>");
    let (received, succeeded, failed, retried) = (
        values(series, "tasks_received"),
        values(series, "tasks_succeeded"),
        values(series, "tasks_failed"),
        values(series, "tasks_retried"),
    );
    out.push_str(&line_chart(
        "tasks",
        "Tasks per second",
        axis,
        &[
            Line {
                label: "received",
                values: &received,
            },
            Line {
                label: "succeeded",
                values: &succeeded,
            },
            Line {
                label: "failed",
                values: &failed,
            },
            Line {
                label: "retried",
                values: &retried,
            },
        ],
    ));
    out.push_str("<h3>Run and wait times</h3><table><tr><th>task</th><th>runs</th><th>run p50</th><th>run p99</th><th>wait p50</th><th>wait p99</th></tr>");
    for t in board.book.times() {
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&t.name),
            t.runs,
            seconds(t.runtime_p50),
            seconds(t.runtime_p99),
            seconds(t.wait_p50),
            seconds(t.wait_p99)
        );
    }
    out.push_str("</table><h3>Latest failures</h3><table><tr><th>task</th><th>id</th><th>arguments</th><th>error</th><th>when</th><th></th></tr>");
    for t in board.book.failures().into_iter().take(20) {
        let at = t.history.last().map_or(0.0, |h| h.1);
        let _ = write!(
            out,
            r#"<tr><td>{}</td><td><code>{}</code></td><td><code>{}</code></td><td class="ops-error">{}</td><td>{}</td><td>{}</td></tr>"#,
            esc(&t.name),
            esc(&t.id),
            esc(&compact(&t.args)),
            esc(t.exception.as_deref().unwrap_or("")),
            age(at),
            button(&format!("api/tasks/{}/retry/", t.id), "Retry")
        );
    }
    out.push_str("</table>");
    out.push_str(&waiting_tasks(board));
    out
}

/// The tasks waiting on something: scheduled (ETA), periodic, dead letters.
fn waiting_tasks(board: &Board) -> String {
    let mut out = String::from(
        "<h3>Scheduled</h3><table><tr><th>task</th><th>id</th><th>due</th><th>worker</th></tr>",
    );
    for t in board.scheduled.iter().take(50) {
        let _ = write!(
            out,
            "<tr><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td></tr>",
            esc(&t.name),
            esc(&t.id),
            in_time(t.eta),
            esc(t.worker.as_deref().unwrap_or("(broker)"))
        );
    }
    out.push_str(
        "</table><h3>Periodic</h3><table><tr><th>entry</th><th>task</th><th>next run</th></tr>",
    );
    for (entry, task, next) in &board.periodic {
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(entry),
            esc(task),
            next.map_or_else(|| "–".into(), in_time)
        );
    }
    let _ = write!(
        out,
        "</table><h3>Dead letters ({})</h3>{}<table><tr><th>task</th><th>id</th><th>queue</th><th>reason</th><th>when</th><th></th></tr>",
        board.dead_letters.len(),
        if board.dead_letters.iter().any(|d| d.retriable) {
            button("api/dead-letters/retry/", "Retry all")
        } else {
            String::new()
        }
    );
    for d in board.dead_letters.iter().rev().take(20) {
        let _ = write!(
            out,
            r#"<tr><td>{}</td><td><code>{}</code></td><td>{}</td><td class="ops-error">{}</td><td>{}</td><td>{}</td></tr>"#,
            esc(&d.name),
            esc(&d.id),
            esc(&d.queue),
            esc(&d.reason),
            age(d.at),
            if d.retriable && !d.id.is_empty() {
                button(&format!("api/tasks/{}/retry/", d.id), "Retry")
            } else {
                String::new()
            }
        );
    }
    out.push_str("</table>");
    out
}

fn workers(board: &Board) -> String {
    let alive = board.workers.iter().filter(|w| w.alive()).count();
    let mut out = String::from(r#"<div class="ops-tiles">"#);
    tile(&mut out, "workers-alive", "alive", alive);
    tile(
        &mut out,
        "workers-dead",
        "not heard of",
        board.workers.len() - alive,
    );
    out.push_str("</div><table><tr><th>worker</th><th>host</th><th>queues</th><th>concurrency</th><th>state</th><th>heartbeat</th><th>processed</th><th>running</th></tr>");
    for w in &board.workers {
        let running: Vec<String> = w
            .active
            .iter()
            .map(|t| {
                let ran = t
                    .started
                    .map_or_else(String::new, |s| format!(" ({:.1} s)", (now() - s).max(0.0)));
                format!("{} <code>{}</code>{ran}", esc(&t.name), esc(&t.id))
            })
            .collect();
        let _ = write!(
            out,
            r#"<tr class="{}"><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.1} s</td><td>{}</td><td>{}</td></tr>"#,
            if w.alive() { "ops-alive" } else { "ops-dead" },
            esc(&w.name),
            esc(&w.hostname),
            esc(&w.queues.join(", ")),
            w.concurrency,
            if w.alive() { "alive" } else { "dead" },
            w.heartbeat_age(),
            w.processed,
            running.join("<br>")
        );
    }
    out.push_str("</table>");
    out
}

fn queues(board: &Board, series: &Value, axis: &Axis<'_>) -> String {
    let mut out = String::from("<table><tr><th>queue</th><th>waiting</th><th>consumers</th></tr>");
    for q in &board.queues {
        let _ = write!(
            out,
            r#"<tr><td>{}</td><td data-queue="{}">{}</td><td>{}</td></tr>"#,
            esc(&q.name),
            esc(&q.name),
            q.waiting,
            q.consumers
        );
    }
    out.push_str("</table>");
    let depths: Vec<(String, Vec<f64>)> = series["queues"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| {
                    (
                        k.clone(),
                        v.as_array()
                            .map(|a| a.iter().filter_map(Value::as_f64).collect())
                            .unwrap_or_default(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let lines: Vec<Line<'_>> = depths
        .iter()
        .map(|(k, v)| Line {
            label: k,
            values: v,
        })
        .collect();
    out.push_str(&line_chart(
        "queues",
        "Tasks waiting per queue",
        axis,
        &lines,
    ));
    out
}

fn channels(board: &Board, series: &Value, axis: &Axis<'_>) -> String {
    let mut out = String::from(r#"<div class="ops-tiles">"#);
    let open: i64 = board.processes.iter().map(|p| p.sockets.open).sum();
    tile(&mut out, "sockets-open", "sockets open", open);
    tile(&mut out, "groups", "groups", board.groups.len());
    tile(
        &mut out,
        "processes",
        "web processes",
        board.processes.len(),
    );
    let drops: u64 = board.processes.iter().map(|p| p.sockets.drops).sum();
    tile(&mut out, "drops", "capacity drops", drops);
    out.push_str("</div>");
    let (sockets, sends, deliveries) = (
        values(series, "sockets_open"),
        values(series, "group_sends"),
        values(series, "deliveries"),
    );
    out.push_str(&line_chart(
        "channels",
        "Sockets open, group messages per second",
        axis,
        &[
            Line {
                label: "open",
                values: &sockets,
            },
            Line {
                label: "sent/s",
                values: &sends,
            },
            Line {
                label: "delivered/s",
                values: &deliveries,
            },
        ],
    ));
    out.push_str("<h3>Processes</h3><table><tr><th>process</th><th>command</th><th>open</th><th>by route</th><th>sent</th><th>delivered</th><th>drops</th><th>published</th></tr>");
    for p in &board.processes {
        let routes: Vec<String> = p
            .sockets
            .routes
            .iter()
            .map(|(r, n)| format!("{}: {n}", esc(r)))
            .collect();
        let _ = write!(
            out,
            r#"<tr><td data-process="{}">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>"#,
            esc(&p.id),
            esc(&p.id),
            esc(&p.command),
            p.sockets.open,
            routes.join(", "),
            p.sockets.group_sends,
            p.sockets.deliveries,
            p.sockets.drops,
            age(p.at)
        );
    }
    out.push_str("</table><h3>Groups</h3><table><tr><th>group</th><th>members</th></tr>");
    for (group, members) in board.groups.iter().take(200) {
        let _ = write!(out, "<tr><td>{}</td><td>{members}</td></tr>", esc(group));
    }
    out.push_str("</table>");
    out
}

fn http(board: &Board, series: &Value, axis: &Axis<'_>) -> String {
    let mut out = String::from(r#"<div class="ops-tiles">"#);
    let routes = board.history.route_stats();
    let rps: f64 = routes.iter().map(|r| r.requests_per_second).sum();
    tile(&mut out, "http-rps", "requests/s", format!("{rps:.1}"));
    let in_flight: i64 = board.processes.iter().map(|p| p.http.in_flight).sum();
    tile(&mut out, "http-in-flight", "in flight", in_flight);
    out.push_str("</div>");
    let (requests, errors) = (
        values(series, "http_requests"),
        values(series, "http_errors"),
    );
    out.push_str(&line_chart(
        "http",
        "Requests per second",
        axis,
        &[
            Line {
                label: "requests",
                values: &requests,
            },
            Line {
                label: "5xx",
                values: &errors,
            },
        ],
    ));
    out.push_str("<h3>Routes (last minute)</h3><table><tr><th>route</th><th>req/s</th><th>p50</th><th>p99</th><th>status</th><th>total</th></tr>");
    for r in &routes {
        let status: Vec<String> = r.status.iter().map(|(k, n)| format!("{k}: {n}")).collect();
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{:.2}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&r.route),
            r.requests_per_second,
            seconds(r.p50),
            seconds(r.p99),
            esc(&status.join(", ")),
            r.total
        );
    }
    out.push_str("</table><h3>Runtime stalls</h3><table><tr><th>when</th><th>process</th><th>kind</th><th>where</th><th>blocked</th></tr>");
    let mut stalls: Vec<_> = board
        .processes
        .iter()
        .flat_map(|p| p.stalls.iter().map(move |s| (p, s)))
        .collect();
    stalls.sort_by(|a, b| b.1.at.total_cmp(&a.1.at));
    for (p, s) in stalls.into_iter().take(20) {
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{} <code>{}</code></td><td>{:.1} ms</td></tr>",
            age(s.at),
            esc(&p.id),
            esc(&s.kind),
            esc(&s.label),
            esc(&s.code),
            s.blocked_ms
        );
    }
    out.push_str("</table>");
    out
}

/// What could not be read, if anything, as a notice.
pub fn problems(board: &Board) -> String {
    if board.problems.is_empty() {
        return String::new();
    }
    let mut out = String::from(r#"<div class="ops-problems">"#);
    for (source, message) in &board.problems {
        let _ = write!(
            out,
            "<p><strong>{}</strong>: {}</p>",
            esc(source),
            esc(message)
        );
    }
    out.push_str("</div>");
    out
}
