//! Migration files and their graph (Django's `MigrationLoader` and `MigrationGraph`).
//!
//! A migration is a JSON file `<dir>/<app>/<name>.json`:
//!
//! ```json
//! {
//!   "app": "demo",
//!   "name": "0002_mymodel_slug",
//!   "dependencies": [["demo", "0001_initial"]],
//!   "operations": [
//!     {"op": "add_field", "model": "MyModel", "field": {"name": "slug", "column": "slug", "type": "text", "max_length": 50, "default": ""}}
//!   ]
//! }
//! ```
//!
//! Files are reviewed and committed like code; `makemigrations` writes them, `migrate` applies
//! them in dependency order.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::operations::Operation;
use super::state::ProjectState;
use super::MigrationError;

/// `(app, name)`.
pub type Key = (String, String);

/// One migration file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Migration {
    pub app: String,
    pub name: String,
    #[serde(default)]
    pub dependencies: Vec<(String, String)>,
    pub operations: Vec<Operation>,
}

impl Migration {
    pub fn key(&self) -> Key {
        (self.app.clone(), self.name.clone())
    }

    /// The file's text: pretty JSON, one operation per block, for reviewable diffs.
    pub fn to_json(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).expect("migrations serialize");
        text.push('\n');
        text
    }
}

/// Every migration found, in an order that respects dependencies.
#[derive(Debug, Clone, Default)]
pub struct MigrationSet {
    pub dir: PathBuf,
    /// Topologically sorted (dependencies first; ties by app, then name).
    pub ordered: Vec<Migration>,
}

impl MigrationSet {
    /// Reads `<dir>/<app>/*.json`. A missing directory is an empty set. Long because it is one
    /// pass: read the folders, parse each file, check names and dependencies, then sort.
    pub fn load(dir: &Path) -> Result<Self, MigrationError> {
        let mut found: BTreeMap<Key, Migration> = BTreeMap::new();
        let mut files: BTreeMap<Key, PathBuf> = BTreeMap::new();
        let Ok(apps) = std::fs::read_dir(dir) else {
            return Ok(MigrationSet {
                dir: dir.to_owned(),
                ordered: Vec::new(),
            });
        };
        let mut app_dirs: Vec<PathBuf> = apps
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .filter(|p| p.is_dir())
            .collect();
        app_dirs.sort();
        for app_dir in app_dirs {
            let app = app_dir
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default()
                .to_owned();
            let mut paths: Vec<PathBuf> = std::fs::read_dir(&app_dir)
                .map_err(|e| MigrationError::File {
                    path: app_dir.clone(),
                    message: e.to_string(),
                })?
                .filter_map(|e| e.ok())
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "json"))
                .collect();
            paths.sort();
            for path in paths {
                let migration = read_file(&path)?;
                let stem = path
                    .file_stem()
                    .and_then(|s| s.to_str())
                    .unwrap_or_default()
                    .to_owned();
                if migration.app != app || migration.name != stem {
                    return Err(MigrationError::File {
                        path,
                        message: format!("declares app {:?} and name {:?}, but its path says {app:?} and {stem:?}", migration.app, migration.name),
                    });
                }
                files.insert(migration.key(), path);
                found.insert(migration.key(), migration);
            }
        }
        for (key, migration) in &found {
            for dep in &migration.dependencies {
                if !found.contains_key(dep) {
                    return Err(MigrationError::File {
                        path: files[key].clone(),
                        message: format!("depends on {}.{}, which does not exist", dep.0, dep.1),
                    });
                }
            }
        }
        let ordered = topological(found, &files)?;
        // Replaying the whole history checks every operation against the state before it; a
        // migration that does not fit it is named by its file.
        let mut state = ProjectState::default();
        for migration in &ordered {
            apply_to_state(migration, &mut state).map_err(|e| MigrationError::File {
                path: files[&migration.key()].clone(),
                message: e.to_string(),
            })?;
        }
        let set = MigrationSet {
            dir: dir.to_owned(),
            ordered,
        };
        for app in set.apps() {
            let leaves = set.leaves(&app);
            if leaves.len() > 1 {
                return Err(MigrationError::Invalid(format!(
                    "app {app} has conflicting migrations ({}): two branches of history need a migration depending on both",
                    leaves.join(", ")
                )));
            }
        }
        Ok(set)
    }

    pub fn apps(&self) -> BTreeSet<String> {
        self.ordered.iter().map(|m| m.app.clone()).collect()
    }

    pub fn get(&self, app: &str, name: &str) -> Option<&Migration> {
        self.ordered.iter().find(|m| m.app == app && m.name == name)
    }

    /// Migrations of `app` nothing else in `app` depends on (normally one: the latest).
    pub fn leaves(&self, app: &str) -> Vec<String> {
        let mine: Vec<&Migration> = self.ordered.iter().filter(|m| m.app == app).collect();
        mine.iter()
            .filter(|m| {
                !mine
                    .iter()
                    .any(|other| other.dependencies.contains(&m.key()))
            })
            .map(|m| m.name.clone())
            .collect()
    }

    /// The state after every migration before `key` in order (all of them for `None`).
    pub fn state_before(&self, key: Option<&Key>) -> Result<ProjectState, MigrationError> {
        let mut state = ProjectState::default();
        for migration in &self.ordered {
            if Some(&migration.key()) == key {
                break;
            }
            apply_to_state(migration, &mut state)?;
        }
        Ok(state)
    }

    /// The full state the files describe.
    pub fn state(&self) -> Result<ProjectState, MigrationError> {
        self.state_before(None)
    }

    /// Writes a migration file; returns its path.
    pub fn write(&self, migration: &Migration) -> Result<PathBuf, MigrationError> {
        let dir = self.dir.join(&migration.app);
        std::fs::create_dir_all(&dir).map_err(|e| MigrationError::File {
            path: dir.clone(),
            message: e.to_string(),
        })?;
        let path = dir.join(format!("{}.json", migration.name));
        std::fs::write(&path, migration.to_json()).map_err(|e| MigrationError::File {
            path: path.clone(),
            message: e.to_string(),
        })?;
        Ok(path)
    }

    /// The next number for `app` (`0001` for the first).
    pub fn next_number(&self, app: &str) -> u32 {
        self.ordered
            .iter()
            .filter(|m| m.app == app)
            .filter_map(|m| m.name.get(..4).and_then(|n| n.parse::<u32>().ok()))
            .max()
            .unwrap_or(0)
            + 1
    }
}

pub(crate) fn apply_to_state(
    migration: &Migration,
    state: &mut ProjectState,
) -> Result<(), MigrationError> {
    for op in &migration.operations {
        op.state_forwards(&migration.app, state).map_err(|e| {
            MigrationError::Invalid(format!("{}.{}: {e}", migration.app, migration.name))
        })?;
    }
    Ok(())
}

fn read_file(path: &Path) -> Result<Migration, MigrationError> {
    let text = std::fs::read_to_string(path).map_err(|e| MigrationError::File {
        path: path.to_owned(),
        message: e.to_string(),
    })?;
    serde_json::from_str(&text).map_err(|e| MigrationError::File {
        path: path.to_owned(),
        message: format!("not a valid migration: {e}"),
    })
}

fn topological(
    mut pending: BTreeMap<Key, Migration>,
    files: &BTreeMap<Key, PathBuf>,
) -> Result<Vec<Migration>, MigrationError> {
    let mut ordered: Vec<Migration> = Vec::new();
    let mut done: BTreeSet<Key> = BTreeSet::new();
    while !pending.is_empty() {
        let ready: Vec<Key> = pending
            .iter()
            .filter(|(_, m)| m.dependencies.iter().all(|d| done.contains(d)))
            .map(|(k, _)| k.clone())
            .collect();
        if ready.is_empty() {
            let stuck = pending.keys().next().expect("non-empty");
            return Err(MigrationError::File {
                path: files[stuck].clone(),
                message: "its dependencies form a cycle".into(),
            });
        }
        // One at a time, the smallest first, so the order is stable.
        let key = ready[0].clone();
        let migration = pending.remove(&key).expect("ready");
        done.insert(key);
        ordered.push(migration);
    }
    Ok(ordered)
}
