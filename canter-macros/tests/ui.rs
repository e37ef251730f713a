//! Compile-fail tests: each file in `tests/ui/` makes one of the macros' error messages
//! (`src/errors.rs`), and its `.stderr` shows the message at the tokens it should point at.
//! After changing a message, `TRYBUILD=overwrite cargo test -p canter-macros --test ui` writes
//! the new snapshots; read them before committing.

#[test]
fn every_error_message_points_at_its_cause() {
    trybuild::TestCases::new().compile_fail("tests/ui/*.rs");
}
