//! Stopping without leaving uploads half done.
//!
//! Every upload request runs in a task of its own, tracked here, and so does every clean-up that outlives its
//! request (the abort of a multipart upload whose request was dropped), so that shutdown can wait for all of
//! them. When the grace period ends, [`Lifecycle::cancel`] ends the uploads still running: their body reads and
//! their waits for memory fail with `SHUTTING_DOWN`, and they clean up as after any other error. The [`Ledger`]
//! lists what is in the bucket but not yet answered or cleaned up (open multipart uploads, objects of requests
//! that have not finished), so that what a clean-up cut short is named in the log instead of silently left.
//! Background work (the sweeper of expired resumable uploads) is tracked too, and stops as soon as shutdown
//! begins ([`Lifecycle::stopping`]), so that the wait is for uploads only.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::task::JoinHandle;
use tokio_util::sync::{CancellationToken, WaitForCancellationFuture};
use tokio_util::task::TaskTracker;

/// Shared by the server, its upload requests and the uploader: cheap to clone.
#[derive(Clone, Debug, Default)]
pub struct Lifecycle {
    /// Shutdown began: background work (the resumable-upload sweeper) stops now, uploads go on.
    stopping: CancellationToken,
    cancel: CancellationToken,
    tasks: TaskTracker,
    ledger: Ledger,
}

impl Lifecycle {
    pub fn new() -> Self {
        Self::default()
    }

    /// Runs `task` in a task of its own that shutdown waits for.
    pub fn spawn<F>(&self, task: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.tasks.spawn(task)
    }

    /// Shutdown began (no new connections): background tasks stop, so that they do not hold up the wait for
    /// the uploads still running.
    pub fn begin_stopping(&self) {
        self.stopping.cancel();
    }

    /// Completes when [`Self::begin_stopping`] is called (or [`Self::cancel`]).
    pub async fn stopping(&self) {
        tokio::select! {
            () = self.stopping.cancelled() => {}
            () = self.cancel.cancelled() => {}
        }
    }

    /// Ends the uploads still running (called when the grace period is over).
    pub fn cancel(&self) {
        self.cancel.cancel();
    }

    pub fn is_cancelled(&self) -> bool {
        self.cancel.is_cancelled()
    }

    /// Completes when [`Self::cancel`] is called.
    pub fn cancelled(&self) -> WaitForCancellationFuture<'_> {
        self.cancel.cancelled()
    }

    /// Tracked tasks still running.
    pub fn running(&self) -> usize {
        self.tasks.len()
    }

    /// Completes when every tracked task has ended (tasks may still be spawned meanwhile: their clean-ups).
    pub async fn finished(&self) {
        self.tasks.close();
        self.tasks.wait().await;
    }

    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }
}

/// What is in the bucket and not settled yet: multipart uploads not yet completed or aborted, and objects
/// stored by requests that have not yet answered (or not yet deleted them after failing).
#[derive(Clone, Debug, Default)]
pub struct Ledger(Arc<Mutex<Entries>>);

#[derive(Debug, Default)]
struct Entries {
    /// Open multipart uploads: upload id to key.
    uploads: BTreeMap<String, String>,
    /// Keys of stored objects whose request has not settled them.
    objects: BTreeSet<String>,
}

/// Something a clean-up did not get to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Leftover {
    MultipartUpload { key: String, upload_id: String },
    Object { key: String },
}

impl fmt::Display for Leftover {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::MultipartUpload { key, upload_id } => {
                write!(f, "multipart upload {key:?} (upload id {upload_id})")
            }
            Self::Object { key } => write!(f, "object {key:?}"),
        }
    }
}

impl Ledger {
    fn entries(&self) -> std::sync::MutexGuard<'_, Entries> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn upload_opened(&self, key: &str, upload_id: &str) {
        self.entries()
            .uploads
            .insert(upload_id.to_owned(), key.to_owned());
    }

    /// The upload was completed or aborted (or its abort failed and was logged).
    pub fn upload_closed(&self, upload_id: &str) {
        self.entries().uploads.remove(upload_id);
    }

    pub fn object_stored(&self, key: &str) {
        self.entries().objects.insert(key.to_owned());
    }

    /// The object's request answered with it, or deleted it (or its deletion failed and was logged).
    pub fn object_settled(&self, key: &str) {
        self.entries().objects.remove(key);
    }

    /// Everything not settled, for the log when a clean-up was cut short.
    pub fn leftovers(&self) -> Vec<Leftover> {
        let entries = self.entries();
        let uploads = entries
            .uploads
            .iter()
            .map(|(upload_id, key)| Leftover::MultipartUpload {
                key: key.clone(),
                upload_id: upload_id.clone(),
            });
        let objects = entries
            .objects
            .iter()
            .map(|key| Leftover::Object { key: key.clone() });
        uploads.chain(objects).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ledger_lists_what_is_not_settled() {
        let ledger = Ledger::default();
        ledger.upload_opened("a/big.bin", "id-1");
        ledger.object_stored("b/small.png");
        ledger.object_stored("c/kept.png");
        ledger.object_settled("c/kept.png");
        assert_eq!(
            ledger.leftovers(),
            [
                Leftover::MultipartUpload {
                    key: "a/big.bin".to_owned(),
                    upload_id: "id-1".to_owned()
                },
                Leftover::Object {
                    key: "b/small.png".to_owned()
                }
            ]
        );
        ledger.upload_closed("id-1");
        ledger.object_settled("b/small.png");
        assert!(ledger.leftovers().is_empty());
    }

    #[tokio::test]
    async fn finished_waits_for_tasks_spawned_while_waiting() {
        let lifecycle = Lifecycle::new();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let inner = lifecycle.clone();
        lifecycle.spawn(async move {
            let _ = rx.await;
            // A clean-up spawned by a task that is ending is waited for too.
            inner.spawn(tokio::time::sleep(std::time::Duration::from_millis(50)));
        });
        let waiting = tokio::spawn({
            let lifecycle = lifecycle.clone();
            async move { lifecycle.finished().await }
        });
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        assert!(!waiting.is_finished());
        tx.send(()).ok();
        tokio::time::timeout(std::time::Duration::from_secs(2), waiting)
            .await
            .expect("finished() returns once every task ended")
            .expect("join");
        assert_eq!(lifecycle.running(), 0);
    }
}
