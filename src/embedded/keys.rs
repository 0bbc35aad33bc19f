//! Which bucket names and object keys the store takes, checked before anything touches the disk.
//!
//! s3s-fs keeps an object at `<root>/<bucket>/<key>` and resolves `..` inside its root, not inside the bucket:
//! `../.env` named a file beside the bucket, and the key `..` made path-dedot panic. It also names side files
//! after the base64 of bucket and key, so a long key made a write fail once its data was already in place, and
//! it returns keys in XML, which cannot carry every character. A key is taken only when it is a plain relative
//! path (no empty, `.` or `..` segment, no backslash), when XML 1.0 can carry every character of it, and when
//! every file named after it fits the file system's 255-byte names. The answers are those S3 gives for keys it
//! refuses: `InvalidArgument`, `KeyTooLongError`, `InvalidBucketName` (400s).

use s3s::path::S3Path;
use s3s::{S3Result, s3_error};

/// The longest file name (Linux's `NAME_MAX`).
const NAME_MAX: usize = 255;

/// The fixed part of the longest side file's name, a multipart upload's attributes:
/// `.bucket-<bucket>.object-<key>.upload-<uuid>.metadata.json`.
const UPLOAD_SIDE_FILE: usize =
    ".bucket-".len() + ".object-".len() + ".upload-".len() + 36 + ".metadata.json".len();

/// The fixed part of an object's own side files: `.bucket-<bucket>.object-<key>.metadata.json` (and
/// `.internal.json`, as long).
const OBJECT_SIDE_FILE: usize = ".bucket-".len() + ".object-".len() + ".metadata.json".len();

/// The longest key the store writes in `bucket`: every file named after it, a multipart upload's included, fits
/// in 255 bytes. 128 for `uploads`.
pub fn max_key_len(bucket: &str) -> usize {
    longest_key(bucket, UPLOAD_SIDE_FILE)
}

/// The longest key an existing object in `bucket` can have: a single PutObject needs no upload side file, so
/// objects stored before keys were limited may be longer than [`max_key_len`]. They stay readable and deletable.
fn readable_key_len(bucket: &str) -> usize {
    longest_key(bucket, OBJECT_SIDE_FILE)
}

fn longest_key(bucket: &str, fixed: usize) -> usize {
    let room = NAME_MAX.saturating_sub(fixed + base64_len(bucket.len()));
    // The longest byte string whose unpadded base64 fits in `room` characters.
    room * 3 / 4
}

/// Characters of unpadded base64 for `bytes` bytes.
fn base64_len(bytes: usize) -> usize {
    (bytes * 4).div_ceil(3)
}

/// What a key is checked for.
#[derive(Clone, Copy, Debug)]
pub(super) enum KeyUse {
    /// A key being written (an object or a multipart upload): room for every file the store names after it.
    Write,
    /// A key naming an object that may exist (read, copied from, deleted).
    Read,
}

/// `InvalidBucketName` unless `bucket` follows S3's naming rules (which also keep it one plain folder name).
pub(super) fn check_bucket(bucket: &str) -> S3Result<()> {
    if s3s::path::check_bucket_name(bucket) {
        Ok(())
    } else {
        Err(s3_error!(InvalidBucketName))
    }
}

/// Refuses, as S3 would answer, a key the store cannot hold in `bucket` (see the module's documentation).
pub(super) fn check_key(bucket: &str, key: &str, usage: KeyUse) -> S3Result<()> {
    check_bucket(bucket)?;
    let limit = match usage {
        KeyUse::Write => max_key_len(bucket),
        KeyUse::Read => readable_key_len(bucket),
    };
    if key.len() > limit {
        return Err(s3_error!(
            KeyTooLongError,
            "keys in this bucket are at most {limit} bytes"
        ));
    }
    match key_problem(key) {
        Some(problem) => Err(s3_error!(InvalidArgument, "the object key {problem}")),
        None => Ok(()),
    }
}

/// The check an S3 path gets before the operation runs (anonymous reads included): a key is checked as read,
/// the operations that write check it again, for writing.
pub(super) fn check_path(path: &S3Path) -> S3Result<()> {
    match path {
        S3Path::Root => Ok(()),
        S3Path::Bucket { bucket } => check_bucket(bucket),
        S3Path::Object { bucket, key } => check_key(bucket, key, KeyUse::Read),
    }
}

/// Why `key` is not a plain relative path XML can carry, if it is not.
fn key_problem(key: &str) -> Option<&'static str> {
    if key.split('/').any(str::is_empty) {
        return Some("has an empty segment (a leading, trailing or double `/`)");
    }
    if key
        .split('/')
        .any(|segment| segment == "." || segment == "..")
    {
        return Some("has a `.` or `..` segment");
    }
    if key.contains('\\') {
        return Some("has a backslash");
    }
    if !key.chars().all(xml_carries) {
        return Some(
            "has a character XML cannot carry (a control character or a Unicode noncharacter)",
        );
    }
    None
}

/// Whether XML 1.0 text can carry `c` (so that a listing can name the key), Unicode noncharacters excluded.
pub(super) fn xml_carries(c: char) -> bool {
    match c {
        '\t' | '\n' | '\r' => true,
        c if c.is_control() => false,
        '\u{FDD0}'..='\u{FDEF}' => false,
        // U+FFFE and U+FFFF of every plane.
        c => u32::from(c) & 0xFFFE != 0xFFFE,
    }
}

/// Whether `key` names an object the store can reach (listings show no other).
pub(super) fn reachable(bucket: &str, key: &str) -> bool {
    check_key(bucket, key, KeyUse::Read).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_longest_key_fits_every_side_file_in_255_bytes() {
        // The configuration's check of KEY_PREFIX and names relies on this number.
        assert_eq!(max_key_len("uploads"), 128);
        for bucket in ["uploads", "abc", &"b".repeat(63)] {
            let longest = max_key_len(bucket);
            let name = |key_len: usize| {
                ".bucket-".len()
                    + base64_len(bucket.len())
                    + ".object-".len()
                    + base64_len(key_len)
                    + ".upload-".len()
                    + 36
                    + ".metadata.json".len()
            };
            assert!(name(longest) <= 255, "{bucket}");
            assert!(
                name(longest + 1) > 255,
                "{bucket}: the limit is the largest that fits"
            );
            assert!(readable_key_len(bucket) >= longest);
        }
        assert_eq!(readable_key_len("uploads"), 161);
    }

    #[test]
    fn plain_keys_within_the_limit_are_taken() {
        for key in [
            "a",
            "uploads/0190c7b2/스크린샷 2023-11-15 오후 8.04.29.png",
            "with space/and+plus%25.txt",
            "tab\there",
            "..hidden/x..y/.z",
            "emoji 📷.jpg",
            &"k".repeat(128),
        ] {
            assert!(check_key("uploads", key, KeyUse::Write).is_ok(), "{key:?}");
        }
        assert!(check_key("uploads", &"k".repeat(161), KeyUse::Read).is_ok());
    }

    #[test]
    fn keys_outside_the_bucket_or_beyond_xml_are_refused_as_s3_would() {
        let refused = |key: &str, usage| {
            check_key("uploads", key, usage)
                .err()
                .map(|err| err.code().clone())
        };
        for key in [
            "",
            "/a",
            "a/",
            "a//b",
            ".",
            "..",
            "../.env",
            "a/../../b",
            "./a",
            "a/.",
            "a\\b",
            "..\\.env",
            "nul\0",
            "\u{1}",
            "del\u{7F}",
            "c1\u{85}",
            "\u{FFFE}",
            "\u{FFFF}",
            "\u{FDD0}",
            "\u{FDEF}",
            "\u{1FFFE}",
            "\u{10FFFF}",
        ] {
            assert_eq!(
                refused(key, KeyUse::Read),
                Some(s3s::S3ErrorCode::InvalidArgument),
                "{key:?}"
            );
        }
        assert_eq!(
            refused(&"k".repeat(129), KeyUse::Write),
            Some(s3s::S3ErrorCode::KeyTooLongError)
        );
        assert_eq!(
            refused(&"k".repeat(162), KeyUse::Read),
            Some(s3s::S3ErrorCode::KeyTooLongError)
        );
        for bucket in ["..", "UP", "a/b", "ab", "uploads/.."] {
            assert_eq!(
                check_key(bucket, "a", KeyUse::Read).map_err(|e| e.code().clone()),
                Err(s3s::S3ErrorCode::InvalidBucketName),
                "{bucket:?}"
            );
        }
    }

    #[test]
    fn paths_are_checked_before_the_operation() {
        assert!(check_path(&S3Path::Root).is_ok());
        assert!(check_path(&S3Path::bucket("uploads")).is_ok());
        assert!(check_path(&S3Path::object("uploads", "a/b.png")).is_ok());
        assert!(check_path(&S3Path::object("uploads", "..")).is_err());
        assert!(check_path(&S3Path::object("uploads", "../.env")).is_err());
    }
}
