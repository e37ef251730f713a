//! canter's accounts: Django's `contrib.sessions`, `contrib.auth` and CSRF protection,
//! natively async, and compatible with Django's own data — the same `SECRET_KEY` and
//! database give one login to a Django site and a canter service beside it.
//!
//! See `docs/accounts.md`.

pub mod crypto;
pub mod hashers;
pub mod signing;
