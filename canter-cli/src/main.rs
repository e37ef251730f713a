//! `canter new NAME` starts a project; `canter startapp NAME` adds an app folder to one
//! (Django's `django-admin startproject` and `startapp`). See `docs/tutorial.md`.

mod project;
mod startapp;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Arg, ArgAction, ArgMatches, Command};

fn cli() -> Command {
    Command::new("canter")
        .version(env!("CARGO_PKG_VERSION"))
        .about("Start canter projects and apps")
        .subcommand_required(true)
        .arg_required_else_help(true)
        .subcommand(
            Command::new("new")
                .about(
                    "A new project in ./NAME: settings, URLs, a view, a model and its migration, \
                     a task, a WebSocket consumer, a template and a stylesheet, a test",
                )
                .arg(Arg::new("name").required(true).help("The project's name: a Rust crate name (letters, digits, `_` or `-`)"))
                .arg(
                    Arg::new("database")
                        .long("database")
                        .value_parser(["sqlite", "postgres"])
                        .default_value("sqlite")
                        .help("The default database: an embedded SQLite file, or PostgreSQL"),
                )
                .arg(Arg::new("redis").long("redis").action(ArgAction::SetTrue).help("Redis for the task broker and the channel layer"))
                .arg(
                    Arg::new("canter-path")
                        .long("canter-path")
                        .value_parser(clap::value_parser!(PathBuf))
                        .conflicts_with("canter-version")
                        .help("Depend on canter at this path (a checkout of its repository) instead of a version"),
                )
                .arg(Arg::new("canter-version").long("canter-version").help("The canter version to depend on"))
                .arg(
                    Arg::new("dir")
                        .long("dir")
                        .value_parser(clap::value_parser!(PathBuf))
                        .help("Where to create it (default: ./NAME)"),
                ),
        )
        .subcommand(
            Command::new("startapp")
                .about("An app folder in the current project: src/NAME/ (models, views, urls) and templates/NAME/")
                .arg(Arg::new("name").required(true)),
        )
}

fn new_project(args: &ArgMatches) -> Result<(), String> {
    let name: &String = args.get_one("name").expect("required");
    let options = project::Options {
        postgres: args
            .get_one::<String>("database")
            .is_some_and(|d| d == "postgres"),
        redis: args.get_flag("redis"),
        canter: match args.get_one::<PathBuf>("canter-path") {
            Some(path) => project::CanterSource::Path(path.clone()),
            None => project::CanterSource::Version(
                args.get_one::<String>("canter-version")
                    .cloned()
                    .unwrap_or_else(|| env!("CARGO_PKG_VERSION").to_owned()),
            ),
        },
    };
    let dir = args
        .get_one::<PathBuf>("dir")
        .cloned()
        .unwrap_or_else(|| PathBuf::from(name));
    project::create(name, &dir, &options)?;
    println!("Created {name} in {}.", dir.display());
    println!("Next: cd {} && cargo run -- runserver", dir.display());
    Ok(())
}

fn new_app(args: &ArgMatches) -> Result<(), String> {
    let name: &String = args.get_one("name").expect("required");
    let root = std::env::current_dir().map_err(|e| e.to_string())?;
    let files = startapp::create(name, &root)?;
    println!("Created the app {name}: {}", files.join(", "));
    println!("Next: add `pub mod {name};` to src/lib.rs and its urls to src/urls.rs.");
    Ok(())
}

fn main() -> ExitCode {
    let matches = cli().get_matches();
    let done = match matches.subcommand() {
        Some(("new", args)) => new_project(args),
        Some(("startapp", args)) => new_app(args),
        _ => unreachable!("clap requires a subcommand"),
    };
    match done {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}
