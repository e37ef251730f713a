//! One uploaded file: its client-side name, type and size, and its bytes in memory or in a
//! temporary file that is removed when the upload is dropped.

use std::path::Path;

use bytes::Bytes;

/// A file sent in a multipart form (Django's `UploadedFile`).
#[derive(Debug)]
pub struct UploadedFile {
    name: String,
    content_type: String,
    size: u64,
    content: Content,
}

#[derive(Debug)]
enum Content {
    Memory(Bytes),
    /// Removed from disk when dropped.
    Disk(tempfile::TempPath),
}

impl UploadedFile {
    /// A file held in memory (a test's upload, or a small one).
    pub fn in_memory(name: &str, content_type: &str, bytes: impl Into<Bytes>) -> Self {
        let bytes = bytes.into();
        UploadedFile {
            name: client_name(name),
            content_type: content_type.to_owned(),
            size: bytes.len() as u64,
            content: Content::Memory(bytes),
        }
    }

    pub(crate) fn on_disk(
        name: &str,
        content_type: &str,
        size: u64,
        path: tempfile::TempPath,
    ) -> Self {
        UploadedFile {
            name: client_name(name),
            content_type: content_type.to_owned(),
            size,
            content: Content::Disk(path),
        }
    }

    /// The name the client gave, reduced to its last path component with control characters
    /// removed (never trusted as a path: storages make their own safe name from it).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The type the client declared (not checked against the content).
    pub fn content_type(&self) -> &str {
        &self.content_type
    }

    /// The file's size in bytes, as received.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Where the file waits on disk, when it was too large to keep in memory.
    pub fn temporary_path(&self) -> Option<&Path> {
        match &self.content {
            Content::Memory(_) => None,
            Content::Disk(path) => Some(path),
        }
    }

    /// The whole content (read from disk when it is there).
    pub async fn bytes(&self) -> std::io::Result<Bytes> {
        match &self.content {
            Content::Memory(bytes) => Ok(bytes.clone()),
            Content::Disk(path) => tokio::fs::read(path).await.map(Bytes::from),
        }
    }

    pub(crate) fn memory(&self) -> Option<&Bytes> {
        match &self.content {
            Content::Memory(bytes) => Some(bytes),
            Content::Disk(_) => None,
        }
    }
}

/// The last component of a client's file name (browsers on Windows once sent whole paths),
/// without NUL or other control characters.
fn client_name(raw: &str) -> String {
    let last = raw.rsplit(['/', '\\']).next().unwrap_or("");
    last.chars().filter(|c| !c.is_control()).collect()
}

#[cfg(test)]
mod tests {
    use super::client_name;

    #[test]
    fn a_client_name_is_its_last_component_without_control_characters() {
        assert_eq!(client_name("C:\\Users\\ada\\notes.txt"), "notes.txt");
        assert_eq!(client_name("../../etc/passwd"), "passwd");
        assert_eq!(client_name("a\0b\r\n.txt"), "ab.txt");
        assert_eq!(client_name(".."), "..");
    }
}
