//! Writes of one key happen one at a time, so that conditional writes hold.
//!
//! s3s-fs checked `If-None-Match: *` by looking for the object and then wrote it: two PUTs of one key could both
//! see nothing and both succeed, the second silently replacing the first. The fast multipart completion refused
//! conditional completions outright (`NotImplemented`), though the upload server sends `If-None-Match: *` so
//! that an upload never replaces another. Now every write of an object (PutObject, CompleteMultipartUpload,
//! CopyObject's destination) and every delete holds its key's lock from the check of its conditions to its
//! last file, and the conditions are those S3 applies:
//!
//! - `If-None-Match: *`: `412 PreconditionFailed` when the key exists (another value: `NotImplemented`, as S3);
//! - `If-Match: <etag>` or `*`: `404 NoSuchKey` when the key does not exist, `412` when its ETag differs.
//!
//! A PutObject holds the lock while its body arrives (s3s-fs writes and renames in one call): a second write of
//! the same key waits for the first, which is what makes a racing `If-None-Match: *` see the winner. Only
//! writers of that one key wait.

use std::collections::HashMap;
use std::io::{self, Read as _};
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use s3s::crypto::{Checksum as _, Md5};
use s3s::dto::{ETag, ETagCondition};
use s3s::{S3Result, s3_error};
use tokio::sync::OwnedMutexGuard;

use super::layout;
use super::store::CheckedFs;

/// One async lock per (bucket, key) being written; entries whose lock no one holds are dropped as the table
/// grows.
#[derive(Default)]
pub(super) struct KeyLocks {
    table: Mutex<Table>,
}

#[derive(Default)]
struct Table {
    locks: HashMap<(String, String), Weak<tokio::sync::Mutex<()>>>,
    /// The table's size after its last clean-up: the next one comes when it has doubled.
    cleaned_at: usize,
}

/// Held while one key is written or deleted.
pub(super) type KeyGuard = OwnedMutexGuard<()>;

impl KeyLocks {
    fn table(&self) -> MutexGuard<'_, Table> {
        self.table
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Waits for the key's lock.
    pub(super) async fn lock(&self, bucket: &str, key: &str) -> KeyGuard {
        let lock = {
            let mut table = self.table();
            let id = (bucket.to_owned(), key.to_owned());
            let lock = match table.locks.get(&id).and_then(Weak::upgrade) {
                Some(lock) => lock,
                None => {
                    let lock = Arc::new(tokio::sync::Mutex::new(()));
                    table.locks.insert(id, Arc::downgrade(&lock));
                    lock
                }
            };
            if table.locks.len() > table.cleaned_at.max(64) * 2 {
                table.locks.retain(|_, lock| lock.strong_count() > 0);
                table.cleaned_at = table.locks.len();
            }
            lock
        };
        lock.lock_owned().await
    }

    /// Keys with an entry (held, awaited, or not yet cleaned up).
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.table().locks.len()
    }
}

impl CheckedFs {
    /// Checks a write's or a delete's conditions against the object now at the key; call it holding the key's
    /// lock, and keep holding it until the write is done.
    pub(super) async fn check_conditions(
        &self,
        bucket: &str,
        key: &str,
        if_match: Option<&ETagCondition>,
        if_none_match: Option<&ETagCondition>,
    ) -> S3Result<()> {
        if if_match.is_none() && if_none_match.is_none() {
            return Ok(());
        }
        let object = layout::object_path(&self.root, bucket, key);
        let exists = tokio::fs::metadata(&object)
            .await
            .is_ok_and(|meta| meta.is_file());
        match if_none_match {
            None => {}
            Some(ETagCondition::Any) if exists => {
                return Err(s3_error!(PreconditionFailed, "the key already exists"));
            }
            Some(ETagCondition::Any) => {}
            Some(ETagCondition::ETag(_)) => {
                return Err(s3_error!(
                    NotImplemented,
                    "If-None-Match takes only `*` on writes"
                ));
            }
        }
        match if_match {
            None => Ok(()),
            Some(_) if !exists => Err(s3_error!(NoSuchKey)),
            Some(ETagCondition::Any) => Ok(()),
            Some(ETagCondition::ETag(expected)) => {
                let current = self.current_e_tag(bucket, key).await?;
                if ETag::Strong(current).strong_cmp(expected) {
                    Ok(())
                } else {
                    Err(s3_error!(PreconditionFailed, "the ETag does not match"))
                }
            }
        }
    }

    /// The ETag of the object at the key: the one recorded in its internal info, or, as s3s-fs answers when
    /// there is none, the MD5 of its bytes.
    async fn current_e_tag(&self, bucket: &str, key: &str) -> S3Result<String> {
        let [_, info] = layout::object_side_files(&self.root, bucket, key);
        let recorded = tokio::fs::read(&info)
            .await
            .ok()
            .and_then(|bytes| serde_json::from_slice::<serde_json::Value>(&bytes).ok())
            .and_then(|info| info.get("e_tag")?.as_str().map(str::to_owned));
        if let Some(e_tag) = recorded {
            return Ok(e_tag);
        }
        let object = layout::object_path(&self.root, bucket, key);
        tokio::task::spawn_blocking(move || md5_of(&object))
            .await
            .map_err(|err| s3_error!(err, InternalError))?
            .map_err(|err| s3_error!(err, InternalError, "reading the object's ETag failed"))
    }
}

fn md5_of(path: &Path) -> io::Result<String> {
    let mut file = std::fs::File::open(path)?;
    let mut hash = Md5::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let read = file.read(&mut buf)?;
        if read == 0 {
            break;
        }
        hash.update(&buf[..read]);
    }
    Ok(super::completion::hex(&hash.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn one_key_is_written_by_one_at_a_time_other_keys_are_not_held() {
        let locks = KeyLocks::default();
        let first = locks.lock("uploads", "a").await;

        let other = tokio::time::timeout(
            std::time::Duration::from_secs(5),
            locks.lock("uploads", "b"),
        )
        .await;
        let same = tokio::time::timeout(
            std::time::Duration::from_millis(50),
            locks.lock("uploads", "a"),
        )
        .await;

        assert!(other.is_ok(), "another key is not held");
        assert!(same.is_err(), "the same key waits");
        drop(first);
        drop(other);
        tokio::time::timeout(
            std::time::Duration::from_secs(5),
            locks.lock("uploads", "a"),
        )
        .await
        .expect("free once released");
    }

    #[tokio::test]
    async fn locks_no_one_holds_do_not_pile_up() {
        let locks = KeyLocks::default();
        for n in 0..10_000 {
            drop(locks.lock("uploads", &format!("key-{n}")).await);
        }
        assert!(locks.len() <= 129, "{}", locks.len());
    }
}
