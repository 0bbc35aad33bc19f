//! A completion that did not finish (design 2.8.5): the store failed it, or the server stopped half way. The
//! record then says `completing` with no live claim, and the next request that looks at the upload (HEAD, GET,
//! PATCH) finishes it, on any copy of the server:
//! - with a multipart upload: it is completed again from the parts the record lists (all stored before the
//!   record said `completing`); an object of the upload's size already at the key means an earlier try
//!   completed it, and it is taken as the result;
//! - a whole file sent as one object: its object is taken if it is there; otherwise the upload takes bytes
//!   again at its recorded offset (the last bytes were only in the failed request's memory), and the client
//!   sends them again.
//!
//! The claim (a compare-and-swap) makes one request at a time do it; the others see the upload locked.

use std::convert::Infallible;

use uuid::Uuid;

use super::append::{AppendError, Resumable, now, stamp};
use super::cas::{CasError, ETag};
use super::info::{Claim, Failure, Info, State, StoredObject, UploadId};
use super::parts;
use crate::storage::StoreError;
use crate::storage::upload::UploadError;

/// How long a recovery holds its claim.
const RECOVERY_CLAIM_SECS: u64 = 60;

impl Resumable {
    /// The record of upload `id`, a completion left half done finished first (see the module's doc). An upload
    /// a live request is completing is returned as read.
    pub async fn recover(&self, id: &UploadId) -> Result<Info, AppendError<Infallible>> {
        let (info, etag) = self.infos.read(id).await.map_err(AppendError::from_cas)?;
        let live = info.claim.as_ref().is_some_and(|c| c.expires_at > now());
        if info.state != State::Completing || live {
            return Ok(info);
        }
        let attempt = Uuid::now_v7();
        let mut claimed = info.clone();
        claimed.claim = Some(Claim {
            attempt: attempt.simple().to_string(),
            copy: String::new(),
            expires_at: now() + RECOVERY_CLAIM_SECS,
            // A window of one number (a claim's window is never empty); recovery sends no part.
            parts_from: info.next_part,
            parts_to: info.next_part + 1,
            release_requested: false,
        });
        stamp(&mut claimed, attempt);
        let etag = match self.infos.replace(&claimed, &etag).await {
            Ok(etag) => etag,
            // Another request took it first: it is theirs to finish.
            Err(CasError::Lost) => {
                return self
                    .infos
                    .read(id)
                    .await
                    .map(|(info, _)| info)
                    .map_err(AppendError::from_cas);
            }
            Err(err) => return Err(AppendError::from_cas(err)),
        };
        tracing::info!(%id, "finishing a resumable upload's completion left half done");
        let mut recovery = Recovery {
            service: self,
            attempt,
            info: claimed,
            etag,
        };
        recovery.run().await
    }
}

struct Recovery<'a> {
    service: &'a Resumable,
    attempt: Uuid,
    info: Info,
    etag: ETag,
}

impl Recovery<'_> {
    async fn run(&mut self) -> Result<Info, AppendError<Infallible>> {
        let uploader = &self.service.uploader;
        let key = self.info.key.clone();
        let length = self.info.length.unwrap_or(self.info.offset);
        let completed = match self.info.multipart.clone() {
            Some(multipart) if self.info.offset == length => {
                match parts::complete(
                    uploader,
                    &key,
                    &multipart.upload_id,
                    &self.info.parts,
                    length,
                )
                .await
                {
                    Ok(stored) => Ok(Some(StoredObject {
                        etag: stored.etag.unwrap_or_default(),
                        version_id: stored.version_id,
                        sse: stored.server_side_encryption,
                        size: length,
                    })),
                    Err(UploadError::Exists { key }) => {
                        self.fail_exists(&key, &multipart.upload_id).await?;
                        return Err(AppendError::Upload(UploadError::Exists { key }));
                    }
                    // Completed by the earlier try (NoSuchUpload), or failing again: the object says which.
                    Err(err) => self.stored_object(length).await.map_err(|_| err),
                }
            }
            _ => self.stored_object(length).await.map_err(UploadError::Store),
        };
        match completed {
            Ok(Some(object)) => self.completed(object).await,
            Ok(None) if self.info.multipart.is_none() => self.receive_again().await,
            Ok(None) => {
                self.release().await?;
                Err(AppendError::Upload(UploadError::internal(anyhow::anyhow!(
                    "upload {}: its multipart upload is gone and no object is at `{key}`",
                    self.info.id
                ))))
            }
            Err(err) => {
                self.release().await?;
                Err(AppendError::Upload(err))
            }
        }
    }

    /// The object at the upload's key when it has the upload's size.
    async fn stored_object(&self, length: u64) -> Result<Option<StoredObject>, StoreError> {
        let uploader = &self.service.uploader;
        let head = uploader
            .client()
            .head_object()
            .bucket(uploader.bucket())
            .key(&self.info.key)
            .send()
            .await;
        match head {
            Ok(head)
                if head.content_length().and_then(|l| u64::try_from(l).ok()) == Some(length) =>
            {
                Ok(Some(StoredObject {
                    etag: head.e_tag().unwrap_or_default().to_owned(),
                    version_id: head.version_id().map(str::to_owned),
                    sse: head.server_side_encryption().map(|s| s.as_str().to_owned()),
                    size: length,
                }))
            }
            Ok(_) => Ok(None),
            Err(err) if err.as_service_error().is_some_and(|e| e.is_not_found()) => Ok(None),
            Err(err) => Err(StoreError::from_sdk("HeadObject", err)),
        }
    }

    async fn write(&mut self, mut next: Info) -> Result<(), AppendError<Infallible>> {
        stamp(&mut next, self.attempt);
        self.etag = self
            .service
            .infos
            .replace(&next, &self.etag)
            .await
            .map_err(AppendError::from_cas)?;
        self.info = next;
        Ok(())
    }

    /// Slides the record's lifetime from now.
    fn settle(&self, next: &mut Info) {
        let lifetime = self.info.expires_at.saturating_sub(self.info.updated_at);
        next.updated_at = now();
        next.expires_at = next.updated_at + lifetime;
    }

    async fn completed(&mut self, object: StoredObject) -> Result<Info, AppendError<Infallible>> {
        let segments: Vec<String> = self.info.segments.iter().map(|s| s.key.clone()).collect();
        let mut next = self.info.clone();
        next.state = State::Completed;
        next.offset = object.size;
        next.segments.clear();
        next.object = Some(object);
        next.claim = None;
        self.settle(&mut next);
        self.write(next).await?;
        parts::delete(&self.service.uploader, segments.iter().map(String::as_str)).await;
        tracing::info!(id = %self.info.id, "resumable upload completed on recovery");
        Ok(self.info.clone())
    }

    /// A whole file whose object was never stored: the upload takes its last bytes again.
    async fn receive_again(&mut self) -> Result<Info, AppendError<Infallible>> {
        let mut next = self.info.clone();
        next.state = State::Receiving;
        next.claim = None;
        self.settle(&mut next);
        self.write(next).await?;
        Ok(self.info.clone())
    }

    /// Lets the upload go, still `completing`: the next request tries again.
    async fn release(&mut self) -> Result<(), AppendError<Infallible>> {
        let mut next = self.info.clone();
        next.claim = None;
        match self.write(next).await {
            Ok(()) | Err(AppendError::Record(CasError::Lost)) => Ok(()),
            Err(err) => Err(err),
        }
    }

    /// The object's key was taken meanwhile (create-only): the upload can never complete.
    async fn fail_exists(
        &mut self,
        key: &str,
        upload_id: &str,
    ) -> Result<(), AppendError<Infallible>> {
        let mut next = self.info.clone();
        next.state = State::Failed;
        next.failure = Some(Failure {
            code: "FILE_EXISTS".to_owned(),
            message: format!("an object `{key}` already exists"),
        });
        next.claim = None;
        self.settle(&mut next);
        self.write(next).await?;
        parts::abort(&self.service.uploader, key, upload_id).await;
        Ok(())
    }
}
