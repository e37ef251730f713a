//! Per-route HTTP counters for a dashboard (canter-ops): requests, status classes, a latency
//! histogram per route, and requests in flight. Off unless an [`HttpCounters`] is among the
//! app's services when it is built (the ops plugin puts one there); then the router counts
//! each request with a few relaxed atomic adds into a table indexed by the route's number
//! (no hashing, no locks, no allocation).
//!
//! The counters are cumulative since the process started; a reader takes two
//! [`snapshot`](HttpCounters::snapshot)s and subtracts to get rates and percentiles.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use serde::{Deserialize, Serialize};

/// Latency buckets: bucket `i` holds requests that took under `50 µs × 2^i` (the last holds
/// the rest), 50 µs to about 13 s.
pub const LATENCY_BUCKETS: usize = 20;
const FIRST_BOUND_MICROS: u64 = 50;

/// The upper bound of latency bucket `i`, seconds (the last is open: its bound doubled).
pub fn bucket_bound(i: usize) -> f64 {
    (FIRST_BOUND_MICROS << i.min(LATENCY_BUCKETS)) as f64 / 1e6
}

fn bucket_of(micros: u64) -> usize {
    let steps = (micros / FIRST_BOUND_MICROS)
        .checked_ilog2()
        .map_or(0, |l| l as usize + 1);
    steps.min(LATENCY_BUCKETS - 1)
}

/// One route's counters.
struct RouteCounters {
    label: String,
    requests: AtomicU64,
    /// 1xx … 5xx.
    status: [AtomicU64; 5],
    latency: [AtomicU64; LATENCY_BUCKETS],
    latency_micros: AtomicU64,
}

impl RouteCounters {
    fn new(label: String) -> Self {
        Self {
            label,
            requests: AtomicU64::new(0),
            status: Default::default(),
            latency: Default::default(),
            latency_micros: AtomicU64::new(0),
        }
    }

    fn record(&self, status: u16, micros: u64) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let class = usize::from(status / 100).clamp(1, 5) - 1;
        self.status[class].fetch_add(1, Ordering::Relaxed);
        self.latency[bucket_of(micros)].fetch_add(1, Ordering::Relaxed);
        self.latency_micros.fetch_add(micros, Ordering::Relaxed);
    }
}

/// See the module docs. Put one among the app's services (`Services::insert_shared`) before
/// the app is built; read it with [`snapshot`](Self::snapshot).
#[derive(Default)]
pub struct HttpCounters {
    /// One slot per route in matching order, then one for requests no route matched. Set by
    /// the first app built with these counters.
    table: OnceLock<Vec<RouteCounters>>,
    in_flight: AtomicI64,
}

/// What [`HttpCounters::snapshot`] reads: cumulative counts per route.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HttpSnapshot {
    /// Requests being answered now.
    pub in_flight: i64,
    /// Routes that had requests (others are left out).
    pub routes: Vec<RouteSnapshot>,
}

/// One route's cumulative counts.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RouteSnapshot {
    /// The route's name, else its pattern; `(not found)` for requests no route matched.
    pub route: String,
    /// Requests answered (or being answered) on the route.
    pub requests: u64,
    /// Responses by status class: `[1xx, 2xx, 3xx, 4xx, 5xx]`.
    pub status: [u64; 5],
    /// Requests per latency bucket (see [`bucket_bound`]).
    pub latency: Vec<u64>,
    /// Total time answering, microseconds.
    pub latency_micros: u64,
}

/// The label of the slot for requests no route matched.
pub const NOT_FOUND_LABEL: &str = "(not found)";

impl HttpCounters {
    /// Empty counters (the table is laid out when an app is built with them).
    pub fn new() -> Self {
        Self::default()
    }

    /// Lays the table out for `labels` (the routes in matching order); a second app built
    /// with the same counters keeps the first's table.
    pub(crate) fn attach(&self, labels: impl Iterator<Item = String>) {
        self.table.get_or_init(|| {
            labels
                .chain(std::iter::once(NOT_FOUND_LABEL.to_owned()))
                .map(RouteCounters::new)
                .collect()
        });
    }

    /// Starts timing a request of route `route` (counted in flight until the timer is
    /// finished or dropped).
    pub(crate) fn start(self: &Arc<Self>, route: usize) -> RequestTimer {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        RequestTimer {
            counters: self.clone(),
            route,
            start: Instant::now(),
        }
    }

    /// Counts an answer given without a view (no route matched).
    pub(crate) fn not_found(&self, status: u16) {
        if let Some(slot) = self.table.get().and_then(|t| t.last()) {
            slot.record(status, 0);
        }
    }

    /// The cumulative counts of every route that had a request.
    pub fn snapshot(&self) -> HttpSnapshot {
        let routes = self
            .table
            .get()
            .map(|table| {
                table
                    .iter()
                    .filter(|r| r.requests.load(Ordering::Relaxed) > 0)
                    .map(|r| RouteSnapshot {
                        route: r.label.clone(),
                        requests: r.requests.load(Ordering::Relaxed),
                        status: std::array::from_fn(|i| r.status[i].load(Ordering::Relaxed)),
                        latency: r
                            .latency
                            .iter()
                            .map(|b| b.load(Ordering::Relaxed))
                            .collect(),
                        latency_micros: r.latency_micros.load(Ordering::Relaxed),
                    })
                    .collect()
            })
            .unwrap_or_default();
        HttpSnapshot {
            in_flight: self.in_flight.load(Ordering::Relaxed),
            routes,
        }
    }
}

/// One request being timed (see [`HttpCounters::start`]); dropped unfinished (the client went
/// away), it leaves the in-flight count without being counted as answered.
pub(crate) struct RequestTimer {
    counters: Arc<HttpCounters>,
    route: usize,
    start: Instant,
}

impl RequestTimer {
    /// Counts the answer with `status`.
    pub(crate) fn finish(self, status: u16) {
        let micros = self.start.elapsed().as_micros() as u64;
        if let Some(slot) = self.counters.table.get().and_then(|t| t.get(self.route)) {
            slot.record(status, micros);
        }
    }
}

impl Drop for RequestTimer {
    fn drop(&mut self) {
        self.counters.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_double_from_50_micros() {
        assert_eq!(bucket_of(0), 0);
        assert_eq!(bucket_of(49), 0);
        assert_eq!(bucket_of(50), 1);
        assert_eq!(bucket_of(99), 1);
        assert_eq!(bucket_of(100), 2);
        assert_eq!(bucket_of(u64::MAX), LATENCY_BUCKETS - 1);
        assert!((bucket_bound(0) - 0.00005).abs() < 1e-12);
    }

    #[test]
    fn counts_routes_status_classes_and_in_flight() {
        let counters = Arc::new(HttpCounters::new());
        counters.attach(["a".to_owned(), "b".to_owned()].into_iter());
        let one = counters.start(1);
        let two = counters.start(1);
        assert_eq!(counters.snapshot().in_flight, 2);
        one.finish(200);
        drop(two);
        counters.not_found(404);
        let snapshot = counters.snapshot();
        assert_eq!(snapshot.in_flight, 0);
        assert_eq!(snapshot.routes.len(), 2);
        assert_eq!(snapshot.routes[0].route, "b");
        assert_eq!(snapshot.routes[0].status, [0, 1, 0, 0, 0]);
        assert_eq!(snapshot.routes[1].route, NOT_FOUND_LABEL);
        assert_eq!(snapshot.routes[1].status[3], 1);
    }
}
