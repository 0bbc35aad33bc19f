//! One error type for every way a request can fail, and its HTTP answer.
//!
//! Every error has a stable machine code (multer's codes where the sample's users know them, e.g.
//! `LIMIT_FILE_SIZE`), a message a person can act on, and the field or file it concerns. The answer is always
//! JSON: `{"error": {"code", "message", "field"}}`. Internal and store failures are logged here, once, with their
//! cause; the client gets the code and a message without internals.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::storage::{StoreError, Trouble};

/// What went wrong with a request.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// 415: the request is not `multipart/form-data`.
    #[error("expected a multipart/form-data request with files in the field `{expected}`")]
    NotMultipart { expected: String },
    /// 400: the multipart body is malformed (no boundary, truncated, bad part headers).
    #[error("the multipart body is malformed: {detail}")]
    MalformedMultipart { detail: String },
    /// 401: `UPLOAD_TOKEN` is set and the request did not carry it as `Authorization: Bearer …`.
    #[error("this server needs an upload token: send `Authorization: Bearer <token>`")]
    Unauthorized,
    /// 415: a file's type (from its bytes) is not in `ALLOWED_TYPES`.
    #[error("file type `{content_type}` of `{file}` is not accepted (allowed: {allowed})")]
    FileTypeNotAllowed {
        field: String,
        file: String,
        content_type: String,
        allowed: String,
    },
    /// 400: the request carried no file.
    #[error("no file was uploaded: send one or more files in the field `{expected}`")]
    NoFile { expected: String },
    /// 400: a file came in a field other than the expected one (multer's `LIMIT_UNEXPECTED_FILE`).
    #[error("unexpected file field `{field}`: send files in the field `{expected}`")]
    UnexpectedFile { field: String, expected: String },
    /// 400: a part has no field name (multer's `MISSING_FIELD_NAME`).
    #[error("a part of the form has no field name")]
    MissingFieldName,
    /// 413: a file is larger than `MAX_FILE_SIZE` (multer's `LIMIT_FILE_SIZE`).
    #[error("file too large: `{file}` exceeds the limit of {limit} bytes")]
    FileTooLarge {
        field: String,
        file: String,
        limit: u64,
    },
    /// 413: more files than `MAX_FILES` (multer's `LIMIT_FILE_COUNT`).
    #[error("too many files: at most {limit} per request")]
    TooManyFiles { field: String, limit: usize },
    /// 413: more parts than `MAX_PARTS` (multer's `LIMIT_PART_COUNT`).
    #[error("too many parts: at most {limit} per request")]
    TooManyParts { limit: usize },
    /// 413: more non-file fields than `MAX_FIELDS` (multer's `LIMIT_FIELD_COUNT`).
    #[error("too many fields: at most {limit} per request")]
    TooManyFields { field: String, limit: usize },
    /// 413: a field name longer than 100 bytes (multer's `LIMIT_FIELD_KEY`).
    #[error("field name too long: at most {limit} bytes")]
    FieldNameTooLong { field: String, limit: usize },
    /// 413: a non-file field value larger than `MAX_FIELD_SIZE` (multer's `LIMIT_FIELD_VALUE`).
    #[error("field value too long: `{field}` exceeds {limit} bytes")]
    FieldValueTooLong { field: String, limit: u64 },
    /// 413: part headers and boundaries took more than `limit` bytes (an endless part header).
    #[error("the part headers of the form are too large (over {limit} bytes)")]
    PartHeadersTooLarge { limit: u64 },
    /// 408: the client stopped sending the body for longer than `BODY_READ_TIMEOUT_SECS`.
    #[error("the request body stopped arriving for {seconds} seconds")]
    BodyTimeout { seconds: u64 },
    /// 408: the body arrived slower than `BODY_MIN_BYTES_PER_SEC` over `BODY_READ_TIMEOUT_SECS` of waiting.
    #[error("the request body arrived too slowly (under {min_rate} bytes per second)")]
    BodyTooSlow { min_rate: u64 },
    /// 400: the connection broke while the body was being read.
    #[error("the request body could not be read to its end")]
    BodyRead,
    /// 409: `KEY_STRATEGY=original` and an object of that name is already in the bucket (uploads never overwrite).
    #[error(
        "a file named `{key}` is already stored; uploads never overwrite one (KEY_STRATEGY=original)"
    )]
    FileExists { key: String },
    /// 503: the server is at its limit (`MAX_UPLOADS` uploads at once, or no room in `UPLOAD_MEMORY_BUDGET`
    /// within `UPLOAD_MEMORY_WAIT_SECS`); answered with `Retry-After`.
    #[error("the server is busy with other uploads; retry in a few seconds")]
    ServerBusy { reason: &'static str },
    /// 503: the server is shutting down and this upload did not finish within `SHUTDOWN_GRACE_SECS`; what it
    /// stored has been removed. Answered with `Retry-After`.
    #[error(
        "the server is shutting down; the upload was cancelled and nothing was kept: retry shortly"
    )]
    ShuttingDown,
    /// 503 when the store could not be reached (network, timeout, start-up); 502 when it refused the request
    /// (`STORE_ACCESS_DENIED`, `STORE_NO_SUCH_BUCKET`, ... by the store's own code). Made from a [`StoreError`]
    /// in `store.rs`, which never makes this variant of [`StoreError::Internal`].
    #[error(transparent)]
    Store(StoreError),
    /// 412: a tus request without `Tus-Resumable: 1.0.0` (answered with `Tus-Version: 1.0.0`).
    #[error("this server speaks tus 1.0.0: send `Tus-Resumable: 1.0.0`")]
    TusVersionUnsupported,
    /// 404: no resumable upload has this id (never created, expired, or terminated).
    #[error("no such upload: it was never created, has expired, or was terminated")]
    UploadNotFound,
    /// 400: a tus header (`Upload-Length`, `Upload-Defer-Length`, `Upload-Metadata`, ...) that cannot be used;
    /// `header` names it (the answer's `field`).
    #[error("{header}: {reason}")]
    InvalidTusHeader {
        header: &'static str,
        reason: String,
    },
    /// 413: `Upload-Metadata` longer than `limit` bytes.
    #[error("Upload-Metadata is too large (over {limit} bytes)")]
    MetadataTooLarge { limit: usize },
    /// 415: a tus request's bytes not sent as `application/offset+octet-stream`.
    #[error("send an upload's bytes with `Content-Type: application/offset+octet-stream`")]
    NotOffsetStream,
    /// 409: a PATCH's `Upload-Offset` is not the upload's offset (nothing changed).
    #[error(
        "Upload-Offset is not where the upload stands ({offset} bytes): ask HEAD and resume from there"
    )]
    OffsetMismatch { offset: u64 },
    /// 423: another request is writing to this upload; answered with `Retry-After: 1`.
    #[error("another request is writing to this upload: retry in a second")]
    UploadLocked,
    /// 460: the body does not hash to its `Upload-Checksum`; nothing of it was kept.
    #[error("the body does not match its Upload-Checksum; nothing of it was kept: send it again")]
    ChecksumMismatch,
    /// 400: `Upload-Checksum` is malformed or names an algorithm this server does not know.
    #[error("Upload-Checksum: {reason}")]
    ChecksumUnsupported { reason: String },
    /// 404: no route has this path.
    #[error("no such endpoint: see GET / and POST /upload")]
    NotFound,
    /// 405: the route does not take this method.
    #[error("this endpoint does not take that method")]
    MethodNotAllowed,
    /// 400: a direct upload's completion lists parts that cannot make an object.
    #[error("the parts listed cannot make an object: {reason}")]
    InvalidParts { reason: String },
    /// 403: a single signed POST never comes back to be checked: with `ALLOWED_TYPES` set, or with
    /// `KEY_STRATEGY=original` (a form cannot be create-only), only multipart direct uploads are signed.
    #[error(
        "this server signs only multipart direct uploads (ALLOWED_TYPES is set, or KEY_STRATEGY=original): send \
         the file as a multipart upload (Uppy: shouldUseMultipart: () => true)"
    )]
    MultipartRequired,
    /// 500: a bug or an unexpected state; details are logged, not sent.
    #[error("something went wrong on the server")]
    Internal(#[from] anyhow::Error),
}

/// The code of an error answer, carried in the response's extensions so that one middleware can count error
/// answers by code (see [`crate::metrics`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ErrorCode(pub &'static str);

/// The JSON body of every error answer.
#[derive(Debug, Serialize)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

/// One error: a stable code, a human message, the field or file it concerns.
#[derive(Debug, Serialize)]
pub struct ErrorDetail {
    pub code: &'static str,
    pub message: String,
    pub field: Option<String>,
    /// The name of the file that failed, when one did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
}

impl AppError {
    /// The stable machine code clients branch on.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotMultipart { .. } => "UNSUPPORTED_MEDIA_TYPE",
            Self::MalformedMultipart { .. } => "MALFORMED_MULTIPART",
            Self::NoFile { .. } => "NO_FILE",
            Self::Unauthorized => "UNAUTHORIZED",
            Self::FileTypeNotAllowed { .. } => "LIMIT_FILE_TYPE",
            Self::UnexpectedFile { .. } => "LIMIT_UNEXPECTED_FILE",
            Self::MissingFieldName => "MISSING_FIELD_NAME",
            Self::FileTooLarge { .. } => "LIMIT_FILE_SIZE",
            Self::TooManyFiles { .. } => "LIMIT_FILE_COUNT",
            Self::TooManyParts { .. } => "LIMIT_PART_COUNT",
            Self::TooManyFields { .. } => "LIMIT_FIELD_COUNT",
            Self::FieldNameTooLong { .. } => "LIMIT_FIELD_KEY",
            Self::FieldValueTooLong { .. } => "LIMIT_FIELD_VALUE",
            Self::PartHeadersTooLarge { .. } => "LIMIT_HEADER_SIZE",
            Self::BodyTimeout { .. } | Self::BodyTooSlow { .. } => "REQUEST_TIMEOUT",
            Self::BodyRead => "BODY_READ_FAILED",
            Self::FileExists { .. } => "FILE_EXISTS",
            Self::ServerBusy { .. } => "SERVER_BUSY",
            Self::ShuttingDown => "SHUTTING_DOWN",
            Self::Store(err) => store::code(err),
            Self::TusVersionUnsupported => "TUS_VERSION_UNSUPPORTED",
            Self::UploadNotFound => "UPLOAD_NOT_FOUND",
            Self::InvalidTusHeader { .. } => "INVALID_TUS_HEADER",
            Self::MetadataTooLarge { .. } => "LIMIT_HEADER_SIZE",
            Self::NotOffsetStream => "UNSUPPORTED_MEDIA_TYPE",
            Self::OffsetMismatch { .. } => "OFFSET_MISMATCH",
            Self::UploadLocked => "UPLOAD_LOCKED",
            Self::ChecksumMismatch => "CHECKSUM_MISMATCH",
            Self::ChecksumUnsupported { .. } => "CHECKSUM_UNSUPPORTED",
            Self::NotFound => "NOT_FOUND",
            Self::MethodNotAllowed => "METHOD_NOT_ALLOWED",
            Self::InvalidParts { .. } => "INVALID_PARTS",
            Self::MultipartRequired => "MULTIPART_REQUIRED",
            Self::Internal(_) => "INTERNAL_ERROR",
        }
    }

    /// The HTTP status of the answer.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::NotMultipart { .. } | Self::FileTypeNotAllowed { .. } | Self::NotOffsetStream => {
                StatusCode::UNSUPPORTED_MEDIA_TYPE
            }
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::MalformedMultipart { .. }
            | Self::NoFile { .. }
            | Self::UnexpectedFile { .. }
            | Self::MissingFieldName
            | Self::BodyRead
            | Self::InvalidTusHeader { .. }
            | Self::ChecksumUnsupported { .. }
            | Self::InvalidParts { .. } => StatusCode::BAD_REQUEST,
            Self::MultipartRequired => StatusCode::FORBIDDEN,
            Self::FileTooLarge { .. }
            | Self::TooManyFiles { .. }
            | Self::TooManyParts { .. }
            | Self::TooManyFields { .. }
            | Self::FieldNameTooLong { .. }
            | Self::FieldValueTooLong { .. }
            | Self::PartHeadersTooLarge { .. }
            | Self::MetadataTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::BodyTimeout { .. } | Self::BodyTooSlow { .. } => StatusCode::REQUEST_TIMEOUT,
            Self::FileExists { .. } | Self::OffsetMismatch { .. } => StatusCode::CONFLICT,
            Self::UploadLocked => StatusCode::LOCKED,
            Self::ChecksumMismatch => CHECKSUM_MISMATCH_STATUS,
            Self::ServerBusy { .. } | Self::ShuttingDown => StatusCode::SERVICE_UNAVAILABLE,
            Self::Store(err) => match err.trouble() {
                Trouble::Unreachable => StatusCode::SERVICE_UNAVAILABLE,
                Trouble::Internal => StatusCode::INTERNAL_SERVER_ERROR,
                _ => StatusCode::BAD_GATEWAY,
            },
            Self::TusVersionUnsupported => StatusCode::PRECONDITION_FAILED,
            Self::NotFound | Self::UploadNotFound => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The form field the error concerns, as multer reports it.
    pub fn field(&self) -> Option<&str> {
        match self {
            Self::UnexpectedFile { field, .. }
            | Self::FileTooLarge { field, .. }
            | Self::TooManyFiles { field, .. }
            | Self::TooManyFields { field, .. }
            | Self::FieldNameTooLong { field, .. }
            | Self::FieldValueTooLong { field, .. }
            | Self::FileTypeNotAllowed { field, .. } => Some(field),
            Self::InvalidTusHeader { header, .. } => Some(header),
            Self::MetadataTooLarge { .. } => Some("Upload-Metadata"),
            Self::ChecksumUnsupported { .. } | Self::ChecksumMismatch => Some("Upload-Checksum"),
            Self::OffsetMismatch { .. } => Some("Upload-Offset"),
            _ => None,
        }
    }

    /// Whether the client caused it (4xx): those are not logged as errors.
    pub fn is_client_error(&self) -> bool {
        self.status().is_client_error()
    }

    /// Seconds a client should wait before retrying (the `Retry-After` header), for errors that pass.
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            // The holder of a tus upload commits within a second or two.
            Self::UploadLocked => Some(1),
            _ => (self.status() == StatusCode::SERVICE_UNAVAILABLE).then_some(RETRY_AFTER_SECS),
        }
    }

    /// The JSON body of the answer, naming the failed file when there is one.
    pub fn body(&self, file: Option<String>) -> ErrorBody {
        ErrorBody {
            error: ErrorDetail {
                code: self.code(),
                message: self.to_string(),
                field: self.field().map(str::to_owned),
                file,
            },
        }
    }

    /// Logs the error once, with its cause, at a level that fits who caused it.
    pub fn log(&self) {
        match self {
            Self::Internal(err) => tracing::error!(error = ?err, "internal error"),
            Self::Store(err) => err.log(),
            // The request log says which path and method.
            Self::NotFound | Self::MethodNotAllowed => {}
            Self::ServerBusy { reason } => {
                tracing::warn!(
                    code = self.code(),
                    reason,
                    "upload refused: the server is busy"
                );
            }
            // The message carries file and field names as the client sent them: escaped, so that a name cannot
            // forge a log line.
            other => tracing::info!(
                code = other.code(),
                error = %crate::telemetry::Escaped(&other.to_string()),
                "upload rejected"
            ),
        }
    }

    /// The answer: status, `Retry-After` when it applies, the JSON body, and the code for the metrics.
    fn answer(&self, file: Option<String>) -> Response {
        let mut response = (self.status(), Json(self.body(file))).into_response();
        if let Some(seconds) = self.retry_after() {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response.extensions_mut().insert(ErrorCode(self.code()));
        response
    }
}

/// How long clients are told to wait before retrying a 503.
const RETRY_AFTER_SECS: u64 = 5;

/// tus's checksum extension answers a mismatch with 460 (not a registered status; tus clients know it).
const CHECKSUM_MISMATCH_STATUS: StatusCode = match StatusCode::from_u16(460) {
    Ok(status) => status,
    Err(_) => StatusCode::BAD_REQUEST,
};

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        self.log();
        self.answer(None)
    }
}

mod codes;
mod file;
mod store;

pub use codes::all_codes;
pub use file::FileError;
pub use store::direct as direct_error;
#[cfg(test)]
mod tests;
