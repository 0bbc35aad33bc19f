//! The store requests of one append: its parts (a few in flight, numbered from its window), its segment, the
//! completion of the multipart upload, and the deletes of what a commit no longer references.

use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use tokio::sync::OwnedSemaphorePermit;
use tokio::task::JoinSet;

use super::info;
use crate::storage::StoreError;
use crate::storage::body::Chunks;
use crate::storage::upload::{Part, StoredObject, UploadError, Uploader};

/// The parts one append sends to the upload's multipart upload.
pub(super) struct Sender {
    uploader: Uploader,
    key: String,
    tasks: JoinSet<Result<info::Part, StoreError>>,
    stored: Vec<info::Part>,
    /// The highest number sent, stored or not: never to be sent again.
    pub(super) highest: Option<u32>,
}

impl Sender {
    pub(super) fn new(uploader: &Uploader, key: &str) -> Self {
        Self {
            uploader: uploader.clone(),
            key: key.to_owned(),
            tasks: JoinSet::new(),
            stored: Vec::new(),
            highest: None,
        }
    }

    /// Sends part `n`; `slot` (one of the request's parts in flight) and the part's budget are held until it
    /// is stored.
    pub(super) fn send(
        &mut self,
        upload_id: &str,
        n: u32,
        part: Part,
        slot: Option<OwnedSemaphorePermit>,
    ) {
        self.highest = self.highest.max(Some(n));
        let Part { chunks, permit, .. } = part;
        let size = chunks.len();
        let request = self
            .uploader
            .client()
            .upload_part()
            .bucket(self.uploader.bucket())
            .key(&self.key)
            .upload_id(upload_id)
            .part_number(i32::try_from(n).unwrap_or(i32::MAX))
            .content_length(i64::try_from(size).unwrap_or(i64::MAX))
            .body(chunks.into_byte_stream());
        self.tasks.spawn(async move {
            let output = request
                .customize()
                .disable_payload_signing()
                .send()
                .await
                .map_err(|err| StoreError::from_sdk("UploadPart", err))?;
            drop((permit, slot));
            let etag = output.e_tag.ok_or_else(|| {
                StoreError::Internal(anyhow::anyhow!("UploadPart returned no ETag"))
            })?;
            Ok(info::Part { n, etag, size })
        });
    }

    /// Takes the parts stored so far; a part that failed ends the append.
    pub(super) fn collect_finished(&mut self) -> Result<(), UploadError> {
        while let Some(done) = self.tasks.try_join_next() {
            self.stored.push(part_result(done)?);
        }
        Ok(())
    }

    /// Waits for every part in flight; the parts stored, ascending, or the first failure (after all ended).
    pub(super) async fn finish(&mut self) -> Result<Vec<info::Part>, UploadError> {
        let mut failed = None;
        while let Some(done) = self.tasks.join_next().await {
            match part_result(done) {
                Ok(part) => self.stored.push(part),
                Err(err) => failed = failed.or(Some(err)),
            }
        }
        if let Some(err) = failed {
            return Err(err);
        }
        let mut stored = std::mem::take(&mut self.stored);
        stored.sort_by_key(|p| p.n);
        Ok(stored)
    }
}

fn part_result(
    done: Result<Result<info::Part, StoreError>, tokio::task::JoinError>,
) -> Result<info::Part, UploadError> {
    match done {
        Ok(part) => Ok(part?),
        Err(err) => Err(UploadError::internal(
            anyhow::Error::new(err).context("part upload task"),
        )),
    }
}

/// Writes a new segment at a fresh key (never over anything); its ETag.
pub(super) async fn put_segment(
    uploader: &Uploader,
    key: &str,
    chunks: Chunks,
) -> Result<info::Segment, UploadError> {
    let size = chunks.len();
    let output = uploader
        .put_private(key)
        .content_length(i64::try_from(size).unwrap_or(i64::MAX))
        .body(chunks.into_byte_stream())
        .customize()
        .disable_payload_signing()
        .send()
        .await
        .map_err(|err| StoreError::from_sdk("PutObject (segment)", err))?;
    let etag = output
        .e_tag
        .ok_or_else(|| StoreError::Internal(anyhow::anyhow!("PutObject returned no ETag")))?;
    Ok(info::Segment {
        key: key.to_owned(),
        etag,
        size,
    })
}

/// Completes the multipart upload with `parts` (ascending; gaps are allowed), without overwriting when
/// uploads are create-only.
pub(super) async fn complete(
    uploader: &Uploader,
    key: &str,
    upload_id: &str,
    parts: &[info::Part],
    size: u64,
) -> Result<StoredObject, UploadError> {
    let parts = parts
        .iter()
        .map(|p| {
            CompletedPart::builder()
                .part_number(i32::try_from(p.n).unwrap_or(i32::MAX))
                .e_tag(&p.etag)
                .build()
        })
        .collect();
    let output = uploader
        .client()
        .complete_multipart_upload()
        .bucket(uploader.bucket())
        .key(key)
        .upload_id(upload_id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .set_parts(Some(parts))
                .build(),
        )
        .set_if_none_match(uploader.create_only().then(|| "*".to_owned()))
        .send()
        .await
        .map_err(|err| uploader.write_error("CompleteMultipartUpload", key, err))?;
    Ok(StoredObject {
        size,
        etag: output.e_tag,
        version_id: output.version_id,
        server_side_encryption: output.server_side_encryption.map(|s| s.as_str().to_owned()),
        sent_while_received: false,
    })
}

/// Aborts a multipart upload no record will reference (best effort: logged when it fails).
pub(super) async fn abort(uploader: &Uploader, key: &str, upload_id: &str) {
    if let Err(err) = uploader
        .client()
        .abort_multipart_upload()
        .bucket(uploader.bucket())
        .key(key)
        .upload_id(upload_id)
        .send()
        .await
    {
        let err = StoreError::from_sdk("AbortMultipartUpload", err);
        tracing::error!(
            key,
            upload_id,
            error = err.detail(),
            "could not abort a resumable upload's multipart upload"
        );
    }
}

/// Deletes state objects no record references any more (best effort: leftovers are swept with the upload).
pub(super) async fn delete(uploader: &Uploader, keys: impl IntoIterator<Item = &str>) {
    for key in keys {
        if let Err(err) = uploader
            .client()
            .delete_object()
            .bucket(uploader.bucket())
            .key(key)
            .send()
            .await
        {
            let err = StoreError::from_sdk("DeleteObject (segment)", err);
            tracing::warn!(key, error = err.detail(), "could not delete a segment");
        }
    }
}
