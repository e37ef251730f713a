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
    /// Migration files compiled into the binary (`embed_dir!("migrations")`).
    embedded: Option<EmbeddedMigrations>,
    rust_migrations: RustMigrations,
}

/// The migration folder as `embed_dir!` gives it: its path at build time, and every file's
/// name (`app/0001_initial.json`) and bytes.
type EmbeddedFiles = (&'static str, &'static [(&'static str, &'static [u8])]);

#[derive(Clone)]
struct EmbeddedMigrations {
    files: EmbeddedFiles,
    /// Where the files were written out, once, when the source folder is not on this machine.
    unpacked: Arc<std::sync::OnceLock<Result<PathBuf, String>>>,
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

    /// Migration files compiled into the binary: `.migrations(embed_dir!("migrations"))`
    /// (`canter::pages::embed_dir!`, or any `(source folder, [(name, bytes)])`). In DEBUG,
    /// where the source folder exists (development), the files are read from it, so
    /// `makemigrations` writes there and `migrate` sees new files at once; otherwise (DEBUG
    /// off, or a binary copied to a server) `migrate` applies the embedded ones, and
    /// `makemigrations` refuses.
    pub fn migrations(mut self, files: EmbeddedFiles) -> Self {
        self.dir = Some(PathBuf::from(files.0));
        self.embedded = Some(EmbeddedMigrations {
            files,
            unpacked: Arc::default(),
        });
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
        self.located(settings).0
    }

    /// The folder `makemigrations` may write into: not the unpacked copy of embedded files.
    pub(crate) fn writable_dir(&self, settings: &Settings) -> Result<PathBuf, String> {
        match self.located(settings) {
            (dir, false) => Ok(dir),
            (_, true) => {
                Err(format!(
                "the migrations are the ones compiled into this binary (their folder {} is not on \
                 this machine): run makemigrations in the project's source tree",
                self.dir.as_deref().unwrap_or(std::path::Path::new("migrations")).display()
            ))
            }
        }
    }

    /// The migration folder, and whether it is the embedded files' unpacked copy: `[migrations]
    /// dir` from the settings, else (in DEBUG, or with nothing embedded) the folder given in
    /// code, else the embedded files written out once to a folder of their own.
    fn located(&self, settings: &Settings) -> (PathBuf, bool) {
        #[derive(serde::Deserialize, Default)]
        struct Section {
            dir: Option<PathBuf>,
        }
        if let Some(dir) = settings
            .section::<Section>("migrations")
            .ok()
            .and_then(|s| s.dir)
        {
            return (dir, false);
        }
        let given = self
            .dir
            .clone()
            .unwrap_or_else(|| PathBuf::from("migrations"));
        // In DEBUG the source folder, where it exists, so new files count at once; otherwise
        // the files this binary was built with.
        let from_source = settings.debug && given.is_dir();
        let Some(embedded) = self.embedded.as_ref().filter(|_| !from_source) else {
            return (given, false);
        };
        match embedded.unpacked.get_or_init(|| unpack(embedded.files)) {
            Ok(dir) => (dir.clone(), true),
            Err(e) => {
                tracing::error!(target: "canter::orm", error = %e, "the embedded migrations could not be written out");
                (given, false)
            }
        }
    }

    pub(crate) fn models(&self) -> &[&'static ModelMeta] {
        &self.models
    }
}

/// Writes the embedded migration files into a folder named after their content under the
/// system's temp dir (the same files share one folder; a folder is written whole under a
/// temporary name, then renamed, so a reader never sees half of it).
fn unpack(files: EmbeddedFiles) -> Result<PathBuf, String> {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    files.1.hash(&mut hasher);
    let dir = std::env::temp_dir().join(format!("canter-migrations-{:016x}", hasher.finish()));
    if dir.is_dir() {
        return Ok(dir);
    }
    let staging = dir.with_extension(format!("{}.tmp", std::process::id()));
    for (name, bytes) in files.1 {
        let path = staging.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
        }
        std::fs::write(&path, bytes).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    std::fs::create_dir_all(&staging).map_err(|e| format!("{}: {e}", staging.display()))?;
    match std::fs::rename(&staging, &dir) {
        Ok(()) => Ok(dir),
        // Another process unpacked the same files first.
        Err(_) if dir.is_dir() => {
            let _ = std::fs::remove_dir_all(&staging);
            Ok(dir)
        }
        Err(e) => Err(format!("{}: {e}", dir.display())),
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
