//! The server's graceful shutdown as the app sees it, for work that outlives its request (a
//! WebSocket): a signal that it began, and the server's task tracker, so that work is waited
//! for within `server.shutdown_timeout` like the requests in flight.

use std::future::Future;

use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::task::TaskTracker;

/// The server's graceful shutdown, for work that outlives its request: [`requested`](Self::requested)
/// resolves when it begins, and what is [`spawn`](Self::spawn)ed is waited for within
/// `server.shutdown_timeout`. Reached from a request through
/// [`AppContext::shutdown`](crate::app::AppContext::shutdown); only requests served by
/// [`serve`](super::serve) have one.
#[derive(Clone)]
pub struct Shutdown {
    stop: watch::Receiver<bool>,
    tracker: TaskTracker,
}

impl Shutdown {
    pub(super) fn new(stop: watch::Receiver<bool>, tracker: TaskTracker) -> Self {
        Self { stop, tracker }
    }

    /// Resolves once the server stops accepting connections (or is gone).
    pub fn requested(&self) -> impl Future<Output = ()> + Send + 'static {
        let mut stop = self.stop.clone();
        async move {
            let _ = stop.wait_for(|stopping| *stopping).await;
        }
    }

    /// The signal itself, for the connection's watchdog.
    pub(super) fn stop_signal(&self) -> watch::Receiver<bool> {
        self.stop.clone()
    }

    /// Whether the shutdown has begun.
    pub fn is_requested(&self) -> bool {
        *self.stop.borrow()
    }

    /// Spawns `task`, which the server then waits for on shutdown (within its grace time).
    pub fn spawn<F>(&self, task: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.tracker.spawn(task)
    }
}
