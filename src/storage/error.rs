//! What can go wrong talking to the store, in the store's own terms, and what an operator should do about it.
//!
//! Nothing here knows HTTP: the routes turn a [`StoreError`] into an answer (unreachable: 503, refused: 502) in
//! one place (`crate::error`), and the CLI turns it into a diagnosis with the set-up's own names.

use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_smithy_types::error::display::DisplayErrorContext;

/// A store request that failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The store could not be reached (network, timeout, start-up).
    #[error("the storage service is unreachable; try again shortly")]
    Unavailable {
        operation: &'static str,
        detail: String,
    },
    /// The store did not answer a probe in time.
    #[error("the bucket did not answer within {seconds} seconds")]
    TimedOut {
        operation: &'static str,
        seconds: u64,
    },
    /// The store refused the request; `code` is the store's own (AccessDenied, NoSuchBucket, ...).
    #[error("the storage service refused the upload ({code})")]
    Rejected {
        operation: &'static str,
        code: String,
        detail: String,
    },
    /// The request could not be made or its answer understood: a bug or an unexpected state.
    #[error("something went wrong on the server")]
    Internal(#[from] anyhow::Error),
}

/// What kind of trouble a [`StoreError`] is, for the answer's code and the operator's hint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trouble {
    Unreachable,
    /// Wrong keys, or a policy that does not allow the request.
    AccessDenied,
    NoSuchBucket,
    /// `OBJECT_ACL` on a bucket with ACLs disabled.
    AclNotSupported,
    /// Any other refusal.
    Refused,
    Internal,
}

impl StoreError {
    /// Classifies an aws-sdk-s3 failure: refused by the store, or not reached.
    pub fn from_sdk<E, R>(operation: &'static str, err: SdkError<E, R>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: std::fmt::Debug,
    {
        match &err {
            SdkError::ServiceError(service) => {
                let inner = service.err();
                Self::Rejected {
                    operation,
                    code: inner.code().unwrap_or("Unknown").to_owned(),
                    detail: inner.message().unwrap_or_default().to_owned(),
                }
            }
            SdkError::TimeoutError(_)
            | SdkError::DispatchFailure(_)
            | SdkError::ResponseError(_) => Self::Unavailable {
                operation,
                detail: DisplayErrorContext(&err).to_string(),
            },
            _ => Self::Internal(anyhow::anyhow!(
                "{operation}: {}",
                DisplayErrorContext(&err)
            )),
        }
    }

    /// The store's own error code, when it refused.
    pub fn store_code(&self) -> Option<&str> {
        match self {
            Self::Rejected { code, .. } => Some(code),
            _ => None,
        }
    }

    pub fn trouble(&self) -> Trouble {
        match self {
            Self::Unavailable { .. } | Self::TimedOut { .. } => Trouble::Unreachable,
            Self::Rejected { code, .. } => match code.as_str() {
                "AccessDenied" | "InvalidAccessKeyId" | "SignatureDoesNotMatch" => {
                    Trouble::AccessDenied
                }
                "NoSuchBucket" => Trouble::NoSuchBucket,
                "AccessControlListNotSupported" => Trouble::AclNotSupported,
                _ => Trouble::Refused,
            },
            Self::Internal(_) => Trouble::Internal,
        }
    }

    /// What an operator should do about it, for the server's log (the CLI's diagnoses say more).
    pub fn hint(&self) -> Option<&'static str> {
        match self.trouble() {
            Trouble::AccessDenied => Some(
                "check AWS_ACCESS_KEY / AWS_SECRET_ACCESS_KEY and that the key's IAM policy allows \
                 s3:PutObject, s3:AbortMultipartUpload and s3:DeleteObject on this bucket",
            ),
            Trouble::NoSuchBucket => {
                Some("check AWS_S3_BUCKET and AWS_REGION: the bucket does not exist there")
            }
            Trouble::AclNotSupported => Some(ACL_HINT),
            Trouble::Unreachable => {
                Some("check the endpoint and the network; uploads resume when it answers")
            }
            Trouble::Refused | Trouble::Internal => None,
        }
    }

    /// Logs the error once, with its cause and the operator's hint.
    pub fn log(&self) {
        match self {
            Self::Unavailable { operation, .. } | Self::TimedOut { operation, .. } => {
                let detail = self.detail();
                tracing::error!(operation, detail, hint = self.hint(), "store unreachable");
            }
            Self::Rejected {
                operation,
                code,
                detail,
            } => tracing::error!(
                operation,
                code,
                detail,
                hint = self.hint(),
                "store refused a request"
            ),
            Self::Internal(err) => tracing::error!(error = ?err, "internal error"),
        }
    }

    /// The cause in one line, for logs and diagnoses (the `Display` form is what a client may see).
    pub fn detail(&self) -> String {
        match self {
            Self::Unavailable { detail, .. } => detail.clone(),
            Self::TimedOut { seconds, .. } => format!("no answer within {seconds} seconds"),
            Self::Rejected { code, detail, .. } if detail.is_empty() => code.clone(),
            Self::Rejected { code, detail, .. } => format!("{code}: {detail}"),
            Self::Internal(err) => format!("{err:#}"),
        }
    }
}

/// What to do when the bucket refuses ACLs: the server's log and `check` both say it.
pub const ACL_HINT: &str = "the bucket has ACLs disabled (the default since 2023): unset OBJECT_ACL and make \
                            objects public with a bucket policy instead";

#[cfg(test)]
mod tests {
    use super::*;

    fn rejected(code: &str) -> StoreError {
        StoreError::Rejected {
            operation: "PutObject",
            code: code.to_owned(),
            detail: String::new(),
        }
    }

    #[test]
    fn refusals_are_classified_by_the_stores_code() {
        assert_eq!(
            rejected("InvalidAccessKeyId").trouble(),
            Trouble::AccessDenied
        );
        assert_eq!(rejected("NoSuchBucket").trouble(), Trouble::NoSuchBucket);
        assert_eq!(
            rejected("AccessControlListNotSupported").trouble(),
            Trouble::AclNotSupported
        );
        assert_eq!(rejected("SlowDown").trouble(), Trouble::Refused);
        assert_eq!(rejected("SlowDown").hint(), None);
        assert_eq!(
            StoreError::TimedOut {
                operation: "HeadBucket",
                seconds: 5
            }
            .trouble(),
            Trouble::Unreachable
        );
        assert!(
            rejected("AccessControlListNotSupported")
                .hint()
                .is_some_and(|h| h.contains("unset OBJECT_ACL"))
        );
    }

    #[test]
    fn the_client_facing_text_has_no_internals() {
        let err = StoreError::Internal(anyhow::anyhow!("/home/secret/path exploded"));
        assert!(!err.to_string().contains("secret"));
        assert!(err.detail().contains("secret"), "the log keeps the cause");
    }
}
