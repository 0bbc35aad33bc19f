//! The record of a direct multipart upload this server created: `<KEY_PREFIX>.direct/<id>.json`.
//!
//! The browser sends the parts straight to the store, so the server sees an upload only when the client asks
//! for a part URL, completes or aborts it. The record says the upload is this server's (part URLs are signed
//! only for recorded uploads, for the recorded key), what its object is to be stored as, and until when it may
//! take parts: the sweeper aborts the multipart upload of a record past `expires_at`.

use aws_sdk_s3::Client;
use aws_sdk_s3::error::ProvideErrorMetadata as _;
use aws_sdk_s3::primitives::ByteStream;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::storage::StoreError;

/// The folder of the records, under `KEY_PREFIX`; sanitized names never start with a dot.
pub const DIRECT_FOLDER: &str = ".direct/";

/// Larger than any valid record: a bigger object is not read into memory.
const MAX_RECORD_BYTES: i64 = 64 * 1024;

/// A direct multipart upload, as created.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirectUpload {
    /// The store's multipart upload id.
    pub upload_id: String,
    /// The object's key, chosen by the server.
    pub key: String,
    /// The name the client gave, and the type it claimed (answered as `originalname` and `mimetype`).
    pub originalname: String,
    pub mimetype: String,
    /// What the object is created with; the completion judges its first bytes again.
    pub content_type: String,
    pub content_disposition: String,
    /// Seconds since the Unix epoch.
    pub created_at: u64,
    /// Part URLs are signed until then, and the upload is aborted after it (each part URL signed moves it on).
    pub expires_at: u64,
}

/// The records of one bucket's direct uploads.
#[derive(Clone, Debug)]
pub struct DirectRecords {
    client: Client,
    bucket: String,
    key_prefix: String,
}

impl DirectRecords {
    pub fn new(client: Client, bucket: impl Into<String>, key_prefix: impl Into<String>) -> Self {
        Self {
            client,
            bucket: bucket.into(),
            key_prefix: key_prefix.into(),
        }
    }

    pub(super) fn client(&self) -> &Client {
        &self.client
    }

    pub(super) fn bucket(&self) -> &str {
        &self.bucket
    }

    /// `<KEY_PREFIX>.direct/<first 32 hex digits of SHA-256(upload id)>.json`: store upload ids are long and
    /// may hold any character; the hash keeps the key short and plain.
    pub fn record_key(&self, upload_id: &str) -> String {
        let digest = Sha256::digest(upload_id.as_bytes());
        let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
        format!("{}{DIRECT_FOLDER}{hex}.json", self.key_prefix)
    }

    /// The folder listed by the sweeper and `check`.
    pub fn folder(&self) -> String {
        format!("{}{DIRECT_FOLDER}", self.key_prefix)
    }

    /// Writes `upload`'s record (a new one, or its expiry moved on).
    pub async fn write(&self, upload: &DirectUpload) -> Result<(), StoreError> {
        let body = serde_json::to_vec(upload).map_err(|err| {
            StoreError::Internal(anyhow::Error::new(err).context("a direct record"))
        })?;
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(self.record_key(&upload.upload_id))
            .content_type("application/json")
            .body(ByteStream::from(body))
            .send()
            .await
            .map_err(|err| StoreError::from_sdk("write a direct upload's record", err))?;
        Ok(())
    }

    /// The record of `upload_id`, if this server created it (and it was not completed, aborted or swept).
    pub async fn read(&self, upload_id: &str) -> Result<Option<DirectUpload>, StoreError> {
        self.read_key(&self.record_key(upload_id)).await
    }

    /// The record at `key` (from a listing), if there is one and it reads.
    pub async fn read_key(&self, key: &str) -> Result<Option<DirectUpload>, StoreError> {
        let got = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await;
        let output = match got {
            Ok(output) => output,
            Err(err) if err.code() == Some("NoSuchKey") => return Ok(None),
            Err(err) => return Err(StoreError::from_sdk("read a direct upload's record", err)),
        };
        if output.content_length().unwrap_or(0) > MAX_RECORD_BYTES {
            return Ok(None);
        }
        let bytes = output
            .body
            .collect()
            .await
            .map_err(|err| StoreError::Unavailable {
                operation: "read a direct upload's record",
                detail: err.to_string(),
            })?
            .into_bytes();
        // A record that does not parse is not one of ours: no URL is signed for it.
        Ok(serde_json::from_slice(&bytes).ok())
    }

    /// Removes `upload_id`'s record (its upload completed or aborted); a missing one is not an error.
    pub async fn remove(&self, upload_id: &str) -> Result<(), StoreError> {
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(self.record_key(upload_id))
            .send()
            .await
            .map_err(|err| StoreError::from_sdk("remove a direct upload's record", err))?;
        Ok(())
    }

    /// The keys of every record (ListObjectsV2 under the folder, every page).
    pub async fn list(&self) -> Result<Vec<String>, StoreError> {
        let mut keys = Vec::new();
        let mut pages = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(self.folder())
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|err| StoreError::from_sdk("list direct uploads", err))?;
            keys.extend(
                page.contents()
                    .iter()
                    .filter_map(|o| o.key())
                    .filter(|k| k.ends_with(".json"))
                    .map(str::to_owned),
            );
        }
        Ok(keys)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_keys_are_short_plain_and_under_the_prefix() {
        let config = aws_sdk_s3::Config::builder()
            .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
            .build();
        let records = DirectRecords::new(Client::from_conf(config), "b", "uploads/");
        let key =
            records.record_key("VXBsb2FkIElEIGZvciA2aWWpbmcncyBteS1tb3ZpZS5tMnRzIHVwbG9hZA~-._/+=");
        assert!(key.starts_with("uploads/.direct/"), "{key}");
        assert!(key.ends_with(".json"));
        assert_eq!(key.len(), "uploads/.direct/".len() + 32 + 5);
        assert_ne!(key, records.record_key("another"));
        assert_eq!(records.folder(), "uploads/.direct/");
    }
}
