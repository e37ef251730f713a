//! Static files: found in the project's and apps' folders in DEBUG, collected into
//! `STATIC_ROOT` with content-hashed names by [`collectstatic`], and served by canter
//! itself in production with far-future cache headers (WhiteNoise's way: no front server
//! needed). `static("site.css")` in a template names the hashed file once collected.

pub(crate) mod collect;

pub use collect::{collectstatic, Summary};
pub(crate) mod serve;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use crate::files::{safe_name, Folder, Found};

/// The manifest `collectstatic` writes into `STATIC_ROOT` (Django's `staticfiles.json`).
pub const MANIFEST: &str = "staticfiles.json";

/// The app's static files (a service of the [`Pages`](crate::Pages) plugin).
#[derive(Debug)]
pub struct StaticFiles {
    url: String,
    root: PathBuf,
    /// `[staticfiles] dirs` first, then each app's `static` folder (Django's finders' order).
    folders: Vec<Folder>,
    debug: bool,
    /// Read from `STATIC_ROOT` at start-up outside DEBUG.
    manifest: Option<Manifest>,
}

/// Original name → hashed name, and the hashed names (served with far-future caching).
#[derive(Debug, Default)]
pub(crate) struct Manifest {
    pub paths: HashMap<String, String>,
    pub hashed: HashSet<String>,
}

/// Why `static(name)` has no URL.
#[derive(Debug, thiserror::Error)]
pub enum StaticError {
    /// The name is absolute, has `..` or is otherwise not a plain relative path.
    #[error("static file name {0:?} is not a plain relative name")]
    BadName(String),
    /// Outside DEBUG, the file is not in the manifest `collectstatic` wrote.
    #[error("no static file {name:?} in the staticfiles manifest {manifest}: run `collectstatic` after adding it")]
    NotCollected {
        /// The name asked for.
        name: String,
        /// The manifest's path.
        manifest: String,
    },
    /// Outside DEBUG, `STATIC_ROOT` has no manifest: `collectstatic` has not run.
    #[error("no staticfiles manifest at {0}: run `collectstatic` (outside DEBUG, static() names the collected, hashed files)")]
    NoManifest(String),
}

impl StaticFiles {
    /// `serving`: the app will answer requests (runserver), so a missing manifest is worth a
    /// warning; other commands (`migrate`, `collectstatic` itself) say nothing of it.
    pub(crate) fn new(
        url: String,
        root: PathBuf,
        folders: Vec<Folder>,
        debug: bool,
        serving: bool,
    ) -> Self {
        let manifest = if debug {
            None
        } else {
            let path = root.join(MANIFEST);
            match std::fs::read(&path) {
                Ok(bytes) => match Manifest::parse(&bytes) {
                    Ok(manifest) => Some(manifest),
                    Err(e) => {
                        tracing::error!(target: "canter::pages", manifest = %path.display(), error = %e, "the staticfiles manifest cannot be read: run collectstatic again");
                        None
                    }
                },
                Err(_) if serving => {
                    tracing::warn!(target: "canter::pages", root = %root.display(), "STATIC_ROOT has no staticfiles manifest: run collectstatic");
                    None
                }
                Err(_) => None,
            }
        };
        StaticFiles {
            url,
            root,
            folders,
            debug,
            manifest,
        }
    }

    /// The URL prefix (`/static/`).
    pub fn prefix(&self) -> &str {
        &self.url
    }

    /// `STATIC_ROOT`.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Django's `static(name)`: the file's URL — in DEBUG the name under the prefix, outside
    /// it the hashed name the manifest gives (so browsers may cache it for a year).
    pub fn url(&self, name: &str) -> Result<String, StaticError> {
        let name = name.trim_start_matches('/');
        let name = safe_name(name).ok_or_else(|| StaticError::BadName(name.to_owned()))?;
        if self.debug {
            return Ok(format!("{}{name}", self.url));
        }
        let manifest_path = || self.root.join(MANIFEST).display().to_string();
        let manifest = self
            .manifest
            .as_ref()
            .ok_or_else(|| StaticError::NoManifest(manifest_path()))?;
        match manifest.paths.get(name) {
            Some(hashed) => Ok(format!("{}{hashed}", self.url)),
            None => Err(StaticError::NotCollected {
                name: name.to_owned(),
                manifest: manifest_path(),
            }),
        }
    }

    /// The file `name` from the source folders (what DEBUG serves and `collectstatic` copies).
    pub(crate) fn find_source(&self, name: &str) -> Option<Found> {
        let name = safe_name(name)?;
        self.folders.iter().find_map(|f| f.find(name, self.debug))
    }

    /// Every source file's name, each once (the first folder that has it wins), sorted.
    pub(crate) fn source_names(&self) -> std::io::Result<Vec<String>> {
        let mut names: Vec<String> = Vec::new();
        let mut seen = HashSet::new();
        for folder in &self.folders {
            for name in folder.names(self.debug)? {
                if safe_name(&name).is_some() && seen.insert(name.clone()) {
                    names.push(name);
                }
            }
        }
        names.sort();
        Ok(names)
    }

    pub(crate) fn debug(&self) -> bool {
        self.debug
    }

    pub(crate) fn is_hashed(&self, name: &str) -> bool {
        self.manifest
            .as_ref()
            .is_some_and(|m| m.hashed.contains(name))
    }
}

impl Manifest {
    pub fn parse(bytes: &[u8]) -> Result<Manifest, serde_json::Error> {
        #[derive(serde::Deserialize)]
        struct File {
            paths: HashMap<String, String>,
        }
        let file: File = serde_json::from_slice(bytes)?;
        let hashed = file.paths.values().cloned().collect();
        Ok(Manifest {
            paths: file.paths,
            hashed,
        })
    }
}
