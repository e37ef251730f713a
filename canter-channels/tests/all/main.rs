//! canter-channels' integration tests, one binary (one link) for all: a module per concern.
//! Each test brings its own layer (in-memory, or Redis under a prefix of its own) and app
//! scope, so they run at once and alone alike. The abrupt-disconnect test installs a
//! process-wide subscriber and panic hook, so it re-runs this binary as a process of its own
//! (`canter_test_kit::in_a_process_of_its_own`).

mod abrupt_disconnects;
mod consumers;
mod dropped_messages;
#[cfg(feature = "orm")]
mod group_send_on_commit;
mod python_interop;
mod redis_layer;
mod redis_outage;
mod stall;
