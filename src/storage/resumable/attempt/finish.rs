//! The end of an append that received the upload's last byte (design 2.8; `recover.rs` finishes one that
//! failed half way): the record
//! says `completing` with every part listed, the multipart upload is completed (or the small file put), then
//! the record says `completed` with the stored object.

use super::Attempt;
use crate::storage::resumable::append::{AppendError, Appended};
use crate::storage::resumable::info::{self, Failure, Multipart, State};
use crate::storage::resumable::parts;
use crate::storage::upload::{Part, UploadError};

impl Attempt<'_> {
    /// The upload's last byte arrived: `last` is its final part (or, with no part before, the whole file).
    pub(super) async fn complete<E>(
        &mut self,
        last: Part,
        mut new_parts: Vec<info::Part>,
        length: u64,
    ) -> Result<Appended, AppendError<E>> {
        let uploader = self.service.uploader.clone();
        let spec = self.spec();
        let old: Vec<String> = self.info.segments.iter().map(|s| s.key.clone()).collect();
        let mut next = self.info.clone();
        next.state = State::Completing;
        let stored = match self.info.multipart.clone() {
            None => {
                // The record keeps its segments until the object holds their bytes.
                if let Err(halt) = self.write(next).await {
                    return halt.answer();
                }
                let stored = uploader.put_object(&spec, last).await;
                if stored.is_ok() {
                    uploader.keep(std::slice::from_ref(&spec.key));
                }
                stored
            }
            Some(Multipart { upload_id }) => {
                if !last.chunks.is_empty() {
                    let n = match self.number().await {
                        Ok(n) => n,
                        Err(halt) => return halt.answer(),
                    };
                    self.sender.send(&upload_id, n, last, None);
                    new_parts.extend(self.sender.finish().await?);
                }
                next.parts.extend(new_parts);
                next.segments.clear();
                next.offset = length;
                self.settle(&mut next);
                if let Err(halt) = self.write(next).await {
                    return halt.answer();
                }
                parts::complete(&uploader, &spec.key, &upload_id, &self.info.parts, length).await
            }
        };
        let stored = match stored {
            Ok(stored) => stored,
            Err(UploadError::Exists { key }) => {
                self.fail_exists(&key).await;
                return Err(AppendError::Upload(UploadError::Exists { key }));
            }
            Err(err) => {
                // The record stays `completing`, its claim let go: the next request that looks at the upload
                // finishes the completion, or takes the last bytes again (recover.rs).
                let mut next = self.info.clone();
                next.claim = None;
                if let Err(halt) = self.write(next).await {
                    tracing::warn!(key = %spec.key, "could not let a failed completion go");
                    let _ = halt.answer::<()>();
                }
                return Err(err.into());
            }
        };
        let object = info::StoredObject {
            etag: stored.etag.unwrap_or_default(),
            version_id: stored.version_id,
            sse: stored.server_side_encryption,
            size: length,
        };
        let mut next = self.info.clone();
        next.state = State::Completed;
        next.offset = length;
        next.segments.clear();
        next.object = Some(object.clone());
        next.claim = None;
        self.settle(&mut next);
        if let Err(halt) = self.write(next).await {
            return halt.answer();
        }
        parts::delete(&uploader, old.iter().map(String::as_str)).await;
        Ok(Appended::Completed {
            offset: length,
            object,
        })
    }

    /// The object's key was taken meanwhile (create-only): the upload can never complete.
    async fn fail_exists(&mut self, key: &str) {
        let mut next = self.info.clone();
        next.state = State::Failed;
        next.failure = Some(Failure {
            code: "FILE_EXISTS".to_owned(),
            message: format!("an object `{key}` already exists"),
        });
        next.claim = None;
        self.settle(&mut next);
        if self.write(next).await.is_err() {
            tracing::warn!(key, "could not record a resumable upload as failed");
        }
        if let Some(multipart) = &self.info.multipart {
            parts::abort(&self.service.uploader, key, &multipart.upload_id).await;
        }
    }
}
