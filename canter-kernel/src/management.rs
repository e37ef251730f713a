//! Management commands (Django's `BaseCommand`): what a part or a project adds to the
//! program's command line. The command line itself (`App::main`) is the HTTP crate's.

use std::path::PathBuf;
use std::sync::Arc;

use clap::ArgMatches;
use futures_util::future::BoxFuture;

use crate::services::Services;
use crate::settings::Settings;

/// What a command can fail with; printed as `error: …` and exit status 1.
pub type CommandError = Box<dyn std::error::Error + Send + Sync>;

/// What a command runs with: the loaded settings and the app's services.
pub struct CommandContext {
    /// The program's settings, as loaded from the file and the environment.
    pub settings: Arc<Settings>,
    /// The settings file that was read, if any (for messages).
    pub settings_file: Option<PathBuf>,
    /// The app's services (its databases, broker, channel layer, state); the command also
    /// runs inside the app's scope, so `services::current()` finds them too.
    pub services: Arc<Services>,
    /// What the program adds for its own commands: the HTTP crate puts the built app here
    /// (its `CanterService`, which `runserver` serves).
    pub extensions: Services,
}

/// A management command. Its `command()` is a clap subcommand named `name()`.
///
/// ```
/// use canter_kernel::management::{CommandContext, CommandError, ManagementCommand};
/// use canter_kernel::BoxFuture;
///
/// struct Hello;
///
/// impl ManagementCommand for Hello {
///     fn name(&self) -> &'static str { "hello" }
///     fn command(&self) -> clap::Command {
///         clap::Command::new("hello").about("Says hello").arg(clap::Arg::new("who").default_value("world"))
///     }
///     fn run<'a>(&'a self, _ctx: &'a CommandContext, args: &'a clap::ArgMatches) -> BoxFuture<'a, Result<(), CommandError>> {
///         Box::pin(async move {
///             println!("hello, {}", args.get_one::<String>("who").unwrap());
///             Ok(())
///         })
///     }
/// }
/// ```
pub trait ManagementCommand: Send + Sync + 'static {
    /// The command's name on the command line (`migrate`); one of the same name replaces it.
    fn name(&self) -> &'static str;
    /// Its arguments and help, as a clap subcommand named [`name`](Self::name).
    fn command(&self) -> clap::Command;
    /// Runs it with the parsed arguments; an error is printed as `error: …` and the process
    /// exits with status 1.
    fn run<'a>(
        &'a self,
        ctx: &'a CommandContext,
        args: &'a ArgMatches,
    ) -> BoxFuture<'a, Result<(), CommandError>>;

    /// Whether this command runs the app, so its plugins connect their brokers and channel
    /// layers first (the default). Commands that only look at or change the project's code
    /// and schema (`check`, `routes`, `makemigrations`, `migrate`, …) say `false`: they need
    /// no broker up and create no broker file. Databases are set up for every command (their
    /// pools connect on first use).
    fn needs_services(&self) -> bool {
        true
    }
}
