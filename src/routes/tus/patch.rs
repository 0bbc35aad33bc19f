//! `PATCH /files/<id>` (design 1.5): a request's bytes appended to an upload.
//!
//! The headers are judged before any of the body is read (415, 400, 413). The body then takes one of the
//! `MAX_UPLOADS` slots and is read in its own task, as `POST /upload` reads its files, through the same bounds
//! (`BODY_READ_TIMEOUT_SECS`, `BODY_MIN_BYTES_PER_SEC`, shutdown): a client that disconnects cannot stop the
//! append half way, and what arrived before a body broke is kept (the answer is then the body's error). When the
//! server begins to stop, a PATCH stops reading at once, keeps what arrived and answers 503 `SHUTTING_DOWN`.

use axum::body::Body;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures_util::{Stream, StreamExt as _};
use tracing::Instrument as _;

use super::headers::{UPLOAD_LENGTH, UPLOAD_OFFSET, format_expires, parse_length, parse_offset};
use super::status::UPLOAD_EXPIRES;
use super::{completed, sniff};
use crate::error::{AppError, FileError};
use crate::lifecycle::Lifecycle;
use crate::routes::upload::body::{BodyLimits, SharedBody};
use crate::routes::upload::{DRAIN_BYTES, DRAIN_TIME, upload_slot};
use crate::state::AppState;
use crate::storage::resumable::checksum::{self, Expected};
use crate::storage::resumable::create::unix_now;
use crate::storage::resumable::info::{State, UploadId};
use crate::storage::resumable::{AppendError, Appended, Resumable};

/// The only type a request's bytes come in.
pub(super) const OFFSET_STREAM: &str = "application/offset+octet-stream";
const UPLOAD_CHECKSUM: &str = "Upload-Checksum";
pub(super) const UPLOAD_OFFSET_HEADER: HeaderName = HeaderName::from_static("upload-offset");
pub(super) const OBJECT_LOCATION: HeaderName = HeaderName::from_static("x-object-location");

/// What a request's headers say about its body.
#[derive(Clone, Debug)]
pub(super) struct Patch {
    /// `Upload-Offset`: where the body goes.
    pub(super) offset: u64,
    /// `Upload-Length`: a deferred upload's length, once known.
    pub(super) length: Option<u64>,
    /// `Upload-Checksum`: what the body must hash to.
    pub(super) checksum: Option<Expected>,
}

/// `PATCH`: 204 with the new `Upload-Offset`, and `Upload-Expires` while incomplete or `X-Object-Location` once
/// complete.
pub(super) async fn patch(
    state: &AppState,
    id: UploadId,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response, AppError> {
    if !is_offset_stream(headers) {
        return Err(AppError::NotOffsetStream);
    }
    let request = Patch {
        offset: offset(headers)?,
        length: length(state, headers)?,
        checksum: checksum(headers)?,
    };
    let offset = request.offset;
    match append(state, id.clone(), request, body).await {
        Ok(appended) => answer(state, &id, appended).await,
        Err(AppendError::NotReceiving {
            state: State::Completed | State::Failed | State::Completing,
        }) => completed::repeated(state, &id, offset).await,
        Err(err) => match AppError::from(err) {
            // The answer names the refused file, as POST /upload's does.
            refused @ AppError::FileTypeNotAllowed { .. } => Ok(named(refused)),
            other => Err(other),
        },
    }
}

/// A type refusal's answer, its `file` the upload's name.
pub(super) fn named(refused: AppError) -> Response {
    let file = match &refused {
        AppError::FileTypeNotAllowed { file, .. } => Some(file.clone()),
        _ => None,
    };
    FileError {
        file,
        error: refused,
    }
    .into_response()
}

/// Whether the request's bytes come as `application/offset+octet-stream` (parameters aside).
pub(super) fn is_offset_stream(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case(OFFSET_STREAM))
}

fn offset(headers: &HeaderMap) -> Result<u64, AppError> {
    let value = headers
        .get(UPLOAD_OFFSET)
        .ok_or(AppError::InvalidTusHeader {
            header: UPLOAD_OFFSET,
            reason: "missing: send where these bytes go (HEAD says where the upload stands)"
                .to_owned(),
        })?;
    let value = value.to_str().unwrap_or_default();
    Ok(parse_offset(value)?)
}

/// `Upload-Length` on a PATCH (a deferred upload's length): at most `MAX_FILE_SIZE` (else 413).
fn length(state: &AppState, headers: &HeaderMap) -> Result<Option<u64>, AppError> {
    let Some(value) = headers.get(UPLOAD_LENGTH) else {
        return Ok(None);
    };
    let length = parse_length(value.to_str().unwrap_or_default())?;
    let limit = state.config.upload.max_file_size;
    if length > limit {
        return Err(AppError::FileTooLarge {
            field: UPLOAD_LENGTH.to_owned(),
            file: String::new(),
            limit,
        });
    }
    Ok(Some(length))
}

/// `Upload-Checksum`: a malformed one or an unknown algorithm is refused before the body is read.
pub(super) fn checksum(headers: &HeaderMap) -> Result<Option<Expected>, AppError> {
    let Some(value) = headers.get(UPLOAD_CHECKSUM) else {
        return Ok(None);
    };
    let text = value.to_str().map_err(|_| AppError::ChecksumUnsupported {
        reason: "must be visible ASCII".to_owned(),
    })?;
    checksum::parse(text)
        .map(Some)
        .map_err(|err| AppError::ChecksumUnsupported {
            reason: err.to_string(),
        })
}

/// Appends `body` to upload `id` in a task of its own, holding an upload slot. The rest of a body that was not
/// taken (refused, or the upload moved on) is drained, bounded, so that the client reads the answer.
pub(super) async fn append(
    state: &AppState,
    id: UploadId,
    request: Patch,
    body: Body,
) -> Result<Appended, AppendError<AppError>> {
    // No slot: nothing was read, and the answer is the slot's error (503 SERVER_BUSY), as a body's would be.
    let slot = upload_slot(state).map_err(|error| AppendError::Source { error, offset: 0 })?;
    let state = state.clone();
    let lifecycle = state.lifecycle.clone();
    let task = lifecycle.spawn(
        async move {
            let body = SharedBody::new(body.into_data_stream());
            let limits = BodyLimits {
                idle: state.config.upload.body_read_timeout,
                min_rate: state.config.upload.body_min_rate,
            };
            let octets = body.clone().octets(limits, state.lifecycle.clone());
            let stream = Box::pin(until_stopping(Box::pin(octets), state.lifecycle.clone()));
            let result = match sniff::judge(&state, &id, request.offset, stream).await {
                Ok(stream) => {
                    let prefix = state.config.upload.key_prefix.clone();
                    Resumable::new(&state.uploader, prefix)
                        .append(
                            &id,
                            request.offset,
                            request.length,
                            stream,
                            request.checksum,
                        )
                        .await
                }
                // Refused on its first bytes (or its type could not be recorded): nothing of it was kept.
                Err(error) => Err(AppendError::Source {
                    error,
                    offset: request.offset,
                }),
            };
            let kept = match &result {
                Ok(Appended::Received { offset } | Appended::Completed { offset, .. })
                | Err(AppendError::Source { offset, .. }) => offset.saturating_sub(request.offset),
                _ => 0,
            };
            state.metrics.resumable_received(kept);
            let taken = matches!(
                result,
                Ok(Appended::Received { .. } | Appended::Completed { .. })
            );
            if let Ok(Appended::Completed { object, .. }) = &result {
                state.metrics.files_stored([object.size]);
            }
            if !taken && !state.lifecycle.is_cancelled() {
                body.drain(DRAIN_TIME, DRAIN_BYTES).await;
            }
            drop(slot);
            result
        }
        .in_current_span(),
    );
    task.await.unwrap_or_else(|err| {
        Err(AppendError::Upload(
            crate::storage::upload::UploadError::internal(
                anyhow::Error::new(err).context("tus append task"),
            ),
        ))
    })
}

/// The body, ended by 503 `SHUTTING_DOWN` as soon as the server begins to stop: what arrived is saved at once
/// (whole parts and a segment, committed within the grace period) and the client resumes on another copy or
/// after the restart, instead of holding the shutdown for as long as its body lasts.
fn until_stopping<S>(
    body: S,
    lifecycle: Lifecycle,
) -> impl Stream<Item = Result<Bytes, AppError>> + Send + 'static
where
    S: Stream<Item = Result<Bytes, AppError>> + Send + Unpin + 'static,
{
    futures_util::stream::unfold(Some((body, lifecycle)), |reading| async move {
        let (mut body, lifecycle) = reading?;
        tokio::select! {
            biased;
            () = lifecycle.stopping() => Some((Err(AppError::ShuttingDown), None)),
            item = body.next() => {
                let item = item?;
                Some((item, Some((body, lifecycle))))
            }
        }
    })
}

/// The answer to an append that ran.
pub(super) async fn answer(
    state: &AppState,
    id: &UploadId,
    appended: Appended,
) -> Result<Response, AppError> {
    match appended {
        Appended::Received { offset } => {
            // The commit just slid the upload's lifetime from now (not read back: one store request less).
            let expires_at = unix_now() + state.config.resumable_expiry.as_secs();
            let expires = HeaderValue::try_from(format_expires(expires_at))
                .map_err(|err| AppError::Internal(anyhow::Error::new(err).context("expires")))?;
            Ok((
                StatusCode::NO_CONTENT,
                [
                    (UPLOAD_OFFSET_HEADER, HeaderValue::from(offset)),
                    (UPLOAD_EXPIRES, expires),
                ],
            )
                .into_response())
        }
        Appended::Completed { offset, .. } => {
            let location = completed::object_location(state, id).await?;
            tracing::info!(%id, size = offset, "resumable upload completed");
            Ok((
                StatusCode::NO_CONTENT,
                [
                    (UPLOAD_OFFSET_HEADER, HeaderValue::from(offset)),
                    (OBJECT_LOCATION, location),
                ],
            )
                .into_response())
        }
        Appended::OffsetMismatch { offset } => Err(AppError::OffsetMismatch { offset }),
        Appended::ChecksumMismatch { .. } => Err(AppError::ChecksumMismatch),
        Appended::Conflict => Err(AppError::UploadLocked),
    }
}
