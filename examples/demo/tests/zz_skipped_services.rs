//! The last test binary of `cargo test --workspace` (cargo runs the packages' test binaries
//! in name order, and this is the last name of the last package): it says how many tests of
//! this run skipped for want of a service, and why, so a run without PostgreSQL, Redis or
//! Python does not look like a full pass. (The doc tests still run after it.)

use std::io::Write;

#[test]
fn say_which_tests_skipped_for_want_of_a_service() {
    let summary = canter::test::skips::summary();
    // Straight to the process's stderr: the test harness captures `eprintln!`, not this.
    let _ = writeln!(std::io::stderr(), "\n{summary}\n");
    if std::env::var("CANTER_REQUIRE_SERVICES").is_ok_and(|v| v == "1" || v == "true") {
        assert!(
            canter::test::skips::skipped_in_this_run().is_empty(),
            "CANTER_REQUIRE_SERVICES=1, yet: {summary}"
        );
    }
}
