//! What a store's error means for the set-up, and what to change: every explanation `check` and `clean` print.

use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};

use crate::storage::upload::UploadError;
use crate::storage::{ACL_HINT, StoreError, Trouble};

use super::target::Setup;

/// A failed step's explanation: what happened, and what to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnosis {
    pub detail: String,
    pub hint: String,
}

/// The store does not implement the call (s3s-fs answers 501 NotImplemented).
pub(super) fn is_unsupported<E: ProvideErrorMetadata>(err: &SdkError<E>) -> bool {
    err.code() == Some("NotImplemented")
        || err
            .raw_response()
            .is_some_and(|r| r.status().as_u16() == 501)
}

/// Explains an aws-sdk-s3 failure: the store's answer (status, `x-amz-bucket-region`) refines the code
/// [`StoreError::from_sdk`] gives it.
pub fn diagnose_sdk<E>(operation: &'static str, err: SdkError<E>, cx: Setup<'_>) -> Diagnosis
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let status = err.raw_response().map(|r| r.status().as_u16());
    let bucket_region = err
        .raw_response()
        .and_then(|r| r.headers().get("x-amz-bucket-region"))
        .map(str::to_owned);
    if let Some(region) = bucket_region.filter(|r| r != cx.region) {
        // S3 answers 301 (or 400 / 403 for some requests) when the region is wrong, and names the right one.
        return Diagnosis {
            detail: format!(
                "the bucket `{}` is in region {region}, not {} ({operation} answered {})",
                cx.bucket,
                cx.region,
                status.map_or_else(|| "an error".to_owned(), |s| s.to_string())
            ),
            hint: format!("set AWS_REGION={region}"),
        };
    }
    let error = StoreError::from_sdk(operation, err);
    let refused_without_code = error.trouble() == Trouble::Refused;
    let mut diagnosis = diagnose_store_error(&error, operation, cx);
    match status {
        Some(301) => {
            diagnosis = Diagnosis {
                detail: format!("{operation} answered 301: the bucket is in another region"),
                hint:
                    "set AWS_REGION to the bucket's region (S3 console → the bucket → Properties)"
                        .to_owned(),
            };
        }
        // HeadBucket answers have no body, so no code: the status says it.
        Some(403) if refused_without_code => {
            diagnosis = diagnose_store_error(
                &StoreError::Rejected {
                    operation,
                    code: "AccessDenied".to_owned(),
                    detail: "403 Forbidden".to_owned(),
                },
                operation,
                cx,
            );
        }
        Some(404) if refused_without_code && operation == "HeadBucket" => {
            diagnosis = diagnose_store_error(
                &StoreError::Rejected {
                    operation,
                    code: "NoSuchBucket".to_owned(),
                    detail: "404 Not Found".to_owned(),
                },
                operation,
                cx,
            );
        }
        _ => {}
    }
    diagnosis
}

/// Explains a store error with what to change.
pub fn diagnose_store_error(
    error: &StoreError,
    operation: &'static str,
    cx: Setup<'_>,
) -> Diagnosis {
    let bucket = cx.bucket;
    match error {
        StoreError::Rejected { code, .. } => {
            let said = error.detail();
            let hint = match (error.trouble(), code.as_str()) {
                (_, "InvalidAccessKeyId") => {
                    "the store does not know this access key: check AWS_ACCESS_KEY (or AWS_ACCESS_KEY_ID) in .env, \
                     and that the key is active (IAM → Users → Security credentials)"
                        .to_owned()
                }
                (_, "SignatureDoesNotMatch") => {
                    "the secret does not match the access key: check AWS_SECRET_ACCESS_KEY in .env (no quotes, no \
                     trailing spaces)"
                        .to_owned()
                }
                (Trouble::AccessDenied, _) => format!(
                    "check AWS_ACCESS_KEY / AWS_SECRET_ACCESS_KEY (a wrong or inactive key is refused too), and \
                     that the IAM user's policy allows {} on {}",
                    permission(operation),
                    if matches!(operation, "PutObject" | "DeleteObject" | "DeleteObjects" | "AbortMultipartUpload") {
                        format!("arn:aws:s3:::{bucket}/*")
                    } else {
                        format!("arn:aws:s3:::{bucket}")
                    }
                ),
                (Trouble::NoSuchBucket, _) => format!(
                    "there is no bucket `{bucket}` {}: check AWS_S3_BUCKET{}, or create the bucket \
                     (README, \"Moving to a real bucket\", step 1)",
                    cx.endpoint.map_or_else(|| format!("in {}", cx.region), |e| format!("at {e}")),
                    if cx.endpoint.is_none() { " and AWS_REGION" } else { " and AWS_ENDPOINT_URL" }
                ),
                (Trouble::AclNotSupported, _) => ACL_HINT.to_owned(),
                _ => format!("the store refused {operation}; its message above says why"),
            };
            Diagnosis {
                detail: format!("{operation} refused ({said})"),
                hint,
            }
        }
        // Not reached, or no sense made of it: no answer, or no credentials to sign with.
        other => {
            let detail = other.detail();
            Diagnosis {
                detail: format!("{operation} failed: {}", without_debug(&detail)),
                hint: if detail.to_ascii_lowercase().contains("credential") {
                    "no credentials: set AWS_ACCESS_KEY and AWS_SECRET_ACCESS_KEY in .env, or run where the AWS \
                     default chain finds some (an EC2 instance role, `aws sso login`, ~/.aws)"
                        .to_owned()
                } else {
                    unreachable_hint(cx)
                },
            }
        }
    }
}

/// Explains a failed upload of the server's own uploader (`check`'s test object).
pub(super) fn diagnose_upload_error(
    error: &UploadError,
    operation: &'static str,
    cx: Setup<'_>,
) -> Diagnosis {
    match error {
        UploadError::Store(err) => diagnose_store_error(err, operation, cx),
        UploadError::Exists { key } => Diagnosis {
            detail: format!("{operation} refused: `{key}` already exists"),
            hint: "KEY_STRATEGY=original never overwrites: run the check again (its key is new each time)"
                .to_owned(),
        },
        other => Diagnosis {
            detail: format!("{operation} failed: {other}"),
            hint: "this is a bug, or the server ran out of memory budget; please report it".to_owned(),
        },
    }
}

/// The SDK's error text ends with the error's `Debug` form in parentheses: a person needs only the rest.
fn without_debug(detail: &str) -> &str {
    let is_debug = |rest: &str| {
        let name_len = rest
            .find(|c: char| !c.is_ascii_alphanumeric())
            .unwrap_or(rest.len());
        rest.starts_with(|c: char| c.is_ascii_uppercase())
            && (rest[name_len..].starts_with('(') || rest[name_len..].starts_with(" {"))
    };
    let cut = detail
        .match_indices(" (")
        .map(|(i, _)| i)
        .find(|&i| detail.ends_with(')') && is_debug(&detail[i + 2..]));
    cut.map_or(detail, |i| &detail[..i])
}

pub(super) fn unreachable_hint(cx: Setup<'_>) -> String {
    match cx.endpoint {
        _ if cx.embedded => {
            "the embedded store did not answer: check that its data folder (EMBEDDED_S3_DATA_DIR) is writable"
                .to_owned()
        }
        Some(endpoint) => format!("cannot reach {endpoint}: check AWS_ENDPOINT_URL and that the store is running"),
        None => format!(
            "cannot reach S3 in {}: check the network (and proxy), and that AWS_REGION names a real region",
            cx.region
        ),
    }
}

/// The IAM action an S3 operation needs.
fn permission(operation: &str) -> &'static str {
    match operation {
        "HeadBucket" | "ListObjectsV2" => "s3:ListBucket",
        "PutObject" | "CreateMultipartUpload" | "UploadPart" | "CompleteMultipartUpload" => {
            "s3:PutObject"
        }
        "DeleteObject" | "DeleteObjects" => "s3:DeleteObject",
        "AbortMultipartUpload" => "s3:AbortMultipartUpload",
        "ListMultipartUploads" => "s3:ListBucketMultipartUploads",
        "GetBucketLifecycleConfiguration" => "s3:GetLifecycleConfiguration",
        "PutBucketLifecycleConfiguration" => "s3:PutLifecycleConfiguration",
        "DeleteBucket" => "s3:DeleteBucket",
        _ => "the action",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cx() -> Setup<'static> {
        Setup {
            bucket: "jscode-uploaded-files",
            region: "ap-northeast-2",
            endpoint: None,
            embedded: false,
            public_base_url: None,
            presigned: false,
        }
    }

    fn rejected(code: &str) -> StoreError {
        StoreError::Rejected {
            operation: "PutObject",
            code: code.to_owned(),
            detail: String::new(),
        }
    }

    #[test]
    fn store_errors_get_actionable_hints() {
        let hint = |code: &str| diagnose_store_error(&rejected(code), "PutObject", cx()).hint;
        assert!(hint("InvalidAccessKeyId").contains("AWS_ACCESS_KEY"));
        assert!(hint("SignatureDoesNotMatch").contains("AWS_SECRET_ACCESS_KEY"));
        assert!(
            hint("AccessDenied").contains("s3:PutObject on arn:aws:s3:::jscode-uploaded-files/*")
        );
        assert!(hint("NoSuchBucket").contains("AWS_S3_BUCKET"));
        assert!(hint("AccessControlListNotSupported").contains("unset OBJECT_ACL"));
        let unreachable = StoreError::Unavailable {
            operation: "HeadBucket",
            detail: "connection refused".to_owned(),
        };
        let local = Setup {
            endpoint: Some("http://127.0.0.1:9000"),
            ..cx()
        };
        assert!(
            diagnose_store_error(&unreachable, "HeadBucket", local)
                .hint
                .contains("AWS_ENDPOINT_URL")
        );
    }

    #[test]
    fn sdk_error_text_loses_its_debug_tail() {
        assert_eq!(
            without_debug(
                "dispatch failure: client error (Connect): refused (os error 111) (DispatchFailure(DispatchFailure { x }))"
            ),
            "dispatch failure: client error (Connect): refused (os error 111)"
        );
        assert_eq!(
            without_debug("timeout (os error 1)"),
            "timeout (os error 1)"
        );
    }
}
