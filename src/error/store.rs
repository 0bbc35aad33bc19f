//! Errors from the store: how an aws-sdk-s3 failure becomes an answer (unreachable: 503, refused: 502), and
//! what an operator should do about each, for the log.

use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};

use super::AppError;

impl AppError {
    /// Classifies an aws-sdk-s3 failure: unreachable (503) or refused (502), logged with a hint.
    pub fn from_sdk<E, R>(operation: &'static str, err: SdkError<E, R>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: std::fmt::Debug,
    {
        match &err {
            SdkError::ServiceError(service) => {
                let inner = service.err();
                let code = inner.code().unwrap_or("Unknown").to_owned();
                let detail = inner.message().unwrap_or_default().to_owned();
                Self::StoreRejected {
                    operation,
                    code,
                    detail,
                }
            }
            SdkError::TimeoutError(_)
            | SdkError::DispatchFailure(_)
            | SdkError::ResponseError(_) => Self::StoreUnavailable {
                operation,
                detail: aws_smithy_types::error::display::DisplayErrorContext(&err).to_string(),
            },
            _ => Self::Internal(anyhow::anyhow!(
                "{operation}: {}",
                aws_smithy_types::error::display::DisplayErrorContext(&err)
            )),
        }
    }

    /// What an operator should do about a store error, for the log.
    pub(super) fn hint(&self) -> Option<&'static str> {
        match self.code() {
            "STORE_ACCESS_DENIED" => Some(
                "check AWS_ACCESS_KEY / AWS_SECRET_ACCESS_KEY and that the key's IAM policy allows \
                 s3:PutObject, s3:AbortMultipartUpload and s3:DeleteObject on this bucket",
            ),
            "STORE_NO_SUCH_BUCKET" => {
                Some("check AWS_S3_BUCKET and AWS_REGION: the bucket does not exist there")
            }
            "STORE_ACL_NOT_SUPPORTED" => Some(
                "the bucket has ACLs disabled (the default since 2023): unset OBJECT_ACL and make objects \
                 public with a bucket policy instead",
            ),
            "STORE_UNAVAILABLE" => {
                Some("check the endpoint and the network; uploads resume when it answers")
            }
            _ => None,
        }
    }
}
