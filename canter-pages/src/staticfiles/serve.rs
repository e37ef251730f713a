//! Serving static files: the `canter.static` middleware (WhiteNoise's place in the chain).
//!
//! A GET or HEAD under `STATIC_URL` is answered here: in DEBUG from the source folders, else
//! from `STATIC_ROOT` (the collected files; hashed names cached for a year, precompressed
//! `.br` / `.gz` copies sent to clients that accept them). Conditional GET (`ETag`,
//! `Last-Modified`) and single byte ranges are honoured. A name that is not a plain relative
//! one (`..`, encoded or not, a backslash, a NUL) is a 404, never a file outside the folder.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::SystemTime;

use canter_core::middleware::{Middleware, Next};
use canter_core::{Body, Error, IntoResponse, Request, Response};
use http::{header, HeaderMap, HeaderValue, Method, StatusCode};

use super::StaticFiles;
use crate::files::safe_name;

/// A year: how long a browser may keep a file whose name carries its content's hash.
const FOREVER: &str = "max-age=31536000, public, immutable";
/// A collected file under its own name may change at the next deploy (WhiteNoise's choice).
const A_MINUTE: &str = "max-age=60, public";

/// The `canter.static` middleware (list it in the `middleware` setting, near the top).
#[derive(Clone, Copy, Debug, Default)]
pub struct StaticFilesMiddleware;

/// Uploaded files' folder and URL (`[media]`), served here in DEBUG only (Django's
/// `static(settings.MEDIA_URL, ...)` in a development URL conf); in production a front server
/// or the storage's own URLs serve them.
#[derive(Debug, Clone)]
pub struct Media {
    pub(crate) url: String,
    pub(crate) root: std::path::PathBuf,
}

impl Middleware for StaticFilesMiddleware {
    fn call(&self, req: Request, next: Next) -> impl std::future::Future<Output = Response> + Send {
        let found = canter_core::services::with_current(|s| {
            (s.get_shared::<StaticFiles>(), s.get::<Media>().cloned())
        });
        async move {
            let Some((Some(files), media)) = found else {
                return next.run(req).await;
            };
            let path = req.uri().path();
            let served = if let Some(rest) = path.strip_prefix(files.prefix()) {
                Served::Static(rest.to_owned())
            } else if let Some(rest) = media
                .as_ref()
                .filter(|_| files.debug())
                .and_then(|m| path.strip_prefix(m.url.as_str()))
            {
                Served::Media(rest.to_owned())
            } else {
                return next.run(req).await;
            };
            if req.method() != Method::GET && req.method() != Method::HEAD {
                return Error::new(
                    StatusCode::METHOD_NOT_ALLOWED,
                    "static and media files answer GET and HEAD",
                )
                .into_response();
            }
            let head = req.method() == Method::HEAD;
            let headers = req.headers().clone();
            let reply = tokio::task::spawn_blocking(move || match served {
                Served::Static(name) => respond(&files, &name, &headers),
                Served::Media(name) => respond_media(&media?.root, &name, &headers),
            });
            match reply.await {
                Ok(Some(reply)) => reply.into_response(head),
                Ok(None) => Error::not_found("no such file").into_response(),
                Err(e) => Error::internal(e).into_response(),
            }
        }
    }
}

/// Which folder a request's path is under, and the rest of the path (still percent-encoded).
enum Served {
    Static(String),
    Media(String),
}

/// An uploaded file from `[media] root` (DEBUG only), checked as static names are.
fn respond_media(root: &std::path::Path, raw: &str, request: &HeaderMap) -> Option<Reply> {
    let decoded = percent_decode(raw)?;
    let name = safe_name(&decoded)?;
    let path = root.join(name);
    let meta = std::fs::metadata(&path).ok()?;
    if !meta.is_file() {
        return None;
    }
    let file = File {
        bytes: Cow::Owned(std::fs::read(&path).ok()?),
        modified: meta.modified().ok(),
        encoding: None,
    };
    Some(reply(file, name, "no-cache", false, request))
}

/// What to send for one request.
struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: Cow<'static, [u8]>,
}

impl Reply {
    fn into_response(self, head: bool) -> Response {
        let mut response = if head {
            Response::new(Body::empty())
        } else {
            Response::new(match self.body {
                Cow::Borrowed(bytes) => Body::from(bytes),
                Cow::Owned(bytes) => Body::from(bytes),
            })
        };
        *response.status_mut() = self.status;
        *response.headers_mut() = self.headers;
        response
    }
}

/// The file `raw` (the path below the prefix, still percent-encoded) answered for `request`.
fn respond(files: &Arc<StaticFiles>, raw: &str, request: &HeaderMap) -> Option<Reply> {
    let decoded = percent_decode(raw)?;
    let name = safe_name(&decoded)?;
    let (file, cache) = if files.debug() {
        (File::from(files.find_source(name)?), "no-cache")
    } else {
        let cache = if files.is_hashed(name) {
            FOREVER
        } else {
            A_MINUTE
        };
        (collected(files, name, request)?, cache)
    };
    Some(reply(file, name, cache, !files.debug(), request))
}

/// The answer for `file` (named `name`): its type, caching, validators, and a 304 or a range
/// when the request asks for one.
fn reply(file: File, name: &str, cache: &'static str, vary: bool, request: &HeaderMap) -> Reply {
    let mut headers = HeaderMap::new();
    let content_type = mime_guess::from_path(name).first_or_octet_stream();
    let content_type = match content_type.type_() {
        mime_guess::mime::TEXT => format!("{content_type}; charset=utf-8"),
        _ if content_type.subtype() == "javascript" => format!("{content_type}; charset=utf-8"),
        _ => content_type.to_string(),
    };
    headers.insert(header::CONTENT_TYPE, value(&content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    let etag = entity_tag(&file.bytes, file.modified);
    headers.insert(header::ETAG, value(&etag));
    if let Some(modified) = file.modified {
        headers.insert(
            header::LAST_MODIFIED,
            value(&httpdate::fmt_http_date(modified)),
        );
    }
    if let Some(encoding) = file.encoding {
        headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static(encoding));
    }
    if vary {
        headers.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    }
    if not_modified(request, &etag, file.modified) {
        return Reply {
            status: StatusCode::NOT_MODIFIED,
            headers,
            body: Cow::Borrowed(&[]),
        };
    }
    // Ranges of the file as stored; a precompressed copy is sent whole.
    if file.encoding.is_none() {
        headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
        if let Some(range) = request.get(header::RANGE).and_then(|v| v.to_str().ok()) {
            return ranged(range, file.bytes, headers);
        }
    }
    Reply {
        status: StatusCode::OK,
        headers,
        body: file.bytes,
    }
}

/// A file to send: its bytes, when it changed, and its encoding if precompressed.
struct File {
    bytes: Cow<'static, [u8]>,
    modified: Option<SystemTime>,
    encoding: Option<&'static str>,
}

impl From<crate::files::Found> for File {
    fn from(found: crate::files::Found) -> Self {
        File {
            bytes: found.bytes,
            modified: found.modified,
            encoding: None,
        }
    }
}

/// A collected file from `STATIC_ROOT`, its brotli or gzip copy when the client takes it.
fn collected(files: &StaticFiles, name: &str, request: &HeaderMap) -> Option<File> {
    let path = files.root().join(name);
    let accepted = request
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    for (encoding, suffix) in [("br", "br"), ("gzip", "gz")] {
        if !accepts(accepted, encoding) {
            continue;
        }
        let compressed = path.with_file_name(format!("{}.{suffix}", file_name(&path)?));
        if let (Ok(bytes), Ok(meta)) = (std::fs::read(&compressed), std::fs::metadata(&path)) {
            return Some(File {
                bytes: Cow::Owned(bytes),
                modified: meta.modified().ok(),
                encoding: Some(encoding),
            });
        }
    }
    let meta = std::fs::metadata(&path).ok()?;
    if !meta.is_file() {
        return None;
    }
    Some(File {
        bytes: Cow::Owned(std::fs::read(&path).ok()?),
        modified: meta.modified().ok(),
        encoding: None,
    })
}

fn file_name(path: &std::path::Path) -> Option<String> {
    Some(path.file_name()?.to_string_lossy().into_owned())
}

/// Whether an `Accept-Encoding` value takes `encoding` (listed without `q=0`).
fn accepts(accepted: &str, encoding: &str) -> bool {
    accepted.split(',').any(|item| {
        let mut parts = item.split(';').map(str::trim);
        parts
            .next()
            .is_some_and(|name| name.eq_ignore_ascii_case(encoding))
            && !parts.any(|p| p.replace(' ', "") == "q=0" || p.replace(' ', "") == "q=0.0")
    })
}

/// A strong ETag: length and modification time for files on disk, a content hash otherwise.
fn entity_tag(bytes: &[u8], modified: Option<SystemTime>) -> String {
    match modified.and_then(|m| m.duration_since(SystemTime::UNIX_EPOCH).ok()) {
        Some(since) => format!("\"{:x}-{:x}\"", bytes.len(), since.as_nanos()),
        None => {
            use md5::Digest;
            let digest = md5::Md5::digest(bytes);
            let hex: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
            format!("\"{hex}\"")
        }
    }
}

/// RFC 9110: `If-None-Match` decides when present; else `If-Modified-Since` (second precision).
fn not_modified(request: &HeaderMap, etag: &str, modified: Option<SystemTime>) -> bool {
    if let Some(tags) = request
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
    {
        return tags.trim() == "*"
            || tags
                .split(',')
                .any(|tag| tag.trim().trim_start_matches("W/") == etag);
    }
    let since = request
        .get(header::IF_MODIFIED_SINCE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| httpdate::parse_http_date(v).ok());
    match (since, modified) {
        (Some(since), Some(modified)) => {
            let secs = |t: SystemTime| {
                t.duration_since(SystemTime::UNIX_EPOCH)
                    .map(|d| d.as_secs())
                    .unwrap_or(0)
            };
            secs(modified) <= secs(since)
        }
        _ => false,
    }
}

/// A `Range: bytes=…` request: one satisfiable range → 206 with that slice; one that starts
/// past the end → 416; several ranges or a malformed header → the whole file (200), which
/// RFC 9110 allows.
fn ranged(range: &str, bytes: Cow<'static, [u8]>, mut headers: HeaderMap) -> Reply {
    let len = bytes.len() as u64;
    match parse_range(range, len) {
        Some(Ok((start, end))) => {
            headers.insert(
                header::CONTENT_RANGE,
                value(&format!("bytes {start}-{end}/{len}")),
            );
            let slice = match bytes {
                Cow::Borrowed(b) => Cow::Borrowed(&b[start as usize..=end as usize]),
                Cow::Owned(b) => Cow::Owned(b[start as usize..=end as usize].to_vec()),
            };
            Reply {
                status: StatusCode::PARTIAL_CONTENT,
                headers,
                body: slice,
            }
        }
        Some(Err(())) => {
            headers.insert(header::CONTENT_RANGE, value(&format!("bytes */{len}")));
            Reply {
                status: StatusCode::RANGE_NOT_SATISFIABLE,
                headers,
                body: Cow::Borrowed(&[]),
            }
        }
        None => Reply {
            status: StatusCode::OK,
            headers,
            body: bytes,
        },
    }
}

/// One range of a file of `len` bytes as inclusive `(start, end)`; `Err` when it cannot be
/// satisfied; `None` when the header is not a single byte range.
fn parse_range(header: &str, len: u64) -> Option<Result<(u64, u64), ()>> {
    let spec = header.trim().strip_prefix("bytes=")?;
    if spec.contains(',') {
        return None;
    }
    let (first, last) = spec.split_once('-')?;
    let (first, last) = (first.trim(), last.trim());
    let range = if first.is_empty() {
        let suffix: u64 = last.parse().ok()?;
        if suffix == 0 || len == 0 {
            return Some(Err(()));
        }
        (len.saturating_sub(suffix), len - 1)
    } else {
        let start: u64 = first.parse().ok()?;
        let end = if last.is_empty() {
            len.saturating_sub(1)
        } else {
            let end: u64 = last.parse().ok()?;
            if end < start {
                return None;
            }
            end.min(len.saturating_sub(1))
        };
        if start >= len {
            return Some(Err(()));
        }
        (start, end)
    };
    Some(Ok(range))
}

/// `%XX` decoded; `None` for a malformed escape or bytes that are not UTF-8.
fn percent_decode(raw: &str) -> Option<String> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn value(text: &str) -> HeaderValue {
    HeaderValue::from_str(text).unwrap_or_else(|_| HeaderValue::from_static(""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_ranges_are_read_as_rfc_9110_says() {
        assert_eq!(parse_range("bytes=0-9", 100), Some(Ok((0, 9))));
        assert_eq!(parse_range("bytes=90-", 100), Some(Ok((90, 99))));
        assert_eq!(parse_range("bytes=-10", 100), Some(Ok((90, 99))));
        assert_eq!(parse_range("bytes=50-500", 100), Some(Ok((50, 99))));
        assert_eq!(parse_range("bytes=100-", 100), Some(Err(())));
        assert_eq!(parse_range("bytes=-0", 100), Some(Err(())));
        assert_eq!(parse_range("bytes=0-1,5-6", 100), None);
        assert_eq!(parse_range("bytes=9-1", 100), None);
        assert_eq!(parse_range("items=0-1", 100), None);
        assert_eq!(parse_range("bytes=x-1", 100), None);
    }

    #[test]
    fn accept_encoding_is_read_with_its_weights() {
        assert!(accepts("gzip, deflate, br", "br"));
        assert!(accepts("BR;q=0.5", "br"));
        assert!(!accepts("br;q=0, gzip", "br"));
        assert!(!accepts("gzip", "br"));
    }

    #[test]
    fn percent_escapes_are_decoded_and_bad_ones_refused() {
        assert_eq!(percent_decode("a%20b.css").as_deref(), Some("a b.css"));
        assert_eq!(percent_decode("%2e%2e%2fx").as_deref(), Some("../x"));
        assert_eq!(percent_decode("%zz"), None);
        assert_eq!(percent_decode("%e"), None);
        assert_eq!(percent_decode("%ff"), None);
    }
}
