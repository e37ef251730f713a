//! Django's `FileResponse`: a file streamed from disk in 64 KiB chunks, never loaded whole.

use std::path::{Path, PathBuf};

use http::{header, HeaderValue, StatusCode};
use tokio_util::io::ReaderStream;

use super::{IntoResponse, Response};
use crate::{Body, Error};

/// A file from disk. Opening happens in [`FileResponse::open`] so a missing file is a 404
/// the view can see (and turn into something else) rather than a surprise later.
pub struct FileResponse {
    file: tokio::fs::File,
    len: u64,
    content_type: &'static str,
    attachment: Option<String>,
}

impl FileResponse {
    /// Opens `path`; a missing file → 404, another I/O error → 500.
    ///
    /// ```
    /// use canter_core::prelude::*;
    /// use canter_core::test::TestClient;
    ///
    /// async fn report(_req: Request) -> Result<FileResponse> {
    ///     let path = std::env::temp_dir().join("canter-doc-report.txt");
    ///     tokio::fs::write(&path, "quarterly figures").await?;
    ///     Ok(FileResponse::open(&path).await?.as_attachment("report.txt"))
    /// }
    /// async fn missing(_req: Request) -> Result<FileResponse> {
    ///     FileResponse::open("/no/such/file.txt").await
    /// }
    ///
    /// let app = App::new().urls(vec![path("report/", report), path("missing/", missing)]);
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let client = TestClient::new(app);
    /// let response = client.get("/report/").await;
    /// assert_eq!(response.text(), "quarterly figures");
    /// assert_eq!(response.header("content-type"), Some("text/plain; charset=utf-8"));
    /// assert_eq!(response.header("content-disposition"), Some(r#"attachment; filename="report.txt""#));
    /// assert_eq!(client.get("/missing/").await.status(), 404);
    /// # });
    /// ```
    pub async fn open(path: impl AsRef<Path>) -> Result<Self, Error> {
        let path: PathBuf = path.as_ref().to_owned();
        let file = tokio::fs::File::open(&path)
            .await
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::NotFound => {
                    Error::not_found(format!("no file {}", path.display()))
                }
                _ => Error::internal(e),
            })?;
        let meta = file.metadata().await?;
        if !meta.is_file() {
            return Err(Error::not_found(format!(
                "{} is not a file",
                path.display()
            )));
        }
        Ok(Self {
            file,
            len: meta.len(),
            content_type: guess_content_type(&path),
            attachment: None,
        })
    }

    /// Sends `Content-Disposition: attachment` so browsers download it (Django's `as_attachment`).
    pub fn as_attachment(mut self, filename: impl Into<String>) -> Self {
        self.attachment = Some(filename.into());
        self
    }
}

impl IntoResponse for FileResponse {
    fn into_response(self) -> Response {
        let mut response = Response::new(Body::from_stream(ReaderStream::with_capacity(
            self.file,
            64 * 1024,
        )));
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(self.content_type),
        );
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(self.len));
        if let Some(name) = self.attachment {
            let safe: String = name
                .chars()
                .filter(|c| *c != '"' && !c.is_control())
                .collect();
            if let Ok(value) = HeaderValue::from_str(&format!("attachment; filename=\"{safe}\"")) {
                headers.insert(header::CONTENT_DISPOSITION, value);
            }
        }
        *response.status_mut() = StatusCode::OK;
        response
    }
}

fn guess_content_type(path: &Path) -> &'static str {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    match ext.as_str() {
        "html" | "htm" => "text/html; charset=utf-8",
        "txt" => "text/plain; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "json" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "ico" => "image/x-icon",
        "pdf" => "application/pdf",
        "wasm" => "application/wasm",
        "xml" => "application/xml",
        "csv" => "text/csv; charset=utf-8",
        _ => "application/octet-stream",
    }
}
