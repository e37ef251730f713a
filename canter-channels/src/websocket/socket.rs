//! One socket's task, once the handshake is accepted: frames in to the consumer, what it sends
//! out in bursts, the channel layer's messages to its `event`, pings and the idle timer, the
//! server's shutdown; then `disconnect` and leaving its groups, however it ended.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{self, Message as WsMessage};
use tokio_tungstenite::WebSocketStream;

use super::ChannelsSettings;
use crate::consumer::{Consumer, Context, Frame, Outgoing};
use crate::layers::{ChannelLayer, LayerError, Message};

fn close_frame(code: u16, reason: &str) -> WsMessage {
    WsMessage::Close(Some(CloseFrame {
        code: CloseCode::from(code),
        reason: reason.to_owned().into(),
    }))
}

/// Writes `first` and every frame already queued for the socket, then flushes once (one write
/// for a burst, not one per frame). Returns the code to end with: the consumer's close, or
/// 1006 when the socket is gone.
async fn write_pending<S>(
    sink: &mut Sink<S>,
    outbound: &mut mpsc::Receiver<Outgoing>,
    first: Option<Outgoing>,
) -> Option<u16>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut next = Some(first.or_else(|| outbound.try_recv().ok())?);
    while let Some(out) = next {
        let frame = match out {
            Outgoing::Frame(Frame::Text(text)) => WsMessage::Text(text.into()),
            Outgoing::Frame(Frame::Binary(bytes)) => WsMessage::Binary(bytes),
            Outgoing::Close(code, reason) => {
                let _ = sink.send(close_frame(code, &reason)).await;
                return Some(code);
            }
        };
        if sink.feed(frame).await.is_err() {
            return Some(1006);
        }
        next = outbound.try_recv().ok();
    }
    sink.flush().await.err().map(|_| 1006)
}

/// The close code and reason for a frame the socket could not read: too big (1009), a
/// protocol violation (1002), a text frame that is not UTF-8 (1007); `None` when the connection
/// itself is gone (1006: no Close frame can be sent).
fn close_for(error: &tungstenite::Error) -> Option<(u16, &'static str)> {
    use tungstenite::error::ProtocolError;
    match error {
        tungstenite::Error::Capacity(_) => Some((1009, "message too big")),
        tungstenite::Error::Protocol(ProtocolError::ResetWithoutClosingHandshake) => None,
        tungstenite::Error::Protocol(_) => Some((1002, "protocol error")),
        tungstenite::Error::Utf8(_) => Some((1007, "invalid UTF-8")),
        _ => None,
    }
}

/// The socket's life: frames in, frames out, layer messages, pings, the server's shutdown
/// (1001); then `disconnect` and leaving the groups, however it ended. Long because it is one
/// `select!` loop whose arms share the socket's state; each arm calls a named step.
pub(super) async fn run<S, C>(
    ws: WebSocketStream<S>,
    mut consumer: C,
    mut ctx: Context,
    mut outbound: mpsc::Receiver<Outgoing>,
    layer: Arc<dyn ChannelLayer>,
    limits: ChannelsSettings,
    shutdown: Option<canter_core::server::Shutdown>,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    C: Consumer,
{
    let (mut sink, mut stream) = ws.split();
    let channel = ctx.channel_name().to_owned();
    let mut last_seen = Instant::now();
    let idle = Duration::from_secs_f64(limits.idle_timeout);
    let mut ping = tokio::time::interval(Duration::from_secs_f64(limits.ping_interval));
    ping.reset();
    // One receive from the layer, kept across turns of the loop (not made anew each turn: that
    // looked the channel up and locked its queue for every frame in or out).
    let mut incoming = layer.receive(&channel);
    let stopping = async move {
        match shutdown {
            Some(server) => server.requested().await,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(stopping);
    let code: u16 = loop {
        let ended = tokio::select! {
            frame = stream.next() => {
                last_seen = Instant::now();
                on_frame(frame, &mut consumer, &mut ctx, &mut sink, &mut outbound).await
            }
            out = outbound.recv() => match out {
                Some(out) => write_pending(&mut sink, &mut outbound, Some(out)).await,
                None => Some(1000),
            },
            message = &mut incoming => {
                incoming = layer.receive(&channel);
                on_layer_message(message, &mut consumer, &mut ctx, &mut sink, &mut outbound).await
            }
            () = &mut stopping => {
                let _ = sink.send(close_frame(1001, "server shutting down")).await;
                Some(1001)
            }
            _ = ping.tick() => {
                if last_seen.elapsed() > idle {
                    let _ = sink.send(close_frame(1001, "idle timeout")).await;
                    Some(1001)
                } else if sink.send(WsMessage::Ping(Default::default())).await.is_err() {
                    Some(1006)
                } else {
                    None
                }
            }
        };
        if let Some(code) = ended {
            break code;
        }
    };
    drop(incoming);
    // Finish the closing handshake: read until the client's Close (or a second), so frames in
    // flight (a pong) do not hit a dropped socket.
    if code != 1006 {
        let _ = sink.flush().await;
        let _ = tokio::time::timeout(Duration::from_secs(1), async {
            while let Some(Ok(message)) = stream.next().await {
                if message.is_close() {
                    break;
                }
            }
        })
        .await;
    }
    ctx.closed = true;
    consumer.disconnect(&mut ctx, code).await;
    for group in std::mem::take(&mut ctx.groups) {
        let _ = layer.group_discard(&group, &channel).await;
    }
    layer.forget(&channel).await;
}

type Sink<S> = futures_util::stream::SplitSink<WebSocketStream<S>, WsMessage>;

/// A frame from the client (or the stream's end) given to the consumer, then what it sent in
/// answer written in one go; `Some(code)` when the socket ends.
async fn on_frame<S, C>(
    frame: Option<Result<WsMessage, tungstenite::Error>>,
    consumer: &mut C,
    ctx: &mut Context,
    sink: &mut Sink<S>,
    outbound: &mut mpsc::Receiver<Outgoing>,
) -> Option<u16>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    C: Consumer,
{
    let result = match frame {
        Some(Ok(WsMessage::Text(text))) => {
            consumer
                .receive(ctx, Frame::Text(text.as_str().to_owned()))
                .await
        }
        Some(Ok(WsMessage::Binary(bytes))) => consumer.receive(ctx, Frame::Binary(bytes)).await,
        Some(Ok(WsMessage::Ping(_) | WsMessage::Pong(_) | WsMessage::Frame(_))) => {
            // tungstenite queues the pong; flushing sends it.
            let _ = sink.flush().await;
            Ok(())
        }
        Some(Ok(WsMessage::Close(frame))) => {
            let code = frame.map(|f| u16::from(f.code)).unwrap_or(1005);
            let _ = sink.close().await;
            return Some(code);
        }
        Some(Err(e)) => {
            return match close_for(&e) {
                Some((code, reason)) => {
                    tracing::debug!(target: "canter::channels", code, "closing: {e}");
                    let _ = sink.send(close_frame(code, reason)).await;
                    Some(code)
                }
                None => Some(1006),
            }
        }
        None => return Some(1006),
    };
    if let Err(e) = result {
        if matches!(e, crate::ConsumerError::SlowClient) {
            let _ = sink.send(close_frame(1013, "client too slow")).await;
            return Some(1013);
        }
        tracing::warn!(target: "canter::channels", "consumer error: {e}");
    }
    // What the consumer sent in answer goes out now, in one write.
    write_pending(sink, outbound, None).await
}

/// A channel-layer message for this socket's channel given to the consumer's `event` (one
/// of an unknown `type` is logged and dropped), then what it sent written; `Some(code)` when
/// the socket ends.
async fn on_layer_message<S, C>(
    message: Result<Message, LayerError>,
    consumer: &mut C,
    ctx: &mut Context,
    sink: &mut Sink<S>,
    outbound: &mut mpsc::Receiver<Outgoing>,
) -> Option<u16>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    C: Consumer,
{
    let message = match message {
        Ok(message) => message,
        Err(e) => {
            tracing::warn!(target: "canter::channels", "channel layer error: {e}");
            tokio::time::sleep(Duration::from_millis(100)).await;
            return None;
        }
    };
    let event = match message.into_event::<C::Event>() {
        Ok(event) => event,
        Err(e) => {
            // serde's error names the unknown `type`.
            tracing::warn!(target: "canter::channels", "no handler for this message ({e}); dropped");
            return None;
        }
    };
    if let Err(e) = consumer.event(ctx, event).await {
        if matches!(e, crate::ConsumerError::SlowClient) {
            let _ = sink.send(close_frame(1013, "client too slow")).await;
            return Some(1013);
        }
        tracing::warn!(target: "canter::channels", "event handler error: {e}");
    }
    write_pending(sink, outbound, None).await
}
