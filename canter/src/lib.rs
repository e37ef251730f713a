//! # canter: Django's async stack, in Rust
//!
//! Async views, async middleware, URL routing with `reverse`, settings, a management CLI, a
//! test client, the async ORM ([`orm`], cargo feature `orm`), Channels ([`channels`], feature
//! `channels`) and background tasks ([`tasks`], feature `tasks`). Start with [`prelude`] and [`App`].
//!
//! ```no_run
//! use canter::prelude::*;
//!
//! async fn async_view(_req: Request) -> JsonResponse {
//!     tokio::time::sleep(std::time::Duration::from_secs(2)).await; // holds up nobody else
//!     JsonResponse::new(serde_json::json!({"message": "Hello from async view"}))
//! }
//!
//! fn main() -> std::process::ExitCode {
//!     App::new().urls(vec![path("async/", async_view).name("async")]).main()
//! }
//! ```

#![warn(missing_docs)]

pub use canter_core::*;

// Only in canter's repository (see build.rs): the guides live beside the crate, not in it.
#[cfg(all(doctest, canter_guides))]
mod guides;

/// The async ORM (`canter_orm`): models, querysets, transactions. `#[derive(canter::orm::Model)]`.
#[cfg(feature = "orm")]
pub mod orm {
    pub use canter_orm::*;
}

/// Channels (`canter_channels`): WebSocket consumers, groups, channel layers, SSE.
#[cfg(feature = "channels")]
pub mod channels {
    pub use canter_channels::*;
}

/// Background tasks (`canter_tasks`): `#[canter::tasks::task]`, `delay`, workers, results.
#[cfg(feature = "tasks")]
pub mod tasks {
    pub use canter_tasks::*;
}

/// Pages (`canter_pages`): templates, static files, forms (`#[derive(canter::pages::forms::Form)]`)
/// and file uploads.
#[cfg(feature = "pages")]
pub mod pages {
    pub use canter_pages::*;
}

/// Accounts (`canter_accounts`): signed cookies, sessions, users, groups and permissions,
/// password hashing, login and logout, CSRF protection — on Django's formats and tables.
#[cfg(feature = "accounts")]
pub mod accounts {
    pub use canter_accounts::*;
}

/// The admin (`canter_admin`): register models and staff users list, search, filter, add,
/// change and delete their rows — Django's `django.contrib.admin`.
#[cfg(feature = "admin")]
pub mod admin {
    pub use canter_admin::*;
}

/// The operations dashboard (`canter_ops`): `/ops/`, a live page and a JSON API for tasks,
/// workers, queues, sockets, groups and requests across every process.
#[cfg(feature = "ops")]
pub mod ops {
    pub use canter_ops::*;
}
