//! Where a form's parts lie in the request body, as browsers, curl and the common HTTP libraries write them:
//! `--boundary\r\n`, each header as `Name: value\r\n`, a blank line, the data, then `\r\n--boundary\r\n` before
//! the next part and `\r\n--boundary--\r\n` at the end.
//!
//! It is a guess. A form may have a preamble, other spacing in its headers, or an epilogue, and the parser
//! accepts those. The length it gives for the last part is used only by an early PUT
//! (`storage::upload::tap`), which checks it against the bytes before the object can be stored.

use axum::http::HeaderMap;

/// `\r\n` before the closing delimiter, `--` + boundary, `--\r\n` after it.
const CLOSING_EXTRA: u64 = 8;

#[derive(Debug)]
pub(super) struct Layout {
    boundary: u64,
    content_length: Option<u64>,
    /// Where the last part's data ended; `None` before the first part.
    end_of_last: Option<u64>,
}

impl Layout {
    pub(super) fn new(boundary: &str, content_length: Option<u64>) -> Self {
        Self {
            boundary: boundary.len() as u64,
            content_length,
            end_of_last: None,
        }
    }

    /// Where the data of the next part, with these headers, begins.
    pub(super) fn data_start(&self, headers: &HeaderMap) -> u64 {
        let dashes_boundary_crlf = 2 + self.boundary + 2;
        let delimiter = match self.end_of_last {
            None => dashes_boundary_crlf,
            Some(end) => end + 2 + dashes_boundary_crlf,
        };
        let headers: u64 = headers
            .iter()
            .map(|(name, value)| (name.as_str().len() + 2 + value.len() + 2) as u64)
            .sum();
        delimiter + headers + 2
    }

    /// The part whose data began at `data_start` ended after `len` bytes.
    pub(super) fn part_ended(&mut self, data_start: u64, len: u64) {
        self.end_of_last = Some(data_start + len);
    }

    /// The length of the part beginning at `data_start` if it is the form's last: what is left of the request
    /// less the closing delimiter.
    pub(super) fn length_if_last(&self, data_start: u64) -> Option<u64> {
        self.content_length?
            .checked_sub(data_start)?
            .checked_sub(self.boundary + CLOSING_EXTRA)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    const BOUNDARY: &str = "----WebKitFormBoundary7MA4YWxkTrZu0gW";

    fn part(headers: &[(&str, &str)], data: &[u8]) -> (Vec<u8>, HeaderMap) {
        let mut raw = Vec::new();
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            raw.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
            map.append(
                axum::http::HeaderName::from_bytes(name.as_bytes()).expect("name"),
                HeaderValue::from_str(value).expect("value"),
            );
        }
        raw.extend_from_slice(b"\r\n");
        raw.extend_from_slice(data);
        (raw, map)
    }

    #[test]
    fn a_browser_form_s_parts_are_found_and_the_last_one_s_length_guessed() {
        let (text, text_headers) = part(
            &[("Content-Disposition", "form-data; name=\"title\"")],
            "사진".as_bytes(),
        );
        let file = vec![0x89u8; 5000];
        let (photo, photo_headers) = part(
            &[
                (
                    "Content-Disposition",
                    "form-data; name=\"photos\"; filename=\"고양이.png\"",
                ),
                ("Content-Type", "image/png"),
            ],
            &file,
        );
        let mut body = format!("--{BOUNDARY}\r\n").into_bytes();
        body.extend_from_slice(&text);
        body.extend_from_slice(format!("\r\n--{BOUNDARY}\r\n").as_bytes());
        let file_at = body.len() + photo.len() - file.len();
        body.extend_from_slice(&photo);
        body.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());

        let mut layout = Layout::new(BOUNDARY, Some(body.len() as u64));
        let text_at = layout.data_start(&text_headers);
        assert_eq!(&body[text_at as usize..][..6], "사진".as_bytes());
        layout.part_ended(text_at, 6);
        let start = layout.data_start(&photo_headers);
        assert_eq!(start, file_at as u64);
        assert_eq!(layout.length_if_last(start), Some(file.len() as u64));
    }

    #[test]
    fn no_content_length_or_one_too_short_gives_no_length() {
        let (_, headers) = part(&[("Content-Disposition", "form-data; name=\"a\"")], b"");
        let layout = Layout::new(BOUNDARY, None);
        assert_eq!(layout.length_if_last(layout.data_start(&headers)), None);
        let layout = Layout::new(BOUNDARY, Some(20));
        assert_eq!(layout.length_if_last(layout.data_start(&headers)), None);
    }
}
