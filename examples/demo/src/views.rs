//! The article's views, and a few more that show the rest of the HTTP core.

use std::time::Duration;

use bytes::Bytes;
use canter::prelude::*;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::models::{MyModel, Note};

/// The article's `async_view`: awaits a 2-second sleep without holding up anyone else.
///
/// ```python
/// async def async_view(request):
///     await asyncio.sleep(2)
///     return JsonResponse({'message': 'Hello from async view'})
/// ```
pub async fn async_view(_req: Request) -> JsonResponse {
    tokio::time::sleep(Duration::from_secs(2)).await;
    JsonResponse::new(json!({"message": "Hello from async view"}))
}

/// The benchmark's hello JSON.
pub async fn hello(_req: Request) -> JsonResponse {
    JsonResponse::new(json!({"message": "Hello"}))
}

/// `/healthz/`: 200 `{"status": "ok"}` when the database answers, 503 naming what failed
/// otherwise — what a load balancer, Docker's HEALTHCHECK or systemd's watchdog asks.
pub async fn health(_req: Request) -> Response {
    match MyModel::objects().exists().await {
        Ok(_) => Json(json!({"status": "ok"})).into_response(),
        Err(e) => {
            tracing::error!(target: "demo", error = %e, "health check: the database does not answer");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({"status": "unavailable", "database": "does not answer"})),
            )
                .into_response()
        }
    }
}

/// Typed path parameters: `articles/<int:year>/<slug:slug>/`.
pub async fn article(Path((year, slug)): Path<(i64, String)>) -> Result<JsonResponse> {
    if year < 1900 {
        return Err(Error::not_found(format!("no articles from {year}")));
    }
    Ok(JsonResponse::new(json!({"year": year, "slug": slug})))
}

/// Best practice 1: blocking code goes through the explicit bridge.
pub async fn blocking(_req: Request) -> Result<JsonResponse> {
    let digest = sync_to_async(|| {
        // Stands in for a sync library call: CPU work on the blocking pool.
        (0..200_000u64).fold(0u64, |acc, n| acc.wrapping_mul(31).wrapping_add(n))
    })
    .await?;
    Ok(JsonResponse::new(json!({"digest": digest})))
}

/// A streaming response: five chunks, 100 ms apart.
pub async fn stream(_req: Request) -> impl IntoResponse {
    let chunks = futures_util::stream::unfold(0u32, |n| async move {
        if n == 5 {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        Some((
            Ok::<_, std::io::Error>(Bytes::from(format!("chunk {n}\n"))),
            n + 1,
        ))
    });
    StreamingResponse::new(chunks).content_type("text/plain; charset=utf-8")
}

/// A JSON view: invalid JSON is a 400 before this runs.
pub async fn echo(Json(body): Json<Value>) -> Json<Value> {
    Json(json!({"received": body}))
}

/// What a POST to `/api/notes/` carries.
#[derive(Deserialize)]
pub struct NewNote {
    pub text: String,
}

/// How many notes `GET /api/notes/` lists (the newest).
pub const NOTES_LISTED: u64 = 100;

/// A class-based view: `GET` lists the newest notes, `POST` adds one (stored through the ORM;
/// empty or longer than [`Note::MAX_LENGTH`] characters → 400); other methods get 405.
pub struct Notes;

#[view]
impl Notes {
    async fn get(&self, _req: Request) -> Result<Json<Vec<Note>>> {
        let notes = Note::objects()
            .order_by([Note::id.desc()])
            .limit(NOTES_LISTED)
            .await
            .map_err(|e| e.into_http())?;
        Ok(Json(notes))
    }

    async fn post(&self, mut req: Request) -> Result<(StatusCode, Json<Note>)> {
        let NewNote { text } = req.json().await?;
        if text.trim().is_empty() {
            return Err(Error::bad_request("text must not be empty"));
        }
        let note = Note::objects()
            .create(Note {
                id: 0,
                title: String::new(),
                text,
            })
            .await
            .map_err(|e| e.into_http())?;
        Ok((StatusCode::CREATED, Json(note)))
    }
}

/// The article's async ORM query:
///
/// ```python
/// data = await MyModel.objects.filter(active=True).afirst()
/// ```
pub async fn first_active(_req: Request) -> Result<Response> {
    let data = MyModel::objects()
        .filter(MyModel::active.eq(true))
        .first()
        .await
        .map_err(|e| e.into_http())?;
    Ok(match data {
        Some(row) => Json(row).into_response(),
        None => (
            StatusCode::NOT_FOUND,
            Json(json!({"error": "no active MyModel"})),
        )
            .into_response(),
    })
}

/// Rows as JSON, filtered by the query string mapped onto lookups
/// (`?active=true&name__icontains=x&limit=10`); unknown fields or lookups → 400 naming them.
pub async fn mymodel_list(req: Request) -> Result<Response> {
    let pairs: Vec<(String, String)> = req.query::<Vec<(String, String)>>()?;
    let mut limit = 100u64;
    let mut lookups = Vec::new();
    for (key, value) in &pairs {
        if key == "limit" {
            limit = match value.parse::<u64>() {
                Ok(n) if (1..=1000).contains(&n) => n,
                _ => {
                    return Ok(bad_request(format!(
                        "limit must be a number from 1 to 1000, not {value:?}"
                    )))
                }
            };
        } else {
            lookups.push((key.as_str(), value.as_str()));
        }
    }
    let queryset = match MyModel::objects().filter_params(lookups) {
        Ok(qs) => qs,
        Err(e) => return Ok(bad_request(e.to_string())),
    };
    let rows = queryset
        .order_by([MyModel::id.asc()])
        .limit(limit)
        .await
        .map_err(|e| e.into_http())?;
    Ok(Json(rows).into_response())
}

#[derive(Deserialize)]
struct LongRunning {
    #[serde(default = "five")]
    seconds: u64,
}

fn five() -> u64 {
    5
}

/// Enqueues the article's `long_running_task` (`?seconds=` from 0 to 60, default 5) and answers
/// at once: 202 with the task id and where to ask for its result.
pub async fn start_long_running_task(req: Request) -> Result<Response> {
    let LongRunning { seconds } = req.query()?;
    if seconds > 60 {
        return Ok(bad_request(format!(
            "seconds must be from 0 to 60, not {seconds}"
        )));
    }
    let handle = crate::tasks::long_running_task::delay(seconds).await?;
    let status_url = req.reverse("task-status", &[("id", handle.id.clone())])?;
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({"task_id": handle.id, "status_url": status_url})),
    )
        .into_response())
}

/// Celery's canvas over `demo.add`: a chain, (2 + 3) + 4, and a chord, the sum of
/// 1 + 1, 2 + 2 and 3 + 3 by `demo.sum`. Answers 202 with both handles; `task_id` is the
/// chord's (the last to finish).
pub async fn start_pipeline(req: Request) -> Result<Response> {
    use canter::tasks::canvas::{chain, chord, group, Signature};
    let chained = chain(vec![
        Signature::new("demo.add", json!([2, 3])),
        Signature::new("demo.add", json!([4])),
    ])
    .apply_async()
    .await?;
    let members = (1..=3)
        .map(|n| Signature::new("demo.add", json!([n, n])))
        .collect();
    let summed = chord(group(members), Signature::new("demo.sum", json!([])))
        .apply_async()
        .await?;
    let url = |id: &str| req.reverse("task-status", &[("id", id.to_owned())]);
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({
            "task_id": summed.id,
            "status_url": url(&summed.id)?,
            "chain": {"task_id": chained.id, "status_url": url(&chained.id)?},
        })),
    )
        .into_response())
}

/// A task's state (Celery's names: PENDING, STARTED, RETRY, SUCCESS, FAILURE, REVOKED) and,
/// when done, its result or error.
pub async fn task_status(req: Request) -> Result<Json<Value>> {
    let id: String = req.param("id")?;
    let info = canter::tasks::AsyncResult::<Value>::new(id.clone())
        .info()
        .await?;
    let mut body = json!({"task_id": id, "status": info.status.as_str()});
    if let Some(result) = info.result {
        body["result"] = result;
    }
    if let Some((kind, message)) = info.error {
        body["error"] = json!({"type": kind, "message": message});
    }
    Ok(Json(body))
}

fn bad_request(message: String) -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({"error": message}))).into_response()
}

/// The room's messages as server-sent events (for clients without WebSockets).
pub async fn chat_events(req: Request) -> Result<Response> {
    let room: String = req.param("room")?;
    Ok(canter::channels::sse::group_events(&crate::consumers::group_name(&room)).await)
}
