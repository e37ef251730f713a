//! Testing consumers without a socket (Channels' `WebsocketCommunicator`): the handshake goes
//! through the app's whole request path (host checks, middleware, routing), and the socket is
//! an in-memory pipe.
//!
//! ```no_run
//! # async fn demo(client: canter_core::test::TestClient) {
//! use canter_channels::testing::WebsocketCommunicator;
//! let mut ws = WebsocketCommunicator::connect(client.service(), "/ws/hello/").await.unwrap();
//! assert_eq!(ws.receive_text().await.unwrap(), "Hello, WebSocket!");
//! ws.close(1000).await;
//! # }
//! ```

use std::sync::{Arc, Mutex};
use std::time::Duration;

use canter_core::app::CanterService;
use canter_core::Body;
use futures_util::{SinkExt, StreamExt};
use http::{header, HeaderValue, StatusCode};
use tokio::io::DuplexStream;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role, WebSocketConfig};
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::WebSocketStream;

use crate::websocket::InProcessSocket;

/// How long `receive_*` waits by default.
pub const TIMEOUT: Duration = Duration::from_secs(2);

/// A connected test client of a consumer.
pub struct WebsocketCommunicator {
    ws: WebSocketStream<DuplexStream>,
    /// The close code the server sent, once it closed.
    pub close_code: Option<u16>,
}

impl WebsocketCommunicator {
    /// Connects to `path`; `Err(status)` when the handshake is refused (403 from a consumer
    /// that closed in `connect`, 404 for no route, …).
    pub async fn connect(service: &CanterService, path: &str) -> Result<Self, StatusCode> {
        Self::connect_with(service, path, &[]).await
    }

    /// Connects with extra handshake headers (`Origin`, `Cookie`, `Sec-WebSocket-Protocol`…).
    pub async fn connect_with(
        service: &CanterService,
        path: &str,
        headers: &[(&str, &str)],
    ) -> Result<Self, StatusCode> {
        let (client, server) = tokio::io::duplex(64 * 1024);
        let mut req = http::Request::builder()
            .method("GET")
            .uri(path)
            .header(header::HOST, "testserver")
            .header(header::UPGRADE, "websocket")
            .header(header::CONNECTION, "Upgrade")
            .header(header::SEC_WEBSOCKET_VERSION, "13")
            .header(header::SEC_WEBSOCKET_KEY, "dGhlIHNhbXBsZSBub25jZQ==")
            .body(Body::empty())
            .expect("a valid handshake request");
        for (name, value) in headers {
            if let (Ok(name), Ok(value)) = (
                header::HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_str(value),
            ) {
                req.headers_mut().insert(name, value);
            }
        }
        req.extensions_mut()
            .insert(InProcessSocket(Arc::new(Mutex::new(Some(server)))));
        let response = service.handle(req).await;
        if response.status() != StatusCode::SWITCHING_PROTOCOLS {
            return Err(response.status());
        }
        let config = WebSocketConfig::default()
            .max_message_size(Some(64 << 20))
            .max_frame_size(Some(64 << 20));
        let ws = WebSocketStream::from_raw_socket(client, Role::Client, Some(config)).await;
        Ok(WebsocketCommunicator {
            ws,
            close_code: None,
        })
    }

    /// Sends a text frame to the consumer (panics if the socket is closed).
    pub async fn send_text(&mut self, text: &str) {
        self.ws
            .send(WsMessage::Text(text.to_owned().into()))
            .await
            .expect("the socket is open");
    }

    /// Sends a binary frame to the consumer (panics if the socket is closed).
    pub async fn send_bytes(&mut self, bytes: Vec<u8>) {
        self.ws
            .send(WsMessage::Binary(bytes.into()))
            .await
            .expect("the socket is open");
    }

    /// Sends `value` as a JSON text frame (Channels' `send_json_to`).
    pub async fn send_json(&mut self, value: &serde_json::Value) {
        self.send_text(&value.to_string()).await
    }

    /// The next data frame within `timeout`; `None` if none came or the socket closed (then
    /// `close_code` is set).
    pub async fn receive_within(&mut self, timeout: Duration) -> Option<WsMessage> {
        loop {
            match tokio::time::timeout(timeout, self.ws.next()).await {
                Ok(Some(Ok(WsMessage::Close(frame)))) => {
                    self.close_code = Some(frame.map(|f| u16::from(f.code)).unwrap_or(1005));
                    return None;
                }
                Ok(Some(Ok(WsMessage::Ping(_) | WsMessage::Pong(_)))) => continue,
                Ok(Some(Ok(message))) => return Some(message),
                Ok(Some(Err(_)) | None) => {
                    self.close_code.get_or_insert(1006);
                    return None;
                }
                Err(_) => return None,
            }
        }
    }

    /// The next text frame (panics on a binary one); `None` on timeout or close.
    pub async fn receive_text(&mut self) -> Option<String> {
        match self.receive_within(TIMEOUT).await? {
            WsMessage::Text(text) => Some(text.as_str().to_owned()),
            other => panic!("expected a text frame, got {other:?}"),
        }
    }

    /// The next text frame, parsed as JSON.
    pub async fn receive_json(&mut self) -> Option<serde_json::Value> {
        let text = self.receive_text().await?;
        Some(serde_json::from_str(&text).expect("a JSON text frame"))
    }

    /// True when nothing arrives within `timeout` (Channels' `receive_nothing`).
    pub async fn receive_nothing(&mut self, timeout: Duration) -> bool {
        self.receive_within(timeout).await.is_none() && self.close_code.is_none()
    }

    /// Waits for the server to close; returns its code.
    pub async fn wait_closed(&mut self) -> Option<u16> {
        while self.close_code.is_none() {
            if self.receive_within(TIMEOUT).await.is_none() && self.close_code.is_none() {
                return None;
            }
        }
        self.close_code
    }

    /// Closes from the client side with `code`.
    pub async fn close(&mut self, code: u16) {
        let _ = self
            .ws
            .send(WsMessage::Close(Some(CloseFrame {
                code: CloseCode::from(code),
                reason: "".into(),
            })))
            .await;
        let _ = tokio::time::timeout(TIMEOUT, async {
            while let Some(Ok(_)) = self.ws.next().await {}
        })
        .await;
    }

    /// Drops the pipe without a close frame (an abrupt disconnect).
    pub fn drop_connection(self) {}
}
