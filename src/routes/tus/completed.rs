//! Completed uploads (design 1.4, 1.5, 1.7): where the object opens (`X-Object-Location`), and `GET`'s
//! description of it, exactly as `POST /upload` describes a file it stored.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::info_store;
use super::patch::{OBJECT_LOCATION, UPLOAD_OFFSET_HEADER};
use crate::error::AppError;
use crate::routes::upload::{UploadedFile, describe, location};
use crate::state::AppState;
use crate::storage::resumable::append::object_spec;
use crate::storage::resumable::info::{Info, State, UploadId};
use crate::storage::upload::StoredObject;

/// `X-Object-Location` of a completed upload: the URL `POST /upload` answers as `location` (presigned now with
/// `URL_MODE=presigned`).
pub(super) async fn object_location(
    state: &AppState,
    id: &UploadId,
) -> Result<HeaderValue, AppError> {
    let (info, _) = info_store(state).read(id).await?;
    header_location(state, &info).await
}

pub(super) async fn header_location(
    state: &AppState,
    info: &Info,
) -> Result<HeaderValue, AppError> {
    let url = location(state, &info.key).await?;
    HeaderValue::try_from(url)
        .map_err(|err| AppError::Internal(anyhow::Error::new(err).context("X-Object-Location")))
}

/// A `PATCH` to an upload that takes no more bytes: at its end, a repeat of the last one (204, idempotent, as a
/// client that lost the answer sends it); elsewhere 409 with where it stands. A failed upload answers why.
pub(super) async fn repeated(
    state: &AppState,
    id: &UploadId,
    offset: u64,
) -> Result<Response, AppError> {
    let info = super::recovered(state, id).await?;
    match info.state {
        State::Completed if info.offset == offset => {
            let location = header_location(state, &info).await?;
            Ok((
                StatusCode::NO_CONTENT,
                [
                    (UPLOAD_OFFSET_HEADER, HeaderValue::from(offset)),
                    (OBJECT_LOCATION, location),
                ],
            )
                .into_response())
        }
        State::Completed => Err(AppError::OffsetMismatch {
            offset: info.offset,
        }),
        State::Failed => Err(failed(&info)),
        State::Completing => Err(AppError::UploadLocked),
        // A whole file whose completion failed takes its last bytes again (recover.rs): from where it stands.
        State::Receiving => Err(AppError::OffsetMismatch {
            offset: info.offset,
        }),
        State::Terminated => Err(AppError::UploadNotFound),
    }
}

/// The error a failed upload answers: its object's key was taken meanwhile (`KEY_STRATEGY=original`).
pub(super) fn failed(info: &Info) -> AppError {
    AppError::FileExists {
        key: info.key.clone(),
    }
}

/// A completed upload as `POST /upload` describes a stored file: `fieldname` the configured field,
/// `originalname` and `mimetype` the creation's metadata, the stored object's type, size and tags.
pub(super) async fn describe_completed(
    state: &AppState,
    info: Info,
) -> Result<UploadedFile, AppError> {
    let object = info.object.clone().ok_or_else(|| {
        AppError::Internal(anyhow::anyhow!(
            "completed upload {} has no object",
            info.id
        ))
    })?;
    let stored = StoredObject {
        size: object.size,
        etag: Some(object.etag),
        version_id: object.version_id,
        server_side_encryption: object.sse,
        sent_while_received: false,
    };
    let spec = object_spec(&info);
    let fieldname = state.config.upload.field_name.clone();
    describe(
        state,
        spec,
        stored,
        fieldname,
        info.originalname,
        info.mimetype,
    )
    .await
}
