//! Expired uploads removed: one pass over `<KEY_PREFIX>.resumable/` ([`InfoStore::sweep`]), the server's task
//! that runs it at start and then every `min(expiry / 2, 10 min)` ([`spawn_sweeper`]), and a read-only listing
//! for `check` ([`InfoStore::list_uploads`]).
//!
//! A record is a candidate when its `LastModified` (its last write) is older than the expiry: an upload that
//! took bytes since is not even read. A candidate is read, and removed when its `expires_at` is past and no
//! request holds a live claim on it, through the termination path (tombstone by compare-and-swap, abort, the
//! segments, the record), with the condition checked again on the read the tombstone is written over: a PATCH
//! that renewed the upload in between wins. Tombstones a termination left are finished the same way. Several
//! copies sweeping at once is harmless: the tombstone is a compare-and-swap and deletes are idempotent.
//! Completed and failed uploads expire too: their state goes, a completed upload's object stays.

use std::collections::BTreeMap;
use std::time::Duration;

use super::cas::{CasError, InfoStore};
use super::create::unix_now;
use super::info::{Info, STATE_FOLDER, State, UploadId};
use crate::lifecycle::Lifecycle;
use crate::storage::StoreError;

/// The longest the server waits between two passes.
pub const MAX_SWEEP_PERIOD: Duration = Duration::from_secs(600);

const LIST: &str = "list resumable uploads";

/// Whether `info` is over: its expiry is past (or it is a tombstone) and no request holds a live claim on it.
pub fn is_expired(info: &Info, now: u64) -> bool {
    let claimed = info.claim.as_ref().is_some_and(|c| c.expires_at > now);
    !claimed && (info.state == State::Terminated || info.expires_at <= now)
}

/// Every upload's record under `<KEY_PREFIX>.resumable/`, as `check` shows them.
#[derive(Debug, Default)]
pub struct Listing {
    /// Readable records, in id (creation) order.
    pub uploads: Vec<Info>,
    /// Records that could not be used: their key and why.
    pub unreadable: Vec<(String, String)>,
}

impl Listing {
    /// Uploads taking bytes and not expired.
    pub fn in_progress(&self, now: u64) -> usize {
        self.uploads
            .iter()
            .filter(|i| i.state == State::Receiving && !is_expired(i, now))
            .count()
    }

    /// Completed uploads whose state is still kept (until it expires).
    pub fn completed(&self, now: u64) -> usize {
        self.uploads
            .iter()
            .filter(|i| i.state == State::Completed && !is_expired(i, now))
            .count()
    }

    /// Uploads a pass would remove now.
    pub fn expired(&self, now: u64) -> Vec<&Info> {
        self.uploads.iter().filter(|i| is_expired(i, now)).collect()
    }
}

/// What one pass did.
#[derive(Debug, Default)]
pub struct Swept {
    /// Records old enough to be read.
    pub candidates: usize,
    /// Uploads removed, each as its record was before the tombstone (a finished tombstone as the tombstone).
    pub removed: Vec<Info>,
    /// Uploads that could not be removed (or read): the next pass tries again.
    pub failed: Vec<(UploadId, String)>,
}

/// One upload's keys under `.resumable/<id>/`.
#[derive(Debug, Default)]
struct StateKeys {
    /// `info.json`'s `LastModified`, in seconds since the Unix epoch, if it is there.
    info_modified: Option<i64>,
    /// Every other key (segments, orphans of a crashed writer included).
    others: Vec<String>,
}

impl InfoStore {
    /// Reads every record under `<KEY_PREFIX>.resumable/` (nothing is written).
    pub async fn list_uploads(&self) -> Result<Listing, StoreError> {
        let mut listing = Listing::default();
        for (id, keys) in self.state_keys().await? {
            if keys.info_modified.is_none() {
                continue;
            }
            match self.read(&id).await {
                Ok((info, _)) => listing.uploads.push(info),
                Err(CasError::NotFound) => {}
                Err(err) => listing.unreadable.push((
                    super::info::info_key(self.key_prefix(), &id),
                    err.to_string(),
                )),
            }
        }
        Ok(listing)
    }

    /// One pass: removes the uploads whose `info.json` was last written more than `expiry` ago and whose
    /// record says they are over ([`is_expired`]). Only the listing failing is an `Err`; an upload that could
    /// not be removed is in [`Swept::failed`].
    pub async fn sweep(&self, expiry: Duration) -> Result<Swept, StoreError> {
        let mut swept = Swept::default();
        let expiry = i64::try_from(expiry.as_secs()).unwrap_or(i64::MAX);
        for (id, keys) in self.state_keys().await? {
            let now = unix_now();
            let Some(modified) = keys.info_modified else {
                // Segments with no record: a removal that stopped between its last two deletes.
                continue;
            };
            if modified.saturating_add(expiry) >= i64::try_from(now).unwrap_or(i64::MAX) {
                continue;
            }
            swept.candidates += 1;
            match self.terminate_if(&id, |info| is_expired(info, now)).await {
                Ok(None) => continue,
                Ok(Some(info)) => swept.removed.push(info),
                // A tombstone, finished (or another copy removed the upload first).
                Err(CasError::NotFound) => {}
                Err(err) => {
                    swept.failed.push((id, err.to_string()));
                    continue;
                }
            }
            // Keys the record did not name (a crashed writer's segments) go too.
            for key in &keys.others {
                if let Err(err) = self.delete_object(key).await {
                    swept.failed.push((id.clone(), err.to_string()));
                    break;
                }
            }
        }
        Ok(swept)
    }

    /// Aborts the multipart upload of an upload that is not completed (`clean` does this before deleting the
    /// records: the embedded store cannot list multipart uploads). One that is gone already is fine.
    pub async fn abort_multipart(&self, info: &Info) -> Result<(), StoreError> {
        match &info.multipart {
            Some(multipart) if info.state != State::Completed => {
                self.abort(&info.key, &multipart.upload_id).await
            }
            _ => Ok(()),
        }
    }

    /// The keys under `<KEY_PREFIX>.resumable/`, by upload (keys that name no upload are left alone).
    async fn state_keys(&self) -> Result<BTreeMap<UploadId, StateKeys>, StoreError> {
        let folder = format!("{}{STATE_FOLDER}", self.key_prefix());
        let mut uploads: BTreeMap<UploadId, StateKeys> = BTreeMap::new();
        let mut pages = self
            .client()
            .list_objects_v2()
            .bucket(self.bucket())
            .prefix(&folder)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|err| StoreError::from_sdk(LIST, err))?;
            for object in page.contents() {
                let Some(key) = object.key() else { continue };
                let Some((id, name)) = key
                    .strip_prefix(&folder)
                    .and_then(|rest| rest.split_once('/'))
                else {
                    continue;
                };
                let Some(id) = UploadId::parse(id) else {
                    continue;
                };
                let entry = uploads.entry(id).or_default();
                if name == "info.json" {
                    entry.info_modified = Some(object.last_modified().map_or(0, |t| t.secs()));
                } else {
                    entry.others.push(key.to_owned());
                }
            }
        }
        Ok(uploads)
    }
}

/// How long the server waits between passes: half the expiry, at most [`MAX_SWEEP_PERIOD`].
pub fn sweep_period(expiry: Duration) -> Duration {
    (expiry / 2).min(MAX_SWEEP_PERIOD)
}

/// Runs a pass at start and then every [`sweep_period`], in a task `lifecycle` tracks, until shutdown begins
/// (a pass under way is dropped then: a tombstone it wrote is finished by the next one). Logs what it removed.
pub fn spawn_sweeper(store: InfoStore, expiry: Duration, lifecycle: &Lifecycle) {
    let period = sweep_period(expiry);
    let stop = lifecycle.clone();
    lifecycle.spawn(async move {
        loop {
            tokio::select! {
                () = stop.stopping() => return,
                () = pass(&store, expiry) => {}
            }
            tokio::select! {
                () = stop.stopping() => return,
                () = tokio::time::sleep(period) => {}
            }
        }
    });
}

/// One pass, logged.
async fn pass(store: &InfoStore, expiry: Duration) {
    let swept = match store.sweep(expiry).await {
        Ok(swept) => swept,
        Err(err) => {
            tracing::warn!(error = %err, "sweeping expired resumable uploads failed; the next pass tries again");
            return;
        }
    };
    for info in &swept.removed {
        tracing::info!(
            id = %info.id,
            key = %info.key,
            state = ?info.state,
            offset = info.offset,
            length = info.length,
            last_activity = info.updated_at,
            "expired resumable upload removed"
        );
    }
    for (id, error) in &swept.failed {
        tracing::warn!(%id, %error, "an expired resumable upload could not be removed; the next pass tries again");
    }
}
