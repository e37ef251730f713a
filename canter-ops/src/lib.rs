//! canter's operations dashboard: one live page, `/ops/`, and a JSON API under `/ops/api/`,
//! for the whole running system across its processes — tasks (rates, run and wait times,
//! failures with retry, scheduled and periodic tasks, dead letters, revoke, search by id),
//! workers, queues, WebSocket connections and groups, and HTTP requests per route.
//!
//! ```no_run
//! use canter_core::prelude::*;
//! let app = App::new()
//!     // after the channel layer's plugin (Channels) and the broker's (Tasks), if any
//!     .plugin(canter_ops::Ops::new())
//!     .urls(vec![canter_ops::urls()]);
//! # let _ = app;
//! ```
//!
//! The data comes from where it lives, so any process serving the page sees every process:
//! worker snapshots and task events from the broker (the app's `send_events` must be on for
//! task figures), groups from the channel layer, and each web process's own counters (HTTP per
//! route, sockets, stall warnings: [`process`]) published every period through the layer.
//! Access: a staff session or `Authorization: Bearer <[ops] token>` ([`auth`]). See
//! docs/ops.md for the API.

pub mod api;
pub mod auth;
pub mod board;
pub mod book;
mod gather;
pub mod history;
pub mod page;
pub mod process;
pub mod render;
pub mod settings;
pub mod svg;

use std::sync::Arc;

use canter_accounts::guards::AccountsPatterns;
use canter_channels::counters::CountingLayer;
use canter_channels::ChannelLayer;
use canter_core::routing::{include, path, UrlPattern};
use canter_kernel::{BoxFuture, CommandError, Plugin, Services, StartContext};
use http::Method;

pub use board::OpsState;
pub use settings::OpsSettings;

/// The commands under which the dashboard publishes and samples: the server (a test's app or a
/// worker process counts nothing the page needs; workers publish through the broker).
pub const SERVING_COMMANDS: [&str; 1] = ["runserver"];

/// The plugin: counters for this process, the board, and (under a server) the loops that
/// publish and read them. Put it after the channel layer's plugin, whose layer it wraps to
/// count group messages.
#[derive(Default)]
pub struct Ops {
    beat: Option<canter_tasks::beat::Beat>,
    token_variable: Option<String>,
}

impl Ops {
    /// The plugin, reading `[ops]` from the settings.
    pub fn new() -> Self {
        Self::default()
    }

    /// Shows `beat`'s periodic entries with their next run (the app's `Tasks::beat()`).
    pub fn periodic(mut self, beat: canter_tasks::beat::Beat) -> Self {
        self.beat = Some(beat);
        self
    }

    /// Takes the bearer token from environment variable `name` when it is set and not empty
    /// (over `[ops] token`).
    pub fn token_from_env(mut self, name: &str) -> Self {
        self.token_variable = Some(name.to_owned());
        self
    }
}

impl Plugin for Ops {
    fn name(&self) -> &'static str {
        "ops"
    }

    fn start<'a>(&'a self, ctx: &'a StartContext) -> BoxFuture<'a, Result<Services, CommandError>> {
        Box::pin(async move {
            let mut settings: OpsSettings = ctx.settings.section("ops")?;
            if let Some(token) = self
                .token_variable
                .as_deref()
                .and_then(|name| std::env::var(name).ok())
                .filter(|t| !t.is_empty())
            {
                settings.token = Some(token);
            }
            let state = Arc::new(OpsState::new(settings, &ctx.command, self.beat.clone()));
            let mut services = Services::new();
            services.insert_shared(state.http.clone());
            services.insert_shared(state.sockets.clone());
            services.insert_shared(state.stalls.clone());
            if let Some(layer) = ctx.services.get::<Arc<dyn ChannelLayer>>() {
                let counted: Arc<dyn ChannelLayer> =
                    Arc::new(CountingLayer::new(layer.clone(), state.sockets.clone()));
                services.insert(counted);
            }
            services.insert(state);
            Ok(services)
        })
    }

    fn ready<'a>(&'a self, ctx: &'a StartContext) -> BoxFuture<'a, Result<(), CommandError>> {
        Box::pin(async move {
            if ctx.needs_services && SERVING_COMMANDS.contains(&ctx.command.as_str()) {
                if let Some(state) = ctx.services.get::<Arc<OpsState>>() {
                    let layer = ctx.services.get::<Arc<dyn ChannelLayer>>().cloned();
                    state.start_loops(layer);
                }
            }
            Ok(())
        })
    }

    fn stop<'a>(&'a self, services: &'a Services) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            if let Some(state) = services.get::<Arc<OpsState>>() {
                state.stop_loops();
            }
        })
    }
}

/// The dashboard's routes under `ops/`: one line in the URL conf, `canter_ops::urls()`.
/// Exempt from the CSRF middleware; a session's posts are checked by the dashboard itself
/// (see [`auth`]).
pub fn urls() -> UrlPattern {
    let get = || [Method::GET, Method::HEAD];
    let post = || [Method::POST];
    include(
        "ops/",
        vec![
            path("", page::page).name("page").methods(get()),
            path("stream/", page::stream).name("stream").methods(get()),
            path("assets/ops.js", page::script)
                .name("script")
                .methods(get()),
            path("assets/ops.css", page::styles)
                .name("styles")
                .methods(get()),
            path("api/summary/", api::summary)
                .name("summary")
                .methods(get()),
            path("api/workers/", api::workers)
                .name("workers")
                .methods(get()),
            path("api/queues/", api::queues)
                .name("queues")
                .methods(get()),
            path("api/tasks/", api::recent_tasks)
                .name("tasks")
                .methods(get()),
            path("api/tasks/<str:id>/", api::task_detail)
                .name("task")
                .methods(get()),
            path("api/tasks/<str:id>/revoke/", api::revoke)
                .name("revoke")
                .methods(post()),
            path("api/tasks/<str:id>/retry/", api::retry)
                .name("retry")
                .methods(post()),
            path("api/failures/", api::failures)
                .name("failures")
                .methods(get()),
            path("api/scheduled/", api::scheduled)
                .name("scheduled")
                .methods(get()),
            path("api/dead-letters/", api::dead_letters)
                .name("dead-letters")
                .methods(get()),
            path("api/dead-letters/retry/", api::retry_dead_letters)
                .name("retry-dead-letters")
                .methods(post()),
            path("api/task-times/", api::task_times)
                .name("task-times")
                .methods(get()),
            path("api/series/", api::series)
                .name("series")
                .methods(get()),
            path("api/channels/", api::channels)
                .name("channels")
                .methods(get()),
            path("api/http/", api::http).name("http").methods(get()),
        ],
    )
    .namespace("ops")
    .csrf_exempt()
}
