//! File uploads: multipart bodies parsed as they stream in ([`UploadedFile`]s held in memory up
//! to `[uploads] max_memory_size`, then in a temporary file removed when the upload is dropped),
//! with limits per file, per body and on the number of parts; and a [`Storage`] (the file
//! system under `[media] root` by default) that keeps them under safe names.

mod file;
mod multipart;
mod storage;

pub use file::UploadedFile;
pub(crate) use multipart::parse_multipart;
pub use storage::{valid_name, FileSystemStorage, Storage};

use std::path::PathBuf;
use std::sync::Arc;

use serde::Deserialize;

/// `[uploads]`: Django's `FILE_UPLOAD_*` settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UploadSettings {
    /// Bytes of a file kept in memory before it goes to a temporary file
    /// (`FILE_UPLOAD_MAX_MEMORY_SIZE`, 2.5 MiB).
    pub max_memory_size: usize,
    /// Largest file, in bytes; larger → 413. None: the body's own limit,
    /// `server.max_upload_size`, is the only one.
    pub max_file_size: Option<u64>,
    /// Most files in one body (`DATA_UPLOAD_MAX_NUMBER_FILES`, 100); more → 400.
    pub max_files: usize,
    /// Where temporary files go (`FILE_UPLOAD_TEMP_DIR`); the system's temp dir when unset.
    pub temp_dir: Option<PathBuf>,
}

impl Default for UploadSettings {
    fn default() -> Self {
        UploadSettings {
            max_memory_size: 2_621_440,
            max_file_size: None,
            max_files: 100,
            temp_dir: None,
        }
    }
}

/// `[media]`: Django's `MEDIA_ROOT` and `MEDIA_URL`, where the default storage keeps uploads
/// and the URL they are served under (by the `canter.static` middleware in DEBUG).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MediaSettings {
    /// The URL prefix uploads are served under (`/media/`; Django's `MEDIA_URL`).
    pub url: String,
    /// The folder uploads are stored in (`media`; Django's `MEDIA_ROOT`).
    pub root: PathBuf,
}

impl Default for MediaSettings {
    fn default() -> Self {
        MediaSettings {
            url: "/media/".to_owned(),
            root: PathBuf::from("media"),
        }
    }
}

/// The app's upload limits (a service of the pages part).
#[derive(Debug, Clone, Default)]
pub struct Uploads {
    /// The `[uploads]` limits: sizes, counts, where large files wait.
    pub settings: UploadSettings,
}

impl Uploads {
    /// The current app's limits, or the defaults when the pages part is not installed.
    pub fn current() -> Arc<Uploads> {
        canter_core::services::with_current(|s| s.get_shared::<Uploads>())
            .flatten()
            .unwrap_or_default()
    }
}

/// The current app's storage for uploads (`[media] root` unless the app set another).
pub fn default_storage() -> Result<Arc<dyn Storage>, canter_core::Error> {
    canter_core::services::with_current(|s| s.get::<Arc<dyn Storage>>().cloned())
        .flatten()
        .ok_or_else(|| {
            canter_core::Error::new(
                http::StatusCode::INTERNAL_SERVER_ERROR,
                "no file storage: install the pages part (canter_pages::install)",
            )
        })
}
