//! canter-accounts' tests: one binary (link time), a module per area.

mod common;
mod csrf;
mod django_interop;
mod login;
mod sessions;
mod websocket;
