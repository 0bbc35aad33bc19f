//! Streaming one file to S3 while it arrives.
//!
//! The file is read one part at a time (8 MiB by default). If the stream ends within the first part, the file
//! goes as one PutObject with its known length; otherwise as a multipart upload with a few parts in flight,
//! completed in order and aborted on any error, including a client that disconnects (the abort then runs from
//! a guard's `Drop`). Memory is bounded twice: per file (parts in flight + the one being read) and across all
//! uploads (a byte budget shared by the whole server, taken as bytes arrive: see `reader.rs`), so slow stores
//! slow clients down instead of growing memory.
//!
//! With `KEY_STRATEGY=original`, every write is conditional (`If-None-Match: *`): an upload never overwrites an
//! object, so a request that fails and deletes what it stored can only delete its own files.

mod early;
mod error;
mod multipart;
mod reader;

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::Arc;

use aws_sdk_s3::Client;
use aws_sdk_s3::types::{ObjectCannedAcl, ServerSideEncryption, StorageClass};
use bytes::Bytes;
use futures_util::Stream;
use tokio::sync::Semaphore;

use super::StoreError;
use super::body::{BlockPool, ReaderGuard};
use crate::config::{KeyStrategy, UploadConfig};
use crate::lifecycle::Lifecycle;
use crate::naming;

pub use early::{Decide, EarlyPut, Outcome as EarlyOutcome, Tapped, tap};
pub use error::UploadError;
use reader::Budget;
pub use reader::{Part, PartReader, PartSlots};

/// How objects are written: shared by all requests.
#[derive(Clone, Debug)]
pub struct Uploader {
    client: Client,
    bucket: String,
    part_size: u64,
    parts_in_flight: usize,
    budget: Budget,
    blocks: BlockPool,
    options: Arc<StoredOptions>,
    lifecycle: Lifecycle,
}

/// What every object is stored with (multer-s3's options), ready for the SDK's builders; a presigned POST
/// (`storage::direct`) pins the same options as form fields.
#[derive(Debug, Default)]
pub struct StoredOptions {
    pub(crate) acl: Option<ObjectCannedAcl>,
    pub(crate) cache_control: Option<String>,
    pub(crate) storage_class: Option<StorageClass>,
    pub(crate) server_side_encryption: Option<ServerSideEncryption>,
    pub(crate) sse_kms_key_id: Option<String>,
    /// Header-safe values (RFC 2047 for non-ASCII ones).
    pub(crate) metadata: Option<HashMap<String, String>>,
    /// `If-None-Match: *` on every write: never overwrite (`KEY_STRATEGY=original`).
    pub(crate) create_only: bool,
}

impl StoredOptions {
    /// The options `config` asks every object to be stored with.
    pub fn new(config: &UploadConfig) -> Self {
        let object = &config.object;
        Self {
            acl: config.acl.as_deref().map(ObjectCannedAcl::from),
            cache_control: object.cache_control.clone(),
            storage_class: object.storage_class.as_deref().map(StorageClass::from),
            server_side_encryption: object
                .server_side_encryption
                .as_deref()
                .map(ServerSideEncryption::from),
            sse_kms_key_id: object.sse_kms_key_id.clone(),
            metadata: (!object.metadata.is_empty()).then(|| {
                object
                    .metadata
                    .iter()
                    .map(|(name, value)| (name.clone(), naming::header_safe(value)))
                    .collect()
            }),
            create_only: config.key_strategy == KeyStrategy::Original,
        }
    }

    /// Whether writes must never overwrite an object (`KEY_STRATEGY=original`).
    pub fn create_only(&self) -> bool {
        self.create_only
    }
}

/// Applies [`StoredOptions`] to a PutObject or CreateMultipartUpload builder (same setters, different types).
macro_rules! with_options {
    ($builder:expr, $options:expr) => {{
        let options = &$options;
        $builder
            .set_acl(options.acl.clone())
            .set_cache_control(options.cache_control.clone())
            .set_storage_class(options.storage_class.clone())
            .set_server_side_encryption(options.server_side_encryption.clone())
            .set_ssekms_key_id(options.sse_kms_key_id.clone())
            .set_metadata(options.metadata.clone())
    }};
}

// After the macro, which it uses.
mod put;

/// What to store a file as.
#[derive(Clone, Debug)]
pub struct ObjectSpec {
    pub key: String,
    pub content_type: String,
    pub content_disposition: String,
}

/// What the store answered for a stored file.
#[derive(Clone, Debug, Default)]
pub struct StoredObject {
    pub size: u64,
    pub etag: Option<String>,
    pub version_id: Option<String>,
    pub server_side_encryption: Option<String>,
    /// Stored by a PutObject begun while the file still arrived (see `early/`).
    pub sent_while_received: bool,
}

/// The rest of storing a file once it has been read whole (see [`Uploader::start`]).
pub type Finishing =
    Pin<Box<dyn Future<Output = Result<StoredObject, UploadError>> + Send + 'static>>;

impl Uploader {
    /// An uploader for `bucket` with the upload settings of `config`; `lifecycle` ends its waits at shutdown,
    /// tracks the clean-ups it leaves to run, and records what it stores until the request settles it.
    pub fn new(
        client: Client,
        bucket: String,
        config: &UploadConfig,
        lifecycle: Lifecycle,
    ) -> Self {
        Self {
            client,
            bucket,
            part_size: config.part_size,
            parts_in_flight: config.parts_in_flight.max(1),
            budget: Budget::new(config.memory_budget, config.memory_wait, lifecycle.clone()),
            blocks: BlockPool::new(config.memory_budget),
            options: Arc::new(StoredOptions::new(config)),
            lifecycle,
        }
    }

    /// Bytes of the memory budget not in use right now.
    pub fn budget_available(&self) -> u64 {
        self.budget.available()
    }

    /// Registers a reader with the block pool until dropped: the blocks its parts give back once stored are
    /// kept for the next parts (a reader of its own is dropped when the body ends, before its last parts are
    /// stored).
    pub(crate) fn reading(&self) -> ReaderGuard {
        self.blocks.reader()
    }

    /// The slots for one request's parts in flight.
    pub fn part_slots(&self) -> PartSlots {
        PartSlots(Arc::new(Semaphore::new(self.parts_in_flight)))
    }

    /// A reader for one file's chunks. `length_hint` (the request's Content-Length) lets small uploads take
    /// only what they can need from the shared budget.
    pub fn reader<S, E>(
        &self,
        stream: S,
        length_hint: Option<u64>,
        slots: &PartSlots,
    ) -> PartReader<S>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
    {
        PartReader {
            stream,
            carry: None,
            part_size: self.part_size,
            remaining_hint: length_hint,
            budget: self.budget.clone(),
            _reading: self.blocks.reader(),
            blocks: self.blocks.clone(),
            slots: slots.clone(),
        }
    }

    /// Stores a file whose first part has been read; reads and uploads the rest from `reader`.
    pub async fn upload<S, E>(
        &self,
        spec: &ObjectSpec,
        first: Part,
        reader: &mut PartReader<S>,
    ) -> Result<StoredObject, UploadError<E>>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
    {
        self.start(spec, first, reader, None)
            .await?
            .await
            .map_err(UploadError::widen)
    }

    /// Reads the rest of a file from `reader` while storing it, and returns once the file has been read whole:
    /// what is left to do (the last parts in flight, then CompleteMultipartUpload; or the PutObject of a small
    /// file) is the returned future, which needs nothing from the request. A request with several files reads
    /// the next one while the previous one finishes. Dropping the future aborts the upload.
    ///
    /// A stored object stays in the lifecycle's ledger until its request calls [`Self::keep`] or
    /// [`Self::delete_all`].
    ///
    /// `early`: the PutObject begun while the file arrived ([`tap`]), whose answer is the file's if every byte
    /// was sent to it; if it was abandoned, or the store failed it, the file is sent the usual way.
    pub async fn start<S, E>(
        &self,
        spec: &ObjectSpec,
        first: Part,
        reader: &mut PartReader<S>,
        early: Option<&EarlyPut>,
    ) -> Result<Finishing, UploadError<E>>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
    {
        // The block pool keeps its free blocks while a reader is registered: until this file is stored, so
        // that the next upload reuses the blocks its parts return (instead of faulting in fresh ones).
        let reading = self.blocks.reader();
        if first.eof {
            let slot = reader.slot().await?;
            // Taken only now: should the wait for a slot fail, the route's handle still owns the PUT and deletes
            // what it stores.
            let early = early.and_then(EarlyPut::take_sent);
            let uploader = self.clone();
            let spec = spec.clone();
            return Ok(Box::pin(async move {
                let stored = match early {
                    Some(put) => uploader.after_early_put(&spec, first, put).await,
                    None => uploader.put_object(&spec, first).await,
                };
                drop((slot, reading));
                stored
            }));
        }
        multipart::start(self, spec, first, reader, reading).await
    }

    /// The client and bucket it writes to (for `storage::resumable`, which writes with the same settings).
    pub(crate) fn client(&self) -> &Client {
        &self.client
    }

    pub(crate) fn bucket(&self) -> &str {
        &self.bucket
    }

    /// What every object is stored with.
    pub fn options(&self) -> &Arc<StoredOptions> {
        &self.options
    }

    /// Whether writes of final objects are create-only (`KEY_STRATEGY=original`).
    pub(crate) fn create_only(&self) -> bool {
        self.options.create_only
    }

    /// A CreateMultipartUpload for `spec` with the object options every object is stored with.
    pub(crate) fn create_multipart_upload(
        &self,
        spec: &ObjectSpec,
    ) -> aws_sdk_s3::operation::create_multipart_upload::builders::CreateMultipartUploadFluentBuilder
    {
        let request = self
            .client
            .create_multipart_upload()
            .bucket(&self.bucket)
            .key(&spec.key)
            .content_type(&spec.content_type)
            .content_disposition(&spec.content_disposition);
        with_options!(request, self.options)
    }

    /// A CopyObject of `spec.key` onto itself with `spec`'s type and disposition and the object options: a
    /// direct upload's object whose bytes turned out to be another type than its name said.
    pub(crate) fn copy_in_place(
        &self,
        spec: &ObjectSpec,
    ) -> aws_sdk_s3::operation::copy_object::builders::CopyObjectFluentBuilder {
        let request = self
            .client
            .copy_object()
            .bucket(&self.bucket)
            .key(&spec.key)
            .copy_source(format!(
                "{}/{}",
                self.bucket,
                crate::naming::encode_key(&spec.key)
            ))
            .metadata_directive(aws_sdk_s3::types::MetadataDirective::Replace)
            .content_type(&spec.content_type)
            .content_disposition(&spec.content_disposition);
        with_options!(request, self.options)
    }

    /// The request answered with these objects: they are no longer its to clean up.
    pub fn keep(&self, keys: &[String]) {
        for key in keys {
            self.lifecycle.ledger().object_settled(key);
        }
    }

    /// Deletes objects already stored by a request that failed later (all or nothing).
    pub async fn delete_all(&self, keys: &[String]) {
        for key in keys {
            if let Err(err) = self
                .client
                .delete_object()
                .bucket(&self.bucket)
                .key(key)
                .send()
                .await
            {
                let err = StoreError::from_sdk("DeleteObject", err);
                tracing::error!(
                    key,
                    error = err.detail(),
                    "could not delete an object of a failed request: delete it by hand"
                );
            }
            self.lifecycle.ledger().object_settled(key);
        }
    }
}
