//! Direct multipart uploads: the server creates the upload (its key, type and options), signs a URL per part,
//! and at the end completes it and checks what landed, as `POST /upload` checks what it streams: the size
//! within `MAX_FILE_SIZE`, the type judged from the object's first bytes within `ALLOWED_TYPES`. An object
//! that fails is deleted; the client gets the same error `POST /upload` would give.

use std::time::Duration;

use aws_sdk_s3::error::ProvideErrorMetadata as _;
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};

use super::record::{DirectRecords, DirectUpload};
use crate::content_type;
use crate::naming;
use crate::storage::StoreError;
use crate::storage::upload::{ObjectSpec, StoredObject, UploadError, Uploader};

/// S3's highest part number.
pub const MAX_PART_NUMBER: u32 = 10_000;

/// CopyObject's limit: an object larger than this cannot have its type corrected in place.
const MAX_COPY_BYTES: u64 = 5 * 1024 * 1024 * 1024;

/// Why a direct-upload request was not carried out.
#[derive(Debug, thiserror::Error)]
pub enum DirectError {
    /// No upload this server created has that id and key (never created, completed, aborted or expired).
    #[error("no such upload")]
    NotFound,
    /// The request names parts that cannot be (numbers out of order or range, none at all).
    #[error("{0}")]
    InvalidParts(String),
    /// The object is over the limit: it was deleted.
    #[error("{size} bytes is over the limit of {limit}")]
    TooLarge { size: u64, limit: u64, file: String },
    /// The object's bytes are of a type not allowed (or, too large to be corrected, not the type its name
    /// said): it was deleted.
    #[error("its bytes are {judged}")]
    TypeNotAllowed { judged: String, file: String },
    /// The store failed, or the key is taken (create-only).
    #[error(transparent)]
    Upload(#[from] UploadError),
}

impl From<StoreError> for DirectError {
    fn from(err: StoreError) -> Self {
        Self::Upload(UploadError::Store(err))
    }
}

/// A part as the client lists it for the completion.
#[derive(Clone, Debug)]
pub struct ClientPart {
    pub number: u32,
    pub etag: String,
}

/// A stored part, as ListParts gives it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListedPart {
    pub number: u32,
    pub etag: String,
    pub size: u64,
}

/// The checks a completed object must pass.
#[derive(Clone, Debug)]
pub struct Limits {
    pub max_size: u64,
    pub allowed_types: Vec<String>,
}

/// Direct multipart uploads of one bucket.
#[derive(Clone, Debug)]
pub struct DirectUploads {
    uploader: Uploader,
    records: DirectRecords,
    ttl: Duration,
}

/// What an object is created as before any of its bytes is known: the type its name says (with no bytes, a
/// name of a type with a signature counts as that type), and its disposition. The completion judges again.
pub fn provisional_spec(key: String, original: &str) -> ObjectSpec {
    let content_type = mime_guess::from_path(original)
        .first_raw()
        .unwrap_or("application/octet-stream")
        .to_owned();
    let content_disposition =
        naming::content_disposition(content_type::disposition_for(&content_type), original);
    ObjectSpec {
        key,
        content_type,
        content_disposition,
    }
}

impl DirectUploads {
    pub fn new(uploader: &Uploader, key_prefix: impl Into<String>, ttl: Duration) -> Self {
        Self {
            records: DirectRecords::new(uploader.client().clone(), uploader.bucket(), key_prefix),
            uploader: uploader.clone(),
            ttl,
        }
    }

    pub fn records(&self) -> &DirectRecords {
        &self.records
    }

    /// Creates the multipart upload of `spec` with the object options, and records it.
    pub async fn create(
        &self,
        spec: ObjectSpec,
        originalname: String,
        mimetype: String,
    ) -> Result<DirectUpload, DirectError> {
        let created = self
            .uploader
            .create_multipart_upload(&spec)
            .send()
            .await
            .map_err(|err| {
                self.uploader
                    .write_error("CreateMultipartUpload", &spec.key, err)
            })?;
        let upload_id = created.upload_id().unwrap_or_default().to_owned();
        if upload_id.is_empty() {
            return Err(
                UploadError::internal(anyhow::anyhow!("the store gave no upload id")).into(),
            );
        }
        let now = unix_now();
        let upload = DirectUpload {
            upload_id,
            key: spec.key,
            originalname,
            mimetype,
            content_type: spec.content_type,
            content_disposition: spec.content_disposition,
            created_at: now,
            expires_at: now + self.ttl.as_secs(),
        };
        if let Err(err) = self.records.write(&upload).await {
            self.abort_quietly(&upload).await;
            return Err(err.into());
        }
        Ok(upload)
    }

    /// The record of `upload_id`, when it is this server's upload of `key` and has not expired.
    pub async fn find(&self, upload_id: &str, key: &str) -> Result<DirectUpload, DirectError> {
        match self.records.read(upload_id).await? {
            Some(upload) if upload.key == key && upload.expires_at > unix_now() => Ok(upload),
            _ => Err(DirectError::NotFound),
        }
    }

    /// A presigned UploadPart URL for part `number`, living the URLs' lifetime; the upload's own lifetime moves
    /// on with it (written when half of it has passed, so that a part URL costs one write at most per half).
    pub async fn part_url(
        &self,
        upload_id: &str,
        key: &str,
        number: u32,
    ) -> Result<String, DirectError> {
        if !(1..=MAX_PART_NUMBER).contains(&number) {
            return Err(DirectError::InvalidParts(format!(
                "part numbers go from 1 to {MAX_PART_NUMBER}, not {number}"
            )));
        }
        let mut upload = self.find(upload_id, key).await?;
        let now = unix_now();
        if upload.expires_at < now + self.ttl.as_secs() / 2 {
            upload.expires_at = now + self.ttl.as_secs();
            self.records.write(&upload).await?;
        }
        let presigning = PresigningConfig::expires_in(self.ttl).map_err(|err| {
            UploadError::internal(anyhow::Error::new(err).context("presigning configuration"))
        })?;
        let request = self
            .uploader
            .client()
            .upload_part()
            .bucket(self.uploader.bucket())
            .key(&upload.key)
            .upload_id(&upload.upload_id)
            .part_number(i32::try_from(number).unwrap_or(i32::MAX))
            .presigned(presigning)
            .await
            .map_err(|err| StoreError::from_sdk("presign UploadPart", err))?;
        Ok(request.uri().to_owned())
    }

    /// The parts stored so far (every page of ListParts).
    pub async fn list_parts(
        &self,
        upload_id: &str,
        key: &str,
    ) -> Result<Vec<ListedPart>, DirectError> {
        let upload = self.find(upload_id, key).await?;
        let mut parts = Vec::new();
        let mut pages = self
            .uploader
            .client()
            .list_parts()
            .bucket(self.uploader.bucket())
            .key(&upload.key)
            .upload_id(&upload.upload_id)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = match page {
                Ok(page) => page,
                Err(err) if err.code() == Some("NoSuchUpload") => {
                    return Err(DirectError::NotFound);
                }
                Err(err) => return Err(StoreError::from_sdk("ListParts", err).into()),
            };
            parts.extend(page.parts().iter().map(|p| {
                ListedPart {
                    number: p
                        .part_number()
                        .and_then(|n| u32::try_from(n).ok())
                        .unwrap_or(0),
                    etag: p.e_tag().unwrap_or_default().to_owned(),
                    size: p.size().and_then(|s| u64::try_from(s).ok()).unwrap_or(0),
                }
            }));
        }
        Ok(parts)
    }

    /// Aborts the upload and forgets it.
    pub async fn abort(&self, upload_id: &str, key: &str) -> Result<(), DirectError> {
        let upload = self.find(upload_id, key).await?;
        self.records.abort_and_remove(&upload).await?;
        Ok(())
    }

    /// Aborts `upload` and forgets it, logging a failure (the sweeper tries again while its record lasts).
    async fn abort_quietly(&self, upload: &DirectUpload) {
        if let Err(err) = self.records.abort_and_remove(upload).await {
            tracing::warn!(key = %crate::telemetry::Escaped(&upload.key), error = %err, "a direct upload could not be aborted; the sweeper tries again");
        }
    }

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
        self.records.remove(&upload.upload_id).await?;
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

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
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

    #[test]
    fn a_provisional_type_comes_from_the_name_and_only_inert_types_are_inline() {
        let photo = provisional_spec("k".to_owned(), "사진.png");
        assert_eq!(photo.content_type, "image/png");
        assert!(
            photo.content_disposition.starts_with("inline"),
            "{}",
            photo.content_disposition
        );
        let page = provisional_spec("k".to_owned(), "page.html");
        assert!(page.content_disposition.starts_with("attachment"));
        let unknown = provisional_spec("k".to_owned(), "data");
        assert_eq!(unknown.content_type, "application/octet-stream");
    }
}
