//! What the task benchmarks share: one run's figures, and the report — a line per run, then
//! the medians with the ratios to the reference measured in the same runs.

/// One run: canter's figures and the reference's two (what it enqueues and takes per second).
pub struct Run {
    pub enqueue: f64,
    pub drain: f64,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub raw_in: f64,
    pub raw_out: f64,
}

/// The `q` quantile of sorted `values`.
pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    sorted[((sorted.len() as f64 * q) as usize).min(sorted.len() - 1)]
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// Prints run `n`; `raw_in` / `raw_out` name the reference's figures ("raw LPUSH").
pub fn print_run(n: usize, r: &Run, raw_in: &str, raw_out: &str) {
    println!(
        "run {n}: enqueue {:.0}/s ({raw_in} {:.0}/s), drain {:.0}/s ({raw_out} {:.0}/s), latency p50 {:.2} ms p90 {:.2} ms p99 {:.2} ms",
        r.enqueue, r.raw_in, r.drain, r.raw_out, r.p50, r.p90, r.p99
    );
}

/// Prints the medians of `runs` (ratios: medians of the per-run ratios).
pub fn print_medians(runs: &[Run], raw_in: &str, raw_out: &str) {
    let m = |f: fn(&Run) -> f64| median(runs.iter().map(f).collect());
    println!(
        "median: enqueue {:.0}/s = {:.2}x {raw_in} ({:.0}/s); drain {:.0}/s = {:.2}x {raw_out} ({:.0}/s); enqueue->start p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms",
        m(|r| r.enqueue),
        m(|r| r.enqueue / r.raw_in),
        m(|r| r.raw_in),
        m(|r| r.drain),
        m(|r| r.drain / r.raw_out),
        m(|r| r.raw_out),
        m(|r| r.p50),
        m(|r| r.p90),
        m(|r| r.p99),
    );
}
