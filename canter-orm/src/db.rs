//! Databases by alias (Django's `DATABASES` and `connections`), configured from settings:
//!
//! ```toml
//! [databases.default]
//! url = "sqlite://demo.sqlite3"          # or postgres://user:pass@host:5432/name
//! max_connections = 10
//! acquire_timeout = 5.0                  # seconds to wait for a free connection
//!
//! [databases.replica]
//! url = "postgres://reader@replica/app"
//! ```
//!
//! `DATABASE_URL` in the environment replaces the default database's URL. Pools connect
//! lazily: start-up does not need the database up, and a query against one that is down fails
//! with [`OrmError::Unavailable`] naming the alias (never the password).
//!
//! The databases in use are the running app's (its `Orm` plugin puts them among the app's
//! services); a test can run a future against its own set with [`Databases::scope`], so
//! tests stay isolated without passing handles around.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::sync::Arc;

use canter_kernel::services;
use serde::Deserialize;

use crate::backends::{display_url, Database};
use crate::error::OrmError;

/// The alias used when none is given (`.using(...)` picks another).
pub const DEFAULT_DB_ALIAS: &str = "default";

/// One database's settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseConfig {
    pub url: String,
    /// Pool size (default: 10 on PostgreSQL, 8 on SQLite; 1 for an in-memory SQLite).
    pub max_connections: Option<u32>,
    /// Seconds to wait for a free connection before failing.
    pub acquire_timeout: f64,
    /// SQLite: seconds a writer waits for the lock before failing.
    pub busy_timeout: f64,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self {
            url: String::new(),
            max_connections: None,
            acquire_timeout: 5.0,
            busy_timeout: 5.0,
        }
    }
}

impl DatabaseConfig {
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            ..Self::default()
        }
    }
}

/// The configured databases.
#[derive(Debug, Default, Clone)]
pub struct Databases {
    map: HashMap<String, Arc<Database>>,
}

impl Databases {
    /// Connects (lazily) to every configured database. Call inside a tokio runtime.
    pub fn connect(config: &BTreeMap<String, DatabaseConfig>) -> Result<Self, OrmError> {
        let mut map = HashMap::new();
        for (alias, cfg) in config {
            map.insert(alias.clone(), Arc::new(connect_one(alias, cfg)?));
        }
        Ok(Self { map })
    }

    /// One database under the default alias.
    pub fn single(url: &str) -> Result<Self, OrmError> {
        Self::connect(&BTreeMap::from([(
            DEFAULT_DB_ALIAS.to_owned(),
            DatabaseConfig::new(url),
        )]))
    }

    /// From the `[databases]` settings section and `DATABASE_URL`.
    pub fn from_settings(settings: &canter_kernel::Settings) -> Result<Self, OrmError> {
        let mut config: BTreeMap<String, DatabaseConfig> =
            settings
                .section("databases")
                .map_err(|e| OrmError::Config {
                    alias: DEFAULT_DB_ALIAS.into(),
                    message: e.to_string(),
                })?;
        if let Ok(url) = std::env::var("DATABASE_URL") {
            if !url.trim().is_empty() {
                config.entry(DEFAULT_DB_ALIAS.to_owned()).or_default().url = url;
            }
        }
        if !config.contains_key(DEFAULT_DB_ALIAS) {
            return Err(OrmError::Config {
                alias: DEFAULT_DB_ALIAS.into(),
                message:
                    "no default database: set [databases.default] url in settings or DATABASE_URL"
                        .into(),
            });
        }
        Self::connect(&config)
    }

    /// A database by alias.
    pub fn get(&self, alias: &str) -> Result<Arc<Database>, OrmError> {
        self.map
            .get(alias)
            .cloned()
            .ok_or_else(|| OrmError::Config {
                alias: alias.to_owned(),
                message: format!(
                    "no such database (configured: {})",
                    self.aliases().join(", ")
                ),
            })
    }

    pub fn aliases(&self) -> Vec<String> {
        let mut aliases: Vec<String> = self.map.keys().cloned().collect();
        aliases.sort();
        aliases
    }

    /// Runs `future` with these databases instead of the current app's (the rest of the
    /// app's services stay): a test's own set, or a set carried into a spawned task
    /// (`tokio::spawn(current().unwrap().scope(work))`).
    /// The rest are those of the app current where this is called (not where the future is
    /// polled), so the future can be spawned.
    pub fn scope<F: Future>(self: Arc<Self>, future: F) -> services::Scoped<F> {
        let services = services::current()
            .map(|app| (*app).clone())
            .unwrap_or_default()
            .with(self);
        Arc::new(services).scope(future)
    }
}

/// The databases of the current app (or of the current [`Databases::scope`]).
pub fn current() -> Option<Arc<Databases>> {
    services::with_current(|app| app.get::<Arc<Databases>>().cloned()).flatten()
}

/// The database `alias` of the current app (or of the current [`Databases::scope`]).
pub fn database(alias: &str) -> Result<Arc<Database>, OrmError> {
    match services::with_current(|app| app.get::<Arc<Databases>>().map(|dbs| dbs.get(alias))) {
        Some(Some(found)) => found,
        Some(None) => Err(OrmError::Config {
            alias: alias.to_owned(),
            message: "this app has no databases: add the ORM's plugin (App::plugin(canter::orm::Orm::new()))".into(),
        }),
        None => Err(OrmError::Config {
            alias: alias.to_owned(),
            message: "no app is running here, so there are no databases: run this code inside the app (a view, a task, a command) or inside Databases::scope".into(),
        }),
    }
}

fn connect_one(alias: &str, config: &DatabaseConfig) -> Result<Database, OrmError> {
    let url = config.url.trim();
    let shown = display_url(url);
    let bad = |message: String| OrmError::Config {
        alias: alias.to_owned(),
        message,
    };
    if url.is_empty() {
        return Err(bad("url is empty".into()));
    }
    let (vendor, pool) =
        crate::backends::connect(config).map_err(|e| bad(format!("{shown}: {e}")))?;
    Ok(Database {
        alias: alias.to_owned(),
        vendor,
        display_url: shown,
        pool,
        queries: Default::default(),
    })
}
