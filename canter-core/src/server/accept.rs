//! Accepting connections within `server.max_connections`, and through `accept` errors.
//!
//! Every connection holds a slot until its socket closes (an upgraded WebSocket's too). With
//! every slot taken, the server stops accepting (new clients wait in the listen backlog)
//! rather than running the process out of file descriptors, and says so in a warning (at most
//! one per [`WARN_EVERY`]). An `accept` error that concerns one client (reset before it was
//! accepted) is passed over; any other (EMFILE, ENFILE, ENOBUFS…) is logged, at most once per
//! [`WARN_EVERY`], and accepting resumes after a pause that doubles up to a second.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

use crate::settings::ServerSettings;

/// At most one warning of each kind this often.
pub(super) const WARN_EVERY: Duration = Duration::from_secs(10);

const FIRST_BACKOFF: Duration = Duration::from_millis(10);
const MAX_BACKOFF: Duration = Duration::from_secs(1);

/// `server.max_connections`, or when unset, from the process's open-file limit: the soft
/// limit less a quarter of it (at most 1,024) for files, database connections and the rest.
/// A limit of 1,024 gives 768.
pub fn max_connections(limits: &ServerSettings) -> usize {
    if let Some(max) = limits.max_connections {
        return max;
    }
    #[cfg(unix)]
    if let Ok((soft, _hard)) = rlimit::getrlimit(rlimit::Resource::NOFILE) {
        let soft = usize::try_from(soft).unwrap_or(usize::MAX);
        return soft - (soft / 4).min(1024);
    }
    768
}

/// A warning that is logged at most once per [`WARN_EVERY`], counting the times it was not.
struct Throttled {
    last: Option<Instant>,
    skipped: u64,
}

impl Throttled {
    fn new() -> Self {
        Self {
            last: None,
            skipped: 0,
        }
    }

    /// `Some(times skipped since the last one)` when a warning is due now.
    fn due(&mut self) -> Option<u64> {
        let now = Instant::now();
        if self.last.is_some_and(|last| now < last + WARN_EVERY) {
            self.skipped += 1;
            return None;
        }
        self.last = Some(now);
        Some(std::mem::take(&mut self.skipped))
    }
}

/// The listener and the connection slots.
pub(super) struct Acceptor {
    listener: TcpListener,
    slots: Arc<Semaphore>,
    max: usize,
    full: Throttled,
    failing: Throttled,
    backoff: Duration,
}

/// An accepted connection and the slot it holds until its socket is dropped.
pub(super) struct Accepted {
    pub(super) stream: TcpStream,
    pub(super) peer: SocketAddr,
    pub(super) slot: OwnedSemaphorePermit,
}

impl Acceptor {
    pub(super) fn new(listener: TcpListener, limits: &ServerSettings) -> Self {
        let max = max_connections(limits).clamp(1, Semaphore::MAX_PERMITS);
        Self {
            listener,
            slots: Arc::new(Semaphore::new(max)),
            max,
            full: Throttled::new(),
            failing: Throttled::new(),
            backoff: FIRST_BACKOFF,
        }
    }

    /// The next connection, once a slot is free. Never fails: errors are logged and waited
    /// out. Cancel-safe (a connection accepted is returned in the same poll).
    pub(super) async fn next(&mut self) -> Accepted {
        loop {
            let slot = match self.slots.clone().try_acquire_owned() {
                Ok(slot) => slot,
                Err(_) => {
                    if let Some(skipped) = self.full.due() {
                        tracing::warn!(
                            target: "canter::server",
                            max_connections = self.max,
                            times_since_last_warning = skipped,
                            "server.max_connections reached: not accepting new connections until one closes"
                        );
                    }
                    let slots = self.slots.clone();
                    slots
                        .acquire_owned()
                        .await
                        .expect("the slots are never closed")
                }
            };
            match self.listener.accept().await {
                Ok((stream, peer)) => {
                    self.backoff = FIRST_BACKOFF;
                    return Accepted { stream, peer, slot };
                }
                Err(err) if concerns_one_client(&err) => {
                    tracing::debug!(target: "canter::server", error = %err, "a client went away before it was accepted");
                }
                Err(err) => {
                    if let Some(skipped) = self.failing.due() {
                        tracing::warn!(
                            target: "canter::server",
                            error = %err,
                            retry_in_ms = self.backoff.as_millis() as u64,
                            times_since_last_warning = skipped,
                            "accept failed (out of file descriptors? see server.max_connections); retrying"
                        );
                    }
                    drop(slot);
                    tokio::time::sleep(self.backoff).await;
                    self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
    }
}

/// An `accept` error about the one connection being accepted, not about the server.
fn concerns_one_client(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}
