//! Checks of settings that parse but cannot work together (the memory budget against the part size, the key
//! prefix against the store's keys), only within a range (how long resumable uploads are kept), or only in a
//! shape (URLs, `OBJECT_METADATA` pairs).

use super::read::invalid;
use super::*;

/// The least `UPLOAD_MEMORY_BUDGET` with which uploads always make progress: every upload being read may hold
/// its first read while one other holds a whole part (parts past their first read are reserved in whole blocks).
pub(super) fn budget_needed(part_size: u64, max_uploads: usize) -> u64 {
    part_size.div_ceil(BUDGET_BLOCK_BYTES) * BUDGET_BLOCK_BYTES
        + FIRST_READ_BYTES * (max_uploads as u64 + 1)
}

/// `RESUMABLE_EXPIRY_SECS`: at least a second (an upload that expires at once could never take bytes), at
/// most [`MAX_RESUMABLE_EXPIRY_SECS`] (abandoned uploads hold parts the bucket bills for).
pub(super) fn resumable_expiry(seconds: u64) -> Result<Duration, ConfigError> {
    if !(1..=MAX_RESUMABLE_EXPIRY_SECS).contains(&seconds) {
        return Err(invalid(
            "RESUMABLE_EXPIRY_SECS",
            &seconds.to_string(),
            &format!(
                "a resumable upload is kept 1 to {MAX_RESUMABLE_EXPIRY_SECS} seconds (30 days)"
            ),
        ));
    }
    Ok(Duration::from_secs(seconds))
}

/// `RESUMABLE_THRESHOLD` (`set`: the value given, if any): `0` is off; a value given above `MAX_FILE_SIZE` is
/// refused (no file the server accepts could reach it, which is surely not what was meant), while the default
/// above a small `MAX_FILE_SIZE` quietly means off.
pub(super) fn resumable_threshold(
    set: Option<u64>,
    max_file_size: u64,
) -> Result<Option<u64>, ConfigError> {
    match set {
        Some(0) => Ok(None),
        Some(threshold) if threshold > max_file_size => Err(invalid(
            "RESUMABLE_THRESHOLD",
            &threshold.to_string(),
            &format!(
                "no file reaches it: files are at most MAX_FILE_SIZE = {max_file_size} bytes; set it at most \
                 that, or 0 for the page never to use resumable uploads"
            ),
        )),
        Some(threshold) => Ok(Some(threshold)),
        None => Ok(Some(DEFAULT_RESUMABLE_THRESHOLD).filter(|t| *t <= max_file_size)),
    }
}

/// `KEY_PREFIX` becomes the start of every key: it must be a plain relative path (no empty, `.` or `..`
/// segment, no backslash or control character) and leave room for the rest of the key in the store.
pub(super) fn check_key_prefix(
    prefix: &str,
    strategy: KeyStrategy,
    store: &StoreConfig,
) -> Result<(), ConfigError> {
    let refuse = |reason: &str| Err(invalid("KEY_PREFIX", prefix, reason));
    let segments: Vec<&str> = prefix.split('/').collect();
    // A trailing `/` (as in `uploads/`) ends the prefix; any other empty segment is a `//` or a leading `/`.
    let inner = &segments[..segments.len() - 1];
    if prefix.starts_with('/') || inner.iter().any(|s| s.is_empty()) {
        return refuse("must not start with `/` or contain `//`");
    }
    if segments.iter().any(|s| *s == "." || *s == "..") {
        return refuse("must not contain a `.` or `..` segment");
    }
    if prefix
        .chars()
        .any(|c| c == '\\' || c.is_control() || is_noncharacter(c))
    {
        return refuse(
            "must not contain a backslash, a control character or a Unicode noncharacter",
        );
    }
    let (store_max, store_name) = match store {
        StoreConfig::Embedded(_) => (EMBEDDED_MAX_KEY_BYTES, "the embedded store"),
        StoreConfig::Remote(_) => (S3_MAX_KEY_BYTES, "S3"),
    };
    // After the prefix: `<32 hex digits of a UUID>/` with KEY_STRATEGY=unique, then a name of up to 64 bytes.
    let after = match strategy {
        KeyStrategy::Unique => 33 + crate::naming::MAX_KEY_NAME_BYTES,
        KeyStrategy::Original => crate::naming::MAX_KEY_NAME_BYTES,
    };
    let most = store_max.saturating_sub(after);
    if prefix.len() > most {
        return refuse(&format!(
            "{store_name} holds keys of at most {store_max} bytes, and a key is the prefix, then up to {after} \
             bytes: the prefix may have at most {most} bytes"
        ));
    }
    Ok(())
}

/// Unicode noncharacters (U+FDD0 to U+FDEF, and the last two code points of every plane), which XML, and so
/// S3's listings, cannot carry.
fn is_noncharacter(c: char) -> bool {
    let code = u32::from(c);
    (0xFDD0..=0xFDEF).contains(&code) || code & 0xFFFE == 0xFFFE
}

/// `DIRECT_URL_TTL_SECS`: a minute (a part URL must outlive the part's PUT) to [`MAX_DIRECT_URL_TTL_SECS`].
pub(super) fn direct_url_ttl(seconds: u64) -> Result<Duration, ConfigError> {
    if !(60..=MAX_DIRECT_URL_TTL_SECS).contains(&seconds) {
        return Err(invalid(
            "DIRECT_URL_TTL_SECS",
            &seconds.to_string(),
            &format!("direct-upload URLs live 60 to {MAX_DIRECT_URL_TTL_SECS} seconds (12 hours)"),
        ));
    }
    Ok(Duration::from_secs(seconds))
}

/// `name=value,name2=value2`: names are lowercase ASCII letters, digits, `-` and `_` (they become HTTP headers).
pub(super) fn parse_metadata(list: &str) -> Result<Vec<(String, String)>, ConfigError> {
    let mut pairs = Vec::new();
    for item in list.split(',').map(str::trim).filter(|i| !i.is_empty()) {
        let Some((name, value)) = item.split_once('=') else {
            return Err(invalid(
                "OBJECT_METADATA",
                item,
                "expected name=value pairs separated by commas",
            ));
        };
        let name = name.trim().to_ascii_lowercase();
        if name.is_empty()
            || !name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(invalid(
                "OBJECT_METADATA",
                item,
                "a metadata name is ASCII letters, digits, `-` and `_`",
            ));
        }
        pairs.push((name, value.trim().to_owned()));
    }
    Ok(pairs)
}

/// A URL setting must be `http://` or `https://`.
pub(super) fn check_http_url(name: &'static str, url: &str) -> Result<(), ConfigError> {
    if url.starts_with("http://") || url.starts_with("https://") {
        Ok(())
    } else {
        Err(invalid(name, url, "expected an http:// or https:// URL"))
    }
}
