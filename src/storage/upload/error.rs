//! Why storing a file failed: its bytes could not be read (the source's own error, `E`), the store failed, or
//! the server could not or would not go on.

use std::convert::Infallible;

use crate::storage::StoreError;

/// A failed upload. `E` is the error of the stream the file's bytes come from; once a file has been read whole,
/// what is left cannot fail that way (`E = Infallible`).
#[derive(Debug, thiserror::Error)]
pub enum UploadError<E = Infallible> {
    /// The file's bytes could not be read.
    #[error(transparent)]
    Source(E),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Uploads may not overwrite (`KEY_STRATEGY=original`) and an object of that key exists.
    #[error("an object `{key}` already exists")]
    Exists { key: String },
    /// No room in the memory budget within `UPLOAD_MEMORY_WAIT_SECS`.
    #[error("no room in UPLOAD_MEMORY_BUDGET within UPLOAD_MEMORY_WAIT_SECS")]
    Busy,
    /// The server is shutting down: the upload was cancelled.
    #[error("cancelled: the server is shutting down")]
    Cancelled,
    /// A bug or an unexpected state (a task that panicked, a semaphore closed).
    #[error("something went wrong on the server")]
    Internal(anyhow::Error),
}

impl UploadError {
    /// The same error where the source's may also be (a finished file's error, in a read that goes on).
    pub fn widen<E>(self) -> UploadError<E> {
        match self {
            Self::Source(never) => match never {},
            Self::Store(err) => UploadError::Store(err),
            Self::Exists { key } => UploadError::Exists { key },
            Self::Busy => UploadError::Busy,
            Self::Cancelled => UploadError::Cancelled,
            Self::Internal(err) => UploadError::Internal(err),
        }
    }
}

impl<E> UploadError<E> {
    pub(crate) fn internal(err: impl Into<anyhow::Error>) -> Self {
        Self::Internal(err.into())
    }
}
