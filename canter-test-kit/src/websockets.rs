//! WebSockets that vanish without a Close frame (a phone losing its network), for the tests that
//! check a server survives thousands of them.

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
