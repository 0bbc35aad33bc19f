//! Compare-and-swap on an upload's `info.json`: the only way its state is written.
//!
//! A read returns the record and the ETag of that same version (S3 reads its own writes). A creation writes
//! with `If-None-Match: *`, a replacement with `If-Match: <the ETag read>`: when another request wrote first,
//! the store refuses (`412 PreconditionFailed`, or `409 ConditionalRequestConflict`, AWS's answer to two
//! conditional writes at once) and the caller has [`CasError::Lost`]: it re-reads and decides again. No lock
//! service, no state in any copy of the server.
//!
//! Callers bump [`Info::version`] and set [`Info::written_by`] on each write, so that a write whose outcome is
//! unknown (a timeout) can be settled by reading back.

use aws_sdk_s3::Client;
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{ProvideErrorMetadata as _, SdkError};
use aws_sdk_s3::operation::put_object::PutObjectError;
use aws_sdk_s3::primitives::ByteStream;

use super::info::{Info, UploadId, info_key};
use crate::storage::StoreError;

/// Larger than any valid record (< 1 MB at 10,000 parts): a bigger object is not read into memory.
const MAX_INFO_BYTES: i64 = 4 * 1024 * 1024;

const READ: &str = "read an upload's state";
const WRITE: &str = "write an upload's state";

/// The ETag of one version of `info.json`, as the store spells it (quotes included).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ETag(String);

impl ETag {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Why a read or a conditional write of `info.json` did not happen.
#[derive(Debug, thiserror::Error)]
pub enum CasError {
    /// No such upload (never created, expired and swept, or terminated and removed).
    #[error("no such upload")]
    NotFound,
    /// Another write came first: re-read and decide again.
    #[error("another request changed the upload first")]
    Lost,
    /// The record cannot be used (not JSON, another format, a broken invariant): a bug, or written by
    /// something else. Nothing is written over it.
    #[error("the state of upload {id} is unusable: {reason}")]
    Corrupt { id: UploadId, reason: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The records of one bucket's resumable uploads.
#[derive(Clone, Debug)]
pub struct InfoStore {
    client: Client,
    bucket: String,
    key_prefix: String,
}

/// What a write requires of the key.
enum Condition<'a> {
    Absent,
    Matches(&'a ETag),
}

impl InfoStore {
    pub fn new(client: Client, bucket: impl Into<String>, key_prefix: impl Into<String>) -> Self {
        Self {
            client,
            bucket: bucket.into(),
            key_prefix: key_prefix.into(),
        }
    }

    /// The client the records are read and written with (creation and termination also use it).
    pub(super) fn client(&self) -> &Client {
        &self.client
    }

    pub(super) fn bucket(&self) -> &str {
        &self.bucket
    }

    pub(super) fn key_prefix(&self) -> &str {
        &self.key_prefix
    }

    /// The current record of upload `id` and its ETag; [`CasError::NotFound`] when there is none.
    pub async fn read(&self, id: &UploadId) -> Result<(Info, ETag), CasError> {
        let key = info_key(&self.key_prefix, id);
        let corrupt = |reason: String| CasError::Corrupt {
            id: id.clone(),
            reason,
        };
        let object = match self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(&key)
            .send()
            .await
        {
            Ok(object) => object,
            Err(err) if err.as_service_error().is_some_and(|e| e.is_no_such_key()) => {
                return Err(CasError::NotFound);
            }
            Err(err) => return Err(StoreError::from_sdk(READ, err).into()),
        };
        if object.content_length().unwrap_or(0) > MAX_INFO_BYTES {
            return Err(corrupt(format!("larger than {MAX_INFO_BYTES} bytes")));
        }
        let etag = object
            .e_tag()
            .map(|etag| ETag(etag.to_owned()))
            .ok_or_else(|| corrupt("the store gave no ETag".to_owned()))?;
        let bytes = object
            .body
            .collect()
            .await
            .map_err(|err| StoreError::Unavailable {
                operation: READ,
                detail: err.to_string(),
            })?
            .into_bytes();
        let info: Info = serde_json::from_slice(&bytes)
            .map_err(|err| corrupt(format!("not a record: {err}")))?;
        if info.id != *id {
            return Err(corrupt(format!("it names upload {}", info.id)));
        }
        info.check().map_err(|broken| corrupt(broken.to_string()))?;
        Ok((info, etag))
    }

    /// Writes the first record of a new upload; [`CasError::Lost`] when the id is taken.
    pub async fn create(&self, info: &Info) -> Result<ETag, CasError> {
        self.write(info, Condition::Absent).await
    }

    /// Replaces the record whose ETag is `current` and returns the new ETag; [`CasError::Lost`] when it changed
    /// since, [`CasError::NotFound`] when it is gone.
    pub async fn replace(&self, info: &Info, current: &ETag) -> Result<ETag, CasError> {
        self.write(info, Condition::Matches(current)).await
    }

    async fn write(&self, info: &Info, condition: Condition<'_>) -> Result<ETag, CasError> {
        // A broken record would stop every later request of the upload: refuse to write it.
        info.check().map_err(|broken| CasError::Corrupt {
            id: info.id.clone(),
            reason: broken.to_string(),
        })?;
        let body = serde_json::to_vec(info)
            .map_err(|err| StoreError::Internal(anyhow::Error::new(err).context(WRITE)))?;
        let put = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(info_key(&self.key_prefix, &info.id))
            .content_type("application/json")
            .body(ByteStream::from(body));
        let put = match condition {
            Condition::Absent => put.if_none_match("*"),
            Condition::Matches(etag) => put.if_match(etag.as_str()),
        };
        match put.send().await {
            Ok(written) => written
                .e_tag()
                .map(|etag| ETag(etag.to_owned()))
                .ok_or_else(|| CasError::Corrupt {
                    id: info.id.clone(),
                    reason: "the store gave no ETag for the write".to_owned(),
                }),
            Err(err) => Err(refused(err)),
        }
    }
}

/// A refused conditional PutObject: lost to another write, gone, or a store error.
fn refused(err: SdkError<PutObjectError, HttpResponse>) -> CasError {
    let status = err.raw_response().map(|raw| raw.status().as_u16());
    match (status, err.code()) {
        (_, Some("PreconditionFailed" | "ConditionalRequestConflict")) | (Some(412), _) => {
            CasError::Lost
        }
        // `If-Match` on a key that no longer exists.
        (_, Some("NoSuchKey")) | (Some(404), None) => CasError::NotFound,
        _ => StoreError::from_sdk(WRITE, err).into(),
    }
}
