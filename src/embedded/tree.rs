//! S3's flat keys on s3s-fs's folder tree: answers s3s-fs would get wrong where the two differ.
//!
//! - A key that names a folder (`a` when `a/b` exists) is no object: s3s-fs opened the folder and failed with a
//!   500; a read or a copy from it is `NoSuchKey` here.
//! - s3s-fs cannot keep both `a` and `a/b` (`a` would be a file and a folder): a write of one when the other
//!   exists failed with a 500 once the body was read. It is refused first, `InvalidArgument`.
//! - s3s-fs splits a listing on a delimiter by slicing one byte past it: an empty delimiter gave nonsense and a
//!   multi-byte one panicked. Only one ASCII character (such as `/`) is taken.
//! - A listing leaves out keys no request can reach (stored before keys were checked, e.g. with U+FFFF, which
//!   XML cannot carry and which made every listing of the bucket fail), so that a bucket can still be emptied.
//!
//! s3s-fs compares the listing prefix with the keys it finds and never resolves it as a path, so a prefix needs
//! no check.

use std::path::Path;

use s3s::dto::{CommonPrefix, Object};
use s3s::{S3Result, s3_error};

use super::store::CheckedFs;
use super::{keys, layout};

impl CheckedFs {
    /// `NoSuchKey` when the key names a folder rather than an object; the key must have passed
    /// [`keys::check_key`].
    pub(super) async fn check_not_a_folder(&self, bucket: &str, key: &str) -> S3Result<()> {
        let path = layout::object_path(&self.root, bucket, key);
        match tokio::fs::metadata(&path).await {
            Ok(meta) if meta.is_dir() => Err(s3_error!(NoSuchKey)),
            _ => Ok(()),
        }
    }

    /// `InvalidArgument` when s3s-fs cannot put an object at the key: it names a folder, or a segment before
    /// its last names an object. The key must have passed [`keys::check_key`].
    pub(super) async fn check_room_for(&self, bucket: &str, key: &str) -> S3Result<()> {
        let bucket_dir = self.root.join(bucket);
        let object = layout::object_path(&self.root, bucket, key);
        let blocked = tokio::task::spawn_blocking(move || {
            object.is_dir()
                || object
                    .ancestors()
                    .skip(1)
                    .take_while(|folder| *folder != bucket_dir)
                    .any(Path::is_file)
        })
        .await
        .map_err(|err| s3_error!(err, InternalError))?;
        if blocked {
            return Err(s3_error!(
                InvalidArgument,
                "the embedded store cannot hold both a key and keys that start with it and `/`"
            ));
        }
        Ok(())
    }
}

/// Checks what a listing is asked for before s3s-fs lists.
pub(super) fn check_listing(bucket: &str, delimiter: Option<&str>) -> S3Result<()> {
    keys::check_bucket(bucket)?;
    match delimiter {
        None => Ok(()),
        Some(d) if d.len() == 1 && d.is_ascii() => Ok(()),
        Some(_) => Err(s3_error!(
            InvalidArgument,
            "the embedded store splits listings on one ASCII character, such as `/`"
        )),
    }
}

/// Leaves out of a listing the objects no request can reach and the prefixes XML cannot carry; returns how many
/// entries were left out.
pub(super) fn keep_reachable(
    bucket: &str,
    contents: &mut Option<Vec<Object>>,
    common_prefixes: &mut Option<Vec<CommonPrefix>>,
) -> usize {
    let mut hidden = 0;
    if let Some(objects) = contents {
        let before = objects.len();
        objects.retain(|object| {
            object
                .key
                .as_deref()
                .is_some_and(|key| keys::reachable(bucket, key))
        });
        hidden += before - objects.len();
    }
    if let Some(prefixes) = common_prefixes {
        let before = prefixes.len();
        prefixes.retain(|prefix| {
            prefix
                .prefix
                .as_deref()
                .is_some_and(|p| p.chars().all(keys::xml_carries))
        });
        hidden += before - prefixes.len();
    }
    if hidden > 0 {
        tracing::warn!(
            bucket,
            hidden,
            "embedded store: a listing left out keys that no request can reach (stored before keys were checked)"
        );
    }
    hidden
}
