//! The request body read timeout: a client that sends its head and then trickles its body
//! would otherwise hold its connection (and a file descriptor) for as long as it likes.
//!
//! The body is timed only while a reader waits on it (the clock starts at the first read): a
//! read fails with [`BodyReadTimeout`] when no body bytes came for `server.body_read_timeout`,
//! or when the body falls behind `server.body_min_rate` (after a first `body_read_timeout`,
//! each `body_min_rate` bytes buy one more second, as Apache's `mod_reqtimeout` counts). The
//! server then answers 408 whatever the view made of the failed read, and closes an HTTP/1
//! connection.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body as HttpBody, Frame, SizeHint};
use tokio::time::{Instant, Sleep};

/// The error a body read gets when the client sent the body too slowly (answered 408).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyReadTimeout;

impl std::fmt::Display for BodyReadTimeout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the client sent the request body too slowly (server.body_read_timeout, server.body_min_rate)")
    }
}

impl std::error::Error for BodyReadTimeout {}

/// `server.body_read_timeout` and `server.body_min_rate`.
#[derive(Clone, Copy, Debug)]
pub(super) struct BodyTimeouts {
    pub(super) between_reads: Duration,
    /// Bytes per second; 0: no minimum rate.
    pub(super) min_rate: u64,
}

impl BodyTimeouts {
    /// When a reader waiting since `waiting_since` (the last bytes, or the first read) gives up
    /// on a body that started at `started` and has brought `received` bytes.
    fn deadline(&self, started: Instant, waiting_since: Instant, received: u64) -> Instant {
        let next_bytes = waiting_since + self.between_reads;
        if self.min_rate == 0 {
            return next_bytes;
        }
        let earned = Duration::from_secs_f64(received as f64 / self.min_rate as f64);
        next_bytes.min(started + self.between_reads + earned)
    }
}

pin_project_lite::pin_project! {
    /// A request body whose reads time out (see the module docs).
    pub(super) struct TimedBody<B> {
        #[pin]
        inner: B,
        timeouts: BodyTimeouts,
        // Set at the first read.
        started: Option<Instant>,
        // The last bytes came at this time (set when a read finds nothing after bytes came).
        waiting_since: Option<Instant>,
        received: u64,
        // Bytes came since the reader last waited.
        fresh: bool,
        // Armed at the first wait, moved as the deadline moves.
        timer: Option<Pin<Box<Sleep>>>,
        timed_out: Arc<AtomicBool>,
    }
}

impl<B> TimedBody<B> {
    pub(super) fn new(inner: B, timeouts: BodyTimeouts) -> Self {
        Self {
            inner,
            timeouts,
            started: None,
            waiting_since: None,
            received: 0,
            fresh: false,
            timer: None,
            timed_out: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Turns true when a read timed out (the server then answers 408).
    pub(super) fn timed_out_flag(&self) -> Arc<AtomicBool> {
        self.timed_out.clone()
    }
}

impl<B> HttpBody for TimedBody<B>
where
    B: HttpBody<Data = Bytes>,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Data = Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = self.project();
        if this.timed_out.load(Ordering::Relaxed) {
            return Poll::Ready(Some(Err(Box::new(BodyReadTimeout))));
        }
        match this.inner.poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    *this.received += data.len() as u64;
                    *this.fresh = true;
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(err))) => Poll::Ready(Some(Err(err.into()))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => {
                // The clock is read only when the reader has to wait, not per chunk.
                let now = Instant::now();
                let started = *this.started.get_or_insert(now);
                if *this.fresh || this.waiting_since.is_none() {
                    *this.waiting_since = Some(now);
                    *this.fresh = false;
                }
                let waiting_since = this.waiting_since.unwrap_or(now);
                let deadline = this
                    .timeouts
                    .deadline(started, waiting_since, *this.received);
                let timer = this
                    .timer
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
                if timer.deadline() != deadline {
                    timer.as_mut().reset(deadline);
                }
                match timer.as_mut().poll(cx) {
                    Poll::Ready(()) => {
                        this.timed_out.store(true, Ordering::Relaxed);
                        Poll::Ready(Some(Err(Box::new(BodyReadTimeout))))
                    }
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rate_earns_time_and_the_gap_caps_it() {
        let timeouts = BodyTimeouts {
            between_reads: Duration::from_secs(10),
            min_rate: 500,
        };
        let t0 = Instant::now();
        let s = Duration::from_secs;
        // Nothing yet: the first gap.
        assert_eq!(timeouts.deadline(t0, t0, 0), t0 + s(10));
        // 5,000 bytes earned 10 s more, but the next bytes are still due 10 s after the last.
        assert_eq!(timeouts.deadline(t0, t0 + s(3), 5_000), t0 + s(13));
        // A trickle: 1 byte at 9 s earns 2 ms, far short of another gap.
        assert_eq!(
            timeouts.deadline(t0, t0 + s(9), 1),
            t0 + s(10) + Duration::from_millis(2)
        );
        let no_rate = BodyTimeouts {
            min_rate: 0,
            ..timeouts
        };
        assert_eq!(no_rate.deadline(t0, t0 + s(100), 1), t0 + s(110));
    }
}
