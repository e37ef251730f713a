//! Where uploads are kept: the [`Storage`] trait (Django's `Storage`) and the file system one
//! under `[media] root`. A stored name is always made here, never taken from the client as is.

use std::io;
use std::path::PathBuf;

use futures_util::future::BoxFuture;
use tokio::io::AsyncWriteExt;

use super::UploadedFile;

/// Django's `FileField` default `max_length`: a stored name is never longer.
const MAX_NAME: usize = 100;

/// Keeps files under names it chooses. Another storage (S3, a database) implements this.
pub trait Storage: Send + Sync + 'static {
    /// Stores `file` under a name made from `name` (which may hold folders, `"uploads/a.txt"`):
    /// made safe, shortened to 100 characters, and made unique if taken. Returns the name used.
    fn save<'a>(
        &'a self,
        name: &'a str,
        file: &'a UploadedFile,
    ) -> BoxFuture<'a, io::Result<String>>;
    /// Deletes the file stored as `name` (a missing file is not an error).
    fn delete<'a>(&'a self, name: &'a str) -> BoxFuture<'a, io::Result<()>>;
    /// Whether a file is stored as `name`.
    fn exists<'a>(&'a self, name: &'a str) -> BoxFuture<'a, io::Result<bool>>;
    /// The size in bytes of the file stored as `name`.
    fn size<'a>(&'a self, name: &'a str) -> BoxFuture<'a, io::Result<u64>>;
    /// The URL the file is served under.
    fn url(&self, name: &str) -> String;
}

/// Files in a folder (`[media] root`), served under a URL prefix (`[media] url`).
#[derive(Debug, Clone)]
pub struct FileSystemStorage {
    root: PathBuf,
    base_url: String,
}

impl FileSystemStorage {
    /// Files kept under `root`, their URLs under `base_url` (`/media/`).
    pub fn new(root: impl Into<PathBuf>, base_url: impl Into<String>) -> Self {
        FileSystemStorage {
            root: root.into(),
            base_url: base_url.into(),
        }
    }

    /// The folder files are kept in.
    pub fn root(&self) -> &std::path::Path {
        &self.root
    }

    /// The path of a stored name, or an error for one this storage would not have made.
    fn path(&self, name: &str) -> io::Result<PathBuf> {
        let safe = crate::files::safe_name(name).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{name:?} is not a stored name"),
            )
        })?;
        Ok(self.root.join(safe))
    }
}

/// Django's `get_valid_name`: spaces become `_`, anything but letters, digits, `-`, `_` and `.`
/// goes; a name left empty or all dots becomes `file`.
pub fn valid_name(name: &str) -> String {
    let cleaned: String = name
        .trim()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('_'),
            c if c.is_alphanumeric() || matches!(c, '-' | '_' | '.') => Some(c),
            _ => None,
        })
        .collect();
    if cleaned.chars().all(|c| c == '.') {
        "file".to_owned()
    } else {
        cleaned
    }
}

/// `folder/stem.ext` → a safe relative name no longer than [`MAX_NAME`], with `suffix` (a
/// uniqueness tag) before the extension.
fn stored_name(requested: &str, suffix: &str) -> String {
    let mut pieces: Vec<&str> = requested.split(['/', '\\']).collect();
    let file = valid_name(pieces.pop().unwrap_or(""));
    let parts: Vec<String> = pieces
        .into_iter()
        .filter(|p| !p.trim().chars().all(|c| c == '.'))
        .map(valid_name)
        .collect();
    let (stem, ext) = match file.rfind('.') {
        Some(at) if at > 0 => file.split_at(at),
        _ => (file.as_str(), ""),
    };
    let folder: String = parts.iter().map(|p| format!("{p}/")).collect();
    let tail = format!("{suffix}{ext}");
    let room = MAX_NAME
        .saturating_sub(folder.chars().count() + tail.chars().count())
        .max(1);
    let stem: String = stem.chars().take(room).collect();
    let name = format!("{folder}{stem}{tail}");
    name.chars().take(MAX_NAME).collect()
}

fn random_suffix() -> String {
    let id = uuid::Uuid::new_v4().simple().to_string();
    format!("_{}", &id[..7])
}

impl Storage for FileSystemStorage {
    fn save<'a>(
        &'a self,
        name: &'a str,
        file: &'a UploadedFile,
    ) -> BoxFuture<'a, io::Result<String>> {
        Box::pin(async move {
            // A taken name gets a random tag (Django's get_available_name); creating with
            // create_new means two uploads at once never write into one file.
            for attempt in 0..100 {
                let suffix = if attempt == 0 {
                    String::new()
                } else {
                    random_suffix()
                };
                let stored = stored_name(name, &suffix);
                let path = self.path(&stored)?;
                if let Some(parent) = path.parent() {
                    tokio::fs::create_dir_all(parent).await?;
                }
                let target = match tokio::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .open(&path)
                    .await
                {
                    Ok(target) => target,
                    Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                    Err(e) => return Err(e),
                };
                if let Err(e) = write_into(target, file).await {
                    let _ = tokio::fs::remove_file(&path).await;
                    return Err(e);
                }
                return Ok(stored);
            }
            Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!("no free name for {name:?} after 100 tries"),
            ))
        })
    }

    fn delete<'a>(&'a self, name: &'a str) -> BoxFuture<'a, io::Result<()>> {
        Box::pin(async move {
            match tokio::fs::remove_file(self.path(name)?).await {
                Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
                other => other,
            }
        })
    }

    fn exists<'a>(&'a self, name: &'a str) -> BoxFuture<'a, io::Result<bool>> {
        Box::pin(async move { tokio::fs::try_exists(self.path(name)?).await })
    }

    fn size<'a>(&'a self, name: &'a str) -> BoxFuture<'a, io::Result<u64>> {
        Box::pin(async move { Ok(tokio::fs::metadata(self.path(name)?).await?.len()) })
    }

    fn url(&self, name: &str) -> String {
        let encoded: String = name
            .split('/')
            .map(|part| {
                form_urlencoded::byte_serialize(part.as_bytes())
                    .collect::<String>()
                    .replace('+', "%20")
            })
            .collect::<Vec<_>>()
            .join("/");
        format!("{}{encoded}", self.base_url)
    }
}

async fn write_into(mut target: tokio::fs::File, file: &UploadedFile) -> io::Result<()> {
    match (file.memory(), file.temporary_path()) {
        (Some(bytes), _) => target.write_all(bytes).await?,
        (None, Some(path)) => {
            let mut source = tokio::fs::File::open(path).await?;
            tokio::io::copy(&mut source, &mut target).await?;
        }
        (None, None) => {}
    }
    target.flush().await?;
    target.sync_all().await
}

#[cfg(test)]
mod tests {
    use super::{stored_name, valid_name};

    #[test]
    fn names_are_made_safe_as_djangos_get_valid_name() {
        assert_eq!(valid_name("my photo (1).jpg"), "my_photo_1.jpg");
        assert_eq!(valid_name(".."), "file");
        assert_eq!(valid_name("<script>.html"), "script.html");
        assert_eq!(stored_name("../../etc/passwd", ""), "etc/passwd");
        assert_eq!(stored_name("uploads/a\0b.txt", ""), "uploads/ab.txt");
        assert_eq!(stored_name("", ""), "file");
    }

    #[test]
    fn stored_names_stay_within_100_characters_and_keep_the_extension() {
        let long = format!("{}.txt", "x".repeat(1000));
        let name = stored_name(&long, "_abcdefg");
        assert_eq!(name.chars().count(), 100);
        assert!(name.ends_with("_abcdefg.txt"), "{name}");
    }
}
