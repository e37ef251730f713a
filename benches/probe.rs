//! In-process measurements behind the HTTP figures (benches/run.sh `probe`): no sockets.
//!
//! 1. **handle cost**: `CanterService::handle` on the hello route, `--iters` times in a loop,
//!    against a reference loop that builds the same request and the same JSON response by hand
//!    (what bare_hyper's handler does). Once on a current-thread runtime, once with two tasks
//!    in parallel on a two-worker runtime, which shows costs that only appear when both cores
//!    touch the same shared data. Cost = CPU time of the whole process (every thread's
//!    /proc/self/task/*/schedstat) / requests, so other processes on the machine do not count.
//!    Allocation calls per request are counted in a separate, untimed loop.
//! 2. **heap per in-flight request**: starts `--inflight` `/sleep/` requests (2 s sleep)
//!    through `CanterService::handle`, each in its own task, and reads the bytes and the number
//!    of allocations live 200 ms later (a counting global allocator); reference: the same
//!    number of tasks each holding the same request and sleeping.
//!
//! 3. **cost per middleware** (`--cumulative A,B,...`, instead of 1 and 2): CPU ns per
//!    `handle()` on one thread with no middleware, then A, then A+B, …; five rounds
//!    interleaved, medians, and each step's difference to the one before.
//!
//! Usage: `probe [--iters 300000] [--inflight 1000] [--middleware NAME,NAME,...]`
//! or `probe [--iters 300000] --cumulative NAME,NAME,...`

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicIsize, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use canter::app::CanterService;
use canter::http::{self, HeaderValue};
use canter::prelude::*;
use canter::settings::{Settings, StallSettings};

/// The system allocator, counting live bytes and allocation calls while `COUNTING` is on
/// (off during the timed loops: the shared counters would add contention of their own).
struct Counting;

static COUNTING: AtomicBool = AtomicBool::new(false);
static LIVE_BYTES: AtomicIsize = AtomicIsize::new(0);
static ALLOCS: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTING.load(Ordering::Relaxed) {
            LIVE_BYTES.fetch_add(layout.size() as isize, Ordering::Relaxed);
            ALLOCS.fetch_add(1, Ordering::Relaxed);
        }
        System.alloc(layout)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if COUNTING.load(Ordering::Relaxed) {
            LIVE_BYTES.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        }
        System.dealloc(ptr, layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if COUNTING.load(Ordering::Relaxed) {
            LIVE_BYTES.fetch_add(
                new_size as isize - layout.size() as isize,
                Ordering::Relaxed,
            );
            ALLOCS.fetch_add(1, Ordering::Relaxed);
        }
        System.realloc(ptr, layout, new_size)
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

async fn hello(_req: Request) -> JsonResponse {
    JsonResponse::new(serde_json::json!({"message": "Hello"}))
}

async fn sleep_view(_req: Request) -> JsonResponse {
    tokio::time::sleep(Duration::from_secs(2)).await;
    JsonResponse::new(serde_json::json!({"message": "Hello"}))
}

/// CPU time used so far by every thread of this process, in ns (/proc/self/task/*/schedstat),
/// so that other processes on the shared machine do not count.
fn process_cpu_ns() -> u64 {
    std::fs::read_dir("/proc/self/task")
        .expect("/proc/self/task")
        .filter_map(|entry| {
            let path = entry.ok()?.path().join("schedstat");
            let text = std::fs::read_to_string(path).ok()?;
            text.split_whitespace().next()?.parse::<u64>().ok()
        })
        .sum()
}

/// The demo's `AsyncMiddleware` (Server-Timing), as in canter_bench.
struct Timing;

impl Middleware for Timing {
    async fn call(&self, req: Request, next: Next) -> Response {
        let start = Instant::now();
        let mut response = next.run(req).await;
        let ms = start.elapsed().as_secs_f64() * 1000.0;
        if let Ok(value) = HeaderValue::from_str(&format!("app;dur={ms:.3}")) {
            response.headers_mut().insert("server-timing", value);
        }
        response
    }
}

/// The request wrk sends, as hyper would hand it over.
fn request(path: &str) -> http::Request<canter::Body> {
    http::Request::builder()
        .uri(path)
        .header("host", "127.0.0.1:8000")
        .body(canter::Body::empty())
        .expect("request")
}

/// bare_hyper's handler work: the JSON body and its content type.
fn reference_response() -> http::Response<canter::Body> {
    let body = serde_json::to_vec(&serde_json::json!({"message": "Hello"})).expect("json");
    let mut response = http::Response::new(canter::Body::from(body));
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

async fn one(service: Option<&CanterService>) {
    match service {
        Some(service) => {
            std::hint::black_box(service.handle(request("/")).await);
        }
        None => {
            std::hint::black_box(request("/"));
            std::hint::black_box(reference_response());
        }
    }
}

fn names(list: &str) -> Vec<String> {
    list.split(',')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

fn build(middleware: &[String]) -> CanterService {
    let settings = Settings {
        debug: false,
        secret_key: Some("canter-bench-not-a-secret-only-for-local-load-tests-0123456789".into()),
        allowed_hosts: vec!["127.0.0.1".into()],
        middleware: middleware.to_vec(),
        stall: StallSettings {
            enabled: Some(false),
            ..StallSettings::default()
        },
        ..Settings::default()
    };
    App::new()
        .urls(vec![path("", hello), path("sleep/", sleep_view)])
        .register_middleware("bench.timing", |_settings| Ok(Timing))
        .build(settings)
        .expect("app builds")
}

/// `--cumulative`: CPU ns per `handle()` on one thread with the first k middleware of the
/// list, k = 0..=n, rounds interleaved, median of `ROUNDS`; each step's cost is the
/// difference to the step before.
fn run_cumulative(list: &[String], iters: usize) {
    const ROUNDS: usize = 5;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let services: Vec<CanterService> = (0..=list.len()).map(|k| build(&list[..k])).collect();
    let mut samples = vec![Vec::new(); services.len()];
    for _ in 0..ROUNDS {
        for (k, service) in services.iter().enumerate() {
            let ns = runtime.block_on(async {
                for _ in 0..iters / 10 {
                    one(Some(service)).await; // warm-up
                }
                let cpu0 = process_cpu_ns();
                for _ in 0..iters {
                    one(Some(service)).await;
                }
                (process_cpu_ns() - cpu0) as f64 / iters as f64
            });
            samples[k].push(ns);
        }
    }
    let mut previous: Option<f64> = None;
    for (k, runs) in samples.iter_mut().enumerate() {
        runs.sort_by(f64::total_cmp);
        let median = runs[ROUNDS / 2];
        let added = list
            .get(k.wrapping_sub(1))
            .filter(|_| k > 0)
            .map_or("none", |s| s.as_str());
        println!(
            "RESULT probe=cumulative step={k} added={added} cpu_ns_per_req={median:.0} delta_ns={} runs={}",
            previous.map_or("-".to_owned(), |p| format!("{:+.0}", median - p)),
            runs.iter().map(|r| format!("{r:.0}")).collect::<Vec<_>>().join("/")
        );
        previous = Some(median);
    }
}

// Long on purpose: argument parsing, then the probe's measurements in order, as a script.
fn main() {
    let mut iters: usize = 300_000;
    let mut inflight: usize = 1000;
    let mut middleware: Vec<String> = Vec::new();
    let mut cumulative: Option<Vec<String>> = None;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().unwrap_or_default();
        match flag.as_str() {
            "--iters" => iters = value.parse().expect("--iters N"),
            "--inflight" => inflight = value.parse().expect("--inflight N"),
            "--middleware" => middleware = names(&value),
            "--cumulative" => cumulative = Some(names(&value)),
            _ => {
                eprintln!(
                    "usage: probe [--iters N] [--inflight N] [--middleware NAME,...] [--cumulative NAME,...]"
                );
                std::process::exit(2);
            }
        }
    }
    if let Some(list) = cumulative {
        return run_cumulative(&list, iters);
    }
    let service = build(&middleware);
    println!("probe: middleware=[{}]", middleware.join(","));

    // 1a. One thread.
    let single = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    for (label, svc) in [("canter", Some(&service)), ("reference", None)] {
        let ns = single.block_on(async {
            for _ in 0..iters / 10 {
                one(svc).await; // warm-up
            }
            let cpu0 = process_cpu_ns();
            for _ in 0..iters {
                one(svc).await;
            }
            let ns = (process_cpu_ns() - cpu0) as f64 / iters as f64;
            // Allocation calls per request, counted in a separate, untimed loop.
            let counted = 10_000;
            COUNTING.store(true, Ordering::Relaxed);
            let allocs0 = ALLOCS.load(Ordering::Relaxed);
            for _ in 0..counted {
                one(svc).await;
            }
            let allocs = (ALLOCS.load(Ordering::Relaxed) - allocs0) as f64 / counted as f64;
            COUNTING.store(false, Ordering::Relaxed);
            (ns, allocs)
        });
        let (ns, allocs) = ns;
        println!(
            "RESULT probe=handle threads=1 who={label} cpu_ns_per_req={ns:.0} allocs_per_req={allocs:.1}"
        );
    }

    // 1b. Two tasks in parallel on two workers.
    let multi = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    for label in ["canter", "reference"] {
        let cpu0 = process_cpu_ns();
        let tasks: Vec<_> = (0..2)
            .map(|_| {
                let service = service.clone();
                multi.spawn(async move {
                    let svc = (label == "canter").then_some(&service);
                    for i in 0..iters {
                        one(svc).await;
                        if i % 64 == 0 {
                            tokio::task::yield_now().await;
                        }
                    }
                })
            })
            .collect();
        multi.block_on(async {
            for task in tasks {
                task.await.expect("task");
            }
        });
        let ns = (process_cpu_ns() - cpu0) as f64 / (2 * iters) as f64;
        println!("RESULT probe=handle threads=2 who={label} cpu_ns_per_req={ns:.0}");
    }

    // 2. Heap held per in-flight sleeping request.
    for label in ["canter", "reference"] {
        let (bytes, allocs) = multi.block_on(async {
            COUNTING.store(true, Ordering::Relaxed);
            let bytes0 = LIVE_BYTES.load(Ordering::Relaxed);
            let allocs0 = ALLOCS.load(Ordering::Relaxed);
            let mut tasks = Vec::with_capacity(inflight);
            for _ in 0..inflight {
                let service = service.clone();
                let req = request("/sleep/");
                tasks.push(tokio::spawn(async move {
                    if label == "canter" {
                        drop(service.handle(req).await);
                    } else {
                        let _held = req;
                        tokio::time::sleep(Duration::from_secs(2)).await;
                        drop(reference_response());
                    }
                }));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
            let bytes = LIVE_BYTES.load(Ordering::Relaxed) - bytes0;
            let allocs = ALLOCS.load(Ordering::Relaxed) - allocs0;
            COUNTING.store(false, Ordering::Relaxed);
            for task in &tasks {
                task.abort();
            }
            for task in tasks {
                let _ = task.await;
            }
            (bytes, allocs)
        });
        println!(
            "RESULT probe=inflight who={label} requests={inflight} heap_bytes_per_req={} allocs_per_req={}",
            bytes / inflight as isize,
            allocs / inflight
        );
    }
}
