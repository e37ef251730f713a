//! Parts of canter (and a project's own) plug into an app through [`Plugin`]: each names
//! itself, brings its management commands, and at start-up builds the services it owns from
//! the settings (Django's `AppConfig.ready()`, with the services returned instead of set as
//! globals).
//!
//! ```
//! use std::sync::Arc;
//! use canter_kernel::{BoxFuture, CommandError, Plugin, Services, StartContext};
//!
//! /// A greeting read from `[greeter] text` in the settings.
//! struct Greeter;
//! #[derive(Clone)]
//! struct Greeting(String);
//!
//! impl Plugin for Greeter {
//!     fn name(&self) -> &'static str { "greeter" }
//!     fn start<'a>(&'a self, ctx: &'a StartContext) -> BoxFuture<'a, Result<Services, CommandError>> {
//!         Box::pin(async move {
//!             #[derive(serde::Deserialize, Default)]
//!             #[serde(default)]
//!             struct Section { text: String }
//!             let section: Section = ctx.settings.section("greeter")?;
//!             Ok(Services::new().with(Greeting(section.text)))
//!         })
//!     }
//! }
//! ```

use std::sync::Arc;

use futures_util::future::BoxFuture;

use crate::management::{CommandError, ManagementCommand};
use crate::services::Services;
use crate::settings::Settings;

/// A part of an app: its commands, and the services it starts and stops.
pub trait Plugin: Send + Sync + 'static {
    /// A short name for messages (`"orm"`, `"tasks"`, `"channels"`).
    fn name(&self) -> &'static str;

    /// The management commands this part adds (`migrate`, `worker`, …).
    fn commands(&self) -> Vec<Arc<dyn ManagementCommand>> {
        Vec::new()
    }

    /// Builds this part's services before the command runs. An unreachable service the
    /// settings name is an error here (naming the setting and the address), never a silent
    /// fallback. `ctx.services` holds what the plugins before this one started.
    fn start<'a>(&'a self, ctx: &'a StartContext) -> BoxFuture<'a, Result<Services, CommandError>>;

    /// Starts background work that needs the whole app (an in-process worker), once every
    /// plugin has started, inside the app's scope; `ctx.services` holds all of its services.
    fn ready<'a>(&'a self, ctx: &'a StartContext) -> BoxFuture<'a, Result<(), CommandError>> {
        let _ = ctx;
        Box::pin(async { Ok(()) })
    }

    /// Ends this part's background work after the command returns (however it ended), given
    /// the app's services; the process exits once every plugin's `stop` has returned, so a
    /// plugin bounds its own wait.
    fn stop<'a>(&'a self, services: &'a Services) -> BoxFuture<'a, ()> {
        let _ = services;
        Box::pin(async {})
    }
}

/// What a plugin starts with.
pub struct StartContext {
    /// The program's settings, as loaded from the file and the environment.
    pub settings: Arc<Settings>,
    /// The management command about to run (`"runserver"`, `"worker"`, `"migrate"`, …; `"test"`
    /// for an app started by a test).
    pub command: String,
    /// Whether the command runs the app ([`ManagementCommand::needs_services`]): brokers and
    /// channel layers are connected only then, so `check` or `migrate` does not need Redis up.
    pub needs_services: bool,
    /// At [`Plugin::start`], the services the plugins before this one started (and the app's
    /// own state); at [`Plugin::ready`], all of the app's services.
    pub services: Arc<Services>,
}
