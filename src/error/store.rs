//! Where the store's errors become answers: the one place that maps [`StoreError`] and [`UploadError`] to an
//! [`AppError`] (unreachable: 503, refused: 502, no room: 503 `SERVER_BUSY`, cancelled: 503 `SHUTTING_DOWN`).

use std::convert::Infallible;

use super::AppError;
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
