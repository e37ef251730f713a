//! What the tests share.

use std::process::Command;

/// The name libtest knows test `function` of module `module` (its `module_path!()`) by:
/// the module path without the crate, then the function.
pub fn test_name(module: &str, function: &str) -> String {
    match module.split_once("::") {
        Some((_crate, path)) => format!("{path}::{function}"),
        None => function.to_owned(),
    }
}

const ALONE: &str = "CANTER_CHANNELS_ALONE";

/// For a test that changes something process-wide (the tracing subscriber, the panic hook):
/// true in a process of its own, where the test goes on; elsewhere it re-runs this binary
/// filtered to `test` (its full name, [`test_name`]), checks that it ran and passed, and
/// returns false.
pub fn in_a_process_of_its_own(test: &str) -> bool {
    if std::env::var(ALONE).as_deref() == Ok(test) {
        return true;
    }
    let output = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", test, "--nocapture", "--test-threads=1"])
        .env(ALONE, test)
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
    );
    assert!(
        output.status.success() && stdout.contains("test result: ok. 1 passed"),
        "{test}, in a process of its own:\n{stdout}\n{stderr}"
    );
    false
}
