//! A bounded HTTP/1.1 load generator for many slow requests (benches/run.sh `sleep`).
//!
//! wrk's fixed time window cuts a 2-second view short (in `-d10s` each connection finishes
//! at most 4 sleeps), so this client counts requests instead of time:
//!
//! 1. **connect**: opens `--conns` TCP connections to `--addr`, paced at `--connect-rate`
//!    per second with at most `--connect-concurrency` connects in flight, each bounded by
//!    `--connect-timeout`. The pacing is there because a listener's accept queue is short
//!    (tokio's `TcpListener::bind` listens with a backlog of 128): when it overflows the SYN
//!    is dropped and that connect waits for the 1 s retransmit (counted as a slow connect);
//!    connections sit idle until the phase ends, so it must stay shorter than the server's
//!    keep-alive timeout (canter: 5 s);
//! 2. **requests**: once every connect has finished, each open connection sends `--requests`
//!    sequential keep-alive `GET --path` requests over raw HTTP/1.1, reading the status line,
//!    the headers and `Content-Length` bytes of body; each request is bounded by
//!    `--request-timeout`. Wall time runs from the start of this phase to the last response.
//!
//! Everything is under `--total-timeout`; past it the run stops and reports what it counted
//! (`timed_out=1`, exit code 1). Throughput = completed requests / phase-2 wall time; the
//! ideal for a view that sleeps `--sleep-secs` is conns / sleep-secs requests per second.
//!
//! The last line of output is `RESULT key=value ...` for scripts.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

struct Config {
    addr: SocketAddr,
    path: String,
    conns: usize,
    requests: usize,
    connect_concurrency: usize,
    connect_rate: f64,
    connect_timeout: Duration,
    request_timeout: Duration,
    total_timeout: Duration,
    sleep_secs: f64,
    server_pid: Option<u32>,
}

fn usage() -> ! {
    eprintln!(
        "usage: load --addr HOST:PORT [--path /sleep/] [--conns 10000] [--requests 3] \
         [--connect-concurrency 64] [--connect-rate 5000] [--connect-timeout SECS] [--request-timeout SECS] \
         [--total-timeout SECS] [--sleep-secs 2] [--server-pid PID]"
    );
    std::process::exit(2);
}

fn parse_args() -> Config {
    let mut cfg = Config {
        addr: "127.0.0.1:8000".parse().unwrap(),
        path: "/sleep/".into(),
        conns: 10_000,
        requests: 3,
        connect_concurrency: 64,
        connect_rate: 5000.0,
        connect_timeout: Duration::from_secs(10),
        request_timeout: Duration::from_secs(30),
        total_timeout: Duration::from_secs(120),
        sleep_secs: 2.0,
        server_pid: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().unwrap_or_else(|| usage());
        let secs = |v: &str| Duration::from_secs_f64(v.parse().unwrap_or_else(|_| usage()));
        match flag.as_str() {
            "--addr" => cfg.addr = value.parse().unwrap_or_else(|_| usage()),
            "--path" => cfg.path = value,
            "--conns" => cfg.conns = value.parse().unwrap_or_else(|_| usage()),
            "--requests" => cfg.requests = value.parse().unwrap_or_else(|_| usage()),
            "--connect-concurrency" => {
                cfg.connect_concurrency = value.parse().unwrap_or_else(|_| usage())
            }
            "--connect-rate" => cfg.connect_rate = value.parse().unwrap_or_else(|_| usage()),
            "--connect-timeout" => cfg.connect_timeout = secs(&value),
            "--request-timeout" => cfg.request_timeout = secs(&value),
            "--total-timeout" => cfg.total_timeout = secs(&value),
            "--server-pid" => cfg.server_pid = Some(value.parse().unwrap_or_else(|_| usage())),
            "--sleep-secs" => cfg.sleep_secs = value.parse().unwrap_or_else(|_| usage()),
            _ => usage(),
        }
    }
    if cfg.conns == 0
        || cfg.requests == 0
        || cfg.connect_concurrency == 0
        || cfg.connect_rate.is_nan()
        || cfg.connect_rate <= 0.0
    {
        usage();
    }
    cfg
}

/// Counters shared by every task, readable even if the run is cut by the total timeout.
#[derive(Default)]
struct Counters {
    connected: AtomicU64,
    connect_errors: AtomicU64,
    connect_timeouts: AtomicU64,
    /// Connects that took more than 900 ms (a SYN retransmit, most likely).
    slow_connects: AtomicU64,
    ok: AtomicU64,
    bad_status: AtomicU64,
    io_errors: AtomicU64,
    closed_early: AtomicU64,
    parse_errors: AtomicU64,
    request_timeouts: AtomicU64,
    /// Requests never sent because an earlier one on the same connection failed.
    skipped: AtomicU64,
}

/// Why a request failed (the details are only counted).
enum Failure {
    Status,
    Io,
    Closed,
    Parse,
}

fn find_head_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n").map(|p| p + 4)
}

/// Parses the status code and Content-Length of a response head.
fn parse_head(head: &[u8]) -> Result<(u16, usize), Failure> {
    let text = std::str::from_utf8(head).map_err(|_| Failure::Parse)?;
    let mut lines = text.split("\r\n");
    let status_line = lines.next().ok_or(Failure::Parse)?;
    let mut parts = status_line.splitn(3, ' ');
    let version = parts.next().unwrap_or("");
    if !version.starts_with("HTTP/1.") {
        return Err(Failure::Parse);
    }
    let status: u16 = parts
        .next()
        .and_then(|s| s.parse().ok())
        .ok_or(Failure::Parse)?;
    let mut length = None;
    for line in lines {
        if let Some((name, value)) = line.split_once(':') {
            if name.trim().eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().ok();
            }
        }
    }
    let length = length.ok_or(Failure::Parse)?;
    Ok((status, length))
}

/// One request/response on a kept-alive connection; `buf` keeps any bytes read past the end.
async fn exchange(
    stream: &mut TcpStream,
    request: &[u8],
    buf: &mut Vec<u8>,
) -> Result<(), Failure> {
    stream.write_all(request).await.map_err(|_| Failure::Io)?;
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(end) = find_head_end(buf) {
            break end;
        }
        if buf.len() > 64 * 1024 {
            return Err(Failure::Parse);
        }
        let n = stream.read(&mut chunk).await.map_err(|_| Failure::Io)?;
        if n == 0 {
            return Err(Failure::Closed);
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let (status, length) = parse_head(&buf[..head_end])?;
    while buf.len() < head_end + length {
        let n = stream.read(&mut chunk).await.map_err(|_| Failure::Io)?;
        if n == 0 {
            return Err(Failure::Closed);
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    buf.drain(..head_end + length);
    if status != 200 {
        return Err(Failure::Status);
    }
    Ok(())
}

/// Runs the requests of one connection; returns the latencies (µs) of the successful ones.
async fn run_connection(
    mut stream: TcpStream,
    cfg: Arc<Config>,
    request: Arc<Vec<u8>>,
    counters: Arc<Counters>,
) -> Vec<u32> {
    let mut latencies = Vec::with_capacity(cfg.requests);
    let mut buf = Vec::with_capacity(1024);
    for i in 0..cfg.requests {
        let start = Instant::now();
        let outcome = tokio::time::timeout(
            cfg.request_timeout,
            exchange(&mut stream, &request, &mut buf),
        )
        .await;
        let failed = match outcome {
            Ok(Ok(())) => {
                latencies.push(start.elapsed().as_micros().min(u32::MAX as u128) as u32);
                counters.ok.fetch_add(1, Ordering::Relaxed);
                false
            }
            Ok(Err(Failure::Status)) => {
                // The connection is still usable after a complete non-200 response.
                counters.bad_status.fetch_add(1, Ordering::Relaxed);
                false
            }
            Ok(Err(Failure::Io)) => {
                counters.io_errors.fetch_add(1, Ordering::Relaxed);
                true
            }
            Ok(Err(Failure::Closed)) => {
                counters.closed_early.fetch_add(1, Ordering::Relaxed);
                true
            }
            Ok(Err(Failure::Parse)) => {
                counters.parse_errors.fetch_add(1, Ordering::Relaxed);
                true
            }
            Err(_) => {
                counters.request_timeouts.fetch_add(1, Ordering::Relaxed);
                true
            }
        };
        if failed {
            let left = (cfg.requests - i - 1) as u64;
            counters.skipped.fetch_add(left, Ordering::Relaxed);
            break;
        }
    }
    latencies
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    // Nearest rank.
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1] as f64 / 1000.0
}

/// A `kB` field of /proc/PID/status (VmRSS, VmHWM), if readable.
fn proc_status_kb(pid: Option<u32>, field: &str) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{}/status", pid?)).ok()?;
    text.lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
}

struct Outcome {
    connect_secs: f64,
    /// The server's VmRSS once every connection is open and idle (before any request).
    rss_open_kb: Option<u64>,
    max_connect_ms: f64,
    wall_secs: f64,
    latencies: Vec<u32>,
}

// One connection's loop (connect, send, read, record, reconnect after errors); its branches
// share the connection's state, so it stays one function.
async fn run(
    cfg: Arc<Config>,
    counters: Arc<Counters>,
    outcome: Arc<std::sync::Mutex<Option<Outcome>>>,
) {
    // Phase 1: connect, with a bounded number of connects in flight.
    let permits = Arc::new(Semaphore::new(cfg.connect_concurrency));
    let max_connect_us = Arc::new(AtomicU64::new(0));
    let connect_start = Instant::now();
    let mut connects = JoinSet::new();
    // Paced: every 5 ms, the connects due by then (connect_rate per second).
    let mut pace = tokio::time::interval(Duration::from_millis(5));
    pace.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    for i in 0..cfg.conns {
        let due = (i as f64 / cfg.connect_rate).max(0.0);
        while connect_start.elapsed().as_secs_f64() < due {
            pace.tick().await;
        }
        let permits = permits.clone();
        let cfg = cfg.clone();
        let counters = counters.clone();
        let max_connect_us = max_connect_us.clone();
        connects.spawn(async move {
            let _permit = permits.acquire_owned().await.expect("semaphore open");
            let start = Instant::now();
            let result =
                tokio::time::timeout(cfg.connect_timeout, TcpStream::connect(cfg.addr)).await;
            let took = start.elapsed();
            max_connect_us.fetch_max(took.as_micros() as u64, Ordering::Relaxed);
            if took > Duration::from_millis(900) {
                counters.slow_connects.fetch_add(1, Ordering::Relaxed);
            }
            match result {
                Ok(Ok(stream)) => {
                    let _ = stream.set_nodelay(true);
                    counters.connected.fetch_add(1, Ordering::Relaxed);
                    Some(stream)
                }
                Ok(Err(_)) => {
                    counters.connect_errors.fetch_add(1, Ordering::Relaxed);
                    None
                }
                Err(_) => {
                    counters.connect_timeouts.fetch_add(1, Ordering::Relaxed);
                    None
                }
            }
        });
    }
    let mut streams = Vec::with_capacity(cfg.conns);
    while let Some(joined) = connects.join_next().await {
        if let Ok(Some(stream)) = joined {
            streams.push(stream);
        }
    }
    let connect_secs = connect_start.elapsed().as_secs_f64();
    let rss_open_kb = proc_status_kb(cfg.server_pid, "VmRSS");
    let lost = (cfg.conns - streams.len()) as u64 * cfg.requests as u64;
    counters.skipped.fetch_add(lost, Ordering::Relaxed);

    // Phase 2: every connection sends its requests, all starting together.
    let request = Arc::new(
        format!(
            "GET {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: canter-bench-load\r\n\r\n",
            cfg.path,
            cfg.addr.ip()
        )
        .into_bytes(),
    );
    let start = Instant::now();
    let mut tasks = JoinSet::new();
    for stream in streams {
        tasks.spawn(run_connection(
            stream,
            cfg.clone(),
            request.clone(),
            counters.clone(),
        ));
    }
    let mut latencies = Vec::with_capacity(cfg.conns * cfg.requests);
    while let Some(joined) = tasks.join_next().await {
        if let Ok(mut l) = joined {
            latencies.append(&mut l);
        }
    }
    let wall_secs = start.elapsed().as_secs_f64();
    *outcome.lock().unwrap() = Some(Outcome {
        connect_secs,
        rss_open_kb,
        max_connect_ms: max_connect_us.load(Ordering::Relaxed) as f64 / 1000.0,
        wall_secs,
        latencies,
    });
}

// Long on purpose: the load generator's run from start to report, as a script.
fn main() {
    let cfg = Arc::new(parse_args());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let counters = Arc::new(Counters::default());
    let outcome = Arc::new(std::sync::Mutex::new(None));
    let started = Instant::now();
    let timed_out = runtime.block_on(async {
        tokio::time::timeout(
            cfg.total_timeout,
            run(cfg.clone(), counters.clone(), outcome.clone()),
        )
        .await
        .is_err()
    });
    let elapsed = started.elapsed().as_secs_f64();
    // Drop leftover tasks (only after a total timeout) without waiting for them.
    runtime.shutdown_timeout(Duration::from_millis(500));

    let c = |a: &AtomicU64| a.load(Ordering::Relaxed);
    let ok = c(&counters.ok);
    let errors = c(&counters.connect_errors)
        + c(&counters.connect_timeouts)
        + c(&counters.bad_status)
        + c(&counters.io_errors)
        + c(&counters.closed_early)
        + c(&counters.parse_errors)
        + c(&counters.request_timeouts);
    let ideal_rps = cfg.conns as f64 / cfg.sleep_secs;
    let taken = outcome.lock().unwrap().take();
    let (connect_secs, rss_open_kb, max_connect_ms, wall_secs, mut latencies) = match taken {
        Some(o) => (
            o.connect_secs,
            o.rss_open_kb,
            o.max_connect_ms,
            o.wall_secs,
            o.latencies,
        ),
        None => (f64::NAN, None, f64::NAN, elapsed, Vec::new()),
    };
    // The server's peak RSS so far (the kernel's high-water mark), read before it is stopped.
    let hwm_kb = proc_status_kb(cfg.server_pid, "VmHWM");
    let mb = |kb: Option<u64>| kb.map_or(f64::NAN, |kb| kb as f64 / 1024.0);
    latencies.sort_unstable();
    let rps = ok as f64 / wall_secs;
    println!(
        "load: {} conns x {} requests of GET {} on {} (connects paced at {}/s, at most {} in flight)",
        cfg.conns, cfg.requests, cfg.path, cfg.addr, cfg.connect_rate, cfg.connect_concurrency
    );
    println!(
        "  connect phase: {:.2} s, {} connected, {} connect errors, {} connect timeouts, {} connects > 900 ms, slowest {:.1} ms",
        connect_secs,
        c(&counters.connected),
        c(&counters.connect_errors),
        c(&counters.connect_timeouts),
        c(&counters.slow_connects),
        max_connect_ms
    );
    println!(
        "  request phase: {:.2} s wall (ideal {:.2} s), {} ok, {:.1} req/s = {:.3} of ideal {:.0} req/s",
        wall_secs,
        cfg.requests as f64 * cfg.sleep_secs,
        ok,
        rps,
        rps / ideal_rps,
        ideal_rps
    );
    println!(
        "  errors: {} (non-200 {}, io {}, closed early {}, parse {}, request timeouts {}); {} requests not sent",
        errors,
        c(&counters.bad_status),
        c(&counters.io_errors),
        c(&counters.closed_early),
        c(&counters.parse_errors),
        c(&counters.request_timeouts),
        c(&counters.skipped)
    );
    println!(
        "  latency ms: p50 {:.1}, p90 {:.1}, p99 {:.1}, max {:.1}",
        percentile(&latencies, 50.0),
        percentile(&latencies, 90.0),
        percentile(&latencies, 99.0),
        percentile(&latencies, 100.0)
    );
    if cfg.server_pid.is_some() {
        println!(
            "  server memory: VmRSS {:.1} MB with every connection open and idle, VmHWM (peak) {:.1} MB at the end",
            mb(rss_open_kb),
            mb(hwm_kb)
        );
    }
    println!(
        "RESULT conns={} requests={} ok={} errors={} skipped={} connect_s={:.3} slow_connects={} wall_s={:.3} rps={:.1} ideal_rps={:.1} ratio={:.4} p50_ms={:.1} p90_ms={:.1} p99_ms={:.1} max_ms={:.1} rss_open_mb={:.1} hwm_mb={:.1} timed_out={}",
        cfg.conns,
        cfg.requests,
        ok,
        errors,
        c(&counters.skipped),
        connect_secs,
        c(&counters.slow_connects),
        wall_secs,
        rps,
        ideal_rps,
        rps / ideal_rps,
        percentile(&latencies, 50.0),
        percentile(&latencies, 90.0),
        percentile(&latencies, 99.0),
        percentile(&latencies, 100.0),
        mb(rss_open_kb),
        mb(hwm_kb),
        u8::from(timed_out)
    );
    if timed_out {
        std::process::exit(1);
    }
}
