//! `HEAD`, `GET` and `DELETE /files/<id>`: where an upload stands (design 1.4, 1.7), and its termination (1.6).
//!
//! A completed upload answers with its object (`X-Object-Location`; `GET`: `POST /upload`'s description); one
//! being completed is 423 `UPLOAD_LOCKED` (no waiting yet), a failed one its failure (409 `FILE_EXISTS`). A
//! completion left half done (the store failed it, a server stopped) is finished first.

use axum::Json;
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::creation::UPLOAD_METADATA;
use super::headers::format_expires;
use super::patch::OBJECT_LOCATION;
use super::{completed, info_store, recovered};
use crate::error::AppError;
use crate::state::AppState;
use crate::storage::resumable::create::unix_now;
use crate::storage::resumable::info::{Info, State, UploadId};

pub(super) const UPLOAD_EXPIRES: HeaderName = HeaderName::from_static("upload-expires");

/// `HEAD`: 200 with `Upload-Offset`, `Upload-Length` (or `Upload-Defer-Length: 1`), the metadata as received,
/// and `Upload-Expires` (while incomplete) or `X-Object-Location` (once complete); no body.
pub(super) async fn head(state: &AppState, id: &UploadId) -> Result<Response, AppError> {
    let info = current(state, id).await?;
    let mut response = StatusCode::OK.into_response();
    let headers = response.headers_mut();
    for (name, value) in progress_headers(&info) {
        headers.insert(name, value);
    }
    if let Some(raw) = &info.metadata_header {
        headers.insert(UPLOAD_METADATA, header_value(raw)?);
    }
    if info.state == State::Completed {
        let location = completed::header_location(state, &info).await?;
        response.headers_mut().insert(OBJECT_LOCATION, location);
    } else {
        headers.insert(
            UPLOAD_EXPIRES,
            header_value(&format_expires(info.expires_at))?,
        );
    }
    Ok(response)
}

/// `GET`: a completed upload is 200 with `POST /upload`'s description of the file; one still taking bytes 202
/// with its progress.
pub(super) async fn get(state: &AppState, id: &UploadId) -> Result<Response, AppError> {
    let info = current(state, id).await?;
    if info.state == State::Completed {
        return Ok(Json(completed::describe_completed(state, info).await?).into_response());
    }
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

/// The record of an upload that is taking bytes or completed; terminated and expired uploads are not found.
async fn current(state: &AppState, id: &UploadId) -> Result<Info, AppError> {
    let info = recovered(state, id).await?;
    match info.state {
        State::Receiving if info.expires_at > unix_now() => Ok(info),
        State::Completed => Ok(info),
        // Expired: the sweeper removes it; until then it is gone for its client too.
        State::Receiving | State::Terminated => Err(AppError::UploadNotFound),
        // Being completed by another request right now.
        State::Completing => Err(AppError::UploadLocked),
        State::Failed => Err(completed::failed(&info)),
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
