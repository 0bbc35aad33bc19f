//! A file of a request once it has been read whole: the task that finishes storing it, and its result.

use futures_util::FutureExt as _;
use tokio::task::JoinHandle;

use super::UploadedFile;
use crate::error::{AppError, FileError};

/// A file that has been read whole and is being finished (its last parts stored, the upload completed) while
/// the request goes on to the next one.
pub(super) struct FileTask {
    pub(super) filename: String,
    pub(super) state: FileState,
}

pub(super) enum FileState {
    Finishing(JoinHandle<Result<UploadedFile, AppError>>),
    Done(Box<Result<UploadedFile, AppError>>),
}

impl FileTask {
    /// Whether the file has already failed (without waiting).
    pub(super) fn has_failed(&mut self) -> bool {
        if let FileState::Finishing(handle) = &mut self.state
            && let Some(done) = handle.now_or_never()
        {
            self.state = FileState::Done(Box::new(file_result(done)));
        }
        matches!(&self.state, FileState::Done(done) if done.is_err())
    }

    pub(super) async fn finish(self) -> Result<UploadedFile, FileError> {
        let done = match self.state {
            FileState::Finishing(handle) => file_result(handle.await),
            FileState::Done(done) => *done,
        };
        done.map_err(|error| FileError {
            file: Some(self.filename),
            error,
        })
    }
}

/// A file task's result; a task that panicked fails the file.
fn file_result(
    done: Result<Result<UploadedFile, AppError>, tokio::task::JoinError>,
) -> Result<UploadedFile, AppError> {
    done.map_err(|err| AppError::Internal(anyhow::Error::new(err).context("file upload task")))?
}
