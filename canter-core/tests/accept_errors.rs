//! The accept loop out of file descriptors (EMFILE): it logs the error once (not per retry),
//! backs off, and serves again once descriptors are free. A test binary of its own: it lowers
//! the process's open-file limit, which would starve tests running beside it.

#![cfg(target_os = "linux")]

mod support;

use std::time::Duration;

use canter_core::prelude::*;
use canter_core::settings::Settings;
use canter_core::test::LiveServer;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use support::{hello, Captured};

fn open_descriptors() -> u64 {
    std::fs::read_dir("/proc/self/fd").unwrap().count() as u64
}

#[tokio::test]
async fn out_of_file_descriptors_the_accept_loop_logs_backs_off_and_recovers() {
    let logs = Captured::default();
    let _capture = logs.install();
    let mut settings = Settings::for_tests();
    settings.server.max_connections = Some(10_000); // the descriptors run out first
    let server =
        LiveServer::start_with_settings(App::new().urls(vec![path("", hello)]), settings).await;

    let (soft, hard) = rlimit::getrlimit(rlimit::Resource::NOFILE).unwrap();
    rlimit::setrlimit(rlimit::Resource::NOFILE, open_descriptors() + 16, hard).unwrap();
    // Every descriptor taken; then one given back, for the client's socket.
    let mut filler = Vec::new();
    while let Ok(file) = std::fs::File::open("/dev/null") {
        filler.push(file);
    }
    filler.pop();
    // The kernel completes the connection; the server's accept has no descriptor for it.
    let mut client = TcpStream::connect(server.addr()).await.unwrap();
    client
        .write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    // Out of descriptors for a while: retried with a pause, warned about once.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let warned = logs.text();
    assert_eq!(
        warned.matches("accept failed").count(),
        1,
        "one warning, not one per retry: {warned}"
    );
    assert!(warned.contains("WARN"), "{warned}");

    drop(filler);
    let mut response = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), client.read_to_end(&mut response))
        .await
        .expect("served once descriptors were free");
    rlimit::setrlimit(rlimit::Resource::NOFILE, soft, hard).unwrap();
    read.unwrap();
    let text = String::from_utf8_lossy(&response);
    assert!(
        text.starts_with("HTTP/1.1 200") && text.ends_with("hello"),
        "{text}"
    );
}
