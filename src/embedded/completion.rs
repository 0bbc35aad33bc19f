//! CompleteMultipartUpload from staged parts: checks the parts, puts the object in place with the side files
//! s3s-fs keeps beside it (see [`super::multipart`]).

use std::io::{self, Seek as _, SeekFrom};
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use s3s::crypto::{Checksum as _, Md5};
use s3s::{S3Error, s3_error};

use super::layout::side_file_stem;
use super::multipart::{MIN_PART_SIZE, upload_owner};
use super::records::{UploadRecord, record_path};

/// What a completion needs, owned, so that the file work runs on the blocking pool.
pub(super) struct Completion {
    pub(super) root: Arc<Path>,
    pub(super) tmp_counter: Arc<AtomicU64>,
    pub(super) bucket: String,
    pub(super) key: String,
    pub(super) upload_id: String,
    pub(super) caller: Option<String>,
    /// The request's parts: number and ETag, in the request's order.
    pub(super) requested: Vec<(Option<i32>, Option<String>)>,
    pub(super) record: UploadRecord,
}

/// Why a completion is not done here.
pub(super) enum NotHere {
    /// s3s-fs can do it (none of its parts are staged).
    Inner,
    /// A refusal, as S3 would answer it.
    Refused(S3Error),
}

/// Where each part's bytes are.
pub(super) struct Plan {
    upload_id: uuid::Uuid,
    object: PathBuf,
    staging: PathBuf,
    parts: Vec<PlannedPart>,
    /// The own files of parts uploaded but not listed, removed with the upload.
    unlisted: Vec<PathBuf>,
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
    pub(super) fn plan(&self) -> Result<Plan, NotHere> {
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
        // In place only when the parts are 1..N, each at its place; gaps in the numbers are concatenated.
        let mut in_place = stride.is_some();
        let mut previous = 0;
        for (index, (number, e_tag)) in self.requested.iter().enumerate() {
            let last = index + 1 == self.requested.len();
            let Some(number) = *number else {
                return Err(inner_or(s3_error!(InvalidRequest, "missing part number")));
            };
            // S3's rule: strictly ascending, gaps allowed (s3s-fs refuses any other order too).
            if number <= previous {
                return Err(NotHere::Refused(s3_error!(InvalidPartOrder)));
            }
            previous = number;
            if usize::try_from(number).ok() != Some(index + 1) {
                in_place = false;
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
            // Where UploadPart staged it: `(number - 1) x stride`.
            let offset = stride.and_then(|s| u64::try_from(number - 1).ok()?.checked_mul(s));
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
        // Parts uploaded but not listed are not in the object; their own files go with the upload.
        let unlisted = self
            .record
            .parts
            .iter()
            .filter(|(number, part)| {
                part.staged.is_none() && !self.requested.iter().any(|(n, _)| n == &Some(**number))
            })
            .map(|(number, _)| root.join(format!(".upload_id-{upload_id}.part-{number}")))
            .collect();
        // Staged parts are bytes of the staging file: one that is gone or cut short (a record read after a
        // restart, files removed by hand) must not complete into zeros.
        let staging = root.join(format!(".upload_id-{upload_id}.staging"));
        let staged_end = parts
            .iter()
            .filter_map(|part| part.staged_at.map(|at| at.saturating_add(part.len)))
            .max();
        if let Some(end) = staged_end
            && std::fs::metadata(&staging).map_or(0, |meta| meta.len()) < end
        {
            return Err(NotHere::Refused(s3_error!(
                InvalidPart,
                "the staged parts were not found"
            )));
        }
        Ok(Plan {
            upload_id,
            unlisted,
            object: root.join(bucket).join(key),
            staging,
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
    pub(super) fn run(&self, plan: &Plan) -> io::Result<String> {
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

        let sidecar = side_file_stem(&self.bucket, &self.key);
        // The upload's attributes (Content-Type, Content-Disposition, metadata) become the object's.
        let staged = root.join(format!("{sidecar}.upload-{}.metadata.json", plan.upload_id));
        let attributes = root.join(format!("{sidecar}.metadata.json"));
        match std::fs::rename(&staged, &attributes) {
            Err(err) if err.kind() != io::ErrorKind::NotFound => return Err(err),
            _ => {}
        }
        let _ = std::fs::remove_file(root.join(format!(".upload-{}.json", plan.upload_id)));
        let _ = std::fs::remove_file(&plan.staging);
        let _ = std::fs::remove_file(record_path(root, &plan.upload_id));
        for file in plan
            .parts
            .iter()
            .map(|part| &part.file)
            .chain(&plan.unlisted)
        {
            let _ = std::fs::remove_file(file);
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
pub(super) fn plain_path(s: &str) -> Option<&Path> {
    let path = Path::new(s);
    let plain = !s.is_empty()
        && !s.contains('\\')
        && path.components().all(|c| matches!(c, Component::Normal(_)));
    plain.then_some(path)
}

pub(super) fn decode_md5(hex: &str) -> Option<[u8; 16]> {
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

pub(super) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
