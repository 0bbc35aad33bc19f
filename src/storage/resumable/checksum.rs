//! `Upload-Checksum` (the tus checksum extension): the header's algorithm and digest, and a hasher that runs over
//! a request's body while it streams.
//!
//! The digest covers exactly the bytes of one request's body: not earlier segments, not the whole file. A body
//! that does not match keeps nothing of itself.

use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use sha1::{Digest as _, Sha1};
use sha2::Sha256;

/// The algorithms offered in `Tus-Checksum-Algorithm`.
pub const ALGORITHMS: &str = "sha1,sha256";

/// Standard base64, with or without its padding.
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Algorithm {
    Sha1,
    Sha256,
}

impl Algorithm {
    /// The algorithm named (lowercase, as tus spells them), if supported.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "sha1" => Some(Self::Sha1),
            "sha256" => Some(Self::Sha256),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Sha1 => "sha1",
            Self::Sha256 => "sha256",
        }
    }

    /// The raw digest's length in bytes.
    pub fn digest_len(self) -> usize {
        match self {
            Self::Sha1 => 20,
            Self::Sha256 => 32,
        }
    }
}

/// An `Upload-Checksum` header that cannot be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ChecksumError {
    #[error("Upload-Checksum must be `<algorithm> <base64 digest>`")]
    Shape,
    #[error("the checksum algorithm {0:?} is not supported (supported: {ALGORITHMS})")]
    Algorithm(String),
    #[error("the {algorithm} digest is not standard base64")]
    Base64 { algorithm: &'static str },
    #[error("a {algorithm} digest is {expected} bytes, not {found}")]
    Length {
        algorithm: &'static str,
        expected: usize,
        found: usize,
    },
}

/// What a request's body must hash to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Expected {
    pub algorithm: Algorithm,
    pub digest: Vec<u8>,
}

/// Parses `Upload-Checksum`: `<algorithm> <base64 digest>`, one space between.
pub fn parse(header: &str) -> Result<Expected, ChecksumError> {
    let (name, encoded) = header.split_once(' ').ok_or(ChecksumError::Shape)?;
    if name.is_empty() || encoded.is_empty() {
        return Err(ChecksumError::Shape);
    }
    let algorithm =
        Algorithm::from_name(name).ok_or_else(|| ChecksumError::Algorithm(name.to_owned()))?;
    let digest = BASE64.decode(encoded).map_err(|_| ChecksumError::Base64 {
        algorithm: algorithm.name(),
    })?;
    if digest.len() != algorithm.digest_len() {
        return Err(ChecksumError::Length {
            algorithm: algorithm.name(),
            expected: algorithm.digest_len(),
            found: digest.len(),
        });
    }
    Ok(Expected { algorithm, digest })
}

/// Hashes a body as it streams, then compares with what the client sent.
#[derive(Clone, Debug)]
pub struct Hasher {
    expected: Vec<u8>,
    state: Running,
}

#[derive(Clone, Debug)]
enum Running {
    Sha1(Sha1),
    Sha256(Sha256),
}

impl Hasher {
    pub fn new(expected: Expected) -> Self {
        let state = match expected.algorithm {
            Algorithm::Sha1 => Running::Sha1(Sha1::new()),
            Algorithm::Sha256 => Running::Sha256(Sha256::new()),
        };
        Self {
            expected: expected.digest,
            state,
        }
    }

    pub fn update(&mut self, bytes: &[u8]) {
        match &mut self.state {
            Running::Sha1(hasher) => hasher.update(bytes),
            Running::Sha256(hasher) => hasher.update(bytes),
        }
    }

    /// Whether the bytes seen so far hash to the expected digest.
    pub fn matches(self) -> bool {
        let digest: Vec<u8> = match self.state {
            Running::Sha1(hasher) => hasher.finalize().to_vec(),
            Running::Sha256(hasher) => hasher.finalize().to_vec(),
        };
        digest == self.expected
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hashed(header: &str, chunks: &[&[u8]]) -> bool {
        let mut hasher = Hasher::new(parse(header).unwrap());
        for chunk in chunks {
            hasher.update(chunk);
        }
        hasher.matches()
    }

    #[test]
    fn the_designs_example_matches_in_one_piece_or_many() {
        let header = "sha1 Kq5sNclPz7QV2+lfQIuc6R7oRu0=";
        assert!(hashed(header, &[b"hello world"]));
        assert!(hashed(header, &[b"hel", b"", b"lo wor", b"ld"]));
        assert!(!hashed(header, &[b"hello world!"]));
        // Without its padding, the same digest.
        assert!(hashed(
            "sha1 Kq5sNclPz7QV2+lfQIuc6R7oRu0",
            &[b"hello world"]
        ));
    }

    #[test]
    fn sha256_matches_its_known_digest() {
        // SHA-256("hello world") = b94d27b9...efcde9.
        let header = "sha256 uU0nuZNNPgilLlLX2n2r+sSE7+N6U4DukIj3rOLvzek=";
        assert!(hashed(header, &[b"hello ", b"world"]));
        assert!(!hashed(header, &[b"hello"]));
    }

    #[test]
    fn an_empty_body_has_the_empty_digest() {
        assert!(hashed("sha1 2jmj7l5rSw0yVb/vlWAYkK/YBwk=", &[]));
    }

    #[test]
    fn malformed_headers_are_refused_with_their_reason() {
        assert_eq!(parse("sha1"), Err(ChecksumError::Shape));
        assert_eq!(parse("sha1 "), Err(ChecksumError::Shape));
        assert_eq!(
            parse(" Kq5sNclPz7QV2+lfQIuc6R7oRu0="),
            Err(ChecksumError::Shape)
        );
        assert_eq!(
            parse("md5 XrY7u+Ae7tCTyyK7j1rNww=="),
            Err(ChecksumError::Algorithm("md5".to_owned()))
        );
        assert_eq!(
            parse("SHA1 Kq5sNclPz7QV2+lfQIuc6R7oRu0="),
            Err(ChecksumError::Algorithm("SHA1".to_owned()))
        );
        assert_eq!(
            parse("sha1  Kq5sNclPz7QV2+lfQIuc6R7oRu0="),
            Err(ChecksumError::Base64 { algorithm: "sha1" })
        );
        assert_eq!(
            parse("sha1 Kq5sNclPz7QV2-lfQIuc6R7oRu0="),
            Err(ChecksumError::Base64 { algorithm: "sha1" })
        );
        // A SHA-256 digest under the name sha1.
        assert_eq!(
            parse("sha1 uU0nuZNNPgilLlLX2n2r+sSE7+N6U4DukIj3rOLvzek="),
            Err(ChecksumError::Length {
                algorithm: "sha1",
                expected: 20,
                found: 32
            })
        );
    }
}
