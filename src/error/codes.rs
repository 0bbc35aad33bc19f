//! The list of every error code, kept apart from the type that answers them.

/// Every code an error answer can carry ([`AppError::code`](super::AppError::code)). `static/openapi.json` lists the same set, the
/// page (`static/js/`) has a title for each, and `/metrics` counts each; tests keep them in step.
pub fn all_codes() -> &'static [&'static str] {
    &[
        "UNSUPPORTED_MEDIA_TYPE",
        "MALFORMED_MULTIPART",
        "NO_FILE",
        "UNAUTHORIZED",
        "LIMIT_FILE_TYPE",
        "LIMIT_UNEXPECTED_FILE",
        "MISSING_FIELD_NAME",
        "LIMIT_FILE_SIZE",
        "LIMIT_FILE_COUNT",
        "LIMIT_PART_COUNT",
        "LIMIT_FIELD_COUNT",
        "LIMIT_FIELD_KEY",
        "LIMIT_FIELD_VALUE",
        "LIMIT_HEADER_SIZE",
        "REQUEST_TIMEOUT",
        "BODY_READ_FAILED",
        "FILE_EXISTS",
        "SERVER_BUSY",
        "SHUTTING_DOWN",
        "STORE_UNAVAILABLE",
        "STORE_ACCESS_DENIED",
        "STORE_NO_SUCH_BUCKET",
        "STORE_ACL_NOT_SUPPORTED",
        "STORE_ERROR",
        "INTERNAL_ERROR",
        "NOT_FOUND",
        "METHOD_NOT_ALLOWED",
        "TUS_VERSION_UNSUPPORTED",
        "UPLOAD_NOT_FOUND",
        "INVALID_TUS_HEADER",
        "OFFSET_MISMATCH",
        "UPLOAD_LOCKED",
        "CHECKSUM_MISMATCH",
        "CHECKSUM_UNSUPPORTED",
        "INVALID_PARTS",
        "MULTIPART_REQUIRED",
    ]
}
