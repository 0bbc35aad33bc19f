//! `POST /files`: creation, creation-defer-length and creation-with-upload (design 1.3): a body sent as
//! `application/offset+octet-stream` is appended at offset 0 once the upload exists, exactly as a PATCH.
//!
//! The headers are judged before anything is written: a length over `MAX_FILE_SIZE` is refused at once (413),
//! a bad header is 400 and names itself. Then the key is chosen as `POST /upload` chooses it (same strategy,
//! same prefix, same sanitized name), and the upload's record is created in the bucket.

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use http_body::Body as _;

use super::headers::{
    UPLOAD_DEFER_LENGTH, UPLOAD_LENGTH, format_expires, parse_defer_length, parse_length,
};
use super::metadata::{Limits, Metadata, MetadataError};
use super::patch::{self, OBJECT_LOCATION, Patch, UPLOAD_OFFSET_HEADER};
use super::{completed, info_store, status::UPLOAD_EXPIRES};
use crate::config::KeyStrategy;
use crate::error::AppError;
use crate::routes::upload::object_key;
use crate::state::AppState;
use crate::storage::resumable::Appended;
use crate::storage::resumable::info::NewUpload;

pub(super) const UPLOAD_METADATA: &str = "Upload-Metadata";
const UPLOAD_CONCAT: &str = "Upload-Concat";

/// The longest `Upload-Metadata` taken (tusd and the design agree on 8 KiB: names, types, a few more pairs).
const MAX_METADATA_BYTES: usize = 8 * 1024;

/// Creates an upload and answers 201 with its `Location` and `Upload-Expires`.
pub(super) async fn create(
    state: &AppState,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response, AppError> {
    // An empty body's type is ignored (some clients always send one); a body of another type is refused unread.
    let with_body = has_body(&body);
    if with_body && !patch::is_offset_stream(headers) {
        return Err(AppError::NotOffsetStream);
    }
    let checksum = if with_body {
        patch::checksum(headers)?
    } else {
        None
    };
    if headers.contains_key(UPLOAD_CONCAT) {
        // Not advertised: tus-js-client's parallelUploads then fails loudly instead of storing parts as files.
        return Err(invalid(UPLOAD_CONCAT, "concatenation is not supported"));
    }
    let limits = &state.config.upload;
    let metadata = metadata(headers, limits.max_fields);
    let length = length(headers)?;
    if let Some(length) = length
        && length > limits.max_file_size
    {
        let file = metadata.as_ref().ok().and_then(|(m, _)| m.file_name());
        return Err(AppError::FileTooLarge {
            field: UPLOAD_LENGTH.to_owned(),
            file: file.unwrap_or_default().to_owned(),
            limit: limits.max_file_size,
        });
    }
    let (metadata, raw) = metadata?;
    let originalname = metadata.file_name().unwrap_or_default().to_owned();
    let upload = NewUpload {
        key: object_key(limits, &originalname),
        mimetype: metadata
            .claimed_type()
            .unwrap_or("application/octet-stream")
            .to_owned(),
        originalname,
        metadata_header: raw,
        length,
        part_size: limits.part_size,
    };
    let refuse_existing = limits.key_strategy == KeyStrategy::Original;
    let info = info_store(state)
        .create_upload(upload, state.config.resumable_expiry, refuse_existing)
        .await?;
    let location = HeaderValue::try_from(format!("/files/{}", info.id))
        .map_err(|err| AppError::Internal(anyhow::Error::new(err).context("Location header")))?;
    let expires = HeaderValue::try_from(format_expires(info.expires_at))
        .map_err(|err| AppError::Internal(anyhow::Error::new(err).context("Upload-Expires")))?;
    tracing::info!(id = %info.id, key = %crate::telemetry::Escaped(&info.key), "resumable upload created");
    state.metrics.resumable_created();
    let mut response = (
        StatusCode::CREATED,
        [(header::LOCATION, location), (UPLOAD_EXPIRES, expires)],
    )
        .into_response();
    // An empty file is complete once created: it is stored now (tus-js-client sends no PATCH for it).
    if with_body || length == Some(0) {
        let first = Patch {
            offset: 0,
            length: None,
            checksum,
        };
        let (name, value) = match patch::append(state, info.id.clone(), first, body).await {
            Ok(Appended::Received { offset }) => (UPLOAD_OFFSET_HEADER, HeaderValue::from(offset)),
            Ok(Appended::Completed { offset, .. }) => {
                let object = completed::object_location(state, &info.id).await?;
                let headers = response.headers_mut();
                headers.remove(UPLOAD_EXPIRES);
                headers.insert(OBJECT_LOCATION, object);
                (UPLOAD_OFFSET_HEADER, HeaderValue::from(offset))
            }
            // 409, 460, 423: the body was not kept.
            Ok(other) => return patch::answer(state, &info.id, other).await,
            Err(err) => {
                return match AppError::from(err) {
                    refused @ AppError::FileTypeNotAllowed { .. } => Ok(patch::named(refused)),
                    other => Err(other),
                };
            }
        };
        response.headers_mut().insert(name, value);
    }
    Ok(response)
}

/// Whether a request has a body, judged without reading it: a chunked one counts even if it turns out empty.
pub(super) fn has_body(body: &Body) -> bool {
    !body.is_end_stream() && body.size_hint().exact() != Some(0)
}

/// `Upload-Length: n`, or `Upload-Defer-Length: 1` (`None`): exactly one of the two.
fn length(headers: &HeaderMap) -> Result<Option<u64>, AppError> {
    let length = text(headers, UPLOAD_LENGTH)?;
    let deferred = text(headers, UPLOAD_DEFER_LENGTH)?;
    match (length, deferred) {
        (Some(length), None) => parse_length(length).map(Some).map_err(Into::into),
        (None, Some(deferred)) => parse_defer_length(deferred)
            .map(|()| None)
            .map_err(Into::into),
        (Some(_), Some(_)) => Err(invalid(
            UPLOAD_LENGTH,
            "send Upload-Length or Upload-Defer-Length: 1, not both",
        )),
        (None, None) => Err(invalid(
            UPLOAD_LENGTH,
            "missing: send the file's size, or Upload-Defer-Length: 1 when it is not known yet",
        )),
    }
}

/// The decoded `Upload-Metadata` and the header as received (to echo on HEAD); no header is no metadata.
fn metadata(headers: &HeaderMap, max_pairs: usize) -> Result<(Metadata, Option<String>), AppError> {
    let Some(raw) = text(headers, UPLOAD_METADATA)? else {
        return Ok((Metadata::default(), None));
    };
    let limits = Limits {
        max_bytes: MAX_METADATA_BYTES,
        max_pairs,
    };
    let metadata = Metadata::parse(raw, limits).map_err(|err| match err {
        MetadataError::TooLarge { limit } => AppError::MetadataTooLarge { limit },
        MetadataError::TooManyPairs { limit } => AppError::TooManyFields {
            field: UPLOAD_METADATA.to_owned(),
            limit,
        },
        other => invalid(UPLOAD_METADATA, &other.to_string()),
    })?;
    let raw = (!raw.trim().is_empty()).then(|| raw.to_owned());
    Ok((metadata, raw))
}

/// A header's value as text; one that is not visible ASCII is invalid.
fn text<'h>(headers: &'h HeaderMap, name: &'static str) -> Result<Option<&'h str>, AppError> {
    headers
        .get(name)
        .map(|v| {
            v.to_str()
                .map_err(|_| invalid(name, "must be visible ASCII"))
        })
        .transpose()
}

fn invalid(header: &'static str, reason: &str) -> AppError {
    AppError::InvalidTusHeader {
        header,
        reason: reason.to_owned(),
    }
}

impl From<super::headers::InvalidHeader> for AppError {
    fn from(err: super::headers::InvalidHeader) -> Self {
        invalid(err.header, err.reason)
    }
}
