//! A record of the tests that skipped for want of a service, so one test at the end of
//! `cargo test --workspace` can say how many skipped and why, instead of their passing in
//! silence. Each skip appends a line to `skipped-services.log` in the build's output folder
//! (beside `deps/`), tagged with the id of the `cargo` process that ran the test binary, so
//! the summary counts only this run's.

use std::io::Write;
use std::path::PathBuf;

fn log_path() -> Option<PathBuf> {
    // target/<profile>/deps/<test binary> → target/<profile>/skipped-services.log
    let exe = std::env::current_exe().ok()?;
    Some(exe.parent()?.parent()?.join("skipped-services.log"))
}

fn run_id() -> u32 {
    std::os::unix::process::parent_id()
}

/// Notes that the current test skipped, and why (`"CANTER_TEST_REDIS_URL is not set"`).
/// [`require_service`](super::require_service) calls it; call it from a skip of your own.
pub fn record(reason: &str) {
    let reason = reason.replace(['\t', '\n'], " ");
    let Some(path) = log_path() else { return };
    let test = std::thread::current()
        .name()
        .unwrap_or("(unnamed test)")
        .to_owned();
    let binary = std::env::current_exe()
        .ok()
        .and_then(|p| p.file_stem().map(|n| n.to_string_lossy().into_owned()))
        .map(|stem| match stem.rsplit_once('-') {
            // `orm-f1e71b12e6dc499f` → `orm`
            Some((name, hash)) if hash.chars().all(|c| c.is_ascii_hexdigit()) => name.to_owned(),
            _ => stem,
        })
        .unwrap_or_default();
    // Earlier runs' lines are never read again; keep the file from growing without end.
    if std::fs::metadata(&path).is_ok_and(|m| m.len() > 1 << 20) {
        let _ = std::fs::remove_file(&path);
    }
    // One short line per write: appends of it from several test binaries do not interleave.
    let line = format!("{}\t{reason}\t{binary}::{test}\n", run_id());
    if let Ok(mut file) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
    {
        let _ = file.write_all(line.as_bytes());
    }
}

/// The skips of this `cargo test` run so far: (reason, `binary::test`).
pub fn skipped_in_this_run() -> Vec<(String, String)> {
    let Some(text) = log_path().and_then(|p| std::fs::read_to_string(p).ok()) else {
        return Vec::new();
    };
    let run = run_id().to_string();
    text.lines()
        .filter_map(|line| {
            let mut parts = line.splitn(3, '\t');
            let (id, reason, test) = (parts.next()?, parts.next()?, parts.next()?);
            (id == run).then(|| (reason.to_owned(), test.to_owned()))
        })
        .collect()
}

/// The summary of [`skipped_in_this_run`]: one line per reason, with its count.
pub fn summary() -> String {
    let skipped = skipped_in_this_run();
    if skipped.is_empty() {
        return "no test skipped for want of a service".to_owned();
    }
    let mut by_reason: std::collections::BTreeMap<&str, Vec<&str>> = Default::default();
    for (reason, test) in &skipped {
        by_reason.entry(reason).or_default().push(test);
    }
    let mut out = format!(
        "{} test(s) SKIPPED for want of a service (they did not run; `.ci/run` sets these):",
        skipped.len()
    );
    for (reason, tests) in by_reason {
        out.push_str(&format!(
            "\n  {reason}: {} test(s), e.g. {}",
            tests.len(),
            tests[0]
        ));
    }
    out
}
