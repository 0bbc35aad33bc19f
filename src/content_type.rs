//! What type to store a file as, so browsers show it instead of downloading it.
//!
//! The file's own bytes decide first (magic numbers, with `infer`), then its extension, then what the client
//! claimed, then `application/octet-stream`. Types a browser would run as a page or script (HTML, SVG, XML,
//! JavaScript) are stored as `attachment`, never `inline`, so a stored file cannot act as a page of the bucket's
//! origin.

/// How many leading bytes are enough for every signature `infer` knows.
pub const SNIFF_LEN: usize = 8192;

const OCTET_STREAM: &str = "application/octet-stream";

/// The Content-Type to store a file with.
pub fn detect(head: &[u8], file_name: &str, claimed: Option<&str>) -> String {
    let sniffed = infer::get(head).map(|kind| kind.mime_type().to_owned());
    let by_extension = || {
        mime_guess::from_path(file_name)
            .first_raw()
            .map(str::to_owned)
    };
    let by_claim = || {
        claimed
            .map(str::trim)
            .filter(|c| !c.is_empty() && !c.eq_ignore_ascii_case(OCTET_STREAM))
            .filter(|c| c.parse::<mime_guess::mime::Mime>().is_ok() && c.is_ascii())
            .map(str::to_owned)
    };
    let mut content_type = sniffed
        .or_else(by_extension)
        .or_else(by_claim)
        .unwrap_or_else(|| OCTET_STREAM.to_owned());
    if content_type.starts_with("text/")
        && !content_type.contains("charset")
        && is_utf8_prefix(head)
    {
        content_type.push_str("; charset=utf-8");
    }
    content_type
}

/// The type judged from the file alone: its bytes, then its extension (never the client's claim). This is what
/// `ALLOWED_TYPES` is checked against.
pub fn judge(head: &[u8], file_name: &str) -> String {
    if let Some(kind) = infer::get(head) {
        return kind.mime_type().to_owned();
    }
    match mime_guess::from_path(file_name).first_raw() {
        // The extension names a type with a known signature, and the bytes do not have it: a disguised file.
        Some(by_name) if infer::is_mime_supported(by_name) => OCTET_STREAM.to_owned(),
        Some(by_name) => by_name.to_owned(),
        None => OCTET_STREAM.to_owned(),
    }
}

/// Whether `content_type` matches one of `patterns` (`image/png`, `image/*`, `*/*`), ignoring parameters.
pub fn is_allowed(content_type: &str, patterns: &[String]) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    let (kind, _) = essence.split_once('/').unwrap_or((essence.as_str(), ""));
    patterns.iter().any(|pattern| {
        pattern == "*/*"
            || *pattern == essence
            || pattern.strip_suffix("/*").is_some_and(|p| p == kind)
    })
}

/// `inline` for types a browser only displays; `attachment` for those it would execute.
pub fn disposition_for(content_type: &str) -> &'static str {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    let active = matches!(
        essence.as_str(),
        "text/html"
            | "application/xhtml+xml"
            | "image/svg+xml"
            | "text/xml"
            | "application/xml"
            | "text/javascript"
            | "application/javascript"
            | "application/x-javascript"
            | "application/ecmascript"
            | "text/ecmascript"
            | "application/x-shockwave-flash"
            | "application/pdf"
    ) || essence.ends_with("+xml");
    if active { "attachment" } else { "inline" }
}

/// True when `bytes` is UTF-8, allowing a character cut off at the end.
fn is_utf8_prefix(bytes: &[u8]) -> bool {
    match std::str::from_utf8(bytes) {
        Ok(_) => true,
        Err(err) => err.error_len().is_none(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";

    #[test]
    fn magic_bytes_beat_extension_and_claim() {
        assert_eq!(
            detect(PNG, "photo.jpg", Some("application/octet-stream")),
            "image/png"
        );
    }

    #[test]
    fn extension_then_claim_then_octet_stream() {
        assert_eq!(
            detect(b"hello", "notes.txt", None),
            "text/plain; charset=utf-8"
        );
        assert_eq!(
            detect(b"\x01\x02", "blob", Some("application/x-custom")),
            "application/x-custom"
        );
        assert_eq!(
            detect(b"\x01\x02", "blob", Some("application/octet-stream")),
            OCTET_STREAM
        );
        assert_eq!(
            detect(b"\x01\x02", "blob", Some("not a type\r\n")),
            OCTET_STREAM
        );
    }

    #[test]
    fn allowlist_judges_the_bytes_not_the_claim() {
        let images = vec!["image/*".to_owned()];
        assert!(is_allowed(&judge(PNG, "x.bin"), &images));
        // A page or program named .png does not have a PNG's bytes: not an image.
        assert!(!is_allowed(&judge(b"<html><script>", "photo.png"), &images));
        assert!(
            !is_allowed(&judge(b"MZ\x90\x00", "photo.png"), &images),
            "a Windows executable"
        );
        assert_eq!(judge(b"hello", "notes.txt"), "text/plain");
        assert!(is_allowed("image/png", &["image/png".to_owned()]));
        assert!(!is_allowed("image/png", &["image/jpeg".to_owned()]));
        assert!(is_allowed(
            "text/plain; charset=utf-8",
            &["text/plain".to_owned()]
        ));
    }

    #[test]
    fn active_content_is_never_inline() {
        assert_eq!(disposition_for("image/png"), "inline");
        assert_eq!(disposition_for("text/plain; charset=utf-8"), "inline");
        assert_eq!(disposition_for("text/html; charset=utf-8"), "attachment");
        assert_eq!(disposition_for("image/svg+xml"), "attachment");
        assert_eq!(
            disposition_for(&detect(b"<html>", "x.html", None)),
            "attachment"
        );
    }
}
