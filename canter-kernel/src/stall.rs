//! The runtime-stall detector: times every poll of a view's future and warns when one poll
//! held the runtime thread longer than the threshold (default 10 ms), naming the route and
//! view. A poll that long means blocking code ran on the async runtime; the fix is
//! `sync_to_async` (canter-core's `blocking` module).
//!
//! On by default when `debug = true`; set `[stall] enabled` and `threshold_ms` to change it.
//! Its cost is two clock reads per poll. Channels and tasks wrap their consumers and task
//! bodies in the same [`StallDetector`].

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

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
        }
        result
    }
}
