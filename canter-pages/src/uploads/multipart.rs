//! A multipart body read as it streams in (multer): text parts into the form's values (their
//! total held to `server.max_body_size`), files into memory up to `[uploads] max_memory_size`
//! and then into a temporary file. Any limit passed stops the read, and whatever was written
//! is removed (the temporary files are dropped with the partial form).

use bytes::{Bytes, BytesMut};
use canter_core::{Body, Error};
use http::StatusCode;
use tokio::io::AsyncWriteExt;

use super::{UploadedFile, Uploads};
use crate::forms::data::too_many_fields;
use crate::forms::FormData;

pub(crate) async fn parse_multipart(
    body: Body,
    content_type: &str,
    uploads: &Uploads,
    max_fields: usize,
    max_text: usize,
) -> Result<FormData, Error> {
    let boundary = multer::parse_boundary(content_type)
        .map_err(|e| Error::bad_request(format!("malformed multipart body: {e}")))?;
    let mut multipart = multer::Multipart::new(body.into_data_stream(), boundary);
    let limits = &uploads.settings;
    let mut form = FormData::new();
    let (mut parts, mut text_bytes) = (0usize, 0usize);
    while let Some(mut field) = multipart.next_field().await.map_err(multipart_error)? {
        parts += 1;
        if parts > max_fields {
            return Err(too_many_fields(max_fields));
        }
        let name = field.name().unwrap_or("").to_owned();
        let Some(file_name) = field.file_name().map(str::to_owned) else {
            let mut text = BytesMut::new();
            while let Some(chunk) = field.chunk().await.map_err(multipart_error)? {
                text_bytes += chunk.len();
                if text_bytes > max_text {
                    return Err(Error::payload_too_large(format!(
                        "the form's fields are larger than {max_text} bytes (server.max_body_size; files do not count)"
                    )));
                }
                text.extend_from_slice(&chunk);
            }
            let text = String::from_utf8(text.to_vec()).map_err(|_| {
                Error::bad_request(format!("form field {name:?} is not valid UTF-8"))
            })?;
            form.push(name, text);
            continue;
        };
        if form.file_count() >= limits.max_files {
            return Err(Error::bad_request(format!(
                "the form has more than {} files ([uploads] max_files)",
                limits.max_files
            )));
        }
        let content_type = field
            .content_type()
            .map(|m| m.to_string())
            .unwrap_or_else(|| "application/octet-stream".to_owned());
        let file = receive_file(&mut field, &file_name, &content_type, uploads).await?;
        form.push_file(name, file);
    }
    Ok(form)
}

/// One file part: in memory while small, then in a temporary file.
async fn receive_file(
    field: &mut multer::Field<'_>,
    file_name: &str,
    content_type: &str,
    uploads: &Uploads,
) -> Result<UploadedFile, Error> {
    let limits = &uploads.settings;
    let mut held = BytesMut::new();
    let mut spilled: Option<(tokio::fs::File, tempfile::TempPath)> = None;
    let mut size = 0u64;
    while let Some(chunk) = field.chunk().await.map_err(multipart_error)? {
        size += chunk.len() as u64;
        if let Some(max) = limits.max_file_size.filter(|max| size > *max) {
            return Err(Error::payload_too_large(format!(
                "file {file_name:?} is larger than {max} bytes ([uploads] max_file_size)"
            )));
        }
        match &mut spilled {
            Some((file, _)) => file.write_all(&chunk).await.map_err(disk_error)?,
            None if held.len() + chunk.len() > limits.max_memory_size => {
                let (mut file, path) = temporary_file(uploads).await?;
                file.write_all(&held).await.map_err(disk_error)?;
                file.write_all(&chunk).await.map_err(disk_error)?;
                held = BytesMut::new();
                spilled = Some((file, path));
            }
            None => held.extend_from_slice(&chunk),
        }
    }
    Ok(match spilled {
        Some((mut file, path)) => {
            file.flush().await.map_err(disk_error)?;
            UploadedFile::on_disk(file_name, content_type, size, path)
        }
        None => UploadedFile::in_memory(file_name, content_type, Bytes::from(held)),
    })
}

async fn temporary_file(uploads: &Uploads) -> Result<(tokio::fs::File, tempfile::TempPath), Error> {
    let dir = uploads
        .settings
        .temp_dir
        .clone()
        .unwrap_or_else(std::env::temp_dir);
    let named = tokio::task::spawn_blocking(move || {
        tempfile::Builder::new()
            .prefix("canter-upload-")
            .suffix(".upload")
            .tempfile_in(dir)
    })
    .await
    .map_err(Error::internal)?
    .map_err(disk_error)?;
    let (file, path) = named.into_parts();
    Ok((tokio::fs::File::from_std(file), path))
}

fn disk_error(e: std::io::Error) -> Error {
    Error::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        format!("an upload could not be written to its temporary file: {e}"),
    )
}

/// multer's errors as answers: a body over its limit → 413, anything else malformed → 400.
fn multipart_error(e: multer::Error) -> Error {
    if let multer::Error::StreamReadFailed(source) = &e {
        let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(source.as_ref());
        while let Some(inner) = cur {
            if inner.is::<http_body_util::LengthLimitError>() {
                return Error::payload_too_large(
                    "the upload is larger than server.max_upload_size",
                );
            }
            cur = inner.source();
        }
    }
    match e {
        multer::Error::FieldSizeExceeded { .. } | multer::Error::StreamSizeExceeded { .. } => {
            Error::payload_too_large(format!("the upload is too large: {e}"))
        }
        e => Error::bad_request(format!("malformed multipart body: {e}")),
    }
}
