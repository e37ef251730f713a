//! Tests that run in a process of their own: this same test binary re-run, filtered to one test.

use std::process::{Child, Command, Stdio};

/// The name libtest knows test `function` of module `module` (its `module_path!()`) by:
/// the module path without the crate, then the function.
pub fn test_name(module: &str, function: &str) -> String {
    match module.split_once("::") {
        Some((_crate, path)) => format!("{path}::{function}"),
        None => function.to_owned(),
    }
}

/// Set, to the test's name, in the process [`in_a_process_of_its_own`] starts.
const ALONE: &str = "CANTER_TEST_ALONE";

/// For a test that changes something process-wide (the tracing subscriber, the panic hook,
/// per-process counters): true in a process of its own, where the test goes on; elsewhere it
/// re-runs this binary filtered to `test` (its full name, [`test_name`]), checks that it ran
/// and passed, and returns false.
pub fn in_a_process_of_its_own(test: &str) -> bool {
    if std::env::var(ALONE).as_deref() == Ok(test) {
        return true;
    }
    let output = Command::new(std::env::current_exe().expect("the test binary's path"))
        .args(["--exact", test, "--nocapture", "--test-threads=1"])
        .env(ALONE, test)
        .output()
        .expect("the test binary runs again");
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

/// Re-runs this test binary's `test` alone, in the background, with `env_key=value`: the child
/// sees the variable and takes the test's other branch (a worker to be killed, say). Its output
/// is dropped.
pub fn spawn_test_process(test: &str, env_key: &str, value: &str) -> Child {
    Command::new(std::env::current_exe().expect("the test binary's path"))
        .args(["--exact", test, "--nocapture"])
        .env(env_key, value)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the test binary runs again")
}

/// Child processes, killed and reaped when dropped (however the test ends: no orphans).
pub struct Children(pub Vec<Child>);

impl Drop for Children {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
