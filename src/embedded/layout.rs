//! Where s3s-fs =0.14.1 (the pinned version) keeps things in the data folder, for the code that reads, removes or
//! sweeps those files itself:
//!
//! - an object at `<root>/<bucket>/<key>`;
//! - beside it, in the root, `.bucket-<b64 bucket>.object-<b64 key>.metadata.json` (Content-Type,
//!   Content-Disposition, user metadata) and `….internal.json` (ETag, checksums), base64 being URL-safe
//!   without padding;
//! - for a multipart upload, `.upload-<id>.json` (who created it), `….upload-<id>.metadata.json` (the future
//!   object's attributes) and `.upload_id-<id>.part-<n>` (parts), plus this store's `.upload_id-<id>.staging`
//!   and `.upload_id-<id>.record.json` (what it knows of the parts, [`super::records`]).

use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// `.bucket-<b64 bucket>.object-<b64 key>`: the start of every side file of one object.
pub(super) fn side_file_stem(bucket: &str, key: &str) -> String {
    format!(
        ".bucket-{}.object-{}",
        URL_SAFE_NO_PAD.encode(bucket),
        URL_SAFE_NO_PAD.encode(key)
    )
}

/// `.bucket-<b64 bucket>.`: the start of every side file of a bucket's objects and uploads.
pub(super) fn bucket_side_file_prefix(bucket: &str) -> String {
    format!(".bucket-{}.", URL_SAFE_NO_PAD.encode(bucket))
}

/// The object's attributes and internal info.
pub(super) fn object_side_files(root: &Path, bucket: &str, key: &str) -> [PathBuf; 2] {
    let stem = side_file_stem(bucket, key);
    [
        root.join(format!("{stem}.metadata.json")),
        root.join(format!("{stem}.internal.json")),
    ]
}

/// The object's data; `key` must have passed [`super::keys::check_key`], which keeps the path in the bucket.
pub(super) fn object_path(root: &Path, bucket: &str, key: &str) -> PathBuf {
    root.join(bucket).join(key)
}
