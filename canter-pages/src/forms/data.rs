//! What a form was sent: text values and uploaded files by name, read from a query string, an
//! urlencoded body or a multipart one (Django's `request.POST` and `request.FILES`).

use canter_core::{Error, Request, RequestExt};
use http::{header, Method, StatusCode};

use crate::uploads::{self, UploadedFile, Uploads};

/// A form's submission: values and files by field name, in the order they came.
#[derive(Debug, Default)]
pub struct FormData {
    values: Vec<(String, String)>,
    files: Vec<(String, UploadedFile)>,
}

impl FormData {
    /// An empty submission (a test's, filled with [`push`](Self::push)).
    pub fn new() -> Self {
        Self::default()
    }

    /// `name=value` pairs (a test's submission, or initial values).
    pub fn from_pairs<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        FormData {
            values: pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
            files: Vec::new(),
        }
    }

    /// An `application/x-www-form-urlencoded` body or query string.
    pub fn from_urlencoded(bytes: &[u8]) -> Self {
        Self::from_pairs(form_urlencoded::parse(bytes).into_owned())
    }

    /// The request's form: its query string for GET and HEAD, else its body — urlencoded, or
    /// multipart with files (streamed to disk past `[uploads] max_memory_size`). More fields
    /// than `server.max_number_fields` → 400, a malformed body → 400, a file over `[uploads]
    /// max_file_size` or a body over `server.max_upload_size` → 413 (nothing kept), another
    /// content type → 415.
    pub async fn from_request(req: &mut Request) -> Result<FormData, Error> {
        let max_fields = req
            .settings()
            .map(|s| s.server.max_number_fields)
            .unwrap_or(1000);
        if req.method() == Method::GET || req.method() == Method::HEAD {
            let data = Self::from_urlencoded(req.uri().query().unwrap_or("").as_bytes());
            return data.within(max_fields);
        }
        let content_type = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let essence = content_type
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        match essence.as_str() {
            "application/x-www-form-urlencoded" => {
                let body = req.bytes().await?;
                Self::from_urlencoded(&body).within(max_fields)
            }
            "multipart/form-data" => {
                let limits = Uploads::current();
                let max_body = req
                    .settings()
                    .map(|s| s.server.max_body_size)
                    .unwrap_or(2_621_440);
                let body = std::mem::take(req.body_mut());
                uploads::parse_multipart(body, &content_type, &limits, max_fields, max_body).await
            }
            _ => Err(Error::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                format!(
                    "a form is sent as application/x-www-form-urlencoded or multipart/form-data, not {:?}",
                    content_type
                ),
            )),
        }
    }

    fn within(self, max_fields: usize) -> Result<Self, Error> {
        if self.values.len() > max_fields {
            return Err(too_many_fields(max_fields));
        }
        Ok(self)
    }

    /// The first value sent for `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every value sent for `name` (a multiple select, repeated checkboxes).
    pub fn get_all(&self, name: &str) -> Vec<&str> {
        self.values
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// Adds a text value for `name` (after any it already has).
    pub fn push(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.values.push((name.into(), value.into()));
    }

    /// Adds an uploaded file for `name`.
    pub fn push_file(&mut self, name: impl Into<String>, file: UploadedFile) {
        self.files.push((name.into(), file));
    }

    /// Whether a file was sent for `name`.
    pub fn has_file(&self, name: &str) -> bool {
        self.files.iter().any(|(k, _)| k == name)
    }

    /// The first file sent for `name`, taken out of the submission.
    pub fn take_file(&mut self, name: &str) -> Option<UploadedFile> {
        let at = self.files.iter().position(|(k, _)| k == name)?;
        Some(self.files.remove(at).1)
    }

    /// The text values, in the order they came.
    pub fn values(&self) -> impl Iterator<Item = (&str, &str)> {
        self.values.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// How many files were sent, all fields together.
    pub fn file_count(&self) -> usize {
        self.files.len()
    }
}

pub(crate) fn too_many_fields(max: usize) -> Error {
    Error::bad_request(format!(
        "the form has more than {max} fields (server.max_number_fields)"
    ))
}
