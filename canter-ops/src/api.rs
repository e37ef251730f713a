//! The JSON API under `/ops/api/` (documented in docs/ops.md): what the page shows, for other
//! tools. Every view checks access first ([`crate::auth`]); parameters are checked and refused
//! with 400 and a message naming the parameter.

use std::collections::BTreeMap;
use std::sync::Arc;

use canter_core::response::Json;
use canter_core::{IntoResponse, Request, RequestExt, Response};
use canter_tasks::control::{self, WorkerInfo};
use canter_tasks::{ApplyOptions, AsyncResult};
use http::StatusCode;
use serde_json::{json, Value};

use crate::auth::{check, json_error, Audience};
use crate::board::{Board, OpsState};
use crate::history::rates;
use crate::process::now;

/// The longest task id taken (Celery's are UUIDs; other clients choose their own).
pub const MAX_TASK_ID: usize = 200;

/// The dashboard's state, once the request is let in (the request is read before the
/// returned future runs).
pub(crate) fn enter<'a>(
    req: &'a Request,
    audience: Audience,
) -> impl std::future::Future<Output = Result<Arc<OpsState>, Response>> + Send + 'a {
    let state = canter_kernel::services::require::<Arc<OpsState>>("ops dashboard (the Ops plugin)")
        .map_err(|e| json_error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()));
    let checked = state.as_ref().ok().map(|state| check(req, state, audience));
    async move {
        let state = state?;
        if let Some(checked) = checked {
            checked.await?;
        }
        Ok(state)
    }
}

fn bad_request(message: String) -> Response {
    json_error(StatusCode::BAD_REQUEST, &message)
}

// The refusal is the response itself, made once per request: not worth a box.
#[allow(clippy::result_large_err)]
/// A task id from the path: 1 to [`MAX_TASK_ID`] of `A-Z a-z 0-9 - _ . :`.
pub(crate) fn task_id(req: &Request) -> Result<String, Response> {
    let id: String = req.param("id").map_err(|e| bad_request(e.to_string()))?;
    let valid = !id.is_empty()
        && id.len() <= MAX_TASK_ID
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b));
    if valid {
        Ok(id)
    } else {
        Err(bad_request(format!(
            "invalid task id: 1 to {MAX_TASK_ID} characters of A-Z, a-z, 0-9, '-', '_', '.', ':'"
        )))
    }
}

#[allow(clippy::result_large_err)] // as task_id
/// Integer query parameter `name` within `range`, `default` when absent.
pub(crate) fn int_param(
    req: &Request,
    name: &str,
    range: std::ops::RangeInclusive<u64>,
    default: u64,
) -> Result<u64, Response> {
    let Some(raw) = req.query_param(name) else {
        return Ok(default);
    };
    match raw.parse::<u64>() {
        Ok(n) if range.contains(&n) => Ok(n),
        _ => Err(bad_request(format!(
            "{name} must be an integer from {} to {}",
            range.start(),
            range.end()
        ))),
    }
}

macro_rules! enter {
    ($req:expr) => {
        match enter(&$req, Audience::Api).await {
            Ok(state) => state,
            Err(response) => return response,
        }
    };
}

/// A worker as the API shows it: its snapshot, alive, heartbeat age, running count.
pub(crate) fn worker_json(worker: &WorkerInfo) -> Value {
    let mut value = serde_json::to_value(worker).unwrap_or_default();
    let now = now();
    if let Some(active) = value["active"].as_array_mut() {
        for task in active {
            if let Some(started) = task["started"].as_f64() {
                task["running_for"] = json!((now - started).max(0.0));
            }
        }
    }
    value["alive"] = json!(worker.alive());
    value["heartbeat_age"] = json!(worker.heartbeat_age());
    value["running"] = value["active"].take();
    value["active"] = json!(worker.active.len());
    value
}

/// `GET /ops/api/summary/`: the whole system in one answer.
pub fn summary_json(board: &Board) -> Value {
    let sockets: BTreeMap<&str, i64> = board
        .processes
        .iter()
        .map(|p| (p.id.as_str(), p.sockets.open))
        .collect();
    let groups: BTreeMap<&str, usize> =
        board.groups.iter().map(|(g, n)| (g.as_str(), *n)).collect();
    let queues: BTreeMap<&str, u64> = board
        .queues
        .iter()
        .map(|q| (q.name.as_str(), q.waiting))
        .collect();
    let routes = board.history.route_stats();
    json!({
        "at": board.history.latest().map(|s| s.at),
        "workers": board.workers.iter().map(worker_json).collect::<Vec<_>>(),
        "queues": queues,
        "tasks": board.book.states(),
        "task_events": board.book.counts(),
        "sockets": {"total": sockets.values().sum::<i64>(), "processes": sockets},
        "groups": groups,
        "http": {
            "in_flight": board.processes.iter().map(|p| p.http.in_flight).sum::<i64>(),
            "requests_per_second": routes.iter().map(|r| r.requests_per_second).sum::<f64>(),
        },
        "processes": board.processes.iter().map(|p| json!({
            "id": p.id, "host": p.host, "pid": p.pid, "command": p.command,
            "age": (now() - p.at).max(0.0), "sockets": p.sockets.open, "in_flight": p.http.in_flight,
        })).collect::<Vec<_>>(),
        "problems": board.problems,
    })
}

/// `GET /ops/api/summary/`.
pub async fn summary(req: Request) -> Response {
    let state = enter!(req);
    let body = summary_json(&state.board());
    Json(body).into_response()
}

/// `GET /ops/api/workers/`: every worker heard of in the last hour, dead ones as not alive.
pub async fn workers(req: Request) -> Response {
    let state = enter!(req);
    let board = state.board();
    Json(json!({"workers": board.workers.iter().map(worker_json).collect::<Vec<_>>()}))
        .into_response()
}

/// `GET /ops/api/queues/`: depth and consumers per queue.
pub async fn queues(req: Request) -> Response {
    let state = enter!(req);
    let body = json!({"queues": state.board().queues});
    Json(body).into_response()
}

/// `GET /ops/api/tasks/?limit=N` (1–500, default 50): the newest tasks seen.
pub async fn recent_tasks(req: Request) -> Response {
    let state = enter!(req);
    let limit = match int_param(&req, "limit", 1..=500, 50) {
        Ok(limit) => limit as usize,
        Err(response) => return response,
    };
    let body = json!({"tasks": state.board().book.recent(limit)});
    Json(body).into_response()
}

/// `GET /ops/api/tasks/<id>/`: status and result (from the result backend), arguments and
/// history (from the events seen); 404 when neither knows it.
pub async fn task_detail(req: Request) -> Response {
    let state = enter!(req);
    let id = match task_id(&req) {
        Ok(id) => id,
        Err(response) => return response,
    };
    let stored = match AsyncResult::<Value>::new(id.clone()).info().await {
        Ok(info) => Some(info),
        Err(e) => return json_error(StatusCode::SERVICE_UNAVAILABLE, &e.to_string()),
    };
    let seen = state.board().book.task(&id).cloned();
    let status = stored
        .as_ref()
        .map(|s| s.status.as_str())
        .unwrap_or("PENDING");
    if seen.is_none() && status == "PENDING" {
        return json_error(
            StatusCode::NOT_FOUND,
            "no task with this id is known (its events and result are gone, or it never ran)",
        );
    }
    let mut body = json!({"id": id, "status": status});
    if let Some(stored) = stored {
        body["result"] = stored.result.unwrap_or(Value::Null);
        if let Some((kind, message)) = stored.error {
            body["error"] = json!({"type": kind, "message": message});
        }
    }
    if let Some(task) = seen {
        body["name"] = json!(task.name);
        body["state"] = json!(task.state);
        body["args"] = task.args;
        body["kwargs"] = task.kwargs;
        body["queue"] = json!(task.queue);
        body["worker"] = json!(task.worker);
        body["runtime"] = json!(task.runtime);
        body["exception"] = json!(task.exception);
        body["history"] = json!(task
            .history
            .iter()
            .map(|(kind, at)| json!({"event": kind, "at": at}))
            .collect::<Vec<_>>());
    }
    Json(body).into_response()
}

/// `POST /ops/api/tasks/<id>/revoke/`: skipped if not started, stopped if running.
pub async fn revoke(req: Request) -> Response {
    let _state = enter!(req);
    let id = match task_id(&req) {
        Ok(id) => id,
        Err(response) => return response,
    };
    match control::revoke(&id).await {
        Ok(()) => Json(json!({"revoked": id})).into_response(),
        Err(e) => json_error(StatusCode::SERVICE_UNAVAILABLE, &e.to_string()),
    }
}

/// `POST /ops/api/tasks/<id>/retry/`: sends a failed (or revoked) task again, or a dead
/// letter, as a new task with the same name and arguments; answers the new id.
pub async fn retry(req: Request) -> Response {
    let state = enter!(req);
    let id = match task_id(&req) {
        Ok(id) => id,
        Err(response) => return response,
    };
    let seen = state.board().book.task(&id).cloned();
    let (name, args, kwargs, queue) = match seen {
        Some(task) if task.state == "FAILURE" || task.state == "REVOKED" => {
            (task.name, task.args, task.kwargs, task.queue)
        }
        Some(task) => {
            return json_error(
                StatusCode::CONFLICT,
                &format!("task is {}, not failed or revoked", task.state),
            )
        }
        None => match control::dead_letters().await {
            Ok(letters) => match letters.into_iter().find(|l| l.id == id && l.retriable) {
                Some(letter) => (letter.name, letter.args, letter.kwargs, Some(letter.queue)),
                None => {
                    return json_error(
                        StatusCode::NOT_FOUND,
                        "no failed task or retriable dead letter with this id is known",
                    )
                }
            },
            Err(e) => return json_error(StatusCode::SERVICE_UNAVAILABLE, &e.to_string()),
        },
    };
    let args = if args.is_array() { args } else { json!([]) };
    let kwargs = if kwargs.is_object() {
        kwargs
    } else {
        json!({})
    };
    let options = ApplyOptions {
        queue,
        ..ApplyOptions::default()
    };
    match canter_tasks::send_task(&name, args, kwargs, options).await {
        Ok(sent) => (
            StatusCode::ACCEPTED,
            Json(json!({"retried": id, "id": sent.id})),
        )
            .into_response(),
        Err(e) => json_error(StatusCode::SERVICE_UNAVAILABLE, &e.to_string()),
    }
}

/// `GET /ops/api/failures/`: the latest failures, newest first.
pub async fn failures(req: Request) -> Response {
    let state = enter!(req);
    let body = json!({"failures": state.board().book.failures()});
    Json(body).into_response()
}

/// `GET /ops/api/scheduled/`: tasks waiting for their ETA, and periodic entries' next runs.
pub async fn scheduled(req: Request) -> Response {
    let state = enter!(req);
    let board = state.board();
    let periodic: Vec<Value> = board
        .periodic
        .iter()
        .map(|(entry, task, next)| json!({"entry": entry, "task": task, "next_run": next}))
        .collect();
    Json(json!({"eta": board.scheduled, "periodic": periodic})).into_response()
}

/// `GET /ops/api/dead-letters/`.
pub async fn dead_letters(req: Request) -> Response {
    let state = enter!(req);
    let body = json!({"dead_letters": state.board().dead_letters});
    Json(body).into_response()
}

/// `POST /ops/api/dead-letters/retry/`: every retriable dead letter sent again.
pub async fn retry_dead_letters(req: Request) -> Response {
    let _state = enter!(req);
    match control::retry_dead_letters().await {
        Ok(sent) => Json(json!({"retried": sent})).into_response(),
        Err(e) => json_error(StatusCode::SERVICE_UNAVAILABLE, &e.to_string()),
    }
}

/// `GET /ops/api/task-times/`: run time and wait percentiles per task name.
pub async fn task_times(req: Request) -> Response {
    let state = enter!(req);
    let body = json!({"tasks": state.board().book.times()});
    Json(body).into_response()
}

/// The series of the last `seconds`: per-second rates and levels, one point per sample.
pub fn series_json(board: &Board, seconds: f64) -> Value {
    let samples: Vec<_> = board.history.since(seconds).collect();
    let points = |f: &dyn Fn(&crate::history::Sample) -> f64| -> Vec<f64> {
        samples.iter().skip(1).map(|s| f(s)).collect()
    };
    let mut queues: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for name in samples.iter().flat_map(|s| s.queues.keys()) {
        queues.entry(name.clone()).or_default();
    }
    for (name, values) in queues.iter_mut() {
        *values = points(&|s| s.queues.get(name).copied().unwrap_or(0) as f64);
    }
    json!({
        "at": points(&|s| s.at),
        "tasks_received": rates(&samples, |s| s.tasks.received),
        "tasks_succeeded": rates(&samples, |s| s.tasks.succeeded),
        "tasks_failed": rates(&samples, |s| s.tasks.failed),
        "tasks_retried": rates(&samples, |s| s.tasks.retried),
        "http_requests": rates(&samples, |s| s.http_requests),
        "http_errors": rates(&samples, |s| s.http_errors),
        "http_in_flight": points(&|s| s.http_in_flight as f64),
        "sockets_open": points(&|s| s.sockets_open as f64),
        "group_sends": rates(&samples, |s| s.group_sends),
        "deliveries": rates(&samples, |s| s.deliveries),
        "drops": rates(&samples, |s| s.drops),
        "workers_alive": points(&|s| s.workers_alive as f64),
        "tasks_active": points(&|s| s.tasks_active as f64),
        "queues": queues,
    })
}

/// `GET /ops/api/series/?minutes=N` (1–15, default 15).
pub async fn series(req: Request) -> Response {
    let state = enter!(req);
    let minutes = match int_param(&req, "minutes", 1..=15, 15) {
        Ok(m) => m,
        Err(response) => return response,
    };
    let body = series_json(&state.board(), minutes as f64 * 60.0);
    Json(body).into_response()
}

/// `GET /ops/api/channels/`: sockets per process and route, groups, message counts.
pub async fn channels(req: Request) -> Response {
    let state = enter!(req);
    let board = state.board();
    let processes: Vec<Value> = board
        .processes
        .iter()
        .map(|p| json!({"id": p.id, "host": p.host, "pid": p.pid, "sockets": p.sockets}))
        .collect();
    let groups: BTreeMap<&str, usize> =
        board.groups.iter().map(|(g, n)| (g.as_str(), *n)).collect();
    Json(json!({"processes": processes, "groups": groups})).into_response()
}

/// `GET /ops/api/http/`: per-route figures over the last minute, in-flight and stall
/// warnings per process.
pub async fn http(req: Request) -> Response {
    let state = enter!(req);
    let board = state.board();
    let processes: Vec<Value> = board
        .processes
        .iter()
        .map(|p| json!({"id": p.id, "in_flight": p.http.in_flight, "stalls": p.stalls}))
        .collect();
    Json(json!({"routes": board.history.route_stats(), "processes": processes})).into_response()
}
