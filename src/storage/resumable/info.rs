//! The state of one resumable upload, as `info.json` holds it (format 1), where it lives in the bucket, and the
//! invariants every read checks.
//!
//! Everything an upload needs between requests is in this record, so any copy of the server can serve the
//! next request: no copy keeps state of its own. It is written only by compare-and-swap (`cas.rs`).

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The only `format` this build reads and writes.
pub const FORMAT: u32 = 1;

/// The folder, under `KEY_PREFIX`, that holds every upload's state. Sanitized file names never start with a
/// dot and unique keys start with a UUID, so no stored object's key falls in it.
pub const STATE_FOLDER: &str = ".resumable/";

/// The highest part number S3 accepts.
pub const MAX_PART_NUMBER: u32 = 10_000;

/// An upload's id: a UUID v7 in its simple form (32 lowercase hex digits), as in `/files/<id>`. It is
/// unguessable and carries nothing else (not the multipart upload id).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct UploadId(String);

impl UploadId {
    /// A new id (time-ordered, so listings come out roughly in creation order).
    pub fn generate() -> Self {
        Self(Uuid::now_v7().simple().to_string())
    }

    /// The id in a URL: exactly the shape [`UploadId::generate`] makes, or nothing. Ids come from clients, and
    /// become part of keys: one spelling per upload, no other character.
    pub fn parse(text: &str) -> Option<Self> {
        let bytes = text.as_bytes();
        let lower_hex = |b: &u8| b.is_ascii_digit() || (b'a'..=b'f').contains(b);
        let shaped = bytes.len() == 32
            && bytes.iter().all(lower_hex)
            // The version nibble (7) and the RFC 9562 variant (10xx).
            && bytes[12] == b'7'
            && matches!(bytes[16], b'8' | b'9' | b'a' | b'b');
        shaped.then(|| Self(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for UploadId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for UploadId {
    type Error = String;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        Self::parse(&text).ok_or_else(|| format!("not an upload id: {text:?}"))
    }
}

impl From<UploadId> for String {
    fn from(id: UploadId) -> Self {
        id.0
    }
}

/// Where an upload's state lives: `<KEY_PREFIX>.resumable/<id>/`.
pub fn state_prefix(key_prefix: &str, id: &UploadId) -> String {
    format!("{key_prefix}{STATE_FOLDER}{id}/")
}

/// `<KEY_PREFIX>.resumable/<id>/info.json`.
pub fn info_key(key_prefix: &str, id: &UploadId) -> String {
    format!("{}info.json", state_prefix(key_prefix, id))
}

/// `<KEY_PREFIX>.resumable/<id>/seg-<attempt>`: a segment written by one attempt (a request); an attempt
/// writes at most one, so the key is fresh.
pub fn segment_key(key_prefix: &str, id: &UploadId, attempt: Uuid) -> String {
    format!("{}seg-{}", state_prefix(key_prefix, id), attempt.simple())
}

/// Where an upload stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// Taking bytes (PATCH).
    Receiving,
    /// Every byte arrived; the object is being completed (a copy that crashed here is recovered).
    Completing,
    /// The object is stored (`object` says how).
    Completed,
    /// Given up (`failure` says why); the client must start over.
    Failed,
    /// Removed by the client (DELETE); what is left is being cleaned up.
    Terminated,
}

/// The state record, `info.json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Info {
    /// [`FORMAT`].
    pub format: u32,
    pub id: UploadId,
    /// Bumped by every write, so an unknown outcome (a timeout) can be settled by reading back.
    pub version: u64,
    /// The attempt (request) that wrote this version, as a simple UUID.
    pub written_by: String,
    pub state: State,
    /// The final object's key, fixed at creation.
    pub key: String,
    /// The client's file name, as the answer's `originalname`.
    pub originalname: String,
    /// The type the client claimed, as the answer's `mimetype`.
    pub mimetype: String,
    /// The `Upload-Metadata` header as received (validated ASCII), echoed on HEAD.
    pub metadata_header: Option<String>,
    /// The file's length; `None` while deferred (`Upload-Defer-Length: 1`).
    pub length: Option<u64>,
    /// Bytes received and kept: the parts' and segments' sizes together.
    pub offset: u64,
    /// The part size at creation, which stays the upload's whatever the copies' settings.
    pub part_size: u64,
    /// Seconds since the Unix epoch.
    pub created_at: u64,
    /// Seconds since the Unix epoch: the last commit.
    pub updated_at: u64,
    /// Seconds since the Unix epoch: sliding, from the last commit.
    pub expires_at: u64,
    /// The stored type, once the first bytes decided it.
    pub content_type: Option<String>,
    pub content_disposition: Option<String>,
    /// Base64 of the first bytes while too few arrived to decide the type.
    pub sniff_head: Option<String>,
    /// The multipart upload building the object, created with the first full part.
    pub multipart: Option<Multipart>,
    /// Stored parts, ascending by number.
    pub parts: Vec<Part>,
    /// Bytes that do not fill a part yet, in order.
    pub segments: Vec<Segment>,
    /// The high-water mark: every number below it was used or burned; no number is ever sent twice.
    pub next_part: u32,
    /// The request holding the upload, if any.
    pub claim: Option<Claim>,
    /// The stored object, once completed.
    pub object: Option<StoredObject>,
    /// Why the upload failed, in state `failed`.
    pub failure: Option<Failure>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Multipart {
    pub upload_id: String,
}

/// A part stored in the multipart upload.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Part {
    pub n: u32,
    pub etag: String,
    pub size: u64,
}

/// A segment object: bytes kept until they fill a part.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Segment {
    pub key: String,
    pub etag: String,
    pub size: u64,
}

/// A request's hold on the upload: a lease, and the part numbers it may send.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claim {
    /// The holding attempt, as a simple UUID.
    pub attempt: String,
    /// The copy of the server it runs in (`<host>/<pid>`), for logs.
    pub copy: String,
    /// Seconds since the Unix epoch; renewed while the holder works.
    pub expires_at: u64,
    /// The reserved window of part numbers, `[parts_from, parts_to)`.
    pub parts_from: u32,
    pub parts_to: u32,
    /// A newer request asked the holder to let go.
    pub release_requested: bool,
}

/// How the completed object was stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredObject {
    pub etag: String,
    pub version_id: Option<String>,
    pub sse: Option<String>,
    pub size: u64,
}

/// Why an upload failed: a stable code and a message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    pub code: String,
    pub message: String,
}

/// An `info.json` that breaks an invariant: a bug, or a record written by something else.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Broken {
    #[error("format {0} is not {FORMAT}")]
    Format(u32),
    #[error("part size is 0")]
    NoPartSize,
    #[error("offset {offset} is not the {stored} bytes of its parts and segments")]
    Offset { offset: u64, stored: u64 },
    #[error("completed, but no stored object of {offset} bytes is recorded")]
    CompletedObject { offset: u64 },
    #[error("offset {offset} is past the length {length}")]
    PastLength { offset: u64, length: u64 },
    #[error("parts are listed without a multipart upload")]
    PartsWithoutUpload,
    #[error("part {n} is not above the part before it ({previous})")]
    PartOrder { n: u32, previous: u32 },
    #[error("part {n} is not below next_part {next_part}")]
    PartNotBelowNext { n: u32, next_part: u32 },
    #[error("part number {n} is outside 1..={MAX_PART_NUMBER}")]
    PartNumber { n: u32 },
    #[error("part {n} holds {size} bytes; every part but the last holds {part_size}")]
    PartSize { n: u32, size: u64, part_size: u64 },
    #[error("segments hold {total} bytes, not less than a part ({part_size})")]
    Segments { total: u64, part_size: u64 },
    #[error("the claim's window [{from}, {to}) is empty or reversed")]
    ClaimWindow { from: u32, to: u32 },
}

/// What a creation (POST) decides; the rest of a new [`Info`] follows from it.
#[derive(Clone, Debug)]
pub struct NewUpload {
    pub key: String,
    pub originalname: String,
    pub mimetype: String,
    pub metadata_header: Option<String>,
    pub length: Option<u64>,
    pub part_size: u64,
}

impl Info {
    /// A new upload's first version (1), written by `attempt` at `now` (seconds since the Unix epoch), taking
    /// bytes until `expires_at`.
    pub fn new(id: UploadId, attempt: &str, upload: NewUpload, now: u64, expires_at: u64) -> Self {
        Self {
            format: FORMAT,
            id,
            version: 1,
            written_by: attempt.to_owned(),
            state: State::Receiving,
            key: upload.key,
            originalname: upload.originalname,
            mimetype: upload.mimetype,
            metadata_header: upload.metadata_header,
            length: upload.length,
            offset: 0,
            part_size: upload.part_size,
            created_at: now,
            updated_at: now,
            expires_at,
            content_type: None,
            content_disposition: None,
            sniff_head: None,
            multipart: None,
            parts: Vec::new(),
            segments: Vec::new(),
            next_part: 1,
            claim: None,
            object: None,
            failure: None,
        }
    }

    /// Checks the invariants of design 2.2 (in state `completed`, the offset is the stored object's size instead of
    /// the parts' and segments'); the first one broken is the error.
    pub fn check(&self) -> Result<(), Broken> {
        if self.format != FORMAT {
            return Err(Broken::Format(self.format));
        }
        if self.part_size == 0 {
            return Err(Broken::NoPartSize);
        }
        // Saturating: a record with absurd sizes is reported, not a panic.
        let in_parts = self
            .parts
            .iter()
            .map(|p| p.size)
            .fold(0, u64::saturating_add);
        let in_segments = self
            .segments
            .iter()
            .map(|s| s.size)
            .fold(0, u64::saturating_add);
        let stored = in_parts.saturating_add(in_segments);
        if self.state == State::Completed {
            // The object holds the bytes (a small file went as one PutObject: no part, no segment).
            if self.object.as_ref().is_none_or(|o| o.size != self.offset) {
                return Err(Broken::CompletedObject {
                    offset: self.offset,
                });
            }
        } else if self.offset != stored {
            return Err(Broken::Offset {
                offset: self.offset,
                stored,
            });
        }
        if let Some(length) = self.length
            && self.offset > length
        {
            return Err(Broken::PastLength {
                offset: self.offset,
                length,
            });
        }
        self.check_parts()?;
        if in_segments >= self.part_size {
            return Err(Broken::Segments {
                total: in_segments,
                part_size: self.part_size,
            });
        }
        if let Some(claim) = &self.claim
            && claim.parts_from >= claim.parts_to
        {
            return Err(Broken::ClaimWindow {
                from: claim.parts_from,
                to: claim.parts_to,
            });
        }
        Ok(())
    }

    fn check_parts(&self) -> Result<(), Broken> {
        if !self.parts.is_empty() && self.multipart.is_none() {
            return Err(Broken::PartsWithoutUpload);
        }
        let mut previous = 0;
        for (index, part) in self.parts.iter().enumerate() {
            let n = part.n;
            if n == 0 || n > MAX_PART_NUMBER {
                return Err(Broken::PartNumber { n });
            }
            if n <= previous {
                return Err(Broken::PartOrder { n, previous });
            }
            if n >= self.next_part {
                return Err(Broken::PartNotBelowNext {
                    n,
                    next_part: self.next_part,
                });
            }
            let last = index + 1 == self.parts.len();
            let size_ok = if last {
                part.size > 0 && part.size <= self.part_size
            } else {
                part.size == self.part_size
            };
            if !size_ok {
                return Err(Broken::PartSize {
                    n,
                    size: part.size,
                    part_size: self.part_size,
                });
            }
            previous = n;
        }
        Ok(())
    }
}
