//! What the store knows of each multipart upload's parts, kept in memory and in a small file per upload, so that
//! an upload begun before a restart can be completed after it (a resumable upload may pause for a day).
//!
//! The record is what completion needs that s3s-fs does not keep: part 1's size (where staged parts are), and
//! each part's MD5 and staged length. Who created the upload (`.upload-<id>.json`) and the future object's
//! attributes (Content-Type, Content-Disposition, metadata: `….upload-<id>.metadata.json`) are s3s-fs's own
//! files, written at CreateMultipartUpload, and outlive the process already. The record also names the bucket and
//! key, for whoever looks inside the folder.
//!
//! The file, `.upload_id-<id>.record.json`, is written after every change and before UploadPart answers (a
//! temporary file renamed over it, so a reader finds the old or the new record, never half of one), read when
//! the store opens, and removed with the upload by completion and AbortMultipartUpload.
//! Without `fsync`: a restart of the process keeps it, a power cut may not (the upload is then refused, not
//! completed wrong: a staged part without a record is `InvalidPart`).

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::MutexGuard;
use std::sync::atomic::Ordering;

use s3s::{S3Result, s3_error};
use serde::{Deserialize, Serialize};

use super::completion::{decode_md5, hex};
use super::multipart::upload_owner;
use super::store::CheckedFs;

/// Uploads whose parts are recorded at most (uploads that are never completed or aborted must not grow memory
/// without bound); a new upload beyond it is left to s3s-fs from start to end.
pub(super) const MAX_RECORDED_UPLOADS: usize = 10_000;

/// The record file's format; a file of another format is ignored (its upload's staged parts are then refused).
const FORMAT: u32 = 1;

/// What the store knows of one multipart upload's parts.
#[derive(Clone, Default)]
pub(super) struct UploadRecord {
    pub(super) bucket: String,
    pub(super) key: String,
    /// Part 1's size: part `n` is staged at `(n - 1) * stride`.
    pub(super) stride: Option<u64>,
    pub(super) parts: HashMap<i32, PartRecord>,
}

#[derive(Clone, Copy)]
pub(super) struct PartRecord {
    pub(super) md5: [u8; 16],
    /// `Some(length)` when the part is in the staging file; `None` when it is in s3s-fs's own part file.
    pub(super) staged: Option<u64>,
}

/// The upload a part belongs to, as UploadPart names it.
pub(super) struct UploadOf<'a> {
    pub(super) upload_id: &'a str,
    pub(super) bucket: &'a str,
    pub(super) key: &'a str,
}

/// The record file, as written.
#[derive(Serialize, Deserialize)]
struct RecordFile {
    format: u32,
    upload_id: String,
    bucket: String,
    key: String,
    stride: Option<u64>,
    parts: Vec<PartFile>,
}

#[derive(Serialize, Deserialize)]
struct PartFile {
    n: i32,
    md5: String,
    staged: Option<u64>,
}

/// `.upload_id-<id>.record.json` (s3s-fs's abort removes it with the part files; its ListParts skips it).
pub(super) fn record_path(root: &Path, upload_id: &uuid::Uuid) -> PathBuf {
    root.join(format!(".upload_id-{upload_id}.record.json"))
}

impl CheckedFs {
    pub(super) fn uploads(&self) -> MutexGuard<'_, HashMap<String, UploadRecord>> {
        self.uploads
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Runs `f` on the upload's record, made if new; `None` when a new upload cannot be recorded (the store
    /// then leaves that upload to s3s-fs from start to end, and the uploads already recorded are kept).
    pub(super) fn with_record<T>(
        &self,
        upload: &UploadOf<'_>,
        f: impl FnOnce(&mut UploadRecord) -> T,
    ) -> Option<T> {
        let mut uploads = self.uploads();
        if uploads.len() >= MAX_RECORDED_UPLOADS && !uploads.contains_key(upload.upload_id) {
            return None;
        }
        let record = uploads
            .entry(upload.upload_id.to_owned())
            .or_insert_with(|| UploadRecord {
                bucket: upload.bucket.to_owned(),
                key: upload.key.to_owned(),
                ..UploadRecord::default()
            });
        Some(f(record))
    }

    /// Records part `number` (or that it is gone) and writes the record's file.
    pub(super) async fn record_part(
        &self,
        upload: &UploadOf<'_>,
        number: i32,
        part: Option<PartRecord>,
    ) -> S3Result<()> {
        let recorded = self.with_record(upload, |record| match part {
            Some(part) => record.parts.insert(number, part),
            None => record.parts.remove(&number),
        });
        if recorded.is_none() {
            return Ok(());
        }
        self.persist(upload.upload_id).await
    }

    /// Forgets an upload's record once it is completed or aborted, and removes its file.
    pub(super) async fn forget(&self, upload_id: &str) {
        self.uploads().remove(upload_id);
        if let Ok(id) = uuid::Uuid::parse_str(upload_id) {
            let _writing = self.record_writes.lock().await;
            let _ = tokio::fs::remove_file(record_path(&self.root, &id)).await;
        }
    }

    /// Writes the upload's record to its file, or removes the file when the upload is gone (aborted, completed, or
    /// never created: no `.upload-<id>.json`).
    async fn persist(&self, upload_id: &str) -> S3Result<()> {
        let Ok(id) = uuid::Uuid::parse_str(upload_id) else {
            return Ok(());
        };
        // One write at a time, each of the record as it is once its turn comes: the last file written is the
        // newest record, whatever order the writers arrive in.
        let _writing = self.record_writes.lock().await;
        let snapshot = self.uploads().get(upload_id).map(|record| RecordFile {
            format: FORMAT,
            upload_id: upload_id.to_owned(),
            bucket: record.bucket.clone(),
            key: record.key.clone(),
            stride: record.stride,
            parts: {
                let mut parts: Vec<PartFile> = record
                    .parts
                    .iter()
                    .map(|(n, part)| PartFile {
                        n: *n,
                        md5: hex(&part.md5),
                        staged: part.staged,
                    })
                    .collect();
                parts.sort_by_key(|part| part.n);
                parts
            },
        });
        let root = self.root.clone();
        let n = self.tmp_counter.fetch_add(1, Ordering::Relaxed);
        // s3s-fs deletes files named like this when it opens the folder: nothing is left after a crash.
        let tmp = root.join(format!(".tmp.record-{n}.internal.part"));
        tokio::task::spawn_blocking(move || {
            let path = record_path(&root, &id);
            match snapshot {
                Some(record) if upload_owner(&root, &id).is_some() => {
                    let written = serde_json::to_vec(&record)
                        .map_err(io::Error::other)
                        .and_then(|json| std::fs::write(&tmp, json))
                        .and_then(|()| std::fs::rename(&tmp, &path));
                    if written.is_err() {
                        let _ = std::fs::remove_file(&tmp);
                    }
                    written
                }
                _ => match std::fs::remove_file(&path) {
                    Err(err) if err.kind() != io::ErrorKind::NotFound => Err(err),
                    _ => Ok(()),
                },
            }
        })
        .await
        .map_err(|err| s3_error!(err, InternalError))?
        .map_err(|err| s3_error!(err, InternalError, "recording the upload's parts failed"))
    }
}

/// The records of the uploads in `root` (those s3s-fs still has: `.upload-<id>.json`), for a store opening it.
/// A record that cannot be read is skipped and logged: its upload's staged parts are then refused.
pub(super) fn load(root: &Path) -> io::Result<HashMap<String, UploadRecord>> {
    let mut records = HashMap::new();
    for entry in std::fs::read_dir(root)? {
        let Ok(entry) = entry else { continue };
        let name = entry.file_name();
        let Some(id) = name
            .to_str()
            .and_then(|name| name.strip_prefix(".upload_id-"))
            .and_then(|rest| rest.strip_suffix(".record.json"))
            .and_then(|id| uuid::Uuid::parse_str(id).ok())
        else {
            continue;
        };
        if upload_owner(root, &id).is_none() || records.len() >= MAX_RECORDED_UPLOADS {
            continue;
        }
        match read_record(&entry.path(), &id) {
            Ok(record) => {
                records.insert(id.to_string(), record);
            }
            Err(err) => tracing::warn!(
                path = %entry.path().display(),
                error = %err,
                "embedded store: a multipart upload's record could not be read; its staged parts will be refused"
            ),
        }
    }
    Ok(records)
}

fn read_record(path: &Path, id: &uuid::Uuid) -> io::Result<UploadRecord> {
    let file: RecordFile =
        serde_json::from_slice(&std::fs::read(path)?).map_err(io::Error::other)?;
    let invalid = |what: &str| io::Error::new(io::ErrorKind::InvalidData, what.to_owned());
    if file.format != FORMAT || file.upload_id != id.to_string() {
        return Err(invalid("another format or another upload"));
    }
    let mut parts = HashMap::with_capacity(file.parts.len());
    for part in file.parts {
        let md5 =
            decode_md5(&part.md5).ok_or_else(|| invalid("a part's MD5 is not 32 hex digits"))?;
        parts.insert(
            part.n,
            PartRecord {
                md5,
                staged: part.staged,
            },
        );
    }
    Ok(UploadRecord {
        bucket: file.bucket,
        key: file.key,
        stride: file.stride,
        parts,
    })
}
