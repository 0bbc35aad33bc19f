//! Appending a request's body to a resumable upload (design 2.5): claim, stream into parts, keep the rest as a
//! segment, commit; or complete the object when the last byte arrived. No HTTP: `routes::tus` will call
//! [`Resumable::append`] for a PATCH.
//!
//! 1. Read the record; not `receiving` or not at the request's offset → nothing changes.
//! 2. Claim it: one compare-and-swap that records the attempt and reserves a window of part numbers
//!    `[from, from + W)`, `from` past every number used or reserved before (an earlier claim's window is
//!    burned: its holder may still send into it).
//! 3. Stream the upload's segments, then the body, through the uploader's [`PartReader`](crate::storage::upload::PartReader) (same memory budget,
//!    recycled blocks, parts in flight): every full part goes to the multipart upload (created, and recorded
//!    by CAS, before the first one), numbered from the window (extended by CAS when used up).
//! 4. The end: the last byte of the upload arrived → the rest is the final part, or the whole file is one
//!    PutObject; the record says `completing`, then `completed` with the object. Otherwise the rest of the body
//!    becomes a new segment, and the commit (CAS) lists the new parts and segment and clears the claim.
//!
//! Where this differs from the design (2.4, 2.5):
//! - No lease: no renewal, no release request, no 1 s watcher. A claim burns the window of any claim before it
//!   and takes over; two appends racing on one upload both stream, and the later commit loses its CAS (its
//!   parts are never listed, its segment is deleted): [`Appended::Conflict`], which tus clients retry after a
//!   HEAD. Bytes of the losing request are sent again by its client; nothing wrong is ever kept.
//! - Segments are read back before the body (`input::segments`) instead of when the first part fills: a
//!   small body pays a read of the segments (less than one part, within the memory budget). With 8 segments
//!   already, an append that fills no part writes them again with its own bytes as one (`attempt.rs`).
//! - No sniff head kept in the record: the route judges the first append's first bytes and records the type
//!   ([`super::kind`]); an upload whose type was never recorded is stored as `application/octet-stream`.
//! - A failed UploadPart or segment read keeps nothing of the request (not the longest stored prefix); the
//!   claim stays in the record, and the next claim burns its window.
//! - A completion that fails other than `FILE_EXISTS` leaves the record `completing` with its claim let go;
//!   the next request that looks at the upload finishes it ([`super::recover`]).

use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use futures_util::Stream;
use uuid::Uuid;

use super::attempt::Attempt;
use super::cas::{CasError, InfoStore};
use super::checksum::Expected;
use super::info::{Claim, Info, MAX_PART_NUMBER, State, StoredObject, UploadId};
use crate::storage::upload::{ObjectSpec, UploadError, Uploader};
use crate::{content_type, naming};

/// How many part numbers a claim reserves at most at once.
pub(super) const WINDOW: u32 = 16;

/// How long a claim is said to last (recorded for the leases to come; nothing renews or expires it yet).
const CLAIM_SECS: u64 = 30;

/// A claim lost to another request is tried again this many times before answering [`Appended::Conflict`].
const CLAIM_TRIES: usize = 3;

/// Resumable uploads in one bucket, written with the uploader's settings and memory.
#[derive(Clone, Debug)]
pub struct Resumable {
    pub(super) uploader: Uploader,
    pub(super) infos: InfoStore,
    pub(super) key_prefix: String,
}

/// What an append did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Appended {
    /// The body is kept: the upload now holds `offset` bytes.
    Received { offset: u64 },
    /// The upload's last byte arrived and its object is stored.
    Completed { offset: u64, object: StoredObject },
    /// The upload holds `offset` bytes, not the request's offset: nothing changed.
    OffsetMismatch { offset: u64 },
    /// The body does not hash to its checksum: nothing of it is kept; the upload holds `offset` bytes.
    ChecksumMismatch { offset: u64 },
    /// Another request changed the upload meanwhile: nothing of this one is kept.
    Conflict,
}

/// Why an append failed.
#[derive(Debug, thiserror::Error)]
pub enum AppendError<E> {
    /// The body failed; what arrived before is kept (none of it with a checksum): the upload holds `offset`.
    #[error("the body failed after the upload reached {offset} bytes")]
    Source { error: E, offset: u64 },
    #[error("no such upload")]
    NotFound,
    /// The upload takes no more bytes (completing, completed, failed or terminated).
    #[error("the upload is {state:?}, not receiving")]
    NotReceiving { state: State },
    /// The declared length differs from the upload's, or is below what it holds.
    #[error("the length {declared} does not fit the upload (length {length:?}, offset {offset})")]
    Length {
        declared: u64,
        length: Option<u64>,
        offset: u64,
    },
    /// The body goes past the upload's length: nothing of it is kept.
    #[error("the body goes past the upload's length {length}")]
    TooLong { length: u64 },
    /// The record cannot be used.
    #[error(transparent)]
    Record(CasError),
    /// The store failed, the object exists (create-only), no memory, shutdown, or a bug.
    #[error(transparent)]
    Upload(#[from] UploadError),
}

impl<E> AppendError<E> {
    pub(super) fn from_cas(err: CasError) -> Self {
        match err {
            CasError::NotFound => Self::NotFound,
            CasError::Store(err) => Self::Upload(UploadError::Store(err)),
            other => Self::Record(other),
        }
    }
}

impl Resumable {
    /// The resumable uploads of `uploader`'s bucket, their state under `key_prefix`.
    pub fn new(uploader: &Uploader, key_prefix: impl Into<String>) -> Self {
        let key_prefix = key_prefix.into();
        Self {
            infos: InfoStore::new(
                uploader.client().clone(),
                uploader.bucket(),
                key_prefix.clone(),
            ),
            uploader: uploader.clone(),
            key_prefix,
        }
    }

    /// The records, read and written by compare-and-swap.
    pub fn infos(&self) -> &InfoStore {
        &self.infos
    }

    /// Appends `body` to upload `id`, which must hold `expected_offset` bytes. `declared_length` is the
    /// request's `Upload-Length` (the length of a deferred upload, or the same again); `checksum` what the body
    /// must hash to. See the module's doc for the steps.
    pub async fn append<S, E>(
        &self,
        id: &UploadId,
        expected_offset: u64,
        declared_length: Option<u64>,
        body: S,
        checksum: Option<Expected>,
    ) -> Result<Appended, AppendError<E>>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
    {
        let attempt = Uuid::now_v7();
        let mut tries = 0;
        let (info, etag) = loop {
            let (info, etag) = self.infos.read(id).await.map_err(AppendError::from_cas)?;
            if info.state != State::Receiving {
                return Err(AppendError::NotReceiving { state: info.state });
            }
            if info.offset != expected_offset {
                return Ok(Appended::OffsetMismatch {
                    offset: info.offset,
                });
            }
            let claimed = claimed(&info, attempt, declared_length)?;
            match self.infos.replace(&claimed, &etag).await {
                Ok(etag) => break (claimed, etag),
                Err(CasError::Lost) if tries + 1 < CLAIM_TRIES => tries += 1,
                Err(CasError::Lost) => return Ok(Appended::Conflict),
                Err(err) => return Err(AppendError::from_cas(err)),
            }
        };
        Attempt::new(self, attempt, info, etag)
            .run(body, checksum)
            .await
    }
}

/// The next version of `info`, claimed by `attempt`: its length settled, a window of part numbers reserved.
fn claimed<E>(
    info: &Info,
    attempt: Uuid,
    declared_length: Option<u64>,
) -> Result<Info, AppendError<E>> {
    let length = match (info.length, declared_length) {
        (length, None) => length,
        (None, Some(declared)) if declared >= info.offset => Some(declared),
        (Some(length), Some(declared)) if length == declared => Some(length),
        (length, Some(declared)) => {
            return Err(AppendError::Length {
                declared,
                length,
                offset: info.offset,
            });
        }
    };
    let from = info
        .claim
        .as_ref()
        .map_or(info.next_part, |old| old.parts_to.max(info.next_part));
    let in_segments: u64 = info.segments.iter().map(|s| s.size).sum();
    // The parts this request can still need: up to the length (with the segments' bytes in front), else many.
    let needed = length.map_or(u64::from(WINDOW), |length| {
        (length - info.offset + in_segments)
            .div_ceil(info.part_size)
            .max(1)
    });
    let to = from.saturating_add(u32::try_from(needed.min(u64::from(WINDOW))).unwrap_or(WINDOW));
    let to = to.min(MAX_PART_NUMBER + 1);
    if from >= to {
        return Err(AppendError::Upload(UploadError::internal(anyhow::anyhow!(
            "upload {}: out of part numbers",
            info.id
        ))));
    }
    let mut next = info.clone();
    next.length = length;
    next.next_part = from;
    next.claim = Some(Claim {
        attempt: attempt.simple().to_string(),
        copy: copy_name(),
        expires_at: now() + CLAIM_SECS,
        parts_from: from,
        parts_to: to,
        release_requested: false,
    });
    stamp(&mut next, attempt);
    Ok(next)
}

/// What an upload's object is stored as: the type and disposition the route decided from its first bytes, or
/// (not decided) bytes to download under the client's file name.
pub fn object_spec(info: &Info) -> ObjectSpec {
    let content_type = info
        .content_type
        .clone()
        .unwrap_or_else(|| "application/octet-stream".to_owned());
    let content_disposition = info.content_disposition.clone().unwrap_or_else(|| {
        naming::content_disposition(
            content_type::disposition_for(&content_type),
            &info.originalname,
        )
    });
    ObjectSpec {
        key: info.key.clone(),
        content_type,
        content_disposition,
    }
}

/// Marks `info` as the next version, written by `attempt`.
pub(super) fn stamp(info: &mut Info, attempt: Uuid) {
    info.version += 1;
    info.written_by = attempt.simple().to_string();
}

/// This copy of the server, for the claim (logs only): `<host>/<pid>`.
fn copy_name() -> String {
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "localhost".to_owned());
    format!("{host}/{}", std::process::id())
}

/// Seconds since the Unix epoch.
pub(super) fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs())
}
