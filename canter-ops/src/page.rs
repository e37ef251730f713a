//! The live page `/ops/`: the sections rendered on the server, then refreshed from a stream of
//! server-sent events (`/ops/stream/`) as the board changes — at most four times a second,
//! and every 15 s regardless. Actions (retry, revoke) post with the CSRF token in a header.
//! The script and styles are served by the dashboard itself (`/ops/assets/…`): no network.

use std::convert::Infallible;
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use canter_core::escape_html as esc;
use canter_core::request::RequestContext;
use canter_core::response::{Html, StreamingResponse};
use canter_core::{IntoResponse, Request, Response};
use http::{header, HeaderValue};
use serde_json::json;

use crate::api::enter;
use crate::auth::Audience;
use crate::board::OpsState;
use crate::render::{problems, sections};

/// The least time between two updates of one page.
pub const MIN_UPDATE_GAP: Duration = Duration::from_millis(250);
/// An update is sent at least this often (it also keeps proxies from closing the stream).
pub const MAX_UPDATE_GAP: Duration = Duration::from_secs(15);

const TITLES: [(&str, &str); 5] = [
    ("tasks", "Tasks"),
    ("workers", "Workers"),
    ("queues", "Queues"),
    ("channels", "Channels"),
    ("http", "HTTP"),
];

/// `GET /ops/`.
pub async fn page(req: Request) -> Response {
    let state = match enter(&req, Audience::Page).await {
        Ok(state) => state,
        Err(response) => return response,
    };
    let token = canter_accounts::csrf::get_token(&req).unwrap_or_default();
    // Rendering reads the whole board: off the runtime's threads.
    let rendered = tokio::task::spawn_blocking(move || {
        let board = state.board();
        (sections(&board), problems(&board))
    })
    .await
    .unwrap_or_default();
    let mut body = String::with_capacity(64 * 1024);
    let _ = write!(
        body,
        r#"<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Operations · canter</title><meta name="viewport" content="width=device-width, initial-scale=1"><meta name="csrf-token" content="{}"><link rel="stylesheet" href="assets/ops.css"></head><body><header><h1>Operations</h1><nav>"#,
        esc(&token)
    );
    for (id, title) in TITLES {
        let _ = write!(body, r##"<a href="#ops-{id}">{title}</a>"##);
    }
    body.push_str(
        r#"</nav><span id="ops-live" class="ops-live">connecting…</span></header><main>"#,
    );
    body.push_str(r#"<section class="ops-tools"><form id="ops-search"><label>Task id <input name="id" maxlength="200" required></label><button type="submit">Search</button><button type="button" id="ops-revoke">Revoke</button></form><pre id="ops-result" hidden></pre></section>"#);
    let _ = write!(body, r#"<div id="ops-problems">{}</div>"#, rendered.1);
    for ((id, html), (_, title)) in rendered.0.iter().zip(TITLES) {
        let _ = write!(
            body,
            r#"<section><h2>{title}</h2><div id="ops-{id}">{html}</div></section>"#
        );
    }
    body.push_str(r#"</main><script src="assets/ops.js"></script></body></html>"#);
    let mut response = Html(body).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// One update: every section and the problems notice, as an SSE event `board`.
fn update(state: &OpsState) -> Bytes {
    let board = state.board();
    let sections: serde_json::Map<String, serde_json::Value> = sections(&board)
        .into_iter()
        .map(|(k, v)| (k.to_owned(), json!(v)))
        .collect();
    let data =
        json!({"sections": sections, "problems": problems(&board), "at": crate::process::now()});
    Bytes::from(format!("event: board\ndata: {data}\n\n"))
}

/// `GET /ops/stream/`: the page's updates as server-sent events.
pub async fn stream(req: Request) -> Response {
    let state = match enter(&req, Audience::Api).await {
        Ok(state) => state,
        Err(response) => return response,
    };
    let updates = state.updates.subscribe();
    // The stream ends when the server shuts down (it would hold a graceful shutdown open).
    let shutdown = RequestContext::of(req.extensions())
        .and_then(|context| context.app().shutdown())
        .cloned();
    let stream = futures_util::stream::unfold(
        (state, updates, true),
        move |(state, mut updates, first): (Arc<OpsState>, _, bool)| {
            let shutdown = shutdown.clone();
            async move {
                if !first {
                    let wait = async {
                        tokio::time::sleep(MIN_UPDATE_GAP).await;
                        let _ = tokio::time::timeout(MAX_UPDATE_GAP, updates.changed()).await;
                    };
                    match &shutdown {
                        Some(shutdown) => tokio::select! {
                            _ = wait => {}
                            _ = shutdown.requested() => return None,
                        },
                        None => wait.await,
                    }
                }
                let _ = updates.borrow_and_update();
                let rendering = state.clone();
                let chunk = tokio::task::spawn_blocking(move || update(&rendering))
                    .await
                    .unwrap_or_default();
                Some((Ok::<_, Infallible>(chunk), (state, updates, false)))
            }
        },
    );
    let mut response = StreamingResponse::new(stream)
        .content_type("text/event-stream")
        .into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
        .headers_mut()
        .insert("x-accel-buffering", HeaderValue::from_static("no"));
    response
}

/// `GET /ops/assets/ops.js`.
pub async fn script(_req: Request) -> Response {
    asset(
        include_str!("assets/ops.js"),
        "text/javascript; charset=utf-8",
    )
}

/// `GET /ops/assets/ops.css`.
pub async fn styles(_req: Request) -> Response {
    asset(include_str!("assets/ops.css"), "text/css; charset=utf-8")
}

fn asset(text: &'static str, content_type: &'static str) -> Response {
    let mut response = text.into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("max-age=300"),
    );
    response
}
