//! The end of a direct multipart upload: completed from the client's part list, then checked where the server
//! can see it, as `POST /upload` checks a file: the size (HeadObject) within `MAX_FILE_SIZE`, the type judged
//! from the object's first bytes (a ranged GET) within `ALLOWED_TYPES`. An object that fails is deleted; a type
//! other than the one its name gave is written onto the object (CopyObject in place).

use aws_sdk_s3::error::ProvideErrorMetadata as _;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};

use super::multipart::{ClientPart, DirectError, DirectUploads, Limits, MAX_PART_NUMBER};
use super::record::DirectUpload;
use crate::content_type;
use crate::naming;
use crate::storage::StoreError;
use crate::storage::upload::{ObjectSpec, StoredObject, UploadError};

/// CopyObject's limit: an object larger than this cannot have its type corrected in place.
const MAX_COPY_BYTES: u64 = 5 * 1024 * 1024 * 1024;

impl DirectUploads {
    /// Completes the upload from `parts`, then checks the object: its size, then its type from its first bytes.
    /// Returns the record and the object as stored (its type corrected when its bytes said another).
    pub async fn complete(
        &self,
        upload_id: &str,
        key: &str,
        parts: &[ClientPart],
        limits: &Limits,
    ) -> Result<(ObjectSpec, DirectUpload, StoredObject), DirectError> {
        check_parts(parts)?;
        let upload = self.find(upload_id, key).await?;
        let completed: Vec<CompletedPart> = parts
            .iter()
            .map(|p| {
                CompletedPart::builder()
                    .part_number(i32::try_from(p.number).unwrap_or(i32::MAX))
                    .e_tag(&p.etag)
                    .build()
            })
            .collect();
        let done = self
            .uploader
            .client()
            .complete_multipart_upload()
            .bucket(self.uploader.bucket())
            .key(&upload.key)
            .upload_id(&upload.upload_id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(completed))
                    .build(),
            )
            .set_if_none_match(self.uploader.create_only().then(|| "*".to_owned()))
            .send()
            .await;
        let done = match done {
            Ok(done) => done,
            Err(err) if err.code() == Some("NoSuchUpload") => {
                self.records.remove(&upload.upload_id).await?;
                return Err(DirectError::NotFound);
            }
            Err(err)
                if matches!(
                    err.code(),
                    Some("InvalidPart" | "InvalidPartOrder" | "EntityTooSmall")
                ) =>
            {
                let reason = err
                    .message()
                    .unwrap_or("the store refused the parts")
                    .to_owned();
                return Err(DirectError::InvalidParts(reason));
            }
            Err(err) => {
                let err = self
                    .uploader
                    .write_error("CompleteMultipartUpload", &upload.key, err);
                if matches!(err, UploadError::Exists { .. }) {
                    self.abort_quietly(&upload).await;
                }
                return Err(err.into());
            }
        };
        // The object exists now: a record left behind only costs the sweeper an abort that finds nothing, while
        // failing here would leave a stored object the client was told had failed.
        if let Err(err) = self.records.remove(&upload.upload_id).await {
            tracing::warn!(key = %crate::telemetry::Escaped(&upload.key), error = %err, "a completed direct upload's record could not be removed; the sweeper removes it");
        }
        let checked = self.check(&upload, limits).await;
        let (spec, size) = match checked {
            Ok(found) => found,
            Err(err) => {
                self.delete_object(&upload.key).await;
                return Err(err);
            }
        };
        let object = StoredObject {
            size,
            etag: done.e_tag().map(str::to_owned),
            version_id: done.version_id().map(str::to_owned),
            server_side_encryption: done.server_side_encryption().map(|s| s.as_str().to_owned()),
            sent_while_received: false,
        };
        Ok((spec, upload, object))
    }

    /// What landed, checked: the size from HeadObject, the type from the first bytes (a ranged GET). A type
    /// other than the record's is written onto the object (CopyObject in place).
    async fn check(
        &self,
        upload: &DirectUpload,
        limits: &Limits,
    ) -> Result<(ObjectSpec, u64), DirectError> {
        let client = self.uploader.client();
        let bucket = self.uploader.bucket();
        let head = client
            .head_object()
            .bucket(bucket)
            .key(&upload.key)
            .send()
            .await
            .map_err(|err| StoreError::from_sdk("HeadObject", err))?;
        let size = head
            .content_length()
            .and_then(|l| u64::try_from(l).ok())
            .unwrap_or(0);
        if size > limits.max_size {
            return Err(DirectError::TooLarge {
                size,
                limit: limits.max_size,
                file: upload.originalname.clone(),
            });
        }
        let head_bytes = if size == 0 {
            Vec::new()
        } else {
            let end = size.min(content_type::SNIFF_LEN as u64) - 1;
            client
                .get_object()
                .bucket(bucket)
                .key(&upload.key)
                .range(format!("bytes=0-{end}"))
                .send()
                .await
                .map_err(|err| StoreError::from_sdk("GetObject (first bytes)", err))?
                .body
                .collect()
                .await
                .map_err(|err| StoreError::Unavailable {
                    operation: "GetObject (first bytes)",
                    detail: err.to_string(),
                })?
                .into_bytes()
                .to_vec()
        };
        let judged = content_type::judge(&head_bytes, &upload.originalname);
        if !limits.allowed_types.is_empty()
            && !content_type::is_allowed(&judged, &limits.allowed_types)
        {
            return Err(DirectError::TypeNotAllowed {
                judged,
                file: upload.originalname.clone(),
            });
        }
        let detected = content_type::detect(&head_bytes, &upload.originalname);
        let spec = ObjectSpec {
            key: upload.key.clone(),
            content_disposition: naming::content_disposition(
                content_type::disposition_for(&detected),
                &upload.originalname,
            ),
            content_type: detected,
        };
        if spec.content_type != upload.content_type
            || spec.content_disposition != upload.content_disposition
        {
            if size > MAX_COPY_BYTES {
                return Err(DirectError::TypeNotAllowed {
                    judged,
                    file: upload.originalname.clone(),
                });
            }
            self.uploader
                .copy_in_place(&spec)
                .send()
                .await
                .map_err(|err| StoreError::from_sdk("CopyObject (type corrected)", err))?;
        }
        Ok((spec, size))
    }

    async fn delete_object(&self, key: &str) {
        if let Err(err) = self
            .uploader
            .client()
            .delete_object()
            .bucket(self.uploader.bucket())
            .key(key)
            .send()
            .await
        {
            tracing::error!(key = %crate::telemetry::Escaped(key), error = %StoreError::from_sdk("DeleteObject", err), "an object refused after a direct upload could not be deleted");
        }
    }
}

/// The completion's part list: 1 to 10,000 parts, numbers ascending without repeats, each with an ETag.
fn check_parts(parts: &[ClientPart]) -> Result<(), DirectError> {
    if parts.is_empty() {
        return Err(DirectError::InvalidParts("no parts listed".to_owned()));
    }
    let mut last = 0;
    for part in parts {
        if part.number <= last || part.number > MAX_PART_NUMBER {
            return Err(DirectError::InvalidParts(format!(
                "part numbers must ascend from 1 to {MAX_PART_NUMBER} without repeats ({} after {last})",
                part.number
            )));
        }
        if part.etag.trim().is_empty() {
            return Err(DirectError::InvalidParts(format!(
                "part {} has no ETag",
                part.number
            )));
        }
        last = part.number;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part(number: u32) -> ClientPart {
        ClientPart {
            number,
            etag: "\"e\"".to_owned(),
        }
    }

    #[test]
    fn a_completion_lists_ascending_parts_with_etags() {
        assert!(check_parts(&[part(1), part(2), part(7)]).is_ok());
        for bad in [
            vec![],
            vec![part(2), part(1)],
            vec![part(1), part(1)],
            vec![part(0)],
            vec![part(10_001)],
        ] {
            assert!(
                matches!(check_parts(&bad), Err(DirectError::InvalidParts(_))),
                "{bad:?}"
            );
        }
        let blank = ClientPart {
            number: 1,
            etag: " ".to_owned(),
        };
        assert!(check_parts(&[blank]).is_err());
    }
}
