//! Unit tests of the error codes, statuses and answers.

use super::*;
use crate::storage::upload::UploadError;

#[test]
fn codes_and_statuses_follow_multer_and_http() {
    let err = AppError::FileTooLarge {
        field: "photos".to_owned(),
        file: "a.png".to_owned(),
        limit: 10,
    };
    assert_eq!(err.code(), "LIMIT_FILE_SIZE");
    assert_eq!(err.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(err.field(), Some("photos"));
    let acl = AppError::from(StoreError::Rejected {
        operation: "PutObject",
        code: "AccessControlListNotSupported".to_owned(),
        detail: String::new(),
    });
    assert_eq!(acl.code(), "STORE_ACL_NOT_SUPPORTED");
    assert_eq!(acl.status(), StatusCode::BAD_GATEWAY);
}

#[test]
fn internal_errors_do_not_leak_their_cause() {
    let err = AppError::Internal(anyhow::anyhow!("/home/secret/path exploded"));
    let body = serde_json::to_string(&err.body(None)).unwrap();
    assert!(!body.contains("secret"), "{body}");
    assert!(body.contains("INTERNAL_ERROR"));
}

/// One error of every variant, and of every store code. The `match` has no catch-all arm, so adding a
/// variant does not compile until it is added here, and then the test below asks for its code in
/// `all_codes()` (and so in static/openapi.json).
fn one_of_each() -> Vec<AppError> {
    let s = String::new;
    let rejected = |code: &str| {
        AppError::Store(StoreError::Rejected {
            operation: "PutObject",
            code: code.to_owned(),
            detail: s(),
        })
    };
    let examples = vec![
        AppError::NotMultipart { expected: s() },
        AppError::MalformedMultipart { detail: s() },
        AppError::NoFile { expected: s() },
        AppError::Unauthorized,
        AppError::FileTypeNotAllowed {
            field: s(),
            file: s(),
            content_type: s(),
            allowed: s(),
        },
        AppError::UnexpectedFile {
            field: s(),
            expected: s(),
        },
        AppError::MissingFieldName,
        AppError::FileTooLarge {
            field: s(),
            file: s(),
            limit: 0,
        },
        AppError::TooManyFiles {
            field: s(),
            limit: 0,
        },
        AppError::TooManyParts { limit: 0 },
        AppError::TooManyFields {
            field: s(),
            limit: 0,
        },
        AppError::FieldNameTooLong {
            field: s(),
            limit: 0,
        },
        AppError::FieldValueTooLong {
            field: s(),
            limit: 0,
        },
        AppError::PartHeadersTooLarge { limit: 0 },
        AppError::BodyTimeout { seconds: 0 },
        AppError::BodyTooSlow { min_rate: 0 },
        AppError::BodyRead,
        AppError::FileExists { key: s() },
        AppError::ServerBusy { reason: "" },
        AppError::ShuttingDown,
        AppError::Store(StoreError::Unavailable {
            operation: "PutObject",
            detail: s(),
        }),
        AppError::Store(StoreError::TimedOut {
            operation: "HeadBucket",
            seconds: 5,
        }),
        rejected("AccessDenied"),
        rejected("NoSuchBucket"),
        rejected("AccessControlListNotSupported"),
        rejected("SlowDown"),
        AppError::TusVersionUnsupported,
        AppError::UploadNotFound,
        AppError::InvalidTusHeader {
            header: "Upload-Length",
            reason: s(),
        },
        AppError::MetadataTooLarge { limit: 0 },
        AppError::NotOffsetStream,
        AppError::OffsetMismatch { offset: 0 },
        AppError::UploadLocked,
        AppError::ChecksumMismatch,
        AppError::ChecksumUnsupported { reason: s() },
        AppError::NotFound,
        AppError::MethodNotAllowed,
        AppError::InvalidParts { reason: s() },
        AppError::MultipartRequired,
        AppError::Internal(anyhow::anyhow!("bug")),
    ];
    for example in &examples {
        match example {
            AppError::NotMultipart { .. }
            | AppError::MalformedMultipart { .. }
            | AppError::NoFile { .. }
            | AppError::Unauthorized
            | AppError::FileTypeNotAllowed { .. }
            | AppError::UnexpectedFile { .. }
            | AppError::MissingFieldName
            | AppError::FileTooLarge { .. }
            | AppError::TooManyFiles { .. }
            | AppError::TooManyParts { .. }
            | AppError::TooManyFields { .. }
            | AppError::FieldNameTooLong { .. }
            | AppError::FieldValueTooLong { .. }
            | AppError::PartHeadersTooLarge { .. }
            | AppError::BodyTimeout { .. }
            | AppError::BodyTooSlow { .. }
            | AppError::BodyRead
            | AppError::FileExists { .. }
            | AppError::ServerBusy { .. }
            | AppError::ShuttingDown
            | AppError::Store(_)
            | AppError::TusVersionUnsupported
            | AppError::UploadNotFound
            | AppError::InvalidTusHeader { .. }
            | AppError::MetadataTooLarge { .. }
            | AppError::NotOffsetStream
            | AppError::OffsetMismatch { .. }
            | AppError::UploadLocked
            | AppError::ChecksumMismatch
            | AppError::ChecksumUnsupported { .. }
            | AppError::NotFound
            | AppError::MethodNotAllowed
            | AppError::InvalidParts { .. }
            | AppError::MultipartRequired
            | AppError::Internal(_) => {}
        }
    }
    examples
}

#[test]
fn all_codes_lists_every_code_an_answer_can_carry() {
    let mut produced: Vec<&str> = one_of_each().iter().map(AppError::code).collect();
    produced.sort_unstable();
    produced.dedup();
    let mut listed = all_codes().to_vec();
    listed.sort_unstable();
    let before = listed.len();
    listed.dedup();
    assert_eq!(listed.len(), before, "all_codes() lists a code twice");
    assert_eq!(listed, produced);
}

/// The one place where the store's errors become answers (`store.rs`).
#[test]
fn store_and_upload_errors_become_their_answers() {
    let answer = |err: UploadError<AppError>| {
        let err = AppError::from(err);
        (err.code(), err.status().as_u16(), err.retry_after())
    };
    assert_eq!(answer(UploadError::Busy), ("SERVER_BUSY", 503, Some(5)));
    assert_eq!(
        answer(UploadError::Cancelled),
        ("SHUTTING_DOWN", 503, Some(5))
    );
    let exists = UploadError::Exists {
        key: "a.png".to_owned(),
    };
    assert_eq!(answer(exists), ("FILE_EXISTS", 409, None));
    // The source's own error passes through unchanged.
    let slow = UploadError::Source(AppError::BodyTooSlow { min_rate: 1024 });
    assert_eq!(answer(slow), ("REQUEST_TIMEOUT", 408, None));
    let refused = UploadError::Store(StoreError::Rejected {
        operation: "PutObject",
        code: "NoSuchBucket".to_owned(),
        detail: String::new(),
    });
    assert_eq!(answer(refused), ("STORE_NO_SUCH_BUCKET", 502, None));
    let unreachable = UploadError::Store(StoreError::Unavailable {
        operation: "PutObject",
        detail: "connection refused".to_owned(),
    });
    assert_eq!(answer(unreachable), ("STORE_UNAVAILABLE", 503, Some(5)));
    // A store error that is a bug is answered as one, without its cause.
    let bug = AppError::from(StoreError::Internal(anyhow::anyhow!("/secret/path")));
    assert!(matches!(bug, AppError::Internal(_)));
    assert_eq!(bug.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let panicked = UploadError::<AppError>::Internal(anyhow::anyhow!("task panicked"));
    assert_eq!(answer(panicked), ("INTERNAL_ERROR", 500, None));
}

#[test]
fn error_answers_carry_their_code_for_the_metrics() {
    let response = AppError::MissingFieldName.into_response();
    assert_eq!(
        response.extensions().get::<ErrorCode>(),
        Some(&ErrorCode("MISSING_FIELD_NAME"))
    );
    let response = FileError {
        file: Some("a.png".to_owned()),
        error: AppError::BodyRead,
    }
    .into_response();
    assert_eq!(
        response.extensions().get::<ErrorCode>(),
        Some(&ErrorCode("BODY_READ_FAILED"))
    );
}

#[test]
fn errors_that_pass_tell_when_to_retry() {
    let busy = AppError::ServerBusy { reason: "uploads" }.into_response();
    assert_eq!(busy.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(busy.headers()[header::RETRY_AFTER], "5");
    let exists = AppError::FileExists {
        key: "a.png".to_owned(),
    }
    .into_response();
    assert_eq!(exists.status(), StatusCode::CONFLICT);
    assert!(exists.headers().get(header::RETRY_AFTER).is_none());
}

#[test]
fn client_input_in_logs_is_escaped() {
    let forged = "a.png\n2026-12-02T00:00:00Z  INFO upload accepted\u{202e}gnp.exe";
    let shown = crate::telemetry::Escaped(forged).to_string();
    assert!(!shown.contains('\n'), "{shown}");
    assert!(!shown.contains('\u{202e}'), "{shown}");
    assert!(shown.contains("a.png\\n2026"), "{shown}");
    assert_eq!(
        crate::telemetry::Escaped("사진 1.png").to_string(),
        "사진 1.png"
    );
}

/// The resumable uploads' errors (`store.rs`): a missing record is the client's 404, a taken key its 409, a
/// broken record or a lost write a logged 500 without its cause.
#[test]
fn resumable_errors_become_their_answers() {
    use crate::storage::resumable::cas::CasError;
    use crate::storage::resumable::create::CreateError;
    use crate::storage::resumable::info::UploadId;

    let answer = |err: AppError| (err.code(), err.status().as_u16());
    assert_eq!(answer(CasError::NotFound.into()), ("UPLOAD_NOT_FOUND", 404));
    assert_eq!(answer(CasError::Lost.into()), ("INTERNAL_ERROR", 500));
    let corrupt = AppError::from(CasError::Corrupt {
        id: UploadId::generate(),
        reason: "/secret/reason".to_owned(),
    });
    assert_eq!(answer(corrupt), ("INTERNAL_ERROR", 500));
    let exists = CreateError::Exists {
        key: "a.png".to_owned(),
    };
    assert_eq!(answer(exists.into()), ("FILE_EXISTS", 409));
    let unreachable = CreateError::Cas(CasError::Store(StoreError::Unavailable {
        operation: "PutObject",
        detail: String::new(),
    }));
    assert_eq!(answer(unreachable.into()), ("STORE_UNAVAILABLE", 503));
    let header = AppError::InvalidTusHeader {
        header: "Upload-Length",
        reason: "must be digits".to_owned(),
    };
    assert_eq!(header.field(), Some("Upload-Length"));
    assert_eq!(answer(header), ("INVALID_TUS_HEADER", 400));
    assert_eq!(
        answer(AppError::TusVersionUnsupported),
        ("TUS_VERSION_UNSUPPORTED", 412)
    );
}
