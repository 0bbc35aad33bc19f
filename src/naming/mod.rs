//! File names: reading them from a multipart part, making them safe as object keys, and writing them back in a
//! `Content-Disposition` header.
//!
//! Clients name a non-ASCII file in different ways, and all must give the same name: curl and browsers send raw
//! UTF-8 in `filename="…"` (browsers escape `"` as `%22` and CR/LF as `%0D`/`%0A`); Postman sends both
//! `filename="<raw UTF-8>"` and `filename*=UTF-8''<percent-encoded>`. Everything here is a pure function, so the
//! fuzz target and the unit tests drive it directly.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode, utf8_percent_encode};

/// The longest sanitized file name kept in an object key, in bytes. Keys stay short: some S3-compatible stores
/// (s3s-fs) keep a sidecar file whose name grows with the key.
pub const MAX_KEY_NAME_BYTES: usize = 64;

/// The longest original name accepted, in bytes; longer names are cut (at a character boundary).
pub const MAX_ORIGINAL_NAME_BYTES: usize = 1024;

/// The parameters of a part's `Content-Disposition: form-data; …` header that matter here.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Disposition {
    /// `name`: the form field.
    pub name: Option<String>,
    /// `filename*` if present and valid, else `filename`: the part is a file when this is `Some`.
    pub filename: Option<String>,
}

/// Parses a part's raw `Content-Disposition` value. Bytes that are not UTF-8 are replaced (U+FFFD), never
/// rejected: a name is data, and the object is still stored safely.
pub fn parse_disposition(raw: &[u8]) -> Disposition {
    let mut out = Disposition::default();
    let mut extended = None;
    let mut rest = raw;
    // Skip the disposition type (`form-data`).
    match rest.iter().position(|&b| b == b';') {
        Some(i) => rest = &rest[i + 1..],
        None => return out,
    }
    while !rest.is_empty() {
        rest = trim_start(rest);
        let Some(eq) = rest.iter().position(|&b| b == b'=' || b == b';') else {
            break;
        };
        if rest[eq] == b';' {
            rest = &rest[eq + 1..];
            continue;
        }
        let key = trim_end(&rest[..eq]).to_ascii_lowercase();
        rest = trim_start(&rest[eq + 1..]);
        let value: Vec<u8>;
        if rest.first() == Some(&b'"') {
            let (v, after) = quoted_string(&rest[1..]);
            value = v;
            rest = after;
        } else {
            let end = rest.iter().position(|&b| b == b';').unwrap_or(rest.len());
            value = trim_end(&rest[..end]).to_vec();
            rest = &rest[end..];
        }
        if let Some(i) = rest.iter().position(|&b| b == b';') {
            rest = &rest[i + 1..];
        } else {
            rest = &[];
        }
        match key.as_slice() {
            b"name" if out.name.is_none() => {
                out.name = Some(String::from_utf8_lossy(&value).into_owned())
            }
            b"filename" if out.filename.is_none() => {
                out.filename = Some(decode_browser_escapes(&value))
            }
            b"filename*" if extended.is_none() => extended = decode_ext_value(&value),
            _ => {}
        }
    }
    if extended.is_some() {
        out.filename = extended;
    }
    if let Some(name) = &mut out.filename {
        truncate_at_char(name, MAX_ORIGINAL_NAME_BYTES);
    }
    out
}

fn trim_start(b: &[u8]) -> &[u8] {
    let i = b
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(b.len());
    &b[i..]
}

fn trim_end(b: &[u8]) -> &[u8] {
    let i = b
        .iter()
        .rposition(|c| !c.is_ascii_whitespace())
        .map_or(0, |i| i + 1);
    &b[..i]
}

/// Reads a quoted string's content (after the opening quote) up to the closing quote, undoing `\"` and `\\`.
fn quoted_string(b: &[u8]) -> (Vec<u8>, &[u8]) {
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\\' if i + 1 < b.len() && matches!(b[i + 1], b'"' | b'\\') => {
                out.push(b[i + 1]);
                i += 2;
            }
            b'"' => return (out, &b[i + 1..]),
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    (out, &[])
}

/// Browsers (per the HTML standard) send `"` as `%22` and CR/LF as `%0D`/`%0A` inside `filename="…"`, and
/// nothing else percent-encoded: undo exactly those three, so a name with a literal `%41` stays as it is.
fn decode_browser_escapes(value: &[u8]) -> String {
    let text = String::from_utf8_lossy(value);
    if !text.contains('%') {
        return text.into_owned();
    }
    text.replace("%22", "\"")
        .replace("%0D", "\r")
        .replace("%0A", "\n")
}

/// Decodes an RFC 5987 / RFC 8187 `ext-value`: `charset'lang'percent-encoded`. UTF-8 and ISO-8859-1 are known;
/// anything else is ignored (the plain `filename` is used then).
fn decode_ext_value(value: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(value).ok()?;
    let mut pieces = text.splitn(3, '\'');
    let charset = pieces.next()?.to_ascii_lowercase();
    let _language = pieces.next()?;
    let encoded = pieces.next()?;
    let bytes: Vec<u8> = percent_decode(encoded.as_bytes()).collect();
    match charset.as_str() {
        "utf-8" => Some(String::from_utf8_lossy(&bytes).into_owned()),
        "iso-8859-1" => Some(bytes.iter().map(|&b| char::from(b)).collect()),
        _ => None,
    }
}

fn truncate_at_char(s: &mut String, max: usize) {
    if s.len() > max {
        let mut end = max;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
}

/// Makes a client's file name safe as the last segment of an object key: only the base name (after the last
/// `/` or `\`), no control characters, none of the characters S3 advises against in keys, nothing XML 1.0
/// cannot carry (see `breaks_listings`), no leading dots (so no `..` and no hidden names), at most
/// [`MAX_KEY_NAME_BYTES`] bytes with the extension kept. Never empty.
pub fn sanitize_file_name(original: &str) -> String {
    let base = original.rsplit(['/', '\\']).next().unwrap_or(original);
    let mut name = String::with_capacity(base.len());
    for c in base.chars() {
        let replaced = if c.is_control() || is_unsafe_in_key(c) || breaks_listings(c) {
            '_'
        } else if c.is_whitespace() {
            ' '
        } else {
            c
        };
        // Collapse runs of the replacement so hostile names stay short and readable.
        if replaced == '_' && name.ends_with('_') && c != '_' {
            continue;
        }
        name.push(replaced);
    }
    let name = name.trim_matches(|c: char| c == ' ' || c == '.').to_owned();
    let mut name = if name.is_empty() || name.chars().all(|c| c == '_') {
        "file".to_owned()
    } else {
        name
    };
    if name.len() > MAX_KEY_NAME_BYTES {
        name = shorten_keeping_extension(&name, MAX_KEY_NAME_BYTES);
    }
    name
}

/// Characters AWS lists as "to avoid" in keys, plus `%` (it would read as an escape) and `/` `\`.
fn is_unsafe_in_key(c: char) -> bool {
    matches!(
        c,
        '/' | '\\'
            | '{'
            | '}'
            | '^'
            | '%'
            | '`'
            | '['
            | ']'
            | '"'
            | '<'
            | '>'
            | '~'
            | '#'
            | '|'
            | '\u{FFFD}'
    ) || ('\u{80}'..='\u{9F}').contains(&c)
        || matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}')
}

/// Characters that would make the bucket's listings fail: S3 answers ListObjects in XML 1.0, which cannot carry
/// U+FFFE and U+FFFF (nor controls, already replaced), so one such key makes every listing of its prefix fail,
/// and `clean` with it. The other Unicode noncharacters (U+FDD0 to U+FDEF, and the last two code points of every
/// plane) are allowed by XML 1.0 but discouraged, and stores and XML parsers differ on them: they go too.
fn breaks_listings(c: char) -> bool {
    ('\u{FDD0}'..='\u{FDEF}').contains(&c) || (u32::from(c) & 0xFFFE) == 0xFFFE
}

fn shorten_keeping_extension(name: &str, max: usize) -> String {
    let ext = match name.rfind('.') {
        Some(i) if i > 0 && name.len() - i <= 16 => &name[i..],
        _ => "",
    };
    let mut stem = name[..name.len() - ext.len()].to_owned();
    truncate_at_char(&mut stem, max - ext.len());
    let stem = stem.trim_end_matches([' ', '.']);
    format!("{stem}{ext}")
}

/// Characters kept as they are in a URL path: RFC 3986 unreserved ones and `/`. Everything else is
/// percent-encoded byte by byte (a space is `%20`, never `+`).
const KEY_PATH: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'/');

/// Percent-encodes an object key for a URL path.
pub fn encode_key(key: &str) -> String {
    utf8_percent_encode(key, KEY_PATH).to_string()
}

/// RFC 5987 `attr-char`: what may stay unencoded in `filename*=UTF-8''…`.
const ATTR_CHAR: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'!')
    .remove(b'#')
    .remove(b'$')
    .remove(b'&')
    .remove(b'+')
    .remove(b'-')
    .remove(b'.')
    .remove(b'^')
    .remove(b'_')
    .remove(b'`')
    .remove(b'|')
    .remove(b'~');

/// The stored object's `Content-Disposition`: `inline` (or `attachment`), an ASCII fallback name, and the exact
/// name as RFC 6266 `filename*=UTF-8''…`, so browsers show and save it under its real name.
pub fn content_disposition(disposition: &str, original: &str) -> String {
    let fallback: String = original
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' && c != '%' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let encoded = utf8_percent_encode(original, ATTR_CHAR);
    format!("{disposition}; filename=\"{fallback}\"; filename*=UTF-8''{encoded}")
}

/// A header value S3 accepts: ASCII as it is; anything else as an RFC 2047 encoded word (`=?UTF-8?B?…?=`),
/// since S3 headers, user metadata included, must be ASCII.
pub fn header_safe(value: &str) -> String {
    if value.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        value.to_owned()
    } else {
        format!("=?UTF-8?B?{}?=", aws_smithy_types::base64::encode(value))
    }
}

#[cfg(test)]
mod tests;
