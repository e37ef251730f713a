//! Migrations generated from the model definitions (Django's `django.db.migrations`):
//! [`state`] (what the files describe), [`autodetector`] (what changed), [`operations`],
//! [`loader`] (files and their graph), `recorder` (what is applied), [`executor`] (applying,
//! unapplying, locking), and the `makemigrations` / `migrate` / `showmigrations` /
//! `sqlmigrate` commands.

pub mod autodetector;
mod commands;
pub mod executor;
pub mod loader;
pub mod operations;
mod recorder;
pub mod state;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use futures_util::future::BoxFuture;

pub use autodetector::RenameHint;
pub use executor::{Executor, PlanStep, Target};
pub use loader::{Migration, MigrationSet};
pub use operations::Operation;

use crate::error::OrmError;
use crate::model::{Model, ModelMeta};
use state::{ModelState, ProjectState};

/// What can go wrong with migrations; file problems name the file.
#[derive(Debug, thiserror::Error)]
pub enum MigrationError {
    #[error("migration file {path}: {message}")]
    File { path: PathBuf, message: String },
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Ambiguous(String),
    #[error("{0}")]
    NeedsDefault(String),
    #[error("{0} cannot be reversed (it has no backward part)")]
    Irreversible(String),
    #[error("migration {migration} failed running `{sql}`: {message}")]
    Failed {
        migration: String,
        sql: String,
        message: String,
    },
    #[error(transparent)]
    Database(OrmError),
}

type RustMigration = Arc<dyn Fn() -> BoxFuture<'static, Result<(), OrmError>> + Send + Sync>;

static RUST_MIGRATIONS: RwLock<Option<HashMap<String, RustMigration>>> = RwLock::new(None);

/// Registers a Rust data-migration function under `name`, for `{"op": "run_rust", "forward":
/// name}`. It runs inside the migration's transaction: ORM calls in it join it.
pub fn register_rust_migration<F, Fut>(name: &str, function: F)
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<(), OrmError>> + Send + 'static,
{
    let mut registry = RUST_MIGRATIONS.write().unwrap_or_else(|e| e.into_inner());
    registry
        .get_or_insert_with(HashMap::new)
        .insert(name.to_owned(), Arc::new(move || Box::pin(function())));
}

pub(crate) fn rust_migration(name: &str) -> Result<RustMigration, MigrationError> {
    let registry = RUST_MIGRATIONS.read().unwrap_or_else(|e| e.into_inner());
    registry
        .as_ref()
        .and_then(|r| r.get(name).cloned())
        .ok_or_else(|| {
            MigrationError::Invalid(format!(
                "no Rust migration function {name:?} is registered (register_rust_migration)"
            ))
        })
}

/// The models an app registers for migrations, by app.
pub fn state_of(models: &[&'static ModelMeta]) -> ProjectState {
    let mut state = ProjectState::default();
    for meta in models {
        let model = ModelState::from_meta(meta);
        state.models.insert(model.key(), model);
        for join in ModelState::join_models(meta) {
            state.models.insert(join.key(), join);
        }
    }
    state
}

/// Options of `makemigrations`.
#[derive(Debug, Clone, Default)]
pub struct MakeOptions {
    /// Only these apps (all with models when empty).
    pub apps: Vec<String>,
    pub renames: Vec<RenameHint>,
    pub no_rename: bool,
    /// The name after the number (`0002_<name>`); derived from the operations otherwise.
    pub name: Option<String>,
}

/// The new migrations that bring the files' state to `models` (nothing is written).
pub fn make_migrations(
    set: &MigrationSet,
    models: &[&'static ModelMeta],
    options: &MakeOptions,
) -> Result<Vec<Migration>, MigrationError> {
    let mut from = set.state()?;
    let to = state_of(models);
    // A model renamed (or moved to another table) takes the keys pointing at it along, as the
    // RenameModel operation does to the state: compared after that, they need no AlterField.
    let mut moves: Vec<(String, String, String)> = Vec::new();
    for hint in &options.renames {
        if let RenameHint::Model { old, new } = hint {
            let found: Vec<(String, String, String)> = from
                .models
                .values()
                .filter(|m| m.name == *old && from.model(&m.app, new).is_none())
                .filter_map(|m| {
                    let target = to.model(&m.app, new)?;
                    Some((m.key(), target.key(), target.table.clone()))
                })
                .collect();
            if found.is_empty() {
                return Err(MigrationError::Invalid(format!(
                    "--rename {old}={new}: no app has a model {old} that went away while {new} appeared"
                )));
            }
            moves.extend(found);
        }
    }
    for model in to.models.values() {
        if let Some(before) = from.models.get(&model.key()) {
            if before.table != model.table {
                moves.push((model.key(), model.key(), model.table.clone()));
            }
        }
    }
    for (old, new, table) in &moves {
        from.rename_references(old, new, table);
    }
    let mut apps: Vec<String> = to
        .models
        .values()
        .map(|m| m.app.clone())
        .chain(from.models.values().map(|m| m.app.clone()))
        .collect();
    apps.sort();
    apps.dedup();
    if !options.apps.is_empty() {
        apps.retain(|a| options.apps.contains(a));
    }
    // First every app's operations, then the dependencies: an app's migration may point at
    // another app's model whose new migration comes later in the alphabet.
    let mut planned: Vec<(String, Vec<Operation>)> = Vec::new();
    for app in apps {
        let operations =
            autodetector::changes(&app, &from, &to, &options.renames, options.no_rename)?;
        if !operations.is_empty() {
            planned.push((app, operations));
        }
    }
    let mut made: Vec<Migration> = Vec::new();
    for (app, operations) in &planned {
        let number = set.next_number(app);
        let suffix = match &options.name {
            Some(name) => name.clone(),
            None if number == 1 => "initial".into(),
            None if operations.len() == 1 => operations[0].name_fragment(),
            None => format!("auto_{}", chrono::Utc::now().format("%Y%m%d_%H%M")),
        };
        made.push(Migration {
            app: app.clone(),
            name: format!("{number:04}_{suffix}"),
            dependencies: Vec::new(),
            operations: operations.clone(),
        });
    }
    // The latest migration of each app once these are written: the new one, else the leaf.
    let latest = |app: &str| -> Option<String> {
        made.iter()
            .find(|m| m.app == app)
            .map(|m| m.name.clone())
            .or_else(|| set.leaves(app).into_iter().next())
    };
    let mut all_dependencies = Vec::new();
    for migration in &made {
        let mut dependencies: Vec<(String, String)> = set
            .leaves(&migration.app)
            .into_iter()
            .map(|leaf| (migration.app.clone(), leaf))
            .collect();
        // Django's dependency on another app: a foreign key (or a join table's key) to one of
        // its models needs that app's migrations applied first, for the table to exist.
        let mut other_apps: Vec<String> = referenced_models(&migration.operations)
            .filter_map(|model| model.split_once('.').map(|(app, _)| app.to_owned()))
            .filter(|app| *app != migration.app)
            .collect();
        other_apps.sort();
        other_apps.dedup();
        for other in other_apps {
            // An app without migrations (its tables made another way) is no dependency.
            if let Some(name) = latest(&other) {
                dependencies.push((other, name));
            }
        }
        all_dependencies.push(dependencies);
    }
    for (migration, dependencies) in made.iter_mut().zip(all_dependencies) {
        migration.dependencies = dependencies;
    }
    refuse_cycles(&made)?;
    Ok(made)
}

/// The `app.Model`s the foreign keys of these operations point at.
fn referenced_models(operations: &[Operation]) -> impl Iterator<Item = &str> {
    operations.iter().flat_map(|op| {
        let fields: Vec<&state::FieldState> = match op {
            Operation::CreateModel { fields, .. } => fields.iter().collect(),
            Operation::AddField { field, .. } | Operation::AlterField { field, .. } => {
                vec![field]
            }
            _ => Vec::new(),
        };
        fields
            .into_iter()
            .filter_map(|f| f.references.as_ref().map(|r| r.model.as_str()))
    })
}

/// New migrations of two apps that point at each other's models cannot be ordered.
fn refuse_cycles(made: &[Migration]) -> Result<(), MigrationError> {
    let new_deps = |m: &Migration| -> Vec<usize> {
        m.dependencies
            .iter()
            .filter_map(|(app, name)| made.iter().position(|o| o.app == *app && o.name == *name))
            .collect()
    };
    let mut done = vec![false; made.len()];
    loop {
        let ready = (0..made.len())
            .find(|&i| !done[i] && new_deps(&made[i]).iter().all(|&d| done[d] || d == i));
        match ready {
            Some(i) => done[i] = true,
            None => break,
        }
    }
    let stuck: Vec<String> = made
        .iter()
        .zip(&done)
        .filter(|(_, done)| !**done)
        .map(|(m, _)| format!("{}.{}", m.app, m.name))
        .collect();
    if stuck.is_empty() {
        Ok(())
    } else {
        Err(MigrationError::Invalid(format!(
            "the new migrations {} depend on each other (foreign keys between their apps both ways): make one app's migration first (makemigrations <app>), without the foreign key back, then the rest",
            stuck.join(", ")
        )))
    }
}

/// The ORM in an [`App`](canter_core::App), with models and migrations:
///
/// ```no_run
/// # #[derive(canter_orm::Model)]
/// # #[model(crate = canter_orm, app = "demo")]
/// # struct MyModel { id: i64 }
/// let app = canter_core::App::new().install(
///     canter_orm::migrations::Orm::new()
///         .model::<MyModel>()
///         .migrations_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations"))
///         .plugin(),
/// );
/// ```
#[derive(Clone, Default)]
pub struct Orm {
    models: Vec<&'static ModelMeta>,
    dir: Option<PathBuf>,
}

impl Orm {
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers a model for `makemigrations`.
    pub fn model<M: Model>(mut self) -> Self {
        self.models.push(M::meta());
        self
    }

    /// Where migration files live (`<dir>/<app>/<name>.json`). The settings key
    /// `[migrations] dir` overrides it at run time (for a deployed binary).
    pub fn migrations_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.dir = Some(dir.into());
        self
    }

    /// Databases at start-up (as [`crate::plugin`]) plus the migration commands.
    pub fn plugin(self) -> impl FnOnce(canter_core::App) -> canter_core::App {
        move |app| commands::install(crate::plugin(app), Arc::new(self))
    }

    pub(crate) fn dir(&self, settings: &canter_core::settings::Settings) -> PathBuf {
        #[derive(serde::Deserialize, Default)]
        struct Section {
            dir: Option<PathBuf>,
        }
        settings
            .section::<Section>("migrations")
            .ok()
            .and_then(|s| s.dir)
            .or_else(|| self.dir.clone())
            .unwrap_or_else(|| PathBuf::from("migrations"))
    }

    pub(crate) fn models(&self) -> &[&'static ModelMeta] {
        &self.models
    }
}

/// Applies every pending migration of database `alias` from the files in `dir` (what
/// `migrate` does); returns what it did.
pub async fn migrate_all(
    dir: &std::path::Path,
    alias: &str,
) -> Result<Vec<String>, MigrationError> {
    let set = MigrationSet::load(dir)?;
    Executor::new(set, alias).migrate(&Target::Latest).await
}
