//! Streaming one file to S3 while it arrives.
//!
//! The file is read one part at a time (8 MiB by default). If the stream ends within the first part, the file
//! goes as one PutObject with its known length; otherwise as a multipart upload with a few parts in flight,
//! completed in order and aborted on any error, including a client that disconnects (the abort then runs from
//! a guard's `Drop`). Memory is bounded twice: per file (parts in flight + the one being read) and across all
//! uploads (a byte budget shared by the whole server: a reader waits for room before it reads a part, so slow
//! stores slow clients down instead of growing memory).

use std::pin::Pin;
use std::sync::Arc;

use aws_sdk_s3::Client;
use std::collections::HashMap;

use aws_sdk_s3::types::{
    CompletedMultipartUpload, CompletedPart, ObjectCannedAcl, ServerSideEncryption, StorageClass,
};
use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;

use super::body::{BlockPool, Chunks, PartBuffer, ReaderGuard};
use crate::config::ObjectOptions;
use crate::error::AppError;
use crate::naming;

/// The budget counts KiB, so that a part of up to 5 GiB fits a `u32` permit count.
const BUDGET_UNIT: u64 = 1024;

/// How objects are written: shared by all requests.
#[derive(Clone, Debug)]
pub struct Uploader {
    client: Client,
    bucket: String,
    part_size: u64,
    parts_in_flight: usize,
    budget: Arc<Semaphore>,
    blocks: BlockPool,
    options: Arc<StoredOptions>,
}

/// What every object is stored with (multer-s3's options), ready for the SDK's builders.
#[derive(Debug, Default)]
struct StoredOptions {
    acl: Option<ObjectCannedAcl>,
    cache_control: Option<String>,
    storage_class: Option<StorageClass>,
    server_side_encryption: Option<ServerSideEncryption>,
    sse_kms_key_id: Option<String>,
    /// Header-safe values (RFC 2047 for non-ASCII ones).
    metadata: Option<HashMap<String, String>>,
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
}

/// One part's bytes, with the share of the memory budget they hold.
#[derive(Debug)]
pub struct Part {
    pub chunks: Chunks,
    /// The stream ended with this part.
    pub eof: bool,
    _permit: OwnedSemaphorePermit,
}

/// Cuts a stream of chunks into parts of `part_size` bytes (the last one shorter), copied into recycled blocks.
pub struct PartReader<S> {
    stream: S,
    carry: Option<Bytes>,
    part_size: u64,
    /// What is left of the request's length (an upper bound on what is left of the file), if known.
    remaining_hint: Option<u64>,
    budget: Arc<Semaphore>,
    blocks: BlockPool,
    _reading: ReaderGuard,
    /// Parts in flight for the request this file belongs to (shared by its files).
    in_flight: InFlight,
}

/// The parts a request may have in flight at once, shared by its files: while one file's last parts are being
/// stored, the next file is read, but no more parts are in flight than for a single file.
#[derive(Clone, Debug)]
pub struct InFlight(Arc<Semaphore>);

impl Uploader {
    pub fn new(
        client: Client,
        bucket: String,
        part_size: u64,
        parts_in_flight: usize,
        memory_budget: u64,
        acl: Option<&str>,
        object: &ObjectOptions,
    ) -> Self {
        let units = (memory_budget / BUDGET_UNIT).clamp(1, Semaphore::MAX_PERMITS as u64) as usize;
        Self {
            client,
            bucket,
            part_size,
            parts_in_flight: parts_in_flight.max(1),
            budget: Arc::new(Semaphore::new(units)),
            blocks: BlockPool::new(memory_budget),
            options: Arc::new(StoredOptions {
                acl: acl.map(ObjectCannedAcl::from),
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
            }),
        }
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// Bytes of the memory budget not in use right now.
    pub fn budget_available(&self) -> u64 {
        self.budget.available_permits() as u64 * BUDGET_UNIT
    }

    /// The slots for one request's parts in flight.
    pub fn in_flight(&self) -> InFlight {
        InFlight(Arc::new(Semaphore::new(self.parts_in_flight)))
    }

    /// A reader for one file's chunks. `length_hint` (the request's Content-Length) lets small uploads reserve
    /// only what they can need from the shared budget.
    pub fn reader<S>(
        &self,
        stream: S,
        length_hint: Option<u64>,
        in_flight: &InFlight,
    ) -> PartReader<S>
    where
        S: Stream<Item = Result<Bytes, AppError>> + Unpin,
    {
        PartReader {
            stream,
            carry: None,
            part_size: self.part_size,
            remaining_hint: length_hint,
            budget: Arc::clone(&self.budget),
            _reading: self.blocks.reader(),
            blocks: self.blocks.clone(),
            in_flight: in_flight.clone(),
        }
    }

    /// Stores a file whose first part has been read; reads and uploads the rest from `reader`.
    pub async fn upload<S>(
        &self,
        spec: &ObjectSpec,
        first: Part,
        reader: &mut PartReader<S>,
    ) -> Result<StoredObject, AppError>
    where
        S: Stream<Item = Result<Bytes, AppError>> + Unpin,
    {
        self.start(spec, first, reader).await?.await
    }

    /// Reads the rest of a file from `reader` while storing it, and returns once the file has been read whole:
    /// what is left to do (the last parts in flight, then CompleteMultipartUpload; or the PutObject of a small
    /// file) is the returned future, which needs nothing from the request. A request with several files reads
    /// the next one while the previous one finishes. Dropping the future aborts the upload.
    pub async fn start<S>(
        &self,
        spec: &ObjectSpec,
        first: Part,
        reader: &mut PartReader<S>,
    ) -> Result<Finishing, AppError>
    where
        S: Stream<Item = Result<Bytes, AppError>> + Unpin,
    {
        // The block pool keeps its free blocks while a reader is registered: until this file is stored, so
        // that the next upload reuses the blocks its parts return (instead of faulting in fresh ones).
        let reading = self.blocks.reader();
        if first.eof {
            let slot = reader.slot().await?;
            let uploader = self.clone();
            let spec = spec.clone();
            return Ok(Box::pin(async move {
                let stored = uploader.put_object(&spec, first).await;
                drop((slot, reading));
                stored
            }));
        }
        self.multipart(spec, first, reader, reading).await
    }

    async fn put_object(&self, spec: &ObjectSpec, part: Part) -> Result<StoredObject, AppError> {
        let size = part.chunks.len();
        let request = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(&spec.key)
            .content_length(size as i64)
            .content_type(&spec.content_type)
            .content_disposition(&spec.content_disposition);
        let output = with_options!(request, self.options)
            .body(part.chunks.into_byte_stream())
            .customize()
            .disable_payload_signing()
            .send()
            .await
            .map_err(|err| AppError::from_sdk("PutObject", err))?;
        Ok(StoredObject {
            size,
            etag: output.e_tag,
            version_id: output.version_id,
            server_side_encryption: output.server_side_encryption.map(|s| s.as_str().to_owned()),
        })
    }

    async fn multipart<S>(
        &self,
        spec: &ObjectSpec,
        first: Part,
        reader: &mut PartReader<S>,
        reading: ReaderGuard,
    ) -> Result<Finishing, AppError>
    where
        S: Stream<Item = Result<Bytes, AppError>> + Unpin,
    {
        let request = self
            .client
            .create_multipart_upload()
            .bucket(&self.bucket)
            .key(&spec.key)
            .content_type(&spec.content_type)
            .content_disposition(&spec.content_disposition);
        let created = with_options!(request, self.options)
            .send()
            .await
            .map_err(|err| AppError::from_sdk("CreateMultipartUpload", err))?;
        let upload_id = created.upload_id.ok_or_else(|| {
            AppError::Internal(anyhow::anyhow!(
                "CreateMultipartUpload returned no upload id"
            ))
        })?;
        let mut upload = MultipartUpload {
            uploader: self.clone(),
            key: spec.key.clone(),
            guard: AbortGuard {
                client: self.client.clone(),
                bucket: self.bucket.clone(),
                key: spec.key.clone(),
                upload_id: Some(upload_id.clone()),
            },
            upload_id,
            tasks: JoinSet::new(),
            completed: Vec::new(),
            size: 0,
            _reading: reading,
        };
        match upload.send_parts(spec, first, reader).await {
            Ok(()) => Ok(Box::pin(upload.finish())),
            Err(err) => Err(upload.fail(err).await),
        }
    }
    fn upload_part(
        &self,
        spec: &ObjectSpec,
        upload_id: &str,
        number: i32,
        part: Part,
        slot: OwnedSemaphorePermit,
    ) -> impl Future<Output = Result<CompletedPart, AppError>> + Send + 'static {
        let request = self
            .client
            .upload_part()
            .bucket(&self.bucket)
            .key(&spec.key)
            .upload_id(upload_id)
            .part_number(number)
            .content_length(part.chunks.len() as i64);
        async move {
            // The permit is held until the part is stored: it is what bounds memory across uploads.
            let Part {
                chunks, _permit, ..
            } = part;
            let output = request
                .body(chunks.into_byte_stream())
                .customize()
                .disable_payload_signing()
                .send()
                .await
                .map_err(|err| AppError::from_sdk("UploadPart", err))?;
            drop(_permit);
            drop(slot);
            Ok(CompletedPart::builder()
                .part_number(number)
                .set_e_tag(output.e_tag)
                .build())
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
                let err = AppError::from_sdk("DeleteObject", err);
                tracing::error!(key, error = %err, "could not delete an object of a failed request");
            }
        }
    }
}

/// The rest of storing a file once it has been read whole (see [`Uploader::start`]).
pub type Finishing = Pin<Box<dyn Future<Output = Result<StoredObject, AppError>> + Send + 'static>>;

/// A multipart upload under way.
struct MultipartUpload {
    uploader: Uploader,
    key: String,
    upload_id: String,
    guard: AbortGuard,
    tasks: JoinSet<Result<CompletedPart, AppError>>,
    completed: Vec<CompletedPart>,
    size: u64,
    /// Keeps the block pool's blocks for reuse until the upload ends (see [`Uploader::start`]).
    _reading: ReaderGuard,
}

impl MultipartUpload {
    /// Reads the file's parts and sends each as it is read, a few in flight; returns after the last one is sent.
    async fn send_parts<S>(
        &mut self,
        spec: &ObjectSpec,
        first: Part,
        reader: &mut PartReader<S>,
    ) -> Result<(), AppError>
    where
        S: Stream<Item = Result<Bytes, AppError>> + Unpin,
    {
        let uploader = self.uploader.clone();
        let mut number = 1;
        let mut part = first;
        let mut slot = reader.slot().await?;
        loop {
            self.size += part.chunks.len();
            let eof = part.eof;
            // An empty last part exists only when the file ends exactly on a part boundary: skip it.
            if !part.chunks.is_empty() || number == 1 {
                self.tasks
                    .spawn(uploader.upload_part(spec, &self.upload_id, number, part, slot));
                number += 1;
            }
            if eof {
                return Ok(());
            }
            self.collect_finished()?;
            // Room for one more part in flight before reading it (parts of this file or the request's previous
            // one, which may still be finishing).
            slot = reader.slot().await?;
            self.collect_finished()?;
            part = reader.next_part().await?;
        }
    }

    /// Takes the parts stored so far; a part that failed ends the upload.
    fn collect_finished(&mut self) -> Result<(), AppError> {
        while let Some(done) = self.tasks.try_join_next() {
            self.completed.push(joined(done)?);
        }
        Ok(())
    }

    /// Waits for the parts in flight and completes the upload (or aborts it).
    async fn finish(mut self) -> Result<StoredObject, AppError> {
        match self.complete().await {
            Ok(stored) => {
                self.guard.upload_id = None;
                Ok(stored)
            }
            Err(err) => Err(self.fail(err).await),
        }
    }

    async fn complete(&mut self) -> Result<StoredObject, AppError> {
        while let Some(done) = self.tasks.join_next().await {
            self.completed.push(joined(done)?);
        }
        let mut completed = std::mem::take(&mut self.completed);
        completed.sort_by_key(|p| p.part_number);
        let uploader = &self.uploader;
        let output = uploader
            .client
            .complete_multipart_upload()
            .bucket(&uploader.bucket)
            .key(&self.key)
            .upload_id(&self.upload_id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(completed))
                    .build(),
            )
            .send()
            .await
            .map_err(|err| AppError::from_sdk("CompleteMultipartUpload", err))?;
        Ok(StoredObject {
            size: self.size,
            etag: output.e_tag,
            version_id: output.version_id,
            server_side_encryption: output.server_side_encryption.map(|s| s.as_str().to_owned()),
        })
    }

    /// Aborts after the parts already sent have finished (or failed): a part the store is still writing when
    /// the abort arrives can outlive the abort and stay behind (seen once in 2,000 soak requests). S3's own
    /// advice is the same: abort after all part uploads have completed. Each part is bounded by
    /// S3_TIMEOUT_SECS, so this wait is too.
    async fn fail(&mut self, err: AppError) -> AppError {
        while self.tasks.join_next().await.is_some() {}
        self.guard.abort_now().await;
        err
    }
}

fn joined(
    done: Result<Result<CompletedPart, AppError>, tokio::task::JoinError>,
) -> Result<CompletedPart, AppError> {
    done.map_err(|err| AppError::Internal(anyhow::Error::new(err).context("part upload task")))?
}

impl<S> PartReader<S>
where
    S: Stream<Item = Result<Bytes, AppError>> + Unpin,
{
    /// Waits for room for one more part in flight in this file's request.
    async fn slot(&self) -> Result<OwnedSemaphorePermit, AppError> {
        Arc::clone(&self.in_flight.0)
            .acquire_owned()
            .await
            .map_err(|err| AppError::Internal(anyhow::Error::new(err).context("part slots closed")))
    }

    /// Reads the next part: waits for room in the memory budget, then for up to `part_size` bytes.
    pub async fn next_part(&mut self) -> Result<Part, AppError> {
        // The most this part can need: a whole part, or less when the request's length says so.
        let reserve = self
            .remaining_hint
            .map_or(self.part_size, |left| left.min(self.part_size));
        let units = reserve.div_ceil(BUDGET_UNIT).max(1) as u32;
        let mut permit = Arc::clone(&self.budget)
            .acquire_many_owned(units)
            .await
            .map_err(|err| {
                AppError::Internal(anyhow::Error::new(err).context("memory budget closed"))
            })?;
        let mut part = PartBuffer::new(&self.blocks, reserve);
        let mut eof = false;
        while part.len() < self.part_size {
            let chunk = match self.carry.take() {
                Some(chunk) => chunk,
                None => match self.stream.next().await {
                    Some(chunk) => chunk?,
                    None => {
                        eof = true;
                        break;
                    }
                },
            };
            let room = (self.part_size - part.len()) as usize;
            if chunk.len() > room {
                part.extend(&chunk[..room]);
                self.carry = Some(chunk.slice(room..));
            } else {
                part.extend(&chunk);
            }
        }
        if !eof && self.carry.is_none() {
            // A full part: look one chunk ahead, so a file of exactly one part still goes as one PutObject.
            match self.stream.next().await {
                Some(chunk) => self.carry = Some(chunk?),
                None => eof = true,
            }
        }
        if let Some(left) = &mut self.remaining_hint {
            *left = left.saturating_sub(part.len());
        }
        // Keep the share of the budget the part's blocks take, give the rest back.
        let used = part.allocated().div_ceil(BUDGET_UNIT).max(1) as usize;
        if let Some(unused) = permit.split(permit.num_permits().saturating_sub(used)) {
            drop(unused);
        }
        Ok(Part {
            chunks: part.finish(),
            eof,
            _permit: permit,
        })
    }
}

/// Aborts a multipart upload that was not completed, even when the future driving it is dropped.
struct AbortGuard {
    client: Client,
    bucket: String,
    key: String,
    upload_id: Option<String>,
}

impl AbortGuard {
    async fn abort_now(&mut self) {
        if let Some(upload_id) = self.upload_id.take() {
            abort(
                self.client.clone(),
                self.bucket.clone(),
                self.key.clone(),
                upload_id,
            )
            .await;
        }
    }
}

impl Drop for AbortGuard {
    fn drop(&mut self) {
        let Some(upload_id) = self.upload_id.take() else {
            return;
        };
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(abort(
                    self.client.clone(),
                    self.bucket.clone(),
                    self.key.clone(),
                    upload_id,
                ));
            }
            Err(_) => tracing::error!(
                key = self.key,
                upload_id,
                "no runtime left to abort a multipart upload: abort it by hand or with a lifecycle rule"
            ),
        }
    }
}

async fn abort(client: Client, bucket: String, key: String, upload_id: String) {
    match client
        .abort_multipart_upload()
        .bucket(&bucket)
        .key(&key)
        .upload_id(&upload_id)
        .send()
        .await
    {
        Ok(_) => tracing::debug!(key, upload_id, "multipart upload aborted"),
        Err(err) => {
            let err = AppError::from_sdk("AbortMultipartUpload", err);
            tracing::error!(
                key,
                upload_id,
                error = %err,
                "could not abort a multipart upload: its parts stay billed until it is aborted"
            );
        }
    }
}
