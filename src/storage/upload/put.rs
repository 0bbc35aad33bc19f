//! PutObject: a file that fits one part, from its bytes or while it arrives; a resumable upload's segment; and
//! what a refused conditional write means.

use aws_sdk_s3::primitives::ByteStream;
use tokio::task::JoinHandle;

use super::{ObjectSpec, Part, StoredObject, UploadError, Uploader};
use crate::storage::StoreError;

impl Uploader {
    /// A PutObject of bytes that are not an object yet (a resumable upload's segment): only the server-side
    /// encryption of the objects (they hold file bytes), never overwriting.
    pub(crate) fn put_private(
        &self,
        key: &str,
    ) -> aws_sdk_s3::operation::put_object::builders::PutObjectFluentBuilder {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .if_none_match("*")
            .set_server_side_encryption(self.options.server_side_encryption.clone())
            .set_ssekms_key_id(self.options.sse_kms_key_id.clone())
    }

    /// The answer of a PutObject that was sent every byte while the file arrived; a store that failed it gets
    /// the file again, the usual way (whose request the SDK retries), unless the failure is final.
    pub(super) async fn after_early_put(
        &self,
        spec: &ObjectSpec,
        first: Part,
        put: JoinHandle<Result<StoredObject, UploadError>>,
    ) -> Result<StoredObject, UploadError> {
        let failed = match put.await {
            Ok(Ok(stored)) => return Ok(stored),
            Ok(Err(err @ (UploadError::Exists { .. } | UploadError::Cancelled))) => {
                return Err(err);
            }
            Ok(Err(err)) => err.to_string(),
            Err(join) => join.to_string(),
        };
        tracing::debug!(
            key = spec.key,
            error = failed,
            "the early PutObject failed: sending the file again"
        );
        self.put_object(spec, first).await
    }

    pub(crate) async fn put_object(
        &self,
        spec: &ObjectSpec,
        part: Part,
    ) -> Result<StoredObject, UploadError> {
        let size = part.chunks.len();
        self.put_body(spec, size, part.chunks.into_byte_stream())
            .await
    }

    /// A PutObject of `size` bytes from `body`, with the object options.
    pub(super) async fn put_body(
        &self,
        spec: &ObjectSpec,
        size: u64,
        body: ByteStream,
    ) -> Result<StoredObject, UploadError> {
        let request = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(&spec.key)
            .content_length(size as i64)
            .content_type(&spec.content_type)
            .content_disposition(&spec.content_disposition)
            .set_if_none_match(self.options.create_only.then(|| "*".to_owned()));
        let output = with_options!(request, self.options)
            .body(body)
            .customize()
            .disable_payload_signing()
            .send()
            .await
            .map_err(|err| self.write_error("PutObject", &spec.key, err))?;
        self.lifecycle.ledger().object_stored(&spec.key);
        Ok(StoredObject {
            size,
            etag: output.e_tag,
            version_id: output.version_id,
            server_side_encryption: output.server_side_encryption.map(|s| s.as_str().to_owned()),
            sent_while_received: false,
        })
    }

    /// A failed write; with conditional writes, a refusal because the key exists is `FILE_EXISTS`.
    pub(crate) fn write_error<E, R>(
        &self,
        operation: &'static str,
        key: &str,
        err: aws_sdk_s3::error::SdkError<E, R>,
    ) -> UploadError
    where
        E: aws_sdk_s3::error::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: std::fmt::Debug,
    {
        let err = StoreError::from_sdk(operation, err);
        let exists = matches!(
            err.store_code(),
            Some("PreconditionFailed" | "ConditionalRequestConflict")
        );
        if self.options.create_only && exists {
            UploadError::Exists {
                key: key.to_owned(),
            }
        } else {
            UploadError::Store(err)
        }
    }
}
