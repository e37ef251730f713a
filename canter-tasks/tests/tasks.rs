//! The task scenarios (tests/suite), each a test on the embedded broker and one on Redis.

mod common;
mod suite;
