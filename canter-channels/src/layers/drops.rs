//! Messages a layer drops because their channel is full (a consumer that does not read): every
//! one counted, and logged at most once per [`REPORT_EVERY`] — one WARN saying how many were
//! dropped since the last one, not one per message (a slow reader in a busy group made tens of
//! thousands of lines).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How often, at most, a layer logs its dropped messages.
pub const REPORT_EVERY: Duration = Duration::from_secs(10);

/// A layer's dropped messages. See the module docs.
#[derive(Default)]
pub(crate) struct Drops(Arc<DropState>);

#[derive(Default)]
struct DropState {
    total: AtomicU64,
    unreported: AtomicU64,
    window: Mutex<Window>,
}

#[derive(Default)]
struct Window {
    last_report: Option<Instant>,
    /// A report is due at the end of this window (drops came after the last one).
    report_scheduled: bool,
    /// Where the latest drop was (`group chat_lobby`), for the report.
    latest: String,
}

impl Drops {
    /// `count` messages were dropped at `place` (`group chat_lobby`, `channel specific.…`).
    pub(crate) fn record(&self, count: u64, place: impl FnOnce() -> String) {
        if count == 0 {
            return;
        }
        let state = &self.0;
        state.total.fetch_add(count, Ordering::Relaxed);
        state.unreported.fetch_add(count, Ordering::Relaxed);
        let mut window = state.window.lock().unwrap_or_else(|e| e.into_inner());
        window.latest = place();
        match window.last_report {
            Some(last) if last.elapsed() < REPORT_EVERY => {
                // Reported at the window's end, so a burst that stops is still told in full.
                if !window.report_scheduled {
                    if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                        window.report_scheduled = true;
                        let state = self.0.clone();
                        let due = tokio::time::Instant::from_std(last + REPORT_EVERY);
                        runtime.spawn(async move {
                            tokio::time::sleep_until(due).await;
                            state.report();
                        });
                    }
                }
            }
            _ => {
                drop(window);
                state.report();
            }
        }
    }

    /// Messages dropped since the layer was made.
    pub(crate) fn total(&self) -> u64 {
        self.0.total.load(Ordering::Relaxed)
    }
}

impl DropState {
    fn report(&self) {
        let mut window = self.window.lock().unwrap_or_else(|e| e.into_inner());
        window.last_report = Some(Instant::now());
        window.report_scheduled = false;
        let dropped = self.unreported.swap(0, Ordering::Relaxed);
        if dropped > 0 {
            let total = self.total.load(Ordering::Relaxed);
            tracing::warn!(target: "canter::channels", dropped, total, latest = %window.latest, "{dropped} message(s) dropped since the last report: their channels were full (a consumer not reading?)");
        }
    }
}
