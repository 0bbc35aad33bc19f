//! Abandoned direct uploads removed: a record past its `expires_at` (no part URL asked for within
//! `DIRECT_URL_TTL_SECS`; every URL signed for it has expired, so no part can still arrive) has its multipart
//! upload aborted and is removed. The server runs a pass at start and every `DIRECT_URL_TTL_SECS`; `clean`
//! runs one (`clean --expired-uploads`), and `check` lists what a pass would remove.

use std::time::Duration;

use aws_sdk_s3::error::ProvideErrorMetadata as _;

use super::record::{DirectRecords, DirectUpload};
use crate::lifecycle::Lifecycle;
use crate::storage::StoreError;

/// The records of a bucket's direct uploads, read.
#[derive(Debug, Default)]
pub struct DirectListing {
    pub uploads: Vec<DirectUpload>,
    /// Record keys that could not be read as records (left alone).
    pub unreadable: Vec<String>,
}

impl DirectListing {
    pub fn expired(&self, now: u64) -> Vec<&DirectUpload> {
        self.uploads
            .iter()
            .filter(|u| u.expires_at <= now)
            .collect()
    }
}

/// What a pass did.
#[derive(Debug, Default)]
pub struct DirectSwept {
    pub removed: Vec<DirectUpload>,
    pub failed: Vec<(String, String)>,
}

impl DirectRecords {
    /// Every record, read.
    pub async fn list_uploads(&self) -> Result<DirectListing, StoreError> {
        let mut listing = DirectListing::default();
        for key in self.list().await? {
            match self.read_key(&key).await? {
                Some(upload) => listing.uploads.push(upload),
                None => listing.unreadable.push(key),
            }
        }
        Ok(listing)
    }

    /// Aborts the multipart upload of every expired record and removes the record.
    pub async fn sweep(&self, now: u64) -> Result<DirectSwept, StoreError> {
        let listing = self.list_uploads().await?;
        let mut swept = DirectSwept::default();
        for upload in listing.expired(now) {
            match self.abort_and_remove(upload).await {
                Ok(()) => swept.removed.push(upload.clone()),
                Err(err) => swept.failed.push((upload.key.clone(), err.to_string())),
            }
        }
        Ok(swept)
    }

    /// Aborts `upload`'s multipart upload (gone already is fine) and removes its record.
    pub async fn abort_and_remove(&self, upload: &DirectUpload) -> Result<(), StoreError> {
        let aborted = self
            .client()
            .abort_multipart_upload()
            .bucket(self.bucket())
            .key(&upload.key)
            .upload_id(&upload.upload_id)
            .send()
            .await;
        match aborted {
            Ok(_) => {}
            Err(err) if err.code() == Some("NoSuchUpload") => {}
            Err(err) => return Err(StoreError::from_sdk("AbortMultipartUpload", err)),
        }
        self.remove(&upload.upload_id).await
    }
}

/// Runs a pass at start and then every `period`, until shutdown begins; logs what it removed.
pub fn spawn_direct_sweeper(records: DirectRecords, period: Duration, lifecycle: &Lifecycle) {
    let stop = lifecycle.clone();
    lifecycle.spawn(async move {
        loop {
            tokio::select! {
                () = stop.stopping() => return,
                () = pass(&records) => {}
            }
            tokio::select! {
                () = stop.stopping() => return,
                () = tokio::time::sleep(period) => {}
            }
        }
    });
}

async fn pass(records: &DirectRecords) {
    let swept = match records
        .sweep(crate::storage::resumable::create::unix_now())
        .await
    {
        Ok(swept) => swept,
        Err(err) => {
            tracing::warn!(error = %err, "sweeping abandoned direct uploads failed; the next pass tries again");
            return;
        }
    };
    for upload in &swept.removed {
        tracing::info!(key = %crate::telemetry::Escaped(&upload.key), created_at = upload.created_at, "abandoned direct upload aborted");
    }
    for (key, error) in &swept.failed {
        tracing::warn!(key = %crate::telemetry::Escaped(key), %error, "an abandoned direct upload could not be aborted; the next pass tries again");
    }
}
