//! Direct multipart uploads: the server creates the upload (its key, type and options), signs a URL per part,
//! and at the end completes it and checks what landed, as `POST /upload` checks what it streams: the size
//! within `MAX_FILE_SIZE`, the type judged from the object's first bytes within `ALLOWED_TYPES`. An object
//! that fails is deleted; the client gets the same error `POST /upload` would give.

use std::time::Duration;

use aws_sdk_s3::error::ProvideErrorMetadata as _;
use aws_sdk_s3::presigning::PresigningConfig;

use super::record::{DirectRecords, DirectUpload};
use crate::content_type;
use crate::naming;
use crate::storage::StoreError;
use crate::storage::resumable::create::unix_now;
use crate::storage::upload::{ObjectSpec, UploadError, Uploader};

/// S3's highest part number.
pub const MAX_PART_NUMBER: u32 = 10_000;

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
    pub(super) uploader: Uploader,
    pub(super) records: DirectRecords,
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
    pub(super) async fn abort_quietly(&self, upload: &DirectUpload) {
        if let Err(err) = self.records.abort_and_remove(upload).await {
            tracing::warn!(key = %crate::telemetry::Escaped(&upload.key), error = %err, "a direct upload could not be aborted; the sweeper tries again");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
