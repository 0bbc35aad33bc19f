//! What type to store a file as, so browsers show it instead of downloading it.
//!
//! The file's own bytes decide first (magic numbers, with `infer`), then its extension, unless the extension
//! names a type with a known signature that the bytes lack (a disguise); anything else is
//! `application/octet-stream`. What the client claimed is never stored. Only inert types (common raster images,
//! audio, video, plain text) are `inline`; everything else, above all what a browser would run as a page or
//! script, is an `attachment`, so a stored file cannot act as a page of the bucket's origin.

/// How many leading bytes are enough for every signature `infer` knows.
pub const SNIFF_LEN: usize = 8192;

const OCTET_STREAM: &str = "application/octet-stream";

/// The Content-Type to store a file with: [`judge`]'s type, with `; charset=utf-8` on a text type whose head is
/// UTF-8. The client's claim plays no part: it is whatever the client wants it to be, so storing it would let a
/// client choose how a browser treats the object (`text/xsl`, `*/*`, `multipart/x-mixed-replace` all run a
/// script somewhere).
pub fn detect(head: &[u8], file_name: &str) -> String {
    let mut content_type = judge(head, file_name);
    if content_type.starts_with("text/") && is_utf8_prefix(head) {
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

/// Types a browser only displays or plays, and never runs: common raster images, audio, video and plain text.
/// Everything else is an `attachment`. Left out on purpose: SVG (it runs scripts), HTML and XHTML, XML and
/// XSL(T) (a stylesheet or an XHTML namespace makes a page), anything `+xml`, PDF (its viewer runs scripts),
/// JSON and CSS (data and styles: never needed inline, and the list stays one of things known to be inert), and
/// types only a client's claim could give (`*/*`, `multipart/x-mixed-replace`), which are never stored anyway.
const INERT: &[&str] = &[
    "image/png",
    "image/apng",
    "image/jpeg",
    "image/gif",
    "image/webp",
    "image/avif",
    "image/bmp",
    "image/vnd.microsoft.icon",
    "image/x-icon",
    "audio/mpeg",
    "audio/ogg",
    "audio/opus",
    "audio/wav",
    "audio/x-wav",
    "audio/webm",
    "audio/aac",
    "audio/mp4",
    "audio/m4a",
    "audio/x-m4a",
    "audio/flac",
    "audio/x-flac",
    "video/mp4",
    "video/webm",
    "video/ogg",
    "video/quicktime",
    "video/x-m4v",
    "video/mpeg",
    "text/plain",
];

/// `inline` only for the `INERT` types; `attachment` for every other, so that a stored object can never act
/// as a page of the bucket's origin: a browser downloads it instead of opening it.
pub fn disposition_for(content_type: &str) -> &'static str {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    if INERT.contains(&essence.as_str()) {
        "inline"
    } else {
        "attachment"
    }
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
    fn magic_bytes_beat_the_extension() {
        assert_eq!(detect(PNG, "photo.jpg"), "image/png");
        assert_eq!(detect(PNG, "notes.txt"), "image/png");
    }

    #[test]
    fn extension_then_octet_stream() {
        assert_eq!(detect(b"hello", "notes.txt"), "text/plain; charset=utf-8");
        assert_eq!(detect(b"\xff\xfe\x00", "notes.txt"), "text/plain");
        assert_eq!(detect(b"\x01\x02", "blob"), OCTET_STREAM);
        assert_eq!(detect(b"\x01\x02", "blob.unknown-extension"), OCTET_STREAM);
    }

    /// What issue 10 found stored `inline` under the client's claim: now neither the claim nor a script is kept.
    #[test]
    fn bytes_nothing_recognizes_without_an_extension_are_an_attachment() {
        for head in [
            &b"<x:script xmlns:x=\"http://www.w3.org/1999/xhtml\">alert(1)</x:script>"[..],
            b"<!--x--><script>alert(1)</script>",
            b"--frame\r\nContent-Type: text/html\r\n\r\n<script>alert(1)</script>",
        ] {
            let content_type = detect(head, "blob");
            assert_eq!(content_type, OCTET_STREAM, "{head:?}");
            assert_eq!(disposition_for(&content_type), "attachment");
        }
    }

    #[test]
    fn an_extension_whose_signature_the_bytes_lack_is_a_disguise() {
        assert_eq!(detect(b"<!--x--><script>", "photo.png"), OCTET_STREAM);
        assert_eq!(
            detect(b"MZ\x90\x00", "photo.jpg"),
            "application/vnd.microsoft.portable-executable"
        );
        // Bytes infer knows as a page are stored as what they are, and never inline.
        let page = detect(b"<html><script>alert(1)</script>", "photo.png");
        assert_eq!(page, "text/html; charset=utf-8");
        assert_eq!(disposition_for(&page), "attachment");
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
    fn only_inert_types_are_inline() {
        for inert in [
            "image/png",
            "IMAGE/JPEG",
            "image/gif",
            "image/webp",
            "audio/mpeg",
            "video/mp4",
            "text/plain; charset=utf-8",
        ] {
            assert_eq!(disposition_for(inert), "inline", "{inert}");
        }
        for active in [
            "text/html; charset=utf-8",
            "application/xhtml+xml",
            "image/svg+xml",
            "text/xml",
            "application/xml",
            "text/xsl",
            "application/xslt+xml",
            "application/rss+xml",
            "application/pdf",
            "application/json",
            "text/css",
            "text/javascript",
            "application/javascript",
            "application/x-shockwave-flash",
            "application/octet-stream",
            "application/unknown",
            "*/*",
            "multipart/x-mixed-replace",
            "image/png-but-not-really",
            "",
        ] {
            assert_eq!(disposition_for(active), "attachment", "{active}");
        }
    }

    /// Every extension a browser would run gets an active type, or octet-stream: an attachment either way.
    #[test]
    fn extensions_of_active_content_are_an_attachment() {
        for name in [
            "x.html", "x.htm", "x.svg", "x.xml", "x.xsl", "x.xslt", "x.xhtml", "x.js", "x.mjs",
            "x.pdf", "x.json", "x.css", "x.swf",
        ] {
            let content_type = detect(b"<x>", name);
            assert_eq!(
                disposition_for(&content_type),
                "attachment",
                "{name}: {content_type}"
            );
        }
    }

    /// A bounded, deterministic fuzz: whatever the head and the name, the stored type is one a browser never
    /// runs inline, and a header value S3 accepts.
    #[test]
    fn random_heads_and_names_never_give_an_active_inline_type() {
        const PIECES: &[&[u8]] = &[
            b"<",
            b">",
            b"<html ",
            b"<!--",
            b"<?xml",
            b"<svg",
            b"<script>",
            b"\x89PNG\r\n\x1a\n",
            b"GIF89a",
            b"\xff\xd8\xff",
            b"%PDF-",
            b"#!",
            b"MZ",
            b"\0",
            b"\xef\xbb\xbf",
            b"a",
            b" ",
        ];
        const NAMES: &[&str] = &[
            "x", "x.png", "x.jpg", "x.txt", "x.html", "x.svg", "x.xml", "x.pdf", "x.js", "x.mp4",
            "x.PNG", ".png",
        ];
        let mut state = 0x2545_F491_4F6C_DD1Du64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..5_000 {
            let mut head = Vec::new();
            for _ in 0..(next() % 8) {
                head.extend_from_slice(PIECES[(next() % PIECES.len() as u64) as usize]);
            }
            let name = NAMES[(next() % NAMES.len() as u64) as usize];
            let content_type = detect(&head, name);
            assert!(
                content_type.is_ascii() && !content_type.contains(['\r', '\n']),
                "{content_type:?}"
            );
            if disposition_for(&content_type) == "inline" {
                let essence = content_type.split(';').next().unwrap_or_default();
                assert!(
                    essence.starts_with("image/") && !essence.contains("svg")
                        || essence.starts_with("audio/")
                        || essence.starts_with("video/")
                        || essence == "text/plain",
                    "{head:?} named {name} is stored inline as {content_type}"
                );
            }
        }
    }
}
