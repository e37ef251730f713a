//! Where templates and static files come from: an app's folders embedded in the binary
//! ([`AppFiles`], made by `embed_dir!`), and the project's folders on disk (settings).
//!
//! In DEBUG an embedded folder is read from its source folder on disk when that still exists,
//! so an edit shows at the next request (Django's reloading template loader); a binary copied
//! to a server reads what it carries.

use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// An app's folder of files (`templates`, `static`), embedded in the binary:
/// `AppFiles::from(canter_pages::embed_dir!("templates"))`.
#[derive(Clone, Copy, Debug)]
pub struct AppFiles {
    /// The folder's absolute path when the binary was built.
    source: &'static str,
    /// Every file: its name below the folder (`/`-separated) and its bytes.
    files: &'static [(&'static str, &'static [u8])],
}

impl From<(&'static str, &'static [(&'static str, &'static [u8])])> for AppFiles {
    fn from((source, files): (&'static str, &'static [(&'static str, &'static [u8])])) -> Self {
        AppFiles { source, files }
    }
}

impl AppFiles {
    /// A folder with no files (an app without templates or static files).
    pub const EMPTY: AppFiles = AppFiles {
        source: "",
        files: &[],
    };
}

/// One folder files are looked up in.
#[derive(Clone, Debug)]
pub(crate) enum Folder {
    /// An app's, embedded (read from its source folder in DEBUG when it exists).
    Embedded(AppFiles),
    /// A folder the settings name (`[templates] dirs`, `[staticfiles] dirs`), on disk.
    Disk(PathBuf),
}

/// A file found in a folder.
pub(crate) struct Found {
    pub bytes: Cow<'static, [u8]>,
    /// When it last changed, for files read from disk.
    pub modified: Option<SystemTime>,
}

impl Folder {
    /// The folder on disk to read, if any: a disk folder, or an embedded one's source in DEBUG.
    fn on_disk(&self, debug: bool) -> Option<&Path> {
        match self {
            Folder::Disk(path) => Some(path),
            Folder::Embedded(files) if debug && !files.source.is_empty() => {
                let source = Path::new(files.source);
                source.is_dir().then_some(source)
            }
            Folder::Embedded(_) => None,
        }
    }

    /// The file `name` (already checked by [`safe_name`]).
    pub fn find(&self, name: &str, debug: bool) -> Option<Found> {
        if let Some(dir) = self.on_disk(debug) {
            let path = dir.join(name);
            let modified = std::fs::metadata(&path).ok()?.modified().ok();
            let bytes = std::fs::read(&path).ok()?;
            return Some(Found {
                bytes: Cow::Owned(bytes),
                modified,
            });
        }
        let Folder::Embedded(files) = self else {
            return None;
        };
        files
            .files
            .iter()
            .find(|(file, _)| *file == name)
            .map(|(_, bytes)| Found {
                bytes: Cow::Borrowed(*bytes),
                modified: None,
            })
    }

    /// Every file's name, sorted.
    pub fn names(&self, debug: bool) -> std::io::Result<Vec<String>> {
        if let Some(dir) = self.on_disk(debug) {
            let mut names = Vec::new();
            if dir.is_dir() {
                walk(dir, dir, &mut names)?;
            }
            names.sort();
            return Ok(names);
        }
        match self {
            Folder::Embedded(files) => {
                Ok(files.files.iter().map(|(n, _)| (*n).to_owned()).collect())
            }
            Folder::Disk(_) => Ok(Vec::new()),
        }
    }
}

fn walk(root: &Path, dir: &Path, names: &mut Vec<String>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with('.'))
        {
            continue;
        }
        if path.is_dir() {
            walk(root, &path, names)?;
        } else if let Ok(relative) = path.strip_prefix(root) {
            let parts: Vec<String> = relative
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            names.push(parts.join("/"));
        }
    }
    Ok(())
}

/// `name` if it is a safe relative name of a file inside a folder: `/`-separated parts, none
/// empty, `.` or `..`, hidden (`.git`), or holding a backslash, a NUL or a drive colon. Every
/// lookup goes through this, so no name leads outside its folder.
pub(crate) fn safe_name(name: &str) -> Option<&str> {
    if name.is_empty() || name.len() > 1024 {
        return None;
    }
    let safe = name.split('/').all(|part| {
        !part.is_empty() && !part.starts_with('.') && !part.contains(['\\', '\0', ':'])
    });
    safe.then_some(name)
}

#[cfg(test)]
mod tests {
    use super::safe_name;

    #[test]
    fn only_plain_relative_names_are_safe() {
        for good in ["site.css", "demo/site.css", "img/logo.v2.png"] {
            assert_eq!(safe_name(good), Some(good));
        }
        for bad in [
            "",
            "/etc/passwd",
            "../secret",
            "a/../../b",
            "a//b",
            "a/./b",
            ".env",
            "a\\..\\b",
            "a\0b",
            "C:/x",
            "a/",
        ] {
            assert_eq!(safe_name(bad), None, "{bad:?}");
        }
    }
}
