//! Migrations generated from the model definitions (Django's `django.db.migrations`):
//! [`state`] (what the files describe), [`autodetector`] (what changed), [`operations`],
//! [`loader`] (files and their graph), `recorder` (what is applied), [`executor`] (applying,
//! unapplying, locking), and the `makemigrations` / `migrate` / `showmigrations` /
//! `sqlmigrate` commands.

pub mod autodetector;
mod commands;
pub(crate) use commands::{apply_on_runserver, commands};
pub mod executor;
pub mod loader;
pub mod operations;
pub mod progress;
mod recorder;
/// The model states migrations replay (they live with the schema: [`crate::schema::state`]).
pub use crate::schema::state;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use futures_util::future::BoxFuture;

pub use autodetector::RenameHint;
pub use executor::{Executor, PlanStep, Target};
pub use loader::{Migration, MigrationSet};
pub use operations::Operation;
pub use progress::Progress;

/// The ORM's plugin, which holds the models and migration settings (also at the crate root).
pub use crate::Orm;

use crate::error::OrmError;
use crate::model::ModelMeta;
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
    /// A step failed on a database whose DDL is not transactional: the steps before it stay
    /// applied, and the next `migrate` goes on from the failed one.
    #[error("migration {migration} failed at step {step} of {steps} running `{sql}`: {message}; {}", left_applied(*step))]
    PartlyApplied {
        migration: String,
        step: usize,
        steps: usize,
        sql: String,
        message: String,
    },
    #[error(transparent)]
    Database(OrmError),
}

/// What a failure at step `step` (from 1) leaves behind, where DDL is not transactional.
fn left_applied(step: usize) -> String {
    let kept = match step {
        1 => "no step of it was applied".to_owned(),
        2 => "step 1 stays applied (this database's DDL is not transactional)".to_owned(),
        n => format!(
            "steps 1 to {} stay applied (this database's DDL is not transactional)",
            n - 1
        ),
    };
    format!("{kept}; fix the cause and run migrate again to go on from step {step}")
}

type RustMigration = Arc<dyn Fn() -> BoxFuture<'static, Result<(), OrmError>> + Send + Sync>;

/// Rust data-migration functions by name, for `{"op": "run_rust", "forward": name}`
/// ([`Orm::rust_migration`](crate::Orm::rust_migration) adds them to an app; a test can put
/// its own among the services it runs with). Each runs inside its migration's transaction:
/// ORM calls in it join it.
#[derive(Clone, Default)]
pub struct RustMigrations(HashMap<String, RustMigration>);

impl RustMigrations {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `function` under `name`.
    pub fn add<F, Fut>(mut self, name: &str, function: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = Result<(), OrmError>> + Send + 'static,
    {
        self.0
            .insert(name.to_owned(), Arc::new(move || Box::pin(function())));
        self
    }
}

/// The current app's Rust migration function `name`.
pub(crate) fn rust_migration(name: &str) -> Result<RustMigration, MigrationError> {
    canter_kernel::services::with_current(|app| {
        app.get::<RustMigrations>()
            .and_then(|functions| functions.0.get(name).cloned())
    })
    .flatten()
    .ok_or_else(|| {
        MigrationError::Invalid(format!(
            "no Rust migration function {name:?} is registered (Orm::rust_migration)"
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
    for (old, new, table) in &model_moves(&from, &to, options)? {
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
    let mut made: Vec<Migration> = Vec::new();
    for app in apps {
        let operations =
            autodetector::changes(&app, &from, &to, &options.renames, options.no_rename)?;
        if !operations.is_empty() {
            made.push(new_migration(set, options, app, operations));
        }
    }
    let all_dependencies: Vec<_> = made.iter().map(|m| dependencies(set, &made, m)).collect();
    for (migration, dependencies) in made.iter_mut().zip(all_dependencies) {
        migration.dependencies = dependencies;
    }
    refuse_cycles(&made)?;
    Ok(made)
}

/// The models that move (renamed by a `--rename` hint, or given another table): for each, its
/// old key, its new key and its new table.
fn model_moves(
    from: &ProjectState,
    to: &ProjectState,
    options: &MakeOptions,
) -> Result<Vec<(String, String, String)>, MigrationError> {
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
    Ok(moves)
}

/// App `app`'s next migration, numbered after the files' and named after its operations (or
/// `options.name`); its dependencies come later.
fn new_migration(
    set: &MigrationSet,
    options: &MakeOptions,
    app: String,
    operations: Vec<Operation>,
) -> Migration {
    let number = set.next_number(&app);
    let suffix = match &options.name {
        Some(name) => name.clone(),
        None if number == 1 => "initial".into(),
        None if operations.len() == 1 => operations[0].name_fragment(),
        None => format!("auto_{}", chrono::Utc::now().format("%Y%m%d_%H%M")),
    };
    Migration {
        app,
        name: format!("{number:04}_{suffix}"),
        dependencies: Vec::new(),
        operations,
    }
}

/// What new migration `migration` depends on: its app's leaves, and the latest migration of
/// each other app one of its foreign keys points into (among `made`, else the files').
fn dependencies(
    set: &MigrationSet,
    made: &[Migration],
    migration: &Migration,
) -> Vec<(String, String)> {
    let latest = |app: &str| -> Option<String> {
        made.iter()
            .find(|m| m.app == app)
            .map(|m| m.name.clone())
            .or_else(|| set.leaves(app).into_iter().next())
    };
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
    dependencies
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

/// Applies every pending migration of database `alias` from the files in `dir` (what
/// `migrate` does); returns what it did.
pub async fn migrate_all(
    dir: &std::path::Path,
    alias: &str,
) -> Result<Vec<String>, MigrationError> {
    let set = MigrationSet::load(dir)?;
    Executor::new(set, alias).migrate(&Target::Latest).await
}
