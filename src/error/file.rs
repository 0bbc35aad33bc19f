//! An error that names the file of a request it concerns (`POST /upload`'s answers).

use axum::response::{IntoResponse, Response};

use super::AppError;

/// An error that concerns one named file of a request.
#[derive(Debug)]
pub struct FileError {
    pub file: Option<String>,
    pub error: AppError,
}

impl From<AppError> for FileError {
    fn from(error: AppError) -> Self {
        Self { file: None, error }
    }
}

impl FileError {
    /// `error`, naming the file it carries (a file over the limit or of a type not allowed).
    pub fn named(error: AppError) -> Self {
        let file = match &error {
            AppError::FileTooLarge { file, .. } | AppError::FileTypeNotAllowed { file, .. }
                if !file.is_empty() =>
            {
                Some(file.clone())
            }
            _ => None,
        };
        Self { file, error }
    }
}

impl IntoResponse for FileError {
    fn into_response(self) -> Response {
        self.error.log();
        self.error.answer(self.file)
    }
}
