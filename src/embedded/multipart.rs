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
//!   length and renames it into place: no byte is read back. The listed part numbers must be strictly
//!   ascending, with gaps allowed (S3's rule). If the parts do not line up (gaps in the numbers, sizes that
//!   differ from part 1's), it concatenates the listed parts with the kernel's `copy_file_range` instead.
//!
//! The files it leaves are exactly those s3s-fs would leave (the object, its metadata and its internal info, at
//! the paths of s3s-fs =0.14.1, the pinned version), so every other operation stays s3s-fs's. An upload it has no
//! record of (one begun while [`super::records::MAX_RECORDED_UPLOADS`] others were open) is left to s3s-fs
//! from start to end. The records are kept in files too, so uploads outlive the process ([`super::records`]);
//! the start-up sweep removes those left alone longer than the keep-age ([`super::folder`]).

use std::io;
use std::os::unix::fs::FileExt as _;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use bytes::Bytes;
use futures_util::StreamExt as _;
use s3s::crypto::{Checksum as _, Md5};
use s3s::dto::*;
use s3s::{S3, S3Request, S3Response, S3Result, s3_error};

use super::completion::{Completion, NotHere, decode_md5, hex};
use super::records::{PartRecord, UploadOf};
use super::store::CheckedFs;

/// S3's minimum size of every part but the last.
pub(super) const MIN_PART_SIZE: u64 = 5 * 1024 * 1024;

/// Bytes of a part gathered before they are written (one blocking-pool trip per batch).
const WRITE_BATCH: u64 = 1024 * 1024;

impl CheckedFs {
    /// Forgets an upload's record once s3s-fs has completed or aborted it.
    async fn forget_if_done<T>(&self, upload_id: &str, answer: S3Result<T>) -> S3Result<T> {
        if answer.is_ok() {
            self.forget(upload_id).await;
        }
        answer
    }

    /// Where part `number` of `len` bytes goes in the staging file, if it fits the upload's layout.
    fn staging_offset(&self, upload: &UploadOf<'_>, number: i32, len: u64) -> Option<u64> {
        self.with_record(upload, |upload| match (number, upload.stride) {
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

    pub(super) async fn upload_part_in_place(
        &self,
        req: S3Request<UploadPartInput>,
    ) -> S3Result<S3Response<UploadPartOutput>> {
        let input = &req.input;
        let number = input.part_number;
        let (upload_id, bucket, key) = (
            input.upload_id.clone(),
            input.bucket.clone(),
            input.key.clone(),
        );
        let upload = UploadOf {
            upload_id: &upload_id,
            bucket: &bucket,
            key: &key,
        };
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
                .staging_offset(&upload, number, len)
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
            let recorded = self
                .record_part(
                    &upload,
                    number,
                    md5.map(|md5| PartRecord { md5, staged: None }),
                )
                .await;
            // A part whose record is not on disk could not be completed after a restart.
            return answer.and_then(|answer| recorded.map(|()| answer));
        };
        let Some(body) = req.input.body else {
            return Err(s3_error!(IncompleteBody));
        };
        match self.stage_part(&id, offset, len, body).await {
            Ok(md5) => {
                self.record_part(
                    &upload,
                    number,
                    Some(PartRecord {
                        md5,
                        staged: Some(len),
                    }),
                )
                .await?;
                // A part file left by an earlier upload of this part number is not this part.
                let stale = self.root.join(format!(".upload_id-{id}.part-{number}"));
                let _ = tokio::fs::remove_file(stale).await;
                Ok(S3Response::new(UploadPartOutput {
                    e_tag: Some(ETag::Strong(hex(&md5))),
                    ..Default::default()
                }))
            }
            Err(err) => {
                // The staged bytes are no longer the part recorded before (if any); the part's own error is
                // the answer.
                let _ = self.record_part(&upload, number, None).await;
                Err(err)
            }
        }
    }

    pub(super) async fn upload_part_copy_recorded(
        &self,
        req: S3Request<UploadPartCopyInput>,
    ) -> S3Result<S3Response<UploadPartCopyOutput>> {
        let (upload_id, bucket, key) = (
            req.input.upload_id.clone(),
            req.input.bucket.clone(),
            req.input.key.clone(),
        );
        let upload = UploadOf {
            upload_id: &upload_id,
            bucket: &bucket,
            key: &key,
        };
        let number = req.input.part_number;
        let answer = self.inner.upload_part_copy(req).await;
        let md5 = answer
            .as_ref()
            .ok()
            .and_then(|res| res.output.copy_part_result.as_ref())
            .and_then(|result| result.e_tag.as_ref())
            .and_then(|e_tag| decode_md5(e_tag.value()));
        let recorded = self
            .record_part(
                &upload,
                number,
                md5.map(|md5| PartRecord { md5, staged: None }),
            )
            .await;
        answer.and_then(|answer| recorded.map(|()| answer))
    }

    pub(super) async fn complete_in_place(
        &self,
        req: S3Request<CompleteMultipartUploadInput>,
    ) -> S3Result<S3Response<CompleteMultipartUploadOutput>> {
        let input = &req.input;
        let upload_id = input.upload_id.clone();
        // Held until the object and its side files are in place, whichever path completes it.
        let _writing = self.key_locks.lock(&input.bucket, &input.key).await;
        // A copy: the record is forgotten only once the upload is completed (a refused completion may be retried).
        let record = self.uploads().get(&upload_id).cloned().unwrap_or_default();
        self.check_conditions(
            &input.bucket,
            &input.key,
            input.if_match.as_ref(),
            input.if_none_match.as_ref(),
        )
        .await?;
        self.check_room_for(&input.bucket, &input.key).await?;
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
                self.forget(&upload_id).await;
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
                self.forget_if_done(&upload_id, answer).await
            }
            Err(NotHere::Refused(err)) => Err(err),
        }
    }

    pub(super) async fn abort_recorded(
        &self,
        req: S3Request<AbortMultipartUploadInput>,
    ) -> S3Result<S3Response<AbortMultipartUploadOutput>> {
        let upload_id = req.input.upload_id.clone();
        // s3s-fs removes every file named `.upload_id-<id>*`: the part files and the staging file.
        let answer = self.inner.abort_multipart_upload(req).await;
        self.forget_if_done(&upload_id, answer).await
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
pub(super) fn upload_owner(root: &Path, upload_id: &uuid::Uuid) -> Option<Option<String>> {
    let info = std::fs::read(root.join(format!(".upload-{upload_id}.json"))).ok()?;
    serde_json::from_slice(&info).ok()
}
