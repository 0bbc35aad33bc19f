//! `Upload-Metadata`: `key value,key value,key`, each value the standard base64 of UTF-8 text.
//!
//! tus-js-client encodes `String(value)` as UTF-8 and then base64 (with padding), so a Korean file name arrives
//! intact; other clients leave the padding out, which is accepted too. Keys are unique and non-empty; a key may
//! come alone (its value is then empty). The file name is `filename`, else `name` (Uppy sends both); the type
//! the client claims is `filetype`, else `type`.

use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

/// Standard base64, with or without its padding.
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// How much metadata one upload may carry.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// The header's length in bytes, as received.
    pub max_bytes: usize,
    /// How many pairs.
    pub max_pairs: usize,
}

/// Why an `Upload-Metadata` header is refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MetadataError {
    #[error("Upload-Metadata is longer than {limit} bytes")]
    TooLarge { limit: usize },
    #[error("Upload-Metadata has more than {limit} pairs")]
    TooManyPairs { limit: usize },
    #[error("Upload-Metadata must be visible ASCII")]
    NotAscii,
    #[error("an Upload-Metadata pair has an empty key")]
    EmptyKey,
    #[error("the Upload-Metadata key {0:?} appears twice")]
    Duplicate(String),
    #[error("the value of Upload-Metadata's {0:?} is not standard base64")]
    Base64(String),
    #[error("the value of Upload-Metadata's {0:?} is not UTF-8 text")]
    Utf8(String),
}

/// Decoded metadata, in the order the client sent it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Metadata {
    pairs: Vec<(String, String)>,
}

impl Metadata {
    /// Parses the header's value; an empty header is no metadata.
    pub fn parse(header: &str, limits: Limits) -> Result<Self, MetadataError> {
        if header.len() > limits.max_bytes {
            return Err(MetadataError::TooLarge {
                limit: limits.max_bytes,
            });
        }
        // What a header can carry and be echoed back on HEAD as it came.
        if !header.bytes().all(|b| b == b' ' || b.is_ascii_graphic()) {
            return Err(MetadataError::NotAscii);
        }
        let mut metadata = Self::default();
        if header.trim().is_empty() {
            return Ok(metadata);
        }
        for pair in header.split(',') {
            if metadata.pairs.len() == limits.max_pairs {
                return Err(MetadataError::TooManyPairs {
                    limit: limits.max_pairs,
                });
            }
            let (key, value) = decode_pair(pair.trim())?;
            if metadata.get(&key).is_some() {
                return Err(MetadataError::Duplicate(key));
            }
            metadata.pairs.push((key, value));
        }
        Ok(metadata)
    }

    /// The value of `key`: `Some("")` for a key sent alone.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, value)| value.as_str())
    }

    /// The file's name: `filename`, else `name`; none when neither is sent or both are empty.
    pub fn file_name(&self) -> Option<&str> {
        self.first_of(&["filename", "name"])
    }

    /// The type the client claims: `filetype`, else `type`.
    pub fn claimed_type(&self) -> Option<&str> {
        self.first_of(&["filetype", "type"])
    }

    fn first_of(&self, keys: &[&str]) -> Option<&str> {
        keys.iter()
            .filter_map(|key| self.get(key))
            .find(|value| !value.is_empty())
    }

    /// Every pair, in the order sent.
    pub fn pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.pairs.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

/// `key value` or `key` alone.
fn decode_pair(pair: &str) -> Result<(String, String), MetadataError> {
    let (key, encoded) = pair.split_once(' ').unwrap_or((pair, ""));
    if key.is_empty() {
        return Err(MetadataError::EmptyKey);
    }
    let key = key.to_owned();
    let bytes = BASE64
        .decode(encoded)
        .map_err(|_| MetadataError::Base64(key.clone()))?;
    match String::from_utf8(bytes) {
        Ok(value) => Ok((key, value)),
        Err(_) => Err(MetadataError::Utf8(key)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: Limits = Limits {
        max_bytes: 4096,
        max_pairs: 8,
    };

    fn parse(header: &str) -> Result<Metadata, MetadataError> {
        Metadata::parse(header, LIMITS)
    }

    #[test]
    fn tus_js_clients_encoding_of_a_korean_name_arrives_intact() {
        // What tus-js-client 4.3.1 sends for `metadata: { filename, filetype }` (js-base64's Base64.encode).
        let header = "filename 7Iqk7YGs66aw7IO3IDIwMjMtMTEtMTUg7Jik7ZuEIDguMDQuMjkucG5n,filetype aW1hZ2UvcG5n";
        let metadata = parse(header).unwrap();
        assert_eq!(
            metadata.file_name(),
            Some("스크린샷 2023-11-15 오후 8.04.29.png")
        );
        assert_eq!(metadata.claimed_type(), Some("image/png"));
        assert_eq!(metadata.pairs().count(), 2);
    }

    #[test]
    fn padding_is_optional_and_keys_may_come_alone() {
        // "한" is 3 bytes (no padding); "//4=" is a 2-byte value written with and without its `=`.
        let metadata = parse("name 7ZWc, is_confidential,type aW1hZ2UvcG5n").unwrap();
        assert_eq!(metadata.file_name(), Some("한"));
        assert_eq!(metadata.get("is_confidential"), Some(""));
        assert_eq!(metadata.claimed_type(), Some("image/png"));
        assert_eq!(
            parse("a YQ==").unwrap().get("a"),
            parse("a YQ").unwrap().get("a")
        );
    }

    #[test]
    fn filename_wins_over_name_and_filetype_over_type() {
        // Uppy sends both names.
        let metadata = parse("name Yg==,filename YQ==,type Yg==,filetype YQ==").unwrap();
        assert_eq!(metadata.file_name(), Some("a"));
        assert_eq!(metadata.claimed_type(), Some("a"));
        // An empty `filename` does not hide `name`.
        assert_eq!(parse("filename,name Yg==").unwrap().file_name(), Some("b"));
        assert_eq!(parse("").unwrap(), Metadata::default());
        assert_eq!(parse("other YQ==").unwrap().file_name(), None);
    }

    #[test]
    fn malformed_metadata_is_refused_with_its_reason() {
        assert_eq!(
            parse("filename YQ==,filename Yg=="),
            Err(MetadataError::Duplicate("filename".to_owned()))
        );
        assert_eq!(
            parse("filename not*base64"),
            Err(MetadataError::Base64("filename".to_owned()))
        );
        // URL-safe base64 is not the standard alphabet.
        assert_eq!(
            parse("filename __4="),
            Err(MetadataError::Base64("filename".to_owned()))
        );
        // Two spaces: the value starts with one.
        assert_eq!(
            parse("filename  YQ=="),
            Err(MetadataError::Base64("filename".to_owned()))
        );
        // 0xFF 0xFE is not UTF-8.
        assert_eq!(
            parse("filename //4="),
            Err(MetadataError::Utf8("filename".to_owned()))
        );
        assert_eq!(parse(",a YQ=="), Err(MetadataError::EmptyKey));
        assert_eq!(parse("a YQ==, ,b Yg=="), Err(MetadataError::EmptyKey));
        assert_eq!(parse("a YQ==,,b Yg=="), Err(MetadataError::EmptyKey));
        assert_eq!(parse("a YQ==,"), Err(MetadataError::EmptyKey));
        assert_eq!(parse("a\tYQ=="), Err(MetadataError::NotAscii));
        assert_eq!(parse("ä YQ=="), Err(MetadataError::NotAscii));
    }

    #[test]
    fn the_size_and_pair_limits_hold() {
        let limits = Limits {
            max_bytes: 16,
            max_pairs: 2,
        };
        assert!(Metadata::parse("a YQ==,b Yg==", limits).is_ok());
        assert_eq!(
            Metadata::parse("a YQ==,b Yg==,c", limits),
            Err(MetadataError::TooManyPairs { limit: 2 })
        );
        assert_eq!(
            Metadata::parse("a YWFhYWFhYWFhYWFh", limits),
            Err(MetadataError::TooLarge { limit: 16 })
        );
    }
}
