//! Unit tests of reading names from part headers, sanitizing keys and writing Content-Disposition.

use super::*;

const KOREAN: &str = "스크린샷 2023-11-15 오후 8.04.29.png";

#[test]
fn raw_utf8_filename_is_read_exactly() {
    let header = format!("form-data; name=\"photos\"; filename=\"{KOREAN}\"");
    let d = parse_disposition(header.as_bytes());
    assert_eq!(d.name.as_deref(), Some("photos"));
    assert_eq!(d.filename.as_deref(), Some(KOREAN));
}

#[test]
fn postman_style_extended_filename_wins_and_agrees() {
    let encoded = utf8_percent_encode(KOREAN, ATTR_CHAR);
    let header =
        format!("form-data; name=\"photos\"; filename=\"{KOREAN}\"; filename*=UTF-8''{encoded}");
    assert_eq!(
        parse_disposition(header.as_bytes()).filename.as_deref(),
        Some(KOREAN)
    );
    let only_ext = format!("form-data; name=photos; filename*=utf-8''{encoded}");
    let d = parse_disposition(only_ext.as_bytes());
    assert_eq!(d.filename.as_deref(), Some(KOREAN));
    assert_eq!(d.name.as_deref(), Some("photos"));
}

#[test]
fn browser_escapes_are_undone() {
    let d = parse_disposition(br#"form-data; name="photos"; filename="a%22b%0D%0Ac.png""#);
    assert_eq!(d.filename.as_deref(), Some("a\"b\r\nc.png"));
    let d = parse_disposition(br#"form-data; name="photos"; filename="100%41.png""#);
    assert_eq!(d.filename.as_deref(), Some("100%41.png"));
}

#[test]
fn text_fields_have_no_filename_and_empty_filename_is_a_file() {
    assert_eq!(
        parse_disposition(br#"form-data; name="title""#).filename,
        None
    );
    assert_eq!(
        parse_disposition(br#"form-data; name="photos"; filename="""#)
            .filename
            .as_deref(),
        Some("")
    );
}

#[test]
fn non_utf8_bytes_are_replaced_not_rejected() {
    let d = parse_disposition(b"form-data; name=\"photos\"; filename=\"\xff\xfe.png\"");
    assert_eq!(d.filename.as_deref(), Some("\u{FFFD}\u{FFFD}.png"));
    assert_eq!(
        sanitize_file_name(d.filename.as_deref().unwrap_or_default()),
        "_.png"
    );
}

#[test]
fn sanitizer_removes_paths_controls_and_leading_dots() {
    assert_eq!(sanitize_file_name("../../etc/passwd"), "passwd");
    assert_eq!(sanitize_file_name("..\\..\\windows\\win.ini"), "win.ini");
    assert_eq!(sanitize_file_name(".."), "file");
    assert_eq!(sanitize_file_name(""), "file");
    assert_eq!(sanitize_file_name(".env"), "env");
    assert_eq!(sanitize_file_name("a\r\nb\u{0}.png"), "a_b_.png");
    assert_eq!(sanitize_file_name("x\u{202E}gnp.exe"), "x_gnp.exe");
    assert_eq!(sanitize_file_name(KOREAN), KOREAN);
}

/// XML 1.0's `Char` production, minus what it discourages (noncharacters, C1 controls): what a listing can
/// carry. Written from the specification, independently of [`breaks_listings`].
fn listable(c: char) -> bool {
    let c = u32::from(c);
    let char = matches!(c, 0x9 | 0xA | 0xD | 0x20..=0xD7FF | 0xE000..=0xFFFD | 0x10000..=0x10FFFF);
    let discouraged =
        matches!(c, 0x7F..=0x84 | 0x86..=0x9F | 0xFDD0..=0xFDEF) || c & 0xFFFE == 0xFFFE;
    char && !discouraged
}

#[test]
fn noncharacters_are_replaced_so_listings_stay_valid_xml() {
    assert_eq!(sanitize_file_name("a\u{FFFF}b.png"), "a_b.png");
    assert_eq!(
        sanitize_file_name("a\u{FFFE}\u{FDD0}\u{FDEF}b.png"),
        "a_b.png"
    );
    assert_eq!(sanitize_file_name("\u{1FFFE}x\u{10FFFF}.txt"), "_x_.txt");
    assert_eq!(sanitize_file_name("\u{FFFF}"), "file");
    // Their neighbours are ordinary characters and stay.
    assert_eq!(
        sanitize_file_name("\u{FDCF}\u{FDF0}\u{FFFD}x"),
        "\u{FDCF}\u{FDF0}_x"
    );
    assert_eq!(sanitize_file_name("\u{1FFFD}.png"), "\u{1FFFD}.png");
    // The exact name still reaches the Content-Disposition header, percent-encoded.
    assert!(content_disposition("inline", "a\u{FFFF}.png").ends_with("a%EF%BF%BF.png"));
    for c in [
        '\u{FDD0}',
        '\u{FFFE}',
        '\u{FFFF}',
        '\u{1FFFF}',
        '\u{10FFFE}',
    ] {
        assert!(!listable(c) && breaks_listings(c), "{c:?}");
    }
}

#[test]
fn long_names_keep_their_extension_and_char_boundaries() {
    let long = format!("{}.jpeg", "가".repeat(200));
    let short = sanitize_file_name(&long);
    assert!(short.len() <= MAX_KEY_NAME_BYTES, "{} bytes", short.len());
    assert!(short.ends_with(".jpeg"));
    assert!(short.starts_with('가'));
}

#[test]
fn keys_are_encoded_byte_by_byte_with_slash_kept() {
    assert_eq!(encode_key("a b/c+d.png"), "a%20b/c%2Bd.png");
    assert_eq!(encode_key("사진.png"), "%EC%82%AC%EC%A7%84.png");
    assert_eq!(encode_key("x~y_z-1.2"), "x~y_z-1.2");
}

/// A bounded, deterministic fuzz of the header parser and the sanitizer: random bytes, biased towards the
/// characters that matter (quotes, escapes, slashes, dots, controls, multi-byte UTF-8), never panic and
/// always give a safe key segment.
#[test]
fn random_headers_never_panic_and_always_give_safe_names() {
    const ALPHABET: &[&[u8]] = &[
        b"\"",
        b"\\",
        b"/",
        b".",
        b"..",
        b";",
        b"=",
        b"%",
        b"%22",
        b"%0D",
        b"*",
        b"'",
        b" ",
        b"\r",
        b"\n",
        b"\0",
        b"\x7f",
        b"\xff",
        b"\xc3",
        "가".as_bytes(),
        "\u{202E}".as_bytes(),
        "\u{FFFF}".as_bytes(),
        "\u{FFFE}".as_bytes(),
        "\u{FDD0}".as_bytes(),
        "\u{1FFFE}".as_bytes(),
        "\u{10FFFF}".as_bytes(),
        b"%EF%BF%BF",
        b"*=UTF-8''",
        b"filename",
        b"name",
        b"a",
        b"Z",
        b"9",
    ];
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for _ in 0..20_000 {
        let mut raw = b"form-data; name=\"photos\"; ".to_vec();
        for _ in 0..(next() % 40) {
            raw.extend_from_slice(ALPHABET[(next() % ALPHABET.len() as u64) as usize]);
        }
        let disposition = parse_disposition(&raw);
        let original = disposition.filename.unwrap_or_default();
        assert!(original.len() <= MAX_ORIGINAL_NAME_BYTES);
        let name = sanitize_file_name(&original);
        assert!(
            !name.is_empty() && name.len() <= MAX_KEY_NAME_BYTES,
            "{name:?}"
        );
        assert!(!name.starts_with('.') && !name.starts_with(' '), "{name:?}");
        assert!(
            !name.contains(['/', '\\']) && !name.chars().any(char::is_control),
            "{name:?}"
        );
        assert!(name.chars().all(listable), "{name:?}");
        let encoded = encode_key(&name);
        assert!(
            encoded
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._~%".contains(&b)),
            "{encoded}"
        );
        assert!(content_disposition("inline", &original).is_ascii());
    }
}

#[test]
fn non_ascii_header_values_are_rfc2047_encoded() {
    assert_eq!(header_safe("upload-server"), "upload-server");
    assert_eq!(header_safe("웹"), "=?UTF-8?B?7Ju5?=");
    assert_eq!(header_safe("a\nb"), "=?UTF-8?B?YQpi?=");
}

#[test]
fn content_disposition_has_ascii_fallback_and_utf8_name() {
    let value = content_disposition("inline", "사진 \"1\".png");
    assert_eq!(
        value,
        "inline; filename=\"__ _1_.png\"; filename*=UTF-8''%EC%82%AC%EC%A7%84%20%221%22.png"
    );
    assert!(value.is_ascii());
}
