//! `makemigrations`, `migrate`, `showmigrations`, `sqlmigrate`, and applying migrations when
//! `runserver` starts on an embedded database.

use std::sync::Arc;

use canter_kernel::management::{CommandContext, CommandError, ManagementCommand};
use clap::{Arg, ArgAction, ArgMatches};
use futures_util::future::BoxFuture;

use super::{make_migrations, Executor, MakeOptions, MigrationSet, RenameHint, Target};
use crate::db::{database, DEFAULT_DB_ALIAS};
use crate::Orm;

/// The ORM's commands, each holding the app's models and migration settings.
pub(crate) fn commands(orm: Arc<Orm>) -> Vec<Arc<dyn ManagementCommand>> {
    vec![
        Arc::new(MakeMigrations(orm.clone())),
        Arc::new(Migrate(orm.clone())),
        Arc::new(ShowMigrations(orm.clone())),
        Arc::new(SqlMigrate(orm)),
        Arc::new(crate::schema::inspect::InspectDb),
    ]
}

#[derive(serde::Deserialize)]
#[serde(default)]
struct MigrationSettings {
    dir: Option<std::path::PathBuf>,
    /// Apply pending migrations when `runserver` starts on SQLite (the embedded database).
    auto_apply: bool,
}

impl Default for MigrationSettings {
    fn default() -> Self {
        Self {
            dir: None,
            auto_apply: true,
        }
    }
}

pub(crate) async fn apply_on_runserver(
    orm: &Orm,
    settings: &canter_kernel::Settings,
) -> Result<(), CommandError> {
    let options: MigrationSettings = settings.section("migrations")?;
    let _ = &options.dir;
    let set = MigrationSet::load(&orm.dir(settings))?;
    let executor = Executor::new(set, DEFAULT_DB_ALIAS);
    let pending = executor.plan(&Target::Latest).await?;
    if pending.is_empty() {
        return Ok(());
    }
    let names: Vec<String> = pending
        .iter()
        .map(|s| format!("{}.{}", s.key.0, s.key.1))
        .collect();
    let db = database(DEFAULT_DB_ALIAS)?;
    if db.features().embedded && options.auto_apply {
        for line in executor.migrate(&Target::Latest).await? {
            println!("{line}");
        }
        println!(
            "Applied {} migration(s) to the embedded database {}.",
            names.len(),
            db.display_url
        );
        Ok(())
    } else {
        Err(format!(
            "{} unapplied migration(s) on database {:?} ({}): run the `migrate` command first{}",
            names.len(),
            DEFAULT_DB_ALIAS,
            names.join(", "),
            if db.features().embedded {
                " (or set [migrations] auto_apply = true)"
            } else {
                ""
            }
        )
        .into())
    }
}

struct MakeMigrations(Arc<Orm>);

impl ManagementCommand for MakeMigrations {
    fn name(&self) -> &'static str {
        "makemigrations"
    }
    fn command(&self) -> clap::Command {
        clap::Command::new("makemigrations")
            .about("Writes new migration files for model changes")
            .arg(Arg::new("apps").num_args(0..).help("Only these apps"))
            .arg(
                Arg::new("name")
                    .long("name")
                    .help("Name after the number (0002_<name>)"),
            )
            .arg(
                Arg::new("rename")
                    .long("rename")
                    .action(ArgAction::Append)
                    .value_name("Model.old=new | Old=New")
                    .help("Confirms a field or model rename"),
            )
            .arg(
                Arg::new("no-rename")
                    .long("no-rename")
                    .action(ArgAction::SetTrue)
                    .help("Treat vanished and new fields as removed and added (drops data)"),
            )
            .arg(
                Arg::new("check")
                    .long("check")
                    .action(ArgAction::SetTrue)
                    .help("Exit with an error if migrations are missing; write nothing"),
            )
            .arg(
                Arg::new("dry-run")
                    .long("dry-run")
                    .action(ArgAction::SetTrue)
                    .help("Show what would be written"),
            )
    }
    /// Schema work: no broker or channel layer is connected for it.
    fn needs_services(&self) -> bool {
        false
    }

    fn run<'a>(
        &'a self,
        ctx: &'a CommandContext,
        args: &'a ArgMatches,
    ) -> BoxFuture<'a, Result<(), CommandError>> {
        Box::pin(async move {
            let dir = self.0.writable_dir(&ctx.settings)?;
            let set = MigrationSet::load(&dir)?;
            let renames = args
                .get_many::<String>("rename")
                .into_iter()
                .flatten()
                .map(|r| RenameHint::parse(r))
                .collect::<Result<Vec<_>, _>>()?;
            let options = MakeOptions {
                apps: args
                    .get_many::<String>("apps")
                    .into_iter()
                    .flatten()
                    .cloned()
                    .collect(),
                renames,
                no_rename: args.get_flag("no-rename"),
                name: args.get_one::<String>("name").cloned(),
            };
            let made = make_migrations(&set, self.0.models(), &options)?;
            if made.is_empty() {
                println!("No changes detected");
                return Ok(());
            }
            if args.get_flag("check") {
                return Err(
                    format!("{} migration(s) missing: run makemigrations", made.len()).into(),
                );
            }
            for migration in &made {
                if args.get_flag("dry-run") {
                    println!(
                        "Would write {}/{}.json:\n{}",
                        migration.app,
                        migration.name,
                        migration.to_json()
                    );
                    continue;
                }
                let path = set.write(migration)?;
                println!("Migrations for '{}':\n  {}", migration.app, path.display());
                for op in &migration.operations {
                    println!("    - {}", op.describe());
                }
            }
            Ok(())
        })
    }
}

struct Migrate(Arc<Orm>);

impl ManagementCommand for Migrate {
    fn name(&self) -> &'static str {
        "migrate"
    }
    fn command(&self) -> clap::Command {
        clap::Command::new("migrate")
            .about("Applies (or with a target, unapplies) migrations")
            .arg(Arg::new("app").help("Only this app"))
            .arg(Arg::new("target").help("Migrate the app to this migration (earlier ones stay, later ones are unapplied); `zero` unapplies all"))
            .arg(Arg::new("database").long("database").default_value(DEFAULT_DB_ALIAS).help("Database alias"))
            .arg(Arg::new("plan").long("plan").action(ArgAction::SetTrue).help("Show the plan; change nothing"))
    }
    /// Schema work: no broker or channel layer is connected for it.
    fn needs_services(&self) -> bool {
        false
    }

    fn run<'a>(
        &'a self,
        ctx: &'a CommandContext,
        args: &'a ArgMatches,
    ) -> BoxFuture<'a, Result<(), CommandError>> {
        Box::pin(async move {
            let set = MigrationSet::load(&self.0.dir(&ctx.settings))?;
            let alias = args.get_one::<String>("database").expect("default");
            let target = match (
                args.get_one::<String>("app"),
                args.get_one::<String>("target"),
            ) {
                (None, _) => Target::Latest,
                (Some(app), None) => Target::App {
                    app: app.clone(),
                    name: set.leaves(app).into_iter().next(),
                },
                (Some(app), Some(t)) if t == "zero" => Target::App {
                    app: app.clone(),
                    name: None,
                },
                (Some(app), Some(t)) => Target::App {
                    app: app.clone(),
                    name: Some(t.clone()),
                },
            };
            let executor = Executor::new(set, alias);
            if args.get_flag("plan") {
                let plan = executor.plan(&target).await?;
                if plan.is_empty() {
                    println!("No planned migration operations.");
                }
                for step in plan {
                    println!(
                        "{} {}.{}",
                        if step.forwards { "Apply" } else { "Unapply" },
                        step.key.0,
                        step.key.1
                    );
                }
                return Ok(());
            }
            let mut any = false;
            executor
                .migrate_reporting(&target, |line| {
                    any = true;
                    println!("  {line}");
                })
                .await?;
            if !any {
                println!("No migrations to apply.");
            }
            Ok(())
        })
    }
}

struct ShowMigrations(Arc<Orm>);

impl ManagementCommand for ShowMigrations {
    fn name(&self) -> &'static str {
        "showmigrations"
    }
    fn command(&self) -> clap::Command {
        clap::Command::new("showmigrations")
            .about("Lists migrations and whether each is applied ([X])")
            .arg(Arg::new("apps").num_args(0..))
            .arg(
                Arg::new("database")
                    .long("database")
                    .default_value(DEFAULT_DB_ALIAS),
            )
    }
    /// Schema work: no broker or channel layer is connected for it.
    fn needs_services(&self) -> bool {
        false
    }

    fn run<'a>(
        &'a self,
        ctx: &'a CommandContext,
        args: &'a ArgMatches,
    ) -> BoxFuture<'a, Result<(), CommandError>> {
        Box::pin(async move {
            let set = MigrationSet::load(&self.0.dir(&ctx.settings))?;
            let only: Vec<String> = args
                .get_many::<String>("apps")
                .into_iter()
                .flatten()
                .cloned()
                .collect();
            let executor = Executor::new(set, args.get_one::<String>("database").expect("default"));
            let applied = executor.applied().await?;
            let in_progress = executor.in_progress().await?;
            for app in executor.set.apps() {
                if !only.is_empty() && !only.contains(&app) {
                    continue;
                }
                println!("{app}");
                for m in executor.set.ordered.iter().filter(|m| m.app == app) {
                    match in_progress.get(&m.key()) {
                        // Part-way through (DDL not transactional): how far it got.
                        Some(p) => println!(
                            " [~] {} ({} of {} steps {})",
                            m.name,
                            p.steps_done,
                            executor
                                .steps(&m.key(), executor.vendor()?, p.forwards)?
                                .len(),
                            if p.forwards { "applied" } else { "unapplied" }
                        ),
                        None => {
                            let mark = if applied.contains(&m.key()) { "X" } else { " " };
                            println!(" [{mark}] {}", m.name);
                        }
                    }
                }
            }
            Ok(())
        })
    }
}

struct SqlMigrate(Arc<Orm>);

impl ManagementCommand for SqlMigrate {
    fn name(&self) -> &'static str {
        "sqlmigrate"
    }
    fn command(&self) -> clap::Command {
        clap::Command::new("sqlmigrate")
            .about("Prints the SQL of a migration")
            .arg(Arg::new("app").required(true))
            .arg(Arg::new("name").required(true))
            .arg(
                Arg::new("backwards")
                    .long("backwards")
                    .action(ArgAction::SetTrue),
            )
            .arg(
                Arg::new("database")
                    .long("database")
                    .default_value(DEFAULT_DB_ALIAS),
            )
    }
    /// Schema work: no broker or channel layer is connected for it.
    fn needs_services(&self) -> bool {
        false
    }

    fn run<'a>(
        &'a self,
        ctx: &'a CommandContext,
        args: &'a ArgMatches,
    ) -> BoxFuture<'a, Result<(), CommandError>> {
        Box::pin(async move {
            let set = MigrationSet::load(&self.0.dir(&ctx.settings))?;
            let alias = args.get_one::<String>("database").expect("default");
            let vendor = database(alias)?.vendor;
            let app = args.get_one::<String>("app").expect("required").clone();
            let name = args.get_one::<String>("name").expect("required").clone();
            let executor = Executor::new(set, alias);
            println!("BEGIN;");
            for step in executor.steps(&(app, name), vendor, !args.get_flag("backwards"))? {
                match step {
                    super::operations::Step::Sql(sql) => println!("{sql};"),
                    super::operations::Step::Rust(f) => println!("-- Rust function {f}"),
                }
            }
            println!("COMMIT;");
            Ok(())
        })
    }
}
