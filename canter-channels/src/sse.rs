//! Server-sent events: a plain HTTP response that streams a group's messages, for clients and
//! proxies where WebSockets are not an option (`EventSource` in browsers).

use std::convert::Infallible;
use std::time::Duration;

use bytes::Bytes;
use canter_core::response::StreamingResponse;
use canter_core::{IntoResponse, Response};
use http::HeaderValue;

use std::sync::Arc;

use crate::layers::{channel_layer, ChannelLayer, Message};

/// Streams every message sent to `group` as an SSE event (`event: <type>`, `data: <JSON>`),
/// with a comment every 15 s to keep proxies from closing the stream. The subscription ends
/// (the group is left) when the client goes away.
///
/// A view streaming a chat room to the browser (`new EventSource("/events/lobby/")`); what a
/// consumer, a view or a task sends to the group with `group_send` arrives as an event:
///
/// ```
/// use canter_channels::{sse, Channels};
/// use canter_core::prelude::*;
///
/// async fn room_events(Path(room): Path<String>) -> Response {
///     sse::group_events(&format!("chat_{room}")).await
/// }
///
/// let app = App::new().plugin(Channels).urls(vec![path("events/<slug:room>/", room_events)]);
/// ```
pub async fn group_events(group: &str) -> Response {
    let layer = match channel_layer() {
        Ok(layer) => layer,
        Err(e) => {
            tracing::error!(target: "canter::channels", group, "{e}");
            return (http::StatusCode::INTERNAL_SERVER_ERROR, "no channel layer").into_response();
        }
    };
    let channel = layer.new_channel();
    if let Err(e) = layer.group_add(group, &channel).await {
        return (http::StatusCode::BAD_REQUEST, e.to_string()).into_response();
    }
    let guard = Leave {
        group: group.to_owned(),
        channel: channel.clone(),
        layer: layer.clone(),
    };
    let stream =
        futures_util::stream::unfold((guard, true), move |(guard, first)| async move {
            if first {
                return Some((
                    Ok::<_, Infallible>(Bytes::from_static(b": connected\n\n")),
                    (guard, false),
                ));
            }
            let layer = guard.layer.clone();
            let chunk =
                match tokio::time::timeout(Duration::from_secs(15), layer.receive(&guard.channel))
                    .await
                {
                    Ok(Ok(message)) => event(&message),
                    Ok(Err(_)) => return None,
                    Err(_) => Bytes::from_static(b": keep-alive\n\n"),
                };
            Some((Ok(chunk), (guard, false)))
        });
    let mut response = StreamingResponse::new(stream)
        .content_type("text/event-stream")
        .into_response();
    response.headers_mut().insert(
        http::header::CACHE_CONTROL,
        HeaderValue::from_static("no-cache"),
    );
    response
}

fn event(message: &Message) -> Bytes {
    let data = serde_json::Value::Object(message.0.clone()).to_string();
    Bytes::from(format!("event: {}\ndata: {data}\n\n", message.kind()))
}

/// Leaves the group when the stream (the response) is dropped.
struct Leave {
    group: String,
    channel: String,
    /// The app's layer, held: the body is polled (and dropped) outside the app's scope.
    layer: Arc<dyn ChannelLayer>,
}

impl Drop for Leave {
    fn drop(&mut self) {
        let (group, channel) = (
            std::mem::take(&mut self.group),
            std::mem::take(&mut self.channel),
        );
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            let layer = self.layer.clone();
            handle.spawn(async move {
                let _ = layer.group_discard(&group, &channel).await;
                layer.forget(&channel).await;
            });
        }
    }
}
