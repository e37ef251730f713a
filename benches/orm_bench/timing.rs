//! Timing the three sides call by call, interleaved, and the per-operation report lines.

use std::future::Future;
use std::time::Instant;

use super::raw::Backend;

/// Latencies in µs, one list per side: the ORM, raw sqlx on its own pool (the reference), and
/// raw sqlx on the ORM's own pool ("shared": same connection, same prepared statement, same
/// SQLite worker thread, so only the ORM's own code differs).
#[derive(Default)]
pub(crate) struct Samples {
    pub(crate) orm: Vec<f64>,
    pub(crate) raw: Vec<f64>,
    pub(crate) shared: Vec<f64>,
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    // Nearest rank.
    let rank = ((p / 100.0) * sorted.len() as f64).ceil().max(1.0) as usize;
    sorted[rank.min(sorted.len()) - 1]
}

fn median(sorted: &[f64]) -> f64 {
    let n = sorted.len();
    if n == 0 {
        return f64::NAN;
    }
    if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
    }
}

pub(crate) struct Stats {
    pub(crate) p50: f64,
    pub(crate) p90: f64,
    pub(crate) mean: f64,
    pub(crate) min: f64,
}

fn stats(samples: &[f64]) -> Stats {
    let mut s = samples.to_vec();
    s.sort_by(|a, b| a.partial_cmp(b).expect("no NaN"));
    Stats {
        p50: median(&s),
        p90: percentile(&s, 90.0),
        mean: s.iter().sum::<f64>() / s.len().max(1) as f64,
        min: s.first().copied().unwrap_or(f64::NAN),
    }
}

pub(crate) async fn time<F: Future>(f: F) -> (F::Output, f64) {
    let start = Instant::now();
    let out = f.await;
    (out, start.elapsed().as_secs_f64() * 1e6)
}

/// The order of the three sides (0 ORM, 1 raw, 2 shared) in round `i`: all six permutations in
/// turn, so each side runs equally often first, second and third, and after each other side.
pub(crate) const ORDERS: [[usize; 3]; 6] = [
    [0, 1, 2],
    [1, 2, 0],
    [2, 0, 1],
    [0, 2, 1],
    [2, 1, 0],
    [1, 0, 2],
];

/// Runs `warmup` untimed rounds, then `n` timed rounds; each round calls every side once, in
/// the order `ORDERS[i % 6]`. Each round's results go to `check` (untimed).
pub(crate) async fn interleave<O, R, S, FO, FR, FS, T>(
    n: usize,
    warmup: usize,
    mut orm: O,
    mut raw: R,
    mut shared: S,
    mut check: impl FnMut(&T, &T, &T),
) -> Samples
where
    O: FnMut(usize) -> FO,
    R: FnMut(usize) -> FR,
    S: FnMut(usize) -> FS,
    FO: Future<Output = T>,
    FR: Future<Output = T>,
    FS: Future<Output = T>,
{
    let mut samples = Samples::default();
    for i in 0..warmup + n {
        let mut out: [Option<(T, f64)>; 3] = [None, None, None];
        for side in ORDERS[i % 6] {
            out[side] = Some(match side {
                0 => time(orm(i)).await,
                1 => time(raw(i)).await,
                _ => time(shared(i)).await,
            });
        }
        let [Some((a, ta)), Some((b, tb)), Some((c, tc))] = out else {
            unreachable!("every side ran")
        };
        check(&a, &b, &c);
        if i >= warmup {
            samples.orm.push(ta);
            samples.raw.push(tb);
            samples.shared.push(tc);
        }
    }
    samples
}

pub(crate) struct Line {
    pub(crate) backend: &'static str,
    pub(crate) op: &'static str,
    pub(crate) n: usize,
    pub(crate) orm: Stats,
    pub(crate) raw: Stats,
    pub(crate) shared: Stats,
}

pub(crate) fn report(backend: Backend, op: &'static str, samples: &Samples) -> Line {
    let line = Line {
        backend: backend.name(),
        op,
        n: samples.orm.len(),
        orm: stats(&samples.orm),
        raw: stats(&samples.raw),
        shared: stats(&samples.shared),
    };
    let (o, r, sh) = (&line.orm, &line.raw, &line.shared);
    println!(
        "RESULT backend={} op={op} n={} orm_p50_us={:.2} orm_p90_us={:.2} orm_mean_us={:.2} orm_min_us={:.2} raw_p50_us={:.2} raw_p90_us={:.2} raw_mean_us={:.2} raw_min_us={:.2} shared_p50_us={:.2} shared_p90_us={:.2} shared_mean_us={:.2} shared_min_us={:.2} ratio_p50={:.3} ratio_p90={:.3} ratio_mean={:.3} ratio_shared_p50={:.3} ratio_shared_p90={:.3}",
        line.backend,
        line.n,
        o.p50,
        o.p90,
        o.mean,
        o.min,
        r.p50,
        r.p90,
        r.mean,
        r.min,
        sh.p50,
        sh.p90,
        sh.mean,
        sh.min,
        o.p50 / r.p50,
        o.p90 / r.p90,
        o.mean / r.mean,
        o.p50 / sh.p50,
        o.p90 / sh.p90,
    );
    line
}
