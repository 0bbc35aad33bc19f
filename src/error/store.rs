//! Where the store's errors become answers: the one place that maps [`StoreError`], [`UploadError`] and the
//! resumable uploads' [`CasError`], [`CreateError`] and [`AppendError`], and the direct uploads'
//! [`DirectError`] ([`direct`]), to an [`AppError`] (unreachable: 503, refused: 502, no
//! room: 503 `SERVER_BUSY`, cancelled: 503 `SHUTTING_DOWN`, no such upload: 404 `UPLOAD_NOT_FOUND`).

use std::convert::Infallible;

use super::AppError;
use crate::config::UploadConfig;
use crate::storage::direct::multipart::DirectError;
use crate::storage::resumable::AppendError;
use crate::storage::resumable::cas::CasError;
use crate::storage::resumable::create::CreateError;
use crate::storage::resumable::info::State;
use crate::storage::upload::UploadError;
use crate::storage::{StoreError, Trouble};

impl From<StoreError> for AppError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Internal(err) => Self::Internal(err),
            other => Self::Store(other),
        }
    }
}

impl<E> From<UploadError<E>> for AppError
where
    AppError: From<E>,
{
    fn from(err: UploadError<E>) -> Self {
        match err {
            UploadError::Source(err) => err.into(),
            UploadError::Store(err) => err.into(),
            UploadError::Exists { key } => Self::FileExists { key },
            UploadError::Busy => Self::ServerBusy {
                reason: "no room in UPLOAD_MEMORY_BUDGET within UPLOAD_MEMORY_WAIT_SECS",
            },
            UploadError::Cancelled => Self::ShuttingDown,
            UploadError::Internal(err) => Self::Internal(err),
        }
    }
}

impl From<CasError> for AppError {
    fn from(err: CasError) -> Self {
        match err {
            CasError::NotFound => Self::UploadNotFound,
            CasError::Store(err) => err.into(),
            // The routes re-read and retry a lost write where it can happen; losing here is a bug (until PATCH
            // brings claims, and with them 423 UPLOAD_LOCKED). A corrupt record is logged with its cause.
            lost @ CasError::Lost => Self::Internal(anyhow::Error::new(lost)),
            corrupt @ CasError::Corrupt { .. } => Self::Internal(anyhow::Error::new(corrupt)),
        }
    }
}

impl From<CreateError> for AppError {
    fn from(err: CreateError) -> Self {
        match err {
            CreateError::Exists { key } => Self::FileExists { key },
            CreateError::Cas(err) => err.into(),
        }
    }
}

/// An append that failed (its outcomes, 204/409/460, are the route's). A body that broke answers as the body's
/// own error (what arrived was kept); a completed or failed upload is answered by the route, which reads why.
impl<E> From<AppendError<E>> for AppError
where
    AppError: From<E>,
{
    fn from(err: AppendError<E>) -> Self {
        match err {
            AppendError::Source { error, .. } => error.into(),
            AppendError::NotFound
            | AppendError::NotReceiving {
                state: State::Terminated,
            } => Self::UploadNotFound,
            AppendError::NotReceiving {
                state: State::Completing,
            } => Self::UploadLocked,
            AppendError::NotReceiving { state } => Self::Internal(anyhow::anyhow!(
                "an append to an upload in state {state:?} reached the answer"
            )),
            AppendError::Length {
                declared,
                length,
                offset,
            } => Self::InvalidTusHeader {
                header: "Upload-Length",
                reason: match length {
                    Some(length) => format!("{declared} is not the upload's length {length}"),
                    None => format!("{declared} is below the {offset} bytes already received"),
                },
            },
            AppendError::TooLong { length } => Self::FileTooLarge {
                field: "Upload-Length".to_owned(),
                file: String::new(),
                limit: length,
            },
            AppendError::Record(err) => err.into(),
            AppendError::Upload(err) => err.into(),
        }
    }
}

impl From<Infallible> for AppError {
    fn from(never: Infallible) -> Self {
        match never {}
    }
}

/// The stable code of a store error.
pub(super) fn code(err: &StoreError) -> &'static str {
    match err.trouble() {
        Trouble::Unreachable => "STORE_UNAVAILABLE",
        Trouble::AccessDenied => "STORE_ACCESS_DENIED",
        Trouble::NoSuchBucket => "STORE_NO_SUCH_BUCKET",
        Trouble::AclNotSupported => "STORE_ACL_NOT_SUPPORTED",
        Trouble::Refused => "STORE_ERROR",
        Trouble::Internal => "INTERNAL_ERROR",
    }
}

/// A direct upload's error as `POST /upload` would answer it (the answer's `field` is the upload field's name,
/// as multer reports it).
pub fn direct(err: DirectError, limits: &UploadConfig) -> AppError {
    let field = &limits.field_name;
    match err {
        DirectError::NotFound => AppError::UploadNotFound,
        DirectError::InvalidParts(reason) => AppError::InvalidParts { reason },
        DirectError::TooLarge { limit, file, .. } => AppError::FileTooLarge {
            field: field.to_owned(),
            file,
            limit,
        },
        DirectError::TypeNotAllowed { judged, file } => AppError::FileTypeNotAllowed {
            field: field.to_owned(),
            file,
            content_type: judged,
            allowed: limits.allowed_types.join(", "),
        },
        DirectError::Upload(err) => err.into(),
    }
}
