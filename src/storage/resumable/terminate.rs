//! Terminating a resumable upload (tus `DELETE /files/<id>`): its state is forgotten, the bytes it held are
//! removed; a completed upload's object is kept (it is the product, as a file of `POST /upload` is).
//!
//! Steps: a tombstone first (`state: terminated`, by compare-and-swap), so that a request still working on the
//! upload loses its next commit and stops; then the multipart upload is aborted and the segments deleted; then
//! `info.json` itself. A termination that stopped half way is finished by the next one, which still finds the
//! tombstone.

use aws_sdk_s3::error::ProvideErrorMetadata as _;
use uuid::Uuid;

use super::cas::{CasError, InfoStore};
use super::info::{Info, State, UploadId, info_key};
use crate::storage::StoreError;

/// How many times the tombstone is tried when other writes keep coming first.
const TOMBSTONE_ATTEMPTS: usize = 5;

impl InfoStore {
    /// Terminates upload `id`. [`CasError::NotFound`] when there is no such upload, or it was terminated
    /// already (what such a termination had left is removed first).
    pub async fn terminate(&self, id: &UploadId) -> Result<(), CasError> {
        self.terminate_if(id, |_| true).await.map(|_| ())
    }

    /// Terminates upload `id` if its current record meets `condition` (checked on each read, so a request
    /// that renewed the upload meanwhile wins); returns the record as it was, or `None` when `condition` no
    /// longer holds. A tombstone is finished whatever `condition` says, and is [`CasError::NotFound`].
    pub(super) async fn terminate_if(
        &self,
        id: &UploadId,
        condition: impl Fn(&Info) -> bool,
    ) -> Result<Option<Info>, CasError> {
        let attempt = Uuid::new_v4().simple().to_string();
        let mut tries = 0;
        let info = loop {
            let (info, etag) = self.read(id).await?;
            if info.state == State::Terminated {
                self.remove(&info).await?;
                return Err(CasError::NotFound);
            }
            if !condition(&info) {
                return Ok(None);
            }
            let mut tombstone = info.clone();
            tombstone.state = State::Terminated;
            tombstone.version += 1;
            tombstone.written_by.clone_from(&attempt);
            tombstone.claim = None;
            match self.replace(&tombstone, &etag).await {
                Ok(_) => break info,
                Err(CasError::Lost) if tries + 1 < TOMBSTONE_ATTEMPTS => tries += 1,
                Err(err) => return Err(err),
            }
        };
        self.remove(&info).await?;
        Ok(Some(info))
    }

    /// Removes what upload `info` holds in the bucket, then its record. `info` is the record as it was before
    /// the tombstone: its state says whether the multipart upload is the object's (completed) or to abort.
    async fn remove(&self, info: &Info) -> Result<(), CasError> {
        let building = !matches!(info.state, State::Completed);
        if let Some(multipart) = info.multipart.as_ref().filter(|_| building) {
            self.abort(&info.key, &multipart.upload_id).await?;
        }
        for segment in &info.segments {
            self.delete_object(&segment.key).await?;
        }
        self.delete_object(&info_key(self.key_prefix(), &info.id))
            .await?;
        Ok(())
    }

    /// Aborts a multipart upload; one that is gone already (aborted by an earlier try) is fine.
    pub(super) async fn abort(&self, key: &str, upload_id: &str) -> Result<(), StoreError> {
        match self
            .client()
            .abort_multipart_upload()
            .bucket(self.bucket())
            .key(key)
            .upload_id(upload_id)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(err) if err.code() == Some("NoSuchUpload") => Ok(()),
            Err(err) => Err(StoreError::from_sdk("AbortMultipartUpload", err)),
        }
    }

    /// DeleteObject (deleting a key that is not there succeeds on S3).
    pub(super) async fn delete_object(&self, key: &str) -> Result<(), StoreError> {
        self.client()
            .delete_object()
            .bucket(self.bucket())
            .key(key)
            .send()
            .await
            .map(|_| ())
            .map_err(|err| StoreError::from_sdk("DeleteObject", err))
    }
}
