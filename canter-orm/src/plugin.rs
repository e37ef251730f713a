//! The ORM in an app ([`Orm`]): the databases from settings at start-up, the models and
//! migration files for `makemigrations` and `migrate`, and Rust data migrations.

use std::path::PathBuf;
use std::sync::Arc;

use canter_kernel::management::{CommandError, ManagementCommand};
use canter_kernel::plugin::{Plugin, StartContext};
use canter_kernel::{BoxFuture, Services, Settings};

use crate::db::Databases;
use crate::error::OrmError;
use crate::migrations::RustMigrations;
use crate::model::{Model, ModelMeta};

/// The ORM's plugin: at start-up, the databases of the `[databases]` settings and
/// `DATABASE_URL` (connected lazily) become the app's; it adds `makemigrations`, `migrate`,
/// `showmigrations` and `sqlmigrate`, and applies pending migrations when `runserver`
/// starts on the embedded database.
///
/// ```no_run
/// # #[derive(canter_orm::Model)]
/// # #[model(crate = canter_orm, app = "demo")]
/// # struct MyModel { id: i64 }
/// let app = canter_core::App::new().plugin(
///     canter_orm::Orm::new()
///         .model::<MyModel>()
///         .migrations_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations")),
/// );
/// ```
#[derive(Clone, Default)]
pub struct Orm {
    models: Vec<&'static ModelMeta>,
    dir: Option<PathBuf>,
    rust_migrations: RustMigrations,
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

    /// A Rust data-migration function for `{"op": "run_rust", "forward": name}` (Django's
    /// `RunPython`). It runs inside the migration's transaction: ORM calls in it join it.
    pub fn rust_migration<F, Fut>(mut self, name: &str, function: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = Result<(), OrmError>> + Send + 'static,
    {
        self.rust_migrations = self.rust_migrations.add(name, function);
        self
    }

    pub(crate) fn dir(&self, settings: &Settings) -> PathBuf {
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

impl Plugin for Orm {
    fn name(&self) -> &'static str {
        "orm"
    }

    fn commands(&self) -> Vec<Arc<dyn ManagementCommand>> {
        crate::migrations::commands(Arc::new(self.clone()))
    }

    fn start<'a>(&'a self, ctx: &'a StartContext) -> BoxFuture<'a, Result<Services, CommandError>> {
        Box::pin(async move {
            let databases = Databases::from_settings(&ctx.settings)?;
            Ok(Services::new()
                .with(Arc::new(databases))
                .with(self.rust_migrations.clone()))
        })
    }

    fn ready<'a>(&'a self, ctx: &'a StartContext) -> BoxFuture<'a, Result<(), CommandError>> {
        Box::pin(async move {
            if ctx.command == "runserver" {
                crate::migrations::apply_on_runserver(self, &ctx.settings).await?;
            }
            Ok(())
        })
    }
}
