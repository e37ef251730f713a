//! The admin's tests, one binary: HTTP-level tests on SQLite and PostgreSQL (skipped with a
//! reason when `CANTER_TEST_POSTGRES_URL` is absent).

mod common;
mod crud;
mod hostile;
mod listing;
mod permissions;
