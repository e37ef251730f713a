//! The runtime-stall detector: times every poll of a view's future and warns when one poll
//! held the runtime thread longer than the threshold (default 10 ms), naming the route and
//! view. A poll that long means blocking code ran on the async runtime; the fix is
//! `sync_to_async` (canter-core's `blocking` module).
//!
//! On by default when `debug = true`; set `[stall] enabled` and `threshold_ms` to change it.
//! Its cost is two clock reads per poll. Channels and tasks wrap their consumers and task
//! bodies in the same [`StallDetector`].

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::task::{Context, Poll};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

pin_project_lite::pin_project! {
    /// A future that warns when one poll of `inner` takes longer than `threshold`.
    pub struct StallDetector<F> {
        #[pin]
        inner: F,
        threshold: Duration,
        kind: &'static str,
        label: String,
        code: &'static str,
    }
}

impl<F> StallDetector<F> {
    /// `kind` is what is watched ("view", "consumer", "task"), `label` its route or name and
    /// `code` the function's path.
    pub fn new(
        inner: F,
        threshold: Duration,
        kind: &'static str,
        label: String,
        code: &'static str,
    ) -> Self {
        Self {
            inner,
            threshold,
            kind,
            label,
            code,
        }
    }
}

impl<F: Future> Future for StallDetector<F> {
    type Output = F::Output;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let start = Instant::now();
        let result = this.inner.poll(cx);
        let held = start.elapsed();
        if held > *this.threshold {
            tracing::warn!(
                target: "canter::stall",
                kind = *this.kind,
                route = %this.label,
                code = *this.code,
                blocked_ms = held.as_secs_f64() * 1000.0,
                threshold_ms = this.threshold.as_secs_f64() * 1000.0,
                "{} {:?} ({}) blocked the async runtime for {:.1} ms in one poll (threshold {:.0} ms); \
                 move blocking work into sync_to_async(...)",
                this.kind,
                this.label,
                this.code,
                held.as_secs_f64() * 1000.0,
                this.threshold.as_secs_f64() * 1000.0,
            );
            StallLog::note(this.kind, this.label.as_str(), this.code, held);
        }
        result
    }
}

/// The latest stall warnings of this process, for a dashboard: kept when a `StallLog` is among
/// the app's services (canter-ops puts one there), the newest [`StallLog::KEPT`].
#[derive(Default)]
pub struct StallLog {
    warnings: Mutex<VecDeque<StallWarning>>,
}

/// One stall warning as [`StallLog`] keeps it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StallWarning {
    /// When, seconds since the epoch.
    pub at: f64,
    /// `view`, `consumer` or `task`.
    pub kind: String,
    /// The route or task name.
    pub label: String,
    /// The function's path.
    pub code: String,
    /// How long the poll held the thread, milliseconds.
    pub blocked_ms: f64,
}

impl StallLog {
    /// How many warnings are kept.
    pub const KEPT: usize = 20;

    /// Keeps a warning in the current app's log, if it has one (only on the rare stall path).
    fn note(kind: &str, label: &str, code: &str, held: Duration) {
        let Some(Some(log)) = crate::services::with_current(|s| s.get_shared::<StallLog>()) else {
            return;
        };
        let at = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        log.push(StallWarning {
            at,
            kind: kind.to_owned(),
            label: label.to_owned(),
            code: code.to_owned(),
            blocked_ms: held.as_secs_f64() * 1000.0,
        });
    }

    /// Keeps `warning`, forgetting the oldest past [`KEPT`](Self::KEPT).
    pub fn push(&self, warning: StallWarning) {
        let mut warnings = self.warnings.lock().unwrap_or_else(|e| e.into_inner());
        if warnings.len() == Self::KEPT {
            warnings.pop_front();
        }
        warnings.push_back(warning);
    }

    /// The kept warnings, oldest first.
    pub fn latest(&self) -> Vec<StallWarning> {
        let warnings = self.warnings.lock().unwrap_or_else(|e| e.into_inner());
        warnings.iter().cloned().collect()
    }
}
