//! The upload page's copy of the server's error codes: `ERROR_TITLES` in `static/js/errors.js` gives every
//! code an answer can carry its Korean and English title. Nothing else ties the two lists together, so a code
//! added to the server would show on the page as a bare "Upload failed" unless this test fails first.

use std::collections::BTreeSet;

use s3_upload_server::error::all_codes;

/// The part of the page's script (`GET /app.js`) that holds the table, as compiled into the binary.
const ERRORS_JS: &str = include_str!("../../static/js/errors.js");

/// Codes the page makes up itself, for failures that happen before, instead of or after a server's answer
/// (the connection failed, the user cancelled, the answer was not JSON, the stored image did not load from
/// its URL). The server never sends them.
const PAGE_ONLY_CODES: &[&str] = &[
    "NETWORK_ERROR",
    "ABORTED",
    "BAD_RESPONSE",
    "IMAGE_LOAD_FAILED",
];

/// The keys of the page's `ERROR_TITLES`, in the order written.
///
/// The format relied on (the one `static/js/errors.js` is written in): the table opens on a line that is
/// `const ERROR_TITLES = {`, closes on the first line after it that is `};`, and between the two holds one
/// entry per line, `CODE: ['title', 'English title'],`: a bare key of capitals, digits and underscores, then
/// one array that ends the line (so no `[` in a title). Blank lines and `//` comments in between are skipped.
/// Any other line panics, so that a change of format fails here rather than silently missing keys.
fn error_title_keys(script: &str) -> Vec<&str> {
    let mut lines = script
        .lines()
        .skip_while(|line| line.trim() != "const ERROR_TITLES = {");
    assert!(
        lines.next().is_some(),
        "no line `const ERROR_TITLES = {{` in static/js/errors.js"
    );
    let mut keys = Vec::new();
    for line in lines {
        let line = line.trim();
        if line == "};" {
            return keys;
        }
        if line.is_empty() || line.starts_with("//") {
            continue;
        }
        let key = line
            .split_once(':')
            .map(|(key, value)| (key.trim(), value.trim_start()))
            .filter(|(key, value)| {
                !key.is_empty()
                    && key
                        .bytes()
                        .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
                    && value.starts_with('[')
                    && (value.ends_with("],") || value.ends_with(']'))
                    && value.matches('[').count() == 1
            })
            .map(|(key, _)| key);
        match key {
            Some(key) => keys.push(key),
            None => panic!(
                "an ERROR_TITLES line this test cannot read (one `CODE: [...],` per line): {line}"
            ),
        }
    }
    panic!("ERROR_TITLES in static/js/errors.js has no closing `}};` line");
}

#[test]
fn the_pages_error_titles_name_every_server_code_and_the_pages_own() {
    let keys = error_title_keys(ERRORS_JS);
    let titled: BTreeSet<&str> = keys.iter().copied().collect();
    assert_eq!(
        titled.len(),
        keys.len(),
        "ERROR_TITLES names a code twice (the later entry wins): {keys:?}"
    );

    let server: BTreeSet<&str> = all_codes().iter().copied().collect();
    let page_only: BTreeSet<&str> = PAGE_ONLY_CODES.iter().copied().collect();
    assert!(
        server.is_disjoint(&page_only),
        "the server now answers with a code the page thought its own: {:?}",
        server.intersection(&page_only).collect::<Vec<_>>()
    );

    let expected: BTreeSet<&str> = server.union(&page_only).copied().collect();
    assert_eq!(
        titled,
        expected,
        "static/js/errors.js ERROR_TITLES and error::all_codes() (plus the page's own {PAGE_ONLY_CODES:?}) \
         differ: without a title {:?}, titled but never sent {:?}",
        expected.difference(&titled).collect::<Vec<_>>(),
        titled.difference(&expected).collect::<Vec<_>>(),
    );
}
