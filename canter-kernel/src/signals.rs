//! SIGINT (Ctrl-C) and SIGTERM: the first asks for a warm shutdown (finish what is running),
//! a second makes it cold (stop now), as Celery's workers and most servers do.

use std::future::Future;

use tokio::sync::watch;

/// Resolves on SIGINT (Ctrl-C) or SIGTERM.
pub async fn shutdown_signal() {
    Signals::new().recv().await;
    tracing::info!(target: "canter::server", "shutting down: no new connections; finishing in-flight requests");
}

/// A shutdown by signal in its two phases, counted from this call: the first future resolves
/// on the first SIGINT or SIGTERM (a warm shutdown: finish what is running), the second on
/// the second one (cold: stop now). The signals are listened for from this call on, so the
/// second future sees the second signal however late it is first polled. Call it inside a
/// tokio runtime.
pub fn shutdown_phases() -> (
    impl Future<Output = ()> + Send + 'static,
    impl Future<Output = ()> + Send + 'static,
) {
    let (count_tx, count_rx) = watch::channel(0u32);
    let mut signals = Signals::new();
    tokio::spawn(async move {
        loop {
            tokio::select! {
                () = signals.recv() => count_tx.send_modify(|count| *count += 1),
                () = count_tx.closed() => return,
            }
        }
    });
    let phase = move |n: u32| {
        let mut count = count_rx.clone();
        async move {
            // An error only when the counting task is gone, which it is not while we wait.
            let _ = count.wait_for(|count| *count >= n).await;
        }
    };
    (phase(1), phase(2))
}

/// Listeners for SIGINT and SIGTERM, registered when made (a signal before that is not seen).
struct Signals {
    #[cfg(unix)]
    interrupt: Option<tokio::signal::unix::Signal>,
    #[cfg(unix)]
    terminate: Option<tokio::signal::unix::Signal>,
}

impl Signals {
    fn new() -> Self {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            Self {
                interrupt: signal(SignalKind::interrupt()).ok(),
                terminate: signal(SignalKind::terminate()).ok(),
            }
        }
        #[cfg(not(unix))]
        Self {}
    }

    /// The next SIGINT or SIGTERM.
    async fn recv(&mut self) {
        #[cfg(unix)]
        {
            /// The listener's next signal; never, once it cannot get one (the runtime stops).
            async fn next(signal: &mut Option<tokio::signal::unix::Signal>) {
                if let Some(listener) = signal {
                    if listener.recv().await.is_some() {
                        return;
                    }
                }
                *signal = None;
                std::future::pending().await
            }
            tokio::select! {
                () = next(&mut self.interrupt) => {}
                () = next(&mut self.terminate) => {}
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
