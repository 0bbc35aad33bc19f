//! The data folder: one running store at a time, and a sweep of what earlier runs left.
//!
//! A multipart upload outlives the process that began it (its parts' record is a file, [`super::records`]), so
//! a resumable upload paused across a restart can still be completed. One left alone for longer than the
//! keep-age (`EmbeddedConfig::upload_keep`; its last activity is its files' newest modification time) is
//! abandoned: on start the store removes its record, parts, staging file (the staged parts' bytes) and
//! attributes, as it removes at once the files of an upload s3s-fs no longer knows (no readable
//! `.upload-<id>.json`: a completion or an abort cut short). Side files whose object is gone (deletes before
//! they removed them) go as well, and empty folders inside buckets; never an object or the side files of one.
//!
//! That is safe only while no other store uses the folder, hence a lock (`flock` through `File::try_lock`) on
//! `.embedded-store.lock`, held for as long as the store runs: a second store on the folder fails to start.

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::{self, Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::keys;
use super::layout;
use super::multipart::upload_owner;

/// The lock file's name in the data folder.
const LOCK_FILE: &str = ".embedded-store.lock";

/// The folder's lock, released when dropped (or when the process ends, however it ends).
#[derive(Debug)]
pub(super) struct FolderLock {
    _file: File,
}

/// Takes the folder's lock, or says which process holds it.
pub(super) fn lock(folder: &Path) -> anyhow::Result<FolderLock> {
    let path = folder.join(LOCK_FILE);
    let mut file = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(&path)
        .map_err(|err| anyhow::anyhow!("open the lock file {}: {err}", path.display()))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(fs::TryLockError::WouldBlock) => {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            let holder = holder.trim();
            let process = if holder.is_empty() {
                String::new()
            } else {
                format!(" (process {holder})")
            };
            anyhow::bail!(
                "the embedded store's folder {} is in use by another running server{process}: stop it, \
                 or set EMBEDDED_S3_DATA_DIR to another folder",
                folder.display()
            );
        }
        Err(fs::TryLockError::Error(err)) => {
            anyhow::bail!("lock {}: {err}", path.display());
        }
    }
    // Who holds it, for the message above; the lock, not this text, is what counts.
    let _ = file
        .set_len(0)
        .and_then(|()| file.write_all(format!("{}\n", std::process::id()).as_bytes()));
    Ok(FolderLock { _file: file })
}

/// What a sweep removed.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct Swept {
    /// Multipart uploads whose files were removed.
    pub(super) uploads: usize,
    /// Multipart uploads kept: active within the keep-age.
    pub(super) kept_uploads: usize,
    /// Their files: records, parts, staging files, attributes.
    pub(super) upload_files: usize,
    /// Side files of objects that no longer exist.
    pub(super) orphaned_side_files: usize,
    /// Empty folders inside buckets.
    pub(super) empty_folders: usize,
    /// Bytes of the files removed.
    pub(super) bytes: u64,
    /// Leftovers that could not be removed (the first error is logged).
    pub(super) failures: usize,
}

/// What a file in the folder's root is, by its name.
#[derive(Debug, PartialEq, Eq)]
enum Kind {
    /// A file of a multipart upload.
    Upload(uuid::Uuid),
    /// A side file of the object at `key` in `bucket`.
    ObjectSideFile { bucket: String, key: String },
    /// Anything else: left alone.
    Other,
}

fn classify(name: &str) -> Kind {
    let upload = |id: &str| uuid::Uuid::parse_str(id).map_or(Kind::Other, Kind::Upload);
    if let Some(id) = name
        .strip_prefix(".upload-")
        .and_then(|rest| rest.strip_suffix(".json"))
    {
        return upload(id);
    }
    if let Some((id, _)) = name
        .strip_prefix(".upload_id-")
        .and_then(|rest| rest.split_once('.'))
    {
        return upload(id);
    }
    // Base64 without padding has no `.`, so the name splits unambiguously.
    let Some((bucket, rest)) = name
        .strip_prefix(".bucket-")
        .and_then(|rest| rest.split_once(".object-"))
    else {
        return Kind::Other;
    };
    let Some((key, suffix)) = rest.split_once('.') else {
        return Kind::Other;
    };
    let decode = |b64: &str| {
        URL_SAFE_NO_PAD
            .decode(b64)
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok())
    };
    let (Some(bucket), Some(key)) = (decode(bucket), decode(key)) else {
        return Kind::Other;
    };
    match suffix {
        "metadata.json" | "internal.json" => Kind::ObjectSideFile { bucket, key },
        _ => match suffix
            .strip_prefix("upload-")
            .and_then(|rest| rest.strip_suffix(".metadata.json"))
        {
            Some(id) => upload(id),
            None => Kind::Other,
        },
    }
}

/// One multipart upload's files found by a sweep.
#[derive(Default)]
struct UploadFiles {
    files: Vec<PathBuf>,
    /// The newest modification time of its files.
    last_activity: Option<SystemTime>,
    /// s3s-fs still knows the upload (a readable `.upload-<id>.json`): it can still be completed.
    known: bool,
}

/// Removes the files of multipart uploads idle for longer than `keep` at `now` (or no longer known to s3s-fs),
/// the side files of objects that no longer exist and empty folders inside buckets. Call it only with the
/// folder's lock held, before the store serves.
pub(super) fn sweep(root: &Path, keep: Duration, now: SystemTime) -> io::Result<Swept> {
    let mut swept = Swept::default();
    let mut uploads: HashMap<uuid::Uuid, UploadFiles> = HashMap::new();
    let mut first_error: Option<(PathBuf, io::Error)> = None;
    let mut buckets = Vec::new();
    for entry in fs::read_dir(root)? {
        let Ok(entry) = entry else {
            swept.failures += 1;
            continue;
        };
        let (Ok(file_type), Some(name)) = (
            entry.file_type(),
            entry.file_name().to_str().map(str::to_owned),
        ) else {
            continue;
        };
        if file_type.is_dir() {
            if keys::check_bucket(&name).is_ok() {
                buckets.push(entry.path());
            }
            continue;
        }
        if !file_type.is_file() {
            continue;
        }
        let leftover = match classify(&name) {
            Kind::Upload(id) => {
                let upload = uploads.entry(id).or_default();
                upload.files.push(entry.path());
                if name == format!(".upload-{id}.json") {
                    upload.known = upload_owner(root, &id).is_some();
                }
                let modified = entry.metadata().and_then(|meta| meta.modified()).ok();
                upload.last_activity = upload.last_activity.max(modified);
                // Removed below, once all of the upload's files are known.
                false
            }
            // Only side files the store could have written: a key it would refuse may belong to anything.
            Kind::ObjectSideFile { bucket, key } if keys::reachable(&bucket, &key) => {
                let gone = !layout::object_path(root, &bucket, &key).is_file();
                swept.orphaned_side_files += usize::from(gone);
                gone
            }
            Kind::ObjectSideFile { .. } | Kind::Other => false,
        };
        if leftover {
            remove(&entry.path(), &mut swept, &mut first_error);
        }
    }
    for upload in uploads.into_values() {
        // A modification time in the future (a clock set back) counts as now.
        let idle = upload.last_activity.map_or(Duration::MAX, |last| {
            now.duration_since(last).unwrap_or_default()
        });
        if upload.known && idle <= keep {
            swept.kept_uploads += 1;
            continue;
        }
        swept.uploads += 1;
        swept.upload_files += upload.files.len();
        for file in &upload.files {
            remove(file, &mut swept, &mut first_error);
        }
    }
    for bucket in buckets {
        swept.empty_folders += remove_empty_folders(&bucket);
    }
    if let Some((path, err)) = first_error {
        tracing::warn!(
            failures = swept.failures,
            path = %path.display(),
            error = %err,
            "embedded store: some leftovers of an earlier run could not be removed"
        );
    }
    Ok(swept)
}

/// Removes a leftover file, counting its bytes or the failure.
fn remove(path: &Path, swept: &mut Swept, first_error: &mut Option<(PathBuf, io::Error)>) {
    let len = fs::metadata(path).map_or(0, |meta| meta.len());
    match fs::remove_file(path) {
        Ok(()) => swept.bytes += len,
        Err(err) => {
            swept.failures += 1;
            first_error.get_or_insert((path.to_path_buf(), err));
        }
    }
}

/// Removes the empty folders under `bucket` (not `bucket` itself), deepest first, so that a folder holding only
/// empty folders goes too; returns how many went. Symbolic links are not followed.
fn remove_empty_folders(bucket: &Path) -> usize {
    // Folders that hold no file, in the order found: a folder comes after its parent.
    let mut candidates = Vec::new();
    let mut pending = vec![bucket.to_path_buf()];
    while let Some(folder) = pending.pop() {
        let Ok(entries) = fs::read_dir(&folder) else {
            continue;
        };
        let mut holds_a_file = false;
        for entry in entries.flatten() {
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                pending.push(entry.path());
            } else {
                holds_a_file = true;
            }
        }
        if !holds_a_file && folder != bucket {
            candidates.push(folder);
        }
    }
    // Reversed, every folder is tried after its subfolders; one that still holds a folder stays.
    candidates
        .iter()
        .rev()
        .filter(|folder| fs::remove_dir(folder).is_ok())
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_are_read_as_s3s_fs_writes_them() {
        let id = uuid::Uuid::new_v4();
        let stem = layout::side_file_stem("uploads", "a/사진.png");
        assert_eq!(classify(&format!(".upload-{id}.json")), Kind::Upload(id));
        assert_eq!(
            classify(&format!(".upload_id-{id}.part-12")),
            Kind::Upload(id)
        );
        assert_eq!(
            classify(&format!(".upload_id-{id}.staging")),
            Kind::Upload(id)
        );
        assert_eq!(
            classify(&format!("{stem}.upload-{id}.metadata.json")),
            Kind::Upload(id)
        );
        let side_file = Kind::ObjectSideFile {
            bucket: "uploads".to_owned(),
            key: "a/사진.png".to_owned(),
        };
        assert_eq!(classify(&format!("{stem}.metadata.json")), side_file);
        assert_eq!(classify(&format!("{stem}.internal.json")), side_file);
        for other in [
            LOCK_FILE,
            ".env",
            ".upload-not-a-uuid.json",
            ".upload_id-x.part-1",
            ".bucket-!!.object-??.metadata.json",
            &format!("{stem}.something.json"),
            ".tmp.3.internal.part",
        ] {
            assert_eq!(classify(other), Kind::Other, "{other}");
        }
    }

    #[test]
    fn a_second_lock_on_the_folder_fails_until_the_first_is_dropped() {
        let dir = tempfile::tempdir().expect("folder");
        let first = lock(dir.path()).expect("the first lock");

        let err = lock(dir.path()).expect_err("a second lock fails");

        let message = format!("{err:#}");
        assert!(
            message.contains("in use by another running server"),
            "{message}"
        );
        assert!(
            message.contains(&dir.path().display().to_string()),
            "{message}"
        );
        assert!(
            message.contains(&std::process::id().to_string()),
            "{message}"
        );
        drop(first);
        lock(dir.path()).expect("free again");
    }
}
