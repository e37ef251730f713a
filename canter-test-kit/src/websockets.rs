//! Talking to a server under test from outside: WebSockets that vanish without a Close frame (a
//! phone losing its network), for the tests that check a server survives thousands of them, and
//! a plain blocking GET.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Opens a WebSocket at `path` (the handshake must be answered 101) and hands back the bare TCP
/// stream: dropping it closes the connection without a Close frame.
pub async fn open_raw_websocket(addr: &str, path: &str) -> TcpStream {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n\
         Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut head = Vec::new();
    let mut buf = [0u8; 512];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut buf).await.unwrap();
        assert!(n > 0, "the server closed during the handshake");
        head.extend_from_slice(&buf[..n]);
    }
    assert!(
        head.starts_with(b"HTTP/1.1 101"),
        "{}",
        String::from_utf8_lossy(&head)
    );
    stream
}

/// `sockets` WebSockets at `path`, opened `batch` at a time — all of a batch open (their server
/// tasks waiting for a frame), then all dropped at once.
pub async fn churn_websockets(addr: &str, path: &str, sockets: usize, batch: usize) {
    for _ in 0..sockets.div_ceil(batch) {
        let opening: Vec<_> = (0..batch)
            .map(|_| {
                let (addr, path) = (addr.to_owned(), path.to_owned());
                tokio::spawn(async move { open_raw_websocket(&addr, &path).await })
            })
            .collect();
        let mut open = Vec::with_capacity(batch);
        for socket in opening {
            open.push(socket.await.expect("a client task"));
        }
        drop(open);
    }
}

/// `GET path` over a fresh HTTP/1.1 connection to `addr` (closed after the response), blocking:
/// the raw response, status line and headers included. For tests of a server in another process.
pub fn http_get(addr: &str, path: &str) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}
