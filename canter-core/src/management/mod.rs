//! The management CLI inside the project's own binary (Django's `manage.py`): `runserver`,
//! `check`, `routes`, and whatever commands the app and the other parts register through
//! [`App::command`](crate::App::command).
//!
//! ```text
//! demo [--settings FILE] runserver [ADDR]     # ADDR: 8000, 0.0.0.0:8000, [::1]:8000
//! demo check [--deploy]
//! demo routes
//! ```

mod check;
mod routes;
mod runserver;

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Arg, ArgMatches};
use futures_util::future::BoxFuture;

use crate::app::{App, CanterService};
use crate::settings::Settings;

/// What a command can fail with; printed as `error: …` and exit status 1.
pub type CommandError = Box<dyn std::error::Error + Send + Sync>;

/// What a command runs with: the loaded settings and the built app.
pub struct CommandContext {
    pub settings: Arc<Settings>,
    /// The settings file that was read, if any (for messages).
    pub settings_file: Option<PathBuf>,
    pub service: CanterService,
}

/// A management command. Its `command()` is a clap subcommand named `name()`.
///
/// ```
/// use canter_core::management::{CommandContext, CommandError, ManagementCommand};
/// use canter_core::BoxFuture;
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
    fn name(&self) -> &'static str;
    fn command(&self) -> clap::Command;
    fn run<'a>(
        &'a self,
        ctx: &'a CommandContext,
        args: &'a ArgMatches,
    ) -> BoxFuture<'a, Result<(), CommandError>>;
}

pub(crate) fn builtin_commands() -> Vec<Arc<dyn ManagementCommand>> {
    vec![
        Arc::new(runserver::RunServer),
        Arc::new(check::Check),
        Arc::new(routes::Routes),
    ]
}

/// Parses `args` (with the program name first) and runs the command on `app`.
pub fn main(mut app: App, args: Vec<OsString>) -> ExitCode {
    let program = args
        .first()
        .and_then(|a| {
            std::path::Path::new(a)
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
        })
        .unwrap_or_else(|| "canter".into());
    let commands = std::mem::take(&mut app.commands);
    let mut cli = clap::Command::new(program)
        .about(
            app.about
                .clone()
                .unwrap_or_else(|| "Management commands of this canter project".into()),
        )
        .subcommand_required(true)
        .arg_required_else_help(true)
        .arg(
            Arg::new("settings")
                .long("settings")
                .global(true)
                .value_name("FILE")
                .value_parser(clap::value_parser!(PathBuf))
                .help("Settings file (default: $CANTER_SETTINGS, else ./canter.toml if present)"),
        );
    for command in &commands {
        cli = cli.subcommand(command.command());
    }
    let matches = match cli.try_get_matches_from(args) {
        Ok(matches) => matches,
        Err(err) => {
            let _ = err.print();
            return ExitCode::from(u8::try_from(err.exit_code()).unwrap_or(2));
        }
    };
    init_logging();
    let settings_file =
        Settings::discover_file(matches.get_one::<PathBuf>("settings").map(PathBuf::as_path));
    let settings = match Settings::load_layered(&app.base_settings, settings_file.as_deref()) {
        Ok(settings) => settings,
        Err(err) => {
            eprintln!("error: improperly configured: {err}");
            return ExitCode::FAILURE;
        }
    };
    let (name, sub_matches) = matches.subcommand().expect("a subcommand is required");
    let startup = std::mem::take(&mut app.startup);
    let shutdown = std::mem::take(&mut app.shutdown);
    let Some(command) = commands.iter().find(|c| c.name() == name) else {
        eprintln!("error: unknown command {name:?}");
        return ExitCode::FAILURE;
    };
    let service = match app.build(settings.clone()) {
        Ok(service) => service,
        Err(err) => {
            eprintln!("error: {err}");
            return ExitCode::FAILURE;
        }
    };
    let ctx = CommandContext {
        settings: Arc::new(settings),
        settings_file,
        service,
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: cannot start the tokio runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        let result = async {
            for hook in &startup {
                hook(ctx.settings.clone(), name.to_owned()).await?;
            }
            command.run(&ctx, sub_matches).await
        }
        .await;
        for hook in &shutdown {
            hook(ctx.settings.clone(), name.to_owned()).await;
        }
        result
    });
    // Don't wait on leftover blocking tasks (a stuck sync_to_async) at exit.
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}

/// Logs to stderr; `RUST_LOG` filters (default `info`). Colours only when stderr is a
/// terminal: a log redirected to a file or a collector gets no escape codes.
pub fn init_logging() {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
}
