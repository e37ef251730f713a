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

use clap::Arg;

pub use canter_kernel::management::{CommandContext, CommandError, ManagementCommand};

use crate::app::{App, CanterService};
use crate::settings::Settings;

pub(crate) fn builtin_commands() -> Vec<Arc<dyn ManagementCommand>> {
    vec![
        Arc::new(runserver::RunServer),
        Arc::new(check::Check),
        Arc::new(routes::Routes),
    ]
}

/// The built app a command of this program runs with (`runserver` serves it).
pub fn app_service(ctx: &CommandContext) -> &CanterService {
    ctx.extensions
        .get::<CanterService>()
        .expect("App::main puts the built app into every command's context")
}

/// Parses `args` (with the program name first) and runs the command on `app`: loads the
/// settings, starts the app's plugins (inside the one runtime of the process), builds the
/// app, runs the command inside the app's scope, then stops the plugins.
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
    let about = app
        .about
        .clone()
        .unwrap_or_else(|| "Management commands of this canter project".into());
    let matches = match cli(program, about, &commands).try_get_matches_from(args) {
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
        Ok(settings) => Arc::new(settings),
        Err(err) => {
            eprintln!("error: improperly configured: {err}");
            return ExitCode::FAILURE;
        }
    };
    let (name, sub_matches) = matches.subcommand().expect("a subcommand is required");
    let Some(command) = commands.iter().find(|c| c.name() == name).cloned() else {
        eprintln!("error: unknown command {name:?}");
        return ExitCode::FAILURE;
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
        let needs_services = command.needs_services();
        let started = app.start_as(settings.clone(), name, needs_services).await?;
        let ctx = CommandContext {
            settings,
            settings_file,
            services: started.services().clone(),
            extensions: canter_kernel::Services::new().with(started.service().clone()),
        };
        let result = started
            .services()
            .clone()
            .scope(command.run(&ctx, sub_matches))
            .await;
        started.stop().await;
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

/// The command line: `--settings FILE` and a subcommand per management command.
fn cli(program: String, about: String, commands: &[Arc<dyn ManagementCommand>]) -> clap::Command {
    let mut cli = clap::Command::new(program)
        .about(about)
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
    for command in commands {
        cli = cli.subcommand(command.command());
    }
    cli
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
