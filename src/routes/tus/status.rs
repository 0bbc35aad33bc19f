//! `HEAD`, `GET` and `DELETE /files/<id>`: where an upload stands (design 1.4, 1.7), and its termination (1.6).
//!
//! Until `PATCH` lands no upload takes bytes, so every upload found is `receiving` at offset 0; the states that
//! bytes bring (completing, completed, failed) are answered with their own rules in that step.

use axum::Json;
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::creation::UPLOAD_METADATA;
use super::headers::format_expires;
use super::info_store;
use crate::error::AppError;
use crate::state::AppState;
use crate::storage::resumable::create::unix_now;
use crate::storage::resumable::info::{Info, State, UploadId};

pub(super) const UPLOAD_EXPIRES: HeaderName = HeaderName::from_static("upload-expires");

/// `HEAD`: 200 with `Upload-Offset`, `Upload-Length` (or `Upload-Defer-Length: 1`), the metadata as received,
/// and `Upload-Expires`; no body.
pub(super) async fn head(state: &AppState, id: &UploadId) -> Result<Response, AppError> {
    let info = receiving(state, id).await?;
    let mut response = StatusCode::OK.into_response();
    let headers = response.headers_mut();
    for (name, value) in progress_headers(&info) {
        headers.insert(name, value);
    }
    if let Some(raw) = &info.metadata_header {
        headers.insert(UPLOAD_METADATA, header_value(raw)?);
    }
    headers.insert(
        UPLOAD_EXPIRES,
        header_value(&format_expires(info.expires_at))?,
    );
    Ok(response)
}

/// `GET` of an upload still taking bytes: 202 with its progress. (A completed one will answer 200 with
/// `POST /upload`'s description of the file; none can exist before `PATCH`.)
pub(super) async fn get(state: &AppState, id: &UploadId) -> Result<Response, AppError> {
    let info = receiving(state, id).await?;
    let progress = Progress {
        id: info.id.as_str(),
        offset: info.offset,
        length: info.length,
        complete: false,
        expires: aws_smithy_types::DateTime::from_secs(
            i64::try_from(info.expires_at).unwrap_or(i64::MAX),
        )
        .fmt(aws_smithy_types::date_time::Format::DateTime)
        .map_err(|err| AppError::Internal(anyhow::Error::new(err).context("format expires")))?,
    };
    Ok((
        StatusCode::ACCEPTED,
        progress_headers(&info),
        Json(progress),
    )
        .into_response())
}

/// `DELETE`: 204 once the upload's state and bytes are removed (a completed upload's object stays).
pub(super) async fn delete(state: &AppState, id: &UploadId) -> Result<Response, AppError> {
    info_store(state).terminate(id).await?;
    tracing::info!(%id, "resumable upload terminated");
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// The progress of an incomplete upload, as `GET` answers it.
#[derive(Serialize)]
struct Progress<'a> {
    id: &'a str,
    offset: u64,
    /// `null` while the length is deferred.
    length: Option<u64>,
    complete: bool,
    /// When the upload is forgotten unless bytes arrive (RFC 3339).
    expires: String,
}

/// The record of an upload that is taking bytes; terminated and expired uploads are not found.
async fn receiving(state: &AppState, id: &UploadId) -> Result<Info, AppError> {
    let (info, _) = info_store(state).read(id).await?;
    match info.state {
        State::Receiving if info.expires_at > unix_now() => Ok(info),
        // Expired: the sweeper (with PATCH) removes it; until then it is gone for its client too.
        State::Receiving | State::Terminated => Err(AppError::UploadNotFound),
        State::Completing | State::Completed | State::Failed => {
            Err(AppError::Internal(anyhow::anyhow!(
                "upload {id} is {:?}, which this server does not answer yet",
                info.state
            )))
        }
    }
}

/// `Upload-Offset`, and `Upload-Length` or `Upload-Defer-Length: 1`.
fn progress_headers(info: &Info) -> [(HeaderName, HeaderValue); 2] {
    let length = match info.length {
        Some(length) => (
            HeaderName::from_static("upload-length"),
            HeaderValue::from(length),
        ),
        None => (
            HeaderName::from_static("upload-defer-length"),
            HeaderValue::from_static("1"),
        ),
    };
    [
        (
            HeaderName::from_static("upload-offset"),
            HeaderValue::from(info.offset),
        ),
        length,
    ]
}

fn header_value(text: &str) -> Result<HeaderValue, AppError> {
    HeaderValue::try_from(text)
        .map_err(|err| AppError::Internal(anyhow::Error::new(err).context("an answer header")))
}
