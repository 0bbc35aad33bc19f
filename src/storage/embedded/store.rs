//! s3s-fs with multipart uploads that are written once.
//!
//! s3s-fs 0.14.1 stores each part in a file of its own and, on CompleteMultipartUpload, reads every part back in
//! 64 KiB async reads, hashes it again with MD5 and writes it into the object: for 1 GiB that took 3.8 s here,
//! longer than uploading the parts. Every file larger than one part goes through that path, so the embedded store
//! wraps s3s-fs and handles multipart uploads itself when it can:
//!
//! - **UploadPart** writes the part's bytes straight to their place in the future object (a staging file per
//!   upload, at `(part number - 1) x part 1's size`), hashing them with MD5 on the way as s3s-fs does (the MD5 is
//!   the part's ETag). Parts that do not fit that layout (a part larger than part 1, a part that arrives before
//!   part 1, a request with checksums to verify) go to s3s-fs's own part files.
//! - **CompleteMultipartUpload** checks the request's ETags against the recorded MD5s (`InvalidPart` when they
//!   differ, as S3), copies in any part that lives in its own file, truncates the staging file to the object's
//!   length and renames it into place: no byte is read back. If the parts do not line up (sizes differ from
//!   part 1's), it concatenates them with the kernel's `copy_file_range` instead.
//!
//! The files it leaves are exactly those s3s-fs would leave (the object, its metadata and its internal info, at
//! the paths of s3s-fs =0.14.1, the pinned version), so every other operation stays s3s-fs's. An upload it has no
//! record of (a store restarted between the parts and the completion) is completed by s3s-fs, as before.

use std::collections::HashMap;
use std::io::{self, Seek as _, SeekFrom};
use std::os::unix::fs::FileExt as _;
use std::path::{Component, Path, PathBuf};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use futures_util::StreamExt as _;
use s3s::crypto::{Checksum as _, Md5};
use s3s::dto::*;
use s3s::{S3, S3Error, S3Request, S3Response, S3Result, s3_error};

/// S3's minimum size of every part but the last.
const MIN_PART_SIZE: u64 = 5 * 1024 * 1024;

/// Uploads whose parts are recorded at most (uploads that are never completed or aborted must not grow memory
/// without bound); a new upload beyond it is left to s3s-fs from start to end.
const MAX_RECORDED_UPLOADS: usize = 10_000;

/// Bytes of a part gathered before they are written (one blocking-pool trip per batch).
const WRITE_BATCH: u64 = 1024 * 1024;

/// The embedded store's S3 implementation: s3s-fs, with multipart uploads written once.
pub(crate) struct Store {
    inner: s3s_fs::FileSystem,
    root: Arc<Path>,
    uploads: Mutex<HashMap<String, UploadRecord>>,
    tmp_counter: Arc<AtomicU64>,
    /// Multipart uploads completed here (the rest went to s3s-fs).
    completed_here: AtomicU64,
}

/// What the store knows of one multipart upload's parts.
#[derive(Clone, Default)]
struct UploadRecord {
    /// Part 1's size: part `n` is staged at `(n - 1) * stride`.
    stride: Option<u64>,
    parts: HashMap<i32, PartRecord>,
}

#[derive(Clone, Copy)]
struct PartRecord {
    md5: [u8; 16],
    /// `Some(length)` when the part is in the staging file; `None` when it is in s3s-fs's own part file.
    staged: Option<u64>,
}

impl Store {
    /// Opens the store on `root` (an existing folder), as `s3s_fs::FileSystem::new` does.
    pub(crate) fn new(root: &Path) -> anyhow::Result<Self> {
        let inner = s3s_fs::FileSystem::new(root).map_err(|err| {
            anyhow::anyhow!("open the embedded store at {}: {err:?}", root.display())
        })?;
        // The same root s3s-fs resolves (it canonicalizes the folder relative to the working directory).
        let root = std::env::current_dir()?.join(root).canonicalize()?;
        Ok(Self {
            inner,
            root: root.into(),
            uploads: Mutex::new(HashMap::new()),
            tmp_counter: Arc::new(AtomicU64::new(0)),
            completed_here: AtomicU64::new(0),
        })
    }

    fn uploads(&self) -> MutexGuard<'_, HashMap<String, UploadRecord>> {
        self.uploads
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Runs `f` on the upload's record, made if new; `None` when a new upload cannot be recorded (the store
    /// then leaves that upload to s3s-fs from start to end, and the uploads already recorded are kept).
    fn with_record<T>(&self, upload_id: &str, f: impl FnOnce(&mut UploadRecord) -> T) -> Option<T> {
        let mut uploads = self.uploads();
        if uploads.len() >= MAX_RECORDED_UPLOADS && !uploads.contains_key(upload_id) {
            return None;
        }
        Some(f(uploads.entry(upload_id.to_owned()).or_default()))
    }

    fn record_part(&self, upload_id: &str, number: i32, part: Option<PartRecord>) {
        self.with_record(upload_id, |upload| match part {
            Some(part) => upload.parts.insert(number, part),
            None => upload.parts.remove(&number),
        });
    }

    /// Forgets an upload's record once s3s-fs has completed it.
    fn forget_if_done<T>(&self, upload_id: &str, answer: S3Result<T>) -> S3Result<T> {
        if answer.is_ok() {
            self.uploads().remove(upload_id);
        }
        answer
    }

    /// Where part `number` of `len` bytes goes in the staging file, if it fits the upload's layout.
    fn staging_offset(&self, upload_id: &str, number: i32, len: u64) -> Option<u64> {
        self.with_record(upload_id, |upload| match (number, upload.stride) {
            (1, None) => {
                upload.stride = Some(len);
                Some(0)
            }
            (1, Some(stride)) => (stride == len).then_some(0),
            (_, Some(stride)) if len <= stride => u64::try_from(number - 1)
                .ok()
                .and_then(|index| index.checked_mul(stride)),
            _ => None,
        })
        .flatten()
    }

    /// Streams a part's body into the staging file at `offset`; returns its MD5.
    async fn stage_part(
        &self,
        upload_id: &uuid::Uuid,
        offset: u64,
        len: u64,
        body: StreamingBlob,
    ) -> S3Result<[u8; 16]> {
        let path = self.root.join(format!(".upload_id-{upload_id}.staging"));
        let file = tokio::task::spawn_blocking(move || {
            std::fs::OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .open(path)
        })
        .await
        .map_err(|err| s3_error!(err, InternalError))?
        .map_err(|err| s3_error!(err, InternalError))?;
        let file = Arc::new(file);

        let mut body = body;
        let mut md5 = Md5::new();
        let mut batch: Vec<Bytes> = Vec::new();
        let mut written = 0u64;
        let mut batched = 0u64;
        while let Some(chunk) = body.next().await {
            let chunk =
                chunk.map_err(|err| s3_error!(IncompleteBody, "reading the part failed: {err}"))?;
            md5.update(&chunk);
            batched += chunk.len() as u64;
            if written + batched > len {
                return Err(s3_error!(
                    IncompleteBody,
                    "the part is longer than its Content-Length"
                ));
            }
            batch.push(chunk);
            if batched >= WRITE_BATCH {
                write_at(&file, std::mem::take(&mut batch), offset + written).await?;
                written += std::mem::take(&mut batched);
            }
        }
        write_at(&file, batch, offset + written).await?;
        written += batched;
        if written != len {
            return Err(s3_error!(
                IncompleteBody,
                "the part is shorter than its Content-Length"
            ));
        }
        Ok(md5.finalize())
    }
}

/// Writes `chunks` one after another at `at` in `file`, on the blocking pool.
async fn write_at(file: &Arc<std::fs::File>, chunks: Vec<Bytes>, at: u64) -> S3Result<()> {
    if chunks.is_empty() {
        return Ok(());
    }
    let file = Arc::clone(file);
    tokio::task::spawn_blocking(move || {
        let mut at = at;
        for chunk in chunks {
            file.write_all_at(&chunk, at)?;
            at += chunk.len() as u64;
        }
        io::Result::Ok(())
    })
    .await
    .map_err(|err| s3_error!(err, InternalError))?
    .map_err(|err| s3_error!(err, InternalError))
}

/// The access key that created an upload (s3s-fs keeps it in `.upload-<id>.json`), or `None` when the upload
/// does not exist.
fn upload_owner(root: &Path, upload_id: &uuid::Uuid) -> Option<Option<String>> {
    let info = std::fs::read(root.join(format!(".upload-{upload_id}.json"))).ok()?;
    serde_json::from_slice(&info).ok()
}

/// What a completion needs, owned, so that the file work runs on the blocking pool.
struct Completion {
    root: Arc<Path>,
    tmp_counter: Arc<AtomicU64>,
    bucket: String,
    key: String,
    upload_id: String,
    caller: Option<String>,
    /// The request's parts: number and ETag, in the request's order.
    requested: Vec<(Option<i32>, Option<String>)>,
    record: UploadRecord,
}

/// Why a completion is not done here.
enum NotHere {
    /// s3s-fs can do it (none of its parts are staged).
    Inner,
    /// A refusal, as S3 would answer it.
    Refused(S3Error),
}

/// Where each part's bytes are.
struct Plan {
    upload_id: uuid::Uuid,
    object: PathBuf,
    staging: PathBuf,
    parts: Vec<PlannedPart>,
    /// The staging file's stride when every part is at its place in it (after copying in the unstaged ones).
    in_place: Option<u64>,
}

struct PlannedPart {
    md5: [u8; 16],
    len: u64,
    /// `Some(offset)` in the staging file, or `None` for its own file at `file`.
    staged_at: Option<u64>,
    file: PathBuf,
}

impl Completion {
    fn plan(&self) -> Result<Plan, NotHere> {
        let root = &self.root;
        let any_staged = self.record.parts.values().any(|p| p.staged.is_some());
        // Without a staged part, anything this cannot vouch for is left to s3s-fs, which answers it as before.
        let inner_or = |refusal: S3Error| {
            if any_staged {
                NotHere::Refused(refusal)
            } else {
                NotHere::Inner
            }
        };
        let upload_id = uuid::Uuid::parse_str(&self.upload_id).map_err(|_| NotHere::Inner)?;
        let (Some(bucket), Some(key)) = (plain_path(&self.bucket), plain_path(&self.key)) else {
            return Err(inner_or(s3_error!(InvalidArgument, "unsupported key")));
        };
        if upload_owner(root, &upload_id).as_ref() != Some(&self.caller)
            || self.requested.is_empty()
        {
            return Err(NotHere::Inner);
        }
        let stride = self.record.stride;
        let mut parts = Vec::with_capacity(self.requested.len());
        let mut in_place = stride.is_some();
        for (index, (number, e_tag)) in self.requested.iter().enumerate() {
            let last = index + 1 == self.requested.len();
            let Some(number) = *number else {
                return Err(inner_or(s3_error!(InvalidRequest, "missing part number")));
            };
            if usize::try_from(number).ok() != Some(index + 1) {
                return Err(inner_or(s3_error!(InvalidPartOrder)));
            }
            let file = root.join(format!(".upload_id-{upload_id}.part-{number}"));
            let Some(record) = self.record.parts.get(&number) else {
                let not_uploaded = s3_error!(InvalidPart, "part {number} was not uploaded");
                return Err(if file.exists() {
                    inner_or(not_uploaded)
                } else {
                    NotHere::Refused(not_uploaded)
                });
            };
            if e_tag.as_deref().and_then(decode_md5) != Some(record.md5) {
                return Err(NotHere::Refused(s3_error!(
                    InvalidPart,
                    "part {number} was not stored with the ETag given for it"
                )));
            }
            let len = match record.staged {
                Some(len) => len,
                None => std::fs::metadata(&file)
                    .map_err(|_| {
                        NotHere::Refused(s3_error!(InvalidPart, "part {number} was not found"))
                    })?
                    .len(),
            };
            if !last && len < MIN_PART_SIZE {
                return Err(NotHere::Refused(s3_error!(EntityTooSmall)));
            }
            let offset = stride.and_then(|s| u64::try_from(index).ok()?.checked_mul(s));
            if let Some(stride) = stride
                && ((!last && len != stride) || len > stride)
            {
                in_place = false;
            }
            parts.push(PlannedPart {
                md5: record.md5,
                len,
                staged_at: record.staged.and(offset),
                file,
            });
        }
        Ok(Plan {
            upload_id,
            object: root.join(bucket).join(key),
            staging: root.join(format!(".upload_id-{upload_id}.staging")),
            parts,
            in_place: if in_place { stride } else { None },
        })
    }

    fn tmp_path(&self) -> PathBuf {
        let n = self.tmp_counter.fetch_add(1, Ordering::Relaxed);
        // s3s-fs deletes files named like this when it opens the folder: nothing is left after a crash.
        self.root.join(format!(".tmp.complete-{n}.internal.part"))
    }

    /// Writes the object (see the module's documentation); returns the path of the finished file.
    fn assemble(&self, plan: &Plan) -> io::Result<PathBuf> {
        if let Some(stride) = plan.in_place {
            let out = std::fs::OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .open(&plan.staging)?;
            let mut total = 0u64;
            for (index, part) in plan.parts.iter().enumerate() {
                let offset = u64::try_from(index)
                    .unwrap_or(u64::MAX)
                    .saturating_mul(stride);
                if part.staged_at.is_none() {
                    copy_range(&part.file, 0, part.len, &out, offset)?;
                }
                total = offset + part.len;
            }
            out.set_len(total)?;
            return Ok(plan.staging.clone());
        }
        let tmp = self.tmp_path();
        let concatenated = (|| {
            let out = std::fs::File::create(&tmp)?;
            let mut at = 0u64;
            for part in &plan.parts {
                let (file, from) = match part.staged_at {
                    Some(offset) => (&plan.staging, offset),
                    None => (&part.file, 0),
                };
                copy_range(file, from, part.len, &out, at)?;
                at += part.len;
            }
            Ok(())
        })();
        if let Err(err) = concatenated {
            let _ = std::fs::remove_file(&tmp);
            return Err(err);
        }
        Ok(tmp)
    }

    /// Puts the object in place with the files s3s-fs keeps beside it; returns the ETag.
    fn run(&self, plan: &Plan) -> io::Result<String> {
        let root = &self.root;
        let assembled = self.assemble(plan)?;
        let placed = (|| {
            if let Some(dir) = plan.object.parent() {
                std::fs::create_dir_all(dir)?;
            }
            std::fs::rename(&assembled, &plan.object)
        })();
        if let Err(err) = placed {
            if assembled != plan.staging {
                let _ = std::fs::remove_file(&assembled);
            }
            return Err(err);
        }

        let encoded = |s: &str| URL_SAFE_NO_PAD.encode(s);
        let sidecar = format!(
            ".bucket-{}.object-{}",
            encoded(&self.bucket),
            encoded(&self.key)
        );
        // The upload's attributes (Content-Type, Content-Disposition, metadata) become the object's.
        let staged = root.join(format!("{sidecar}.upload-{}.metadata.json", plan.upload_id));
        let attributes = root.join(format!("{sidecar}.metadata.json"));
        match std::fs::rename(&staged, &attributes) {
            Err(err) if err.kind() != io::ErrorKind::NotFound => return Err(err),
            _ => {}
        }
        let _ = std::fs::remove_file(root.join(format!(".upload-{}.json", plan.upload_id)));
        let _ = std::fs::remove_file(&plan.staging);
        for part in &plan.parts {
            let _ = std::fs::remove_file(&part.file);
        }

        let mut hash = Md5::new();
        for part in &plan.parts {
            hash.update(&part.md5);
        }
        let e_tag = format!("{}-{}", hex(&hash.finalize()), plan.parts.len());

        // The ETag lives in the internal info file, where s3s-fs's own completion puts it.
        let info_path = root.join(format!("{sidecar}.internal.json"));
        let mut info: serde_json::Map<String, serde_json::Value> = std::fs::read(&info_path)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or_default();
        info.insert("e_tag".to_owned(), serde_json::Value::String(e_tag.clone()));
        let info_tmp = self.tmp_path();
        std::fs::write(&info_tmp, serde_json::to_vec(&info)?)?;
        std::fs::rename(&info_tmp, &info_path)?;
        Ok(e_tag)
    }
}

/// Copies `len` bytes at `from` in the file at `source` to `out` at `to` (on Linux with `copy_file_range`: the
/// kernel moves the bytes).
fn copy_range(source: &Path, from: u64, len: u64, out: &std::fs::File, to: u64) -> io::Result<()> {
    let mut input = std::fs::File::open(source)?;
    input.seek(SeekFrom::Start(from))?;
    let mut out = out;
    out.seek(SeekFrom::Start(to))?;
    let copied = io::copy(&mut io::Read::take(input, len), &mut out)?;
    if copied != len {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            format!("{} is shorter than expected", source.display()),
        ));
    }
    Ok(())
}

/// `s` as a relative path of plain components only, which s3s-fs resolves to the same place under its root.
fn plain_path(s: &str) -> Option<&Path> {
    let path = Path::new(s);
    let plain = !s.is_empty()
        && !s.contains('\\')
        && path.components().all(|c| matches!(c, Component::Normal(_)));
    plain.then_some(path)
}

fn decode_md5(hex: &str) -> Option<[u8; 16]> {
    let hex = hex.trim_matches('"').as_bytes();
    if hex.len() != 32 {
        return None;
    }
    let mut out = [0u8; 16];
    for (byte, pair) in out.iter_mut().zip(hex.chunks_exact(2)) {
        let digit = |c: u8| (c as char).to_digit(16);
        *byte = u8::try_from(digit(pair[0])? * 16 + digit(pair[1])?).ok()?;
    }
    Some(out)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Forwards S3 operations to s3s-fs unchanged.
macro_rules! delegate {
    ($($op:ident: $input:ident => $output:ident),* $(,)?) => {
        $(
            // Written as `#[async_trait]` expands a method: the attribute does not look inside macros.
            fn $op<'life0, 'async_trait>(
                &'life0 self,
                req: S3Request<$input>,
            ) -> Pin<Box<dyn Future<Output = S3Result<S3Response<$output>>> + Send + 'async_trait>>
            where
                'life0: 'async_trait,
                Self: 'async_trait,
            {
                self.inner.$op(req)
            }
        )*
    };
}

#[async_trait::async_trait]
impl S3 for Store {
    delegate! {
        create_bucket: CreateBucketInput => CreateBucketOutput,
        copy_object: CopyObjectInput => CopyObjectOutput,
        delete_bucket: DeleteBucketInput => DeleteBucketOutput,
        delete_object: DeleteObjectInput => DeleteObjectOutput,
        delete_objects: DeleteObjectsInput => DeleteObjectsOutput,
        get_bucket_location: GetBucketLocationInput => GetBucketLocationOutput,
        get_object: GetObjectInput => GetObjectOutput,
        head_bucket: HeadBucketInput => HeadBucketOutput,
        head_object: HeadObjectInput => HeadObjectOutput,
        list_buckets: ListBucketsInput => ListBucketsOutput,
        list_objects: ListObjectsInput => ListObjectsOutput,
        list_objects_v2: ListObjectsV2Input => ListObjectsV2Output,
        put_object: PutObjectInput => PutObjectOutput,
        create_multipart_upload: CreateMultipartUploadInput => CreateMultipartUploadOutput,
        // Lists s3s-fs's part files only: staged parts are not listed (nothing here uses ListParts).
        list_parts: ListPartsInput => ListPartsOutput,
    }

    async fn upload_part(
        &self,
        req: S3Request<UploadPartInput>,
    ) -> S3Result<S3Response<UploadPartOutput>> {
        let input = &req.input;
        let number = input.part_number;
        let upload_id = input.upload_id.clone();
        let with_checksum = input.checksum_algorithm.is_some()
            || input.checksum_crc32.is_some()
            || input.checksum_crc32c.is_some()
            || input.checksum_crc64nvme.is_some()
            || input.checksum_sha1.is_some()
            || input.checksum_sha256.is_some()
            || input.content_md5.is_some();
        let len = input.content_length.and_then(|len| u64::try_from(len).ok());
        let id = uuid::Uuid::parse_str(&upload_id).ok();
        let caller = req.credentials.as_ref().map(|c| c.access_key.as_str());
        let stageable = match id {
            Some(id)
                if (1..=10_000).contains(&number) && !with_checksum && input.body.is_some() =>
            {
                upload_owner(&self.root, &id).is_some_and(|owner| owner.as_deref() == caller)
            }
            _ => false,
        };
        let slot = match (stageable, id, len) {
            (true, Some(id), Some(len)) => self
                .staging_offset(&upload_id, number, len)
                .map(|offset| (id, offset, len)),
            _ => None,
        };
        let Some((id, offset, len)) = slot else {
            let answer = self.inner.upload_part(req).await;
            let md5 = answer
                .as_ref()
                .ok()
                .and_then(|res| res.output.e_tag.as_ref())
                .and_then(ETag::as_strong)
                .and_then(decode_md5);
            self.record_part(
                &upload_id,
                number,
                md5.map(|md5| PartRecord { md5, staged: None }),
            );
            return answer;
        };
        let Some(body) = req.input.body else {
            return Err(s3_error!(IncompleteBody));
        };
        match self.stage_part(&id, offset, len, body).await {
            Ok(md5) => {
                self.record_part(
                    &upload_id,
                    number,
                    Some(PartRecord {
                        md5,
                        staged: Some(len),
                    }),
                );
                // A part file left by an earlier upload of this part number is not this part.
                let stale = self.root.join(format!(".upload_id-{id}.part-{number}"));
                let _ = tokio::fs::remove_file(stale).await;
                Ok(S3Response::new(UploadPartOutput {
                    e_tag: Some(ETag::Strong(hex(&md5))),
                    ..Default::default()
                }))
            }
            Err(err) => {
                self.record_part(&upload_id, number, None);
                Err(err)
            }
        }
    }

    async fn upload_part_copy(
        &self,
        req: S3Request<UploadPartCopyInput>,
    ) -> S3Result<S3Response<UploadPartCopyOutput>> {
        let upload_id = req.input.upload_id.clone();
        let number = req.input.part_number;
        let answer = self.inner.upload_part_copy(req).await;
        let md5 = answer
            .as_ref()
            .ok()
            .and_then(|res| res.output.copy_part_result.as_ref())
            .and_then(|result| result.e_tag.as_ref())
            .and_then(|e_tag| decode_md5(e_tag.value()));
        self.record_part(
            &upload_id,
            number,
            md5.map(|md5| PartRecord { md5, staged: None }),
        );
        answer
    }

    async fn complete_multipart_upload(
        &self,
        req: S3Request<CompleteMultipartUploadInput>,
    ) -> S3Result<S3Response<CompleteMultipartUploadOutput>> {
        let input = &req.input;
        let upload_id = input.upload_id.clone();
        // A copy: the record is forgotten only once the upload is completed (a refused completion may be retried).
        let record = self.uploads().get(&upload_id).cloned().unwrap_or_default();
        if input.if_match.is_some() || input.if_none_match.is_some() {
            if record.parts.values().any(|p| p.staged.is_some()) {
                return Err(s3_error!(
                    NotImplemented,
                    "conditional completion is not supported by the embedded store"
                ));
            }
            return self
                .forget_if_done(&upload_id, self.inner.complete_multipart_upload(req).await);
        }
        let completion = Completion {
            root: self.root.clone(),
            tmp_counter: self.tmp_counter.clone(),
            bucket: input.bucket.clone(),
            key: input.key.clone(),
            upload_id: input.upload_id.clone(),
            caller: req.credentials.as_ref().map(|c| c.access_key.clone()),
            requested: input
                .multipart_upload
                .iter()
                .flat_map(|upload| upload.parts.iter().flatten())
                .map(|part| {
                    (
                        part.part_number,
                        part.e_tag.as_ref().map(|e| e.value().to_owned()),
                    )
                })
                .collect(),
            record,
        };
        let done = tokio::task::spawn_blocking(move || {
            let plan = completion.plan()?;
            let e_tag = completion.run(&plan).map_err(|err| {
                NotHere::Refused(s3_error!(
                    err,
                    InternalError,
                    "completing the multipart upload failed"
                ))
            })?;
            Ok((completion, e_tag))
        })
        .await
        .map_err(|err| s3_error!(err, InternalError, "completing the multipart upload failed"))?;
        match done {
            Ok((completion, e_tag)) => {
                self.uploads().remove(&upload_id);
                self.completed_here.fetch_add(1, Ordering::Relaxed);
                Ok(S3Response::new(CompleteMultipartUploadOutput {
                    bucket: Some(completion.bucket),
                    key: Some(completion.key),
                    e_tag: Some(ETag::Strong(e_tag)),
                    ..Default::default()
                }))
            }
            Err(NotHere::Inner) => {
                let answer = self.inner.complete_multipart_upload(req).await;
                self.forget_if_done(&upload_id, answer)
            }
            Err(NotHere::Refused(err)) => Err(err),
        }
    }

    async fn abort_multipart_upload(
        &self,
        req: S3Request<AbortMultipartUploadInput>,
    ) -> S3Result<S3Response<AbortMultipartUploadOutput>> {
        let upload_id = req.input.upload_id.clone();
        // s3s-fs removes every file named `.upload_id-<id>*`: the part files and the staging file.
        let answer = self.inner.abort_multipart_upload(req).await;
        self.forget_if_done(&upload_id, answer)
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use futures_util::TryStreamExt as _;
    use hyper::http::{Extensions, HeaderMap, Method, Uri};
    use s3s::auth::Credentials;

    use super::*;

    const PART: usize = 5 * 1024 * 1024;

    fn request<T>(input: T) -> S3Request<T> {
        S3Request {
            input,
            method: Method::POST,
            uri: Uri::from_static("/"),
            headers: HeaderMap::new(),
            extensions: Extensions::new(),
            credentials: Some(Credentials {
                access_key: "tester".to_owned(),
                secret_key: "secret".into(),
            }),
            region: None,
            service: None,
            trailing_headers: None,
        }
    }

    fn md5(bytes: &[u8]) -> [u8; 16] {
        let mut hash = Md5::new();
        hash.update(bytes);
        hash.finalize()
    }

    fn pattern(len: usize, seed: u8) -> Bytes {
        (0..len)
            .map(|i| (i % 251) as u8 ^ seed)
            .collect::<Vec<u8>>()
            .into()
    }

    struct Upload {
        store: Store,
        dir: tempfile::TempDir,
        upload_id: String,
        parts: Vec<Bytes>,
        e_tags: Vec<ETag>,
    }

    /// A store with bucket `b` and a multipart upload of `uploads/그림 1.png` with these parts stored, sent in the
    /// given order of part indexes; with `content_md5`, each part carries a Content-MD5 (so s3s-fs stores it).
    async fn upload_parts_with(parts: Vec<Bytes>, order: &[usize], content_md5: bool) -> Upload {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path()).unwrap();
        let bucket = CreateBucketInput::builder()
            .bucket("b".to_owned())
            .build()
            .unwrap();
        store.create_bucket(request(bucket)).await.unwrap();
        let create = CreateMultipartUploadInput::builder()
            .bucket("b".to_owned())
            .key("uploads/그림 1.png".to_owned())
            .content_type(Some("image/png".to_owned()))
            .content_disposition(Some("inline; filename*=UTF-8''x.png".to_owned()))
            .metadata(Some([("team".to_owned(), "upload".to_owned())].into()))
            .build()
            .unwrap();
        let created = store
            .create_multipart_upload(request(create))
            .await
            .unwrap();
        let upload_id = created.output.upload_id.unwrap();
        let mut e_tags = vec![ETag::Strong(String::new()); parts.len()];
        for &index in order {
            let part = &parts[index];
            let input = UploadPartInput::builder()
                .bucket("b".to_owned())
                .key("uploads/그림 1.png".to_owned())
                .upload_id(upload_id.clone())
                .part_number(i32::try_from(index + 1).unwrap())
                .content_length(Some(i64::try_from(part.len()).unwrap()))
                .content_md5(
                    content_md5
                        .then(|| base64::engine::general_purpose::STANDARD.encode(md5(part))),
                )
                .body(Some(StreamingBlob::from(s3s::Body::from(part.clone()))))
                .build()
                .unwrap();
            let stored = store.upload_part(request(input)).await.unwrap();
            e_tags[index] = stored.output.e_tag.unwrap();
        }
        Upload {
            store,
            dir,
            upload_id,
            parts,
            e_tags,
        }
    }

    async fn upload_parts(parts: Vec<Bytes>) -> Upload {
        let order: Vec<usize> = (0..parts.len()).collect();
        upload_parts_with(parts, &order, false).await
    }

    fn expected_e_tag(parts: &[Bytes]) -> String {
        let mut hash = Md5::new();
        for part in parts {
            hash.update(&md5(part));
        }
        format!("{}-{}", hex(&hash.finalize()), parts.len())
    }

    /// The object's bytes, Content-Type and ETag.
    async fn stored(store: &Store) -> (Vec<u8>, Option<String>, Option<ETag>) {
        let get = GetObjectInput::builder()
            .bucket("b".to_owned())
            .key("uploads/그림 1.png".to_owned())
            .build()
            .unwrap();
        let got = store.get_object(request(get)).await.unwrap().output;
        let body: Vec<Bytes> = got.body.unwrap().try_collect().await.unwrap();
        (body.concat(), got.content_type, got.e_tag)
    }

    async fn complete(
        upload: &Upload,
        e_tags: Vec<ETag>,
    ) -> S3Result<S3Response<CompleteMultipartUploadOutput>> {
        let parts = e_tags
            .into_iter()
            .enumerate()
            .map(|(index, e_tag)| CompletedPart {
                e_tag: Some(e_tag),
                part_number: Some(i32::try_from(index + 1).unwrap()),
                ..Default::default()
            })
            .collect();
        let input = CompleteMultipartUploadInput::builder()
            .bucket("b".to_owned())
            .key("uploads/그림 1.png".to_owned())
            .upload_id(upload.upload_id.clone())
            .multipart_upload(Some(CompletedMultipartUpload { parts: Some(parts) }))
            .build()
            .unwrap();
        upload.store.complete_multipart_upload(request(input)).await
    }

    fn leftovers(dir: &Path) -> Vec<String> {
        std::fs::read_dir(dir)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|name| name.starts_with(".upload") || name.starts_with(".tmp."))
            .collect()
    }

    #[tokio::test]
    async fn completes_without_s3s_fs_and_keeps_bytes_attributes_and_etag() {
        let upload = upload_parts(vec![pattern(PART, 1), pattern(PART, 2), pattern(3, 3)]).await;

        let done = complete(&upload, upload.e_tags.clone()).await.unwrap();

        assert_eq!(upload.store.completed_here.load(Ordering::Relaxed), 1);
        let expected = expected_e_tag(&upload.parts);
        assert!(expected.ends_with("-3"));
        assert_eq!(done.output.e_tag, Some(ETag::Strong(expected.clone())));

        let get = GetObjectInput::builder()
            .bucket("b".to_owned())
            .key("uploads/그림 1.png".to_owned())
            .build()
            .unwrap();
        let got = upload.store.get_object(request(get)).await.unwrap().output;
        assert_eq!(got.content_type.as_deref(), Some("image/png"));
        assert_eq!(
            got.content_disposition.as_deref(),
            Some("inline; filename*=UTF-8''x.png")
        );
        assert_eq!(
            got.metadata.unwrap().get("team").map(String::as_str),
            Some("upload")
        );
        assert_eq!(got.e_tag, Some(ETag::Strong(expected)));
        let body: Vec<Bytes> = got.body.unwrap().try_collect().await.unwrap();
        assert_eq!(body.concat(), upload.parts.concat());
        assert_eq!(leftovers(upload.dir.path()), Vec::<String>::new());
        assert!(upload.store.uploads().is_empty());
    }

    #[tokio::test]
    async fn an_etag_that_is_not_the_stored_part_is_invalid_part() {
        let upload = upload_parts(vec![pattern(PART, 1), pattern(10, 2)]).await;
        let mut e_tags = upload.e_tags.clone();
        e_tags[1] = ETag::Strong(hex(&md5(b"something else")));

        let err = complete(&upload, e_tags).await.unwrap_err();

        assert_eq!(*err.code(), s3s::S3ErrorCode::InvalidPart);
        let head = HeadObjectInput::builder()
            .bucket("b".to_owned())
            .key("uploads/그림 1.png".to_owned())
            .build()
            .unwrap();
        assert!(upload.store.head_object(request(head)).await.is_err());

        // The refusal loses nothing: completing with the right ETags still works.
        complete(&upload, upload.e_tags.clone()).await.unwrap();
        assert_eq!(stored(&upload.store).await.0, upload.parts.concat());
    }

    #[tokio::test]
    async fn uploads_beyond_the_recorded_limit_go_to_s3s_fs_and_recorded_ones_are_kept() {
        let upload = upload_parts(vec![pattern(PART, 1), pattern(5, 2)]).await;
        for n in 1..MAX_RECORDED_UPLOADS {
            upload
                .store
                .uploads()
                .insert(format!("other-{n}"), UploadRecord::default());
        }
        // A new upload now: its parts go to s3s-fs's own files.
        let create = CreateMultipartUploadInput::builder()
            .bucket("b".to_owned())
            .key("late.bin".to_owned())
            .build()
            .unwrap();
        let late = upload
            .store
            .create_multipart_upload(request(create))
            .await
            .unwrap();
        let late_id = late.output.upload_id.unwrap();
        let part = UploadPartInput::builder()
            .bucket("b".to_owned())
            .key("late.bin".to_owned())
            .upload_id(late_id.clone())
            .part_number(1)
            .content_length(Some(3))
            .body(Some(StreamingBlob::from(s3s::Body::from(
                Bytes::from_static(b"abc"),
            ))))
            .build()
            .unwrap();
        upload.store.upload_part(request(part)).await.unwrap();
        assert!(!upload.store.uploads().contains_key(&late_id));
        assert!(
            upload
                .dir
                .path()
                .join(format!(".upload_id-{late_id}.part-1"))
                .exists()
        );

        // The upload recorded before the limit still completes from its staged parts.
        complete(&upload, upload.e_tags.clone()).await.unwrap();
        assert_eq!(upload.store.completed_here.load(Ordering::Relaxed), 1);
        assert_eq!(stored(&upload.store).await.0, upload.parts.concat());
    }

    #[tokio::test]
    async fn parts_out_of_layout_are_copied_into_place() {
        // Part 2 arrives before part 1 (so it has no place yet and goes to its own file).
        let upload = upload_parts_with(vec![pattern(PART, 1), pattern(9, 2)], &[1, 0], false).await;
        complete(&upload, upload.e_tags.clone()).await.unwrap();
        let (bytes, content_type, e_tag) = stored(&upload.store).await;
        assert_eq!(bytes, upload.parts.concat());
        assert_eq!(content_type.as_deref(), Some("image/png"));
        assert_eq!(e_tag, Some(ETag::Strong(expected_e_tag(&upload.parts))));
        assert_eq!(upload.store.completed_here.load(Ordering::Relaxed), 1);
        assert_eq!(leftovers(upload.dir.path()), Vec::<String>::new());

        // Part 2 smaller than part 1 but not the last: the parts are concatenated instead.
        let parts = vec![pattern(PART + 5, 1), pattern(PART, 2), pattern(3, 3)];
        let upload = upload_parts(parts).await;
        complete(&upload, upload.e_tags.clone()).await.unwrap();
        let (bytes, _, e_tag) = stored(&upload.store).await;
        assert_eq!(bytes, upload.parts.concat());
        assert_eq!(e_tag, Some(ETag::Strong(expected_e_tag(&upload.parts))));
        assert_eq!(leftovers(upload.dir.path()), Vec::<String>::new());
    }

    #[tokio::test]
    async fn what_it_cannot_vouch_for_is_refused_or_left_to_s3s_fs() {
        // A part smaller than 5 MiB before the last: EntityTooSmall, as S3.
        let upload = upload_parts(vec![pattern(10, 1), pattern(10, 2)]).await;
        let err = complete(&upload, upload.e_tags.clone()).await.unwrap_err();
        assert_eq!(*err.code(), s3s::S3ErrorCode::EntityTooSmall);

        // Staged parts the store has no record of (as after a restart): InvalidPart, not a wrong object.
        let upload = upload_parts(vec![pattern(PART, 1), pattern(7, 2)]).await;
        upload.store.uploads().remove(&upload.upload_id);
        let err = complete(&upload, upload.e_tags.clone()).await.unwrap_err();
        assert_eq!(*err.code(), s3s::S3ErrorCode::InvalidPart);

        // Parts with a Content-MD5 go to s3s-fs; unrecorded, s3s-fs completes them itself, correctly.
        let upload = upload_parts_with(vec![pattern(PART, 1), pattern(7, 2)], &[0, 1], true).await;
        upload.store.uploads().remove(&upload.upload_id);
        let done = complete(&upload, upload.e_tags.clone()).await.unwrap();
        assert_eq!(upload.store.completed_here.load(Ordering::Relaxed), 0);
        // s3s-fs answers through its keep-alive future.
        let output = match done.output.future {
            Some(future) => future.await.unwrap(),
            None => done.output,
        };
        assert_eq!(
            output.e_tag,
            Some(ETag::Strong(expected_e_tag(&upload.parts)))
        );
        assert_eq!(stored(&upload.store).await.0, upload.parts.concat());
    }

    #[tokio::test]
    async fn abort_forgets_the_recorded_parts() {
        let upload = upload_parts(vec![pattern(PART, 1)]).await;
        assert_eq!(upload.store.uploads().len(), 1);
        let abort = AbortMultipartUploadInput::builder()
            .bucket("b".to_owned())
            .key("uploads/그림 1.png".to_owned())
            .upload_id(upload.upload_id.clone())
            .build()
            .unwrap();
        upload
            .store
            .abort_multipart_upload(request(abort))
            .await
            .unwrap();
        assert!(upload.store.uploads().is_empty());
        assert_eq!(leftovers(upload.dir.path()), Vec::<String>::new());
    }

    #[test]
    fn only_plain_relative_paths_take_the_fast_path() {
        assert!(plain_path("uploads/0190/사진.png").is_some());
        for odd in ["", "/etc/passwd", "../x", "a/../b", "./a", "a\\b"] {
            assert!(plain_path(odd).is_none(), "{odd:?}");
        }
        assert_eq!(
            decode_md5("\"00112233445566778899aabbccddeeff\""),
            Some([
                0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd,
                0xee, 0xff
            ])
        );
        assert_eq!(decode_md5("0011"), None);
        assert_eq!(decode_md5("zz112233445566778899aabbccddeeff"), None);
    }
}
