//! Creating a resumable upload (tus `POST /files`): the first `info.json`, and with `KEY_STRATEGY=original` an
//! early look at whether the final key is taken.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use uuid::Uuid;

use super::cas::{CasError, InfoStore};
use super::info::{Info, NewUpload, UploadId};
use crate::storage::StoreError;

/// Why an upload was not created.
#[derive(Debug, thiserror::Error)]
pub enum CreateError {
    /// The final key is already an object, and uploads never overwrite one.
    #[error("an object is already stored at {key}")]
    Exists { key: String },
    #[error(transparent)]
    Cas(#[from] CasError),
}

impl From<StoreError> for CreateError {
    fn from(err: StoreError) -> Self {
        Self::Cas(CasError::Store(err))
    }
}

/// Seconds since the Unix epoch, as the records keep time.
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs())
}

impl InfoStore {
    /// Creates upload `upload` with a new id, kept for `expiry` until bytes arrive. With `refuse_existing`
    /// (`KEY_STRATEGY=original`), a final key that is already an object is refused now: the client learns it
    /// before sending any byte. That look is early, not authoritative: completion writes with
    /// `If-None-Match: *` whatever happens in between.
    pub async fn create_upload(
        &self,
        upload: NewUpload,
        expiry: Duration,
        refuse_existing: bool,
    ) -> Result<Info, CreateError> {
        if refuse_existing && self.object_exists(&upload.key).await? {
            return Err(CreateError::Exists { key: upload.key });
        }
        let now = unix_now();
        let attempt = Uuid::new_v4().simple().to_string();
        let info = Info::new(
            UploadId::generate(),
            &attempt,
            upload,
            now,
            now.saturating_add(expiry.as_secs()),
        );
        // A new id cannot be taken (UUID v7): `Lost` here would be a bug, and is reported as the store's answer.
        self.create(&info).await?;
        Ok(info)
    }

    /// Whether an object is stored at `key` (HeadObject).
    async fn object_exists(&self, key: &str) -> Result<bool, StoreError> {
        match self
            .client()
            .head_object()
            .bucket(self.bucket())
            .key(key)
            .send()
            .await
        {
            Ok(_) => Ok(true),
            Err(err) if err.as_service_error().is_some_and(|e| e.is_not_found()) => Ok(false),
            Err(err) => Err(StoreError::from_sdk("HeadObject", err)),
        }
    }
}
