//! Temporary directories and SQLite files of a test's own.

use std::path::{Path, PathBuf};

/// A fresh directory under the system's temp dir (`canter-<tag>-<unique>`), removed with its
/// contents when dropped.
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    /// Makes the directory, named after `tag`.
    pub fn new(tag: &str) -> TempDir {
        let path = std::env::temp_dir().join(format!("canter-{tag}-{}", crate::unique()));
        std::fs::create_dir_all(&path).expect("a temporary directory");
        TempDir { path }
    }

    /// Where the directory is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `name` inside the directory.
    pub fn join(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    /// An `sqlite://` URL for file `name` inside the directory.
    pub fn sqlite_url(&self, name: &str) -> String {
        format!("sqlite://{}", self.path.join(name).display())
    }
}

/// The directory's path, so a `&TempDir` goes where a `&Path` is taken.
impl std::ops::Deref for TempDir {
    type Target = Path;

    fn deref(&self) -> &Path {
        &self.path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// A fresh SQLite file's URL (the file does not exist yet); the file and its `-wal` and `-shm`
/// companions are removed when dropped.
pub struct SqliteFile {
    /// The file's path in the system's temp dir.
    pub path: PathBuf,
    /// `sqlite://` and the path: what a database setting takes.
    pub url: String,
}

impl SqliteFile {
    /// A path named after `tag` that no other test uses.
    pub fn new(tag: &str) -> SqliteFile {
        let path = std::env::temp_dir().join(format!("{tag}-{}.sqlite3", crate::unique()));
        let url = format!("sqlite://{}", path.display());
        SqliteFile { path, url }
    }
}

impl Drop for SqliteFile {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", self.path.display()));
        }
    }
}
