//! The board's memory over time: one [`Sample`] per period for the last 15 minutes (the
//! charts and `/ops/api/series/`), and the merged per-route HTTP counts of the last minute
//! (requests per second and latency percentiles per route).

use std::collections::{BTreeMap, VecDeque};

use canter_core::counters::{bucket_bound, RouteSnapshot};
use serde::Serialize;

use crate::book::EventCounts;
use crate::process::ProcessRecord;

/// How far back the series go, seconds.
pub const SERIES_SECONDS: f64 = 15.0 * 60.0;
/// The window of the per-route HTTP figures, seconds.
pub const ROUTE_WINDOW_SECONDS: f64 = 60.0;

/// The whole system at one moment; counts are cumulative (rates are differences).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Sample {
    /// Seconds since the epoch.
    pub at: f64,
    pub tasks: EventCounts,
    /// HTTP requests answered by every process since the dashboard started (each process's
    /// growth from when it was first seen).
    pub http_requests: u64,
    /// Of which 5xx.
    pub http_errors: u64,
    pub http_in_flight: i64,
    pub sockets_open: i64,
    pub group_sends: u64,
    pub deliveries: u64,
    pub drops: u64,
    /// Tasks waiting per queue.
    pub queues: BTreeMap<String, u64>,
    pub workers_alive: usize,
    pub tasks_active: usize,
}

/// Per-route HTTP figures over the last minute, every process merged.
#[derive(Debug, Clone, Serialize)]
pub struct RouteStats {
    pub route: String,
    pub requests_per_second: f64,
    /// Latency percentiles, seconds (the upper bound of the histogram bucket they fall in).
    pub p50: Option<f64>,
    pub p99: Option<f64>,
    pub mean: Option<f64>,
    /// Responses in the window by class: `1xx` … `5xx`.
    pub status: BTreeMap<String, u64>,
    /// Requests since the processes started.
    pub total: u64,
}

/// Samples and route counts, bounded in time.
#[derive(Default)]
pub struct History {
    samples: VecDeque<Sample>,
    routes: VecDeque<(f64, BTreeMap<String, RouteSnapshot>)>,
}

/// Every process's route counts summed, by route.
pub fn merge_routes(processes: &[ProcessRecord]) -> BTreeMap<String, RouteSnapshot> {
    let mut merged: BTreeMap<String, RouteSnapshot> = BTreeMap::new();
    for route in processes.iter().flat_map(|p| &p.http.routes) {
        let into = merged
            .entry(route.route.clone())
            .or_insert_with(|| RouteSnapshot {
                route: route.route.clone(),
                latency: vec![0; route.latency.len()],
                ..RouteSnapshot::default()
            });
        into.requests += route.requests;
        into.latency_micros += route.latency_micros;
        for (a, b) in into.status.iter_mut().zip(route.status) {
            *a += b;
        }
        if into.latency.len() < route.latency.len() {
            into.latency.resize(route.latency.len(), 0);
        }
        for (a, b) in into.latency.iter_mut().zip(&route.latency) {
            *a += b;
        }
    }
    merged
}

/// The upper bound of the bucket holding the `q` quantile of `buckets`.
fn bucket_percentile(buckets: &[u64], q: f64) -> Option<f64> {
    let total: u64 = buckets.iter().sum();
    if total == 0 {
        return None;
    }
    let rank = (q * total as f64).ceil().max(1.0) as u64;
    let mut seen = 0;
    for (i, count) in buckets.iter().enumerate() {
        seen += count;
        if seen >= rank {
            return Some(bucket_bound(i));
        }
    }
    None
}

impl History {
    /// Keeps `sample` and the processes' route counts, forgetting what is out of its window.
    pub fn push(&mut self, sample: Sample, processes: &[ProcessRecord]) {
        let at = sample.at;
        self.samples.push_back(sample);
        while self
            .samples
            .front()
            .is_some_and(|s| s.at < at - SERIES_SECONDS)
        {
            self.samples.pop_front();
        }
        self.routes.push_back((at, merge_routes(processes)));
        while self.routes.len() > 2 && self.routes[1].0 <= at - ROUTE_WINDOW_SECONDS {
            self.routes.pop_front();
        }
    }

    /// The newest sample.
    pub fn latest(&self) -> Option<&Sample> {
        self.samples.back()
    }

    /// The samples of the last `seconds`, oldest first.
    pub fn since(&self, seconds: f64) -> impl Iterator<Item = &Sample> {
        let from = self.latest().map_or(0.0, |s| s.at - seconds);
        self.samples.iter().filter(move |s| s.at >= from)
    }

    /// Per-route figures over the last minute (from the oldest route counts kept to the newest).
    pub fn route_stats(&self) -> Vec<RouteStats> {
        let (Some((t0, old)), Some((t1, new))) = (self.routes.front(), self.routes.back()) else {
            return Vec::new();
        };
        let span = (t1 - t0).max(1e-3);
        new.values()
            .map(|now| {
                let before = old.get(&now.route);
                let requests = now.requests - before.map_or(0, |b| b.requests.min(now.requests));
                let buckets: Vec<u64> = now
                    .latency
                    .iter()
                    .enumerate()
                    .map(|(i, n)| {
                        n.saturating_sub(
                            before.and_then(|b| b.latency.get(i)).copied().unwrap_or(0),
                        )
                    })
                    .collect();
                let micros = now
                    .latency_micros
                    .saturating_sub(before.map_or(0, |b| b.latency_micros));
                let status = (0..5)
                    .map(|i| {
                        let n = now.status[i].saturating_sub(before.map_or(0, |b| b.status[i]));
                        (format!("{}xx", i + 1), n)
                    })
                    .filter(|(_, n)| *n > 0)
                    .collect();
                RouteStats {
                    route: now.route.clone(),
                    requests_per_second: if self.routes.len() > 1 {
                        requests as f64 / span
                    } else {
                        0.0
                    },
                    p50: bucket_percentile(&buckets, 0.50),
                    p99: bucket_percentile(&buckets, 0.99),
                    mean: (requests > 0).then(|| micros as f64 / requests as f64 / 1e6),
                    status,
                    total: now.requests,
                }
            })
            .collect()
    }
}

/// Per-second rate of a cumulative count between consecutive samples.
pub fn rates(samples: &[&Sample], count: impl Fn(&Sample) -> u64) -> Vec<f64> {
    samples
        .windows(2)
        .map(|w| {
            let dt = (w[1].at - w[0].at).max(1e-3);
            count(w[1]).saturating_sub(count(w[0])) as f64 / dt
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn process(requests: u64, fast: u64) -> ProcessRecord {
        let mut record = ProcessRecord::default();
        record.http.routes.push(RouteSnapshot {
            route: "hello".into(),
            requests,
            status: [0, requests, 0, 0, 0],
            latency: vec![fast, requests - fast],
            latency_micros: requests * 60,
        });
        record
    }

    #[test]
    fn route_rates_and_percentiles_over_the_window() {
        let mut history = History::default();
        let sample = |at| Sample {
            at,
            ..Sample::default()
        };
        history.push(sample(100.0), &[process(10, 10)]);
        history.push(sample(102.0), &[process(30, 20), process(10, 10)]);
        let stats = history.route_stats();
        assert_eq!(stats.len(), 1);
        // 30 new requests over 2 s; 20 of them in the first bucket, 10 in the second.
        assert!((stats[0].requests_per_second - 15.0).abs() < 1e-9);
        assert_eq!(stats[0].p50, Some(bucket_bound(0)));
        assert_eq!(stats[0].p99, Some(bucket_bound(1)));
        assert_eq!(stats[0].status["2xx"], 30);
    }

    #[test]
    fn rates_never_go_negative() {
        let a = Sample {
            at: 0.0,
            http_requests: 10,
            ..Sample::default()
        };
        let b = Sample {
            at: 2.0,
            http_requests: 4,
            ..Sample::default()
        };
        let c = Sample {
            at: 4.0,
            http_requests: 8,
            ..Sample::default()
        };
        assert_eq!(rates(&[&a, &b, &c], |s| s.http_requests), vec![0.0, 2.0]);
    }
}
