//! `POST /files`: creation and creation-defer-length (design 1.3), without a body for now.
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
use super::{info_store, status::UPLOAD_EXPIRES};
use crate::config::KeyStrategy;
use crate::error::AppError;
use crate::routes::upload::object_key;
use crate::state::AppState;
use crate::storage::resumable::info::NewUpload;

pub(super) const UPLOAD_METADATA: &str = "Upload-Metadata";
const UPLOAD_CONCAT: &str = "Upload-Concat";

/// The longest `Upload-Metadata` taken (tusd and the design agree on 8 KiB: names, types, a few more pairs).
const MAX_METADATA_BYTES: usize = 8 * 1024;

/// Creates an upload and answers 201 with its `Location` and `Upload-Expires`.
pub(super) async fn create(
    state: &AppState,
    headers: &HeaderMap,
    has_body: bool,
) -> Result<Response, AppError> {
    // Next step (creation-with-upload): a body of type application/offset+octet-stream is taken as a PATCH at
    // offset 0. Until then any body is refused unread.
    if has_body {
        return Err(AppError::NotOffsetStream);
    }
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
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location), (UPLOAD_EXPIRES, expires)],
    )
        .into_response())
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
