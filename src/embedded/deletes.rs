//! Deletes that leave nothing behind.
//!
//! s3s-fs's DeleteObject and DeleteObjects removed an object's data only: its attributes (`.metadata.json`,
//! holding the Content-Disposition, hence the original file name, and the user metadata) and its internal info
//! (`.internal.json`, the ETag) stayed in the folder, a pair for every object ever deleted, by a client, by the
//! server's clean-up of a failed request or by `clean`. Here a delete removes all three, object first (a delete
//! that fails leaves the object whole), holding the key's lock as writes do ([`super::conditional`]), so that a
//! write of the key never loses its side files to a delete running beside it. DeleteBucket also removes the
//! side files of the bucket's objects and uploads, which s3s-fs's removal of the bucket's folder left.

use std::io;

use s3s::dto::*;
use s3s::{S3 as _, S3Request, S3Response, S3Result, s3_error};

use super::keys::{self, KeyUse};
use super::layout;
use super::store::CheckedFs;

/// S3's limit on the keys of one DeleteObjects.
const MAX_DELETE_KEYS: usize = 1000;

impl CheckedFs {
    pub(super) async fn delete_one(
        &self,
        req: S3Request<DeleteObjectInput>,
    ) -> S3Result<S3Response<DeleteObjectOutput>> {
        let DeleteObjectInput {
            bucket,
            key,
            if_match,
            if_match_last_modified_time,
            if_match_size,
            ..
        } = &req.input;
        keys::check_key(bucket, key, KeyUse::Read)?;
        if if_match_last_modified_time.is_some() || if_match_size.is_some() {
            return Err(s3_error!(
                NotImplemented,
                "deletes take If-Match, not x-amz-if-match-last-modified-time or -size"
            ));
        }
        self.check_bucket_exists(bucket).await?;
        let _deleting = self.key_locks.lock(bucket, key).await;
        self.check_conditions(bucket, key, if_match.as_ref(), None)
            .await?;
        self.remove_object(bucket, key)
            .await
            .map_err(|err| s3_error!(err, InternalError, "deleting the object failed"))?;
        Ok(S3Response::new(DeleteObjectOutput::default()))
    }

    /// As S3: each key is deleted or answered with an error of its own; a key that does not exist is deleted.
    pub(super) async fn delete_many(
        &self,
        req: S3Request<DeleteObjectsInput>,
    ) -> S3Result<S3Response<DeleteObjectsOutput>> {
        let DeleteObjectsInput { bucket, delete, .. } = req.input;
        keys::check_bucket(&bucket)?;
        if delete.objects.len() > MAX_DELETE_KEYS {
            return Err(s3_error!(
                MalformedXML,
                "at most {MAX_DELETE_KEYS} keys per request"
            ));
        }
        self.check_bucket_exists(&bucket).await?;
        let mut deleted = Vec::new();
        let mut errors = Vec::new();
        for object in delete.objects {
            let refused = match keys::check_key(&bucket, &object.key, KeyUse::Read) {
                Err(refused) => Some(refused),
                Ok(()) => match self.remove_locked(&bucket, &object.key).await {
                    Ok(()) => None,
                    Err(err) => {
                        // Answered in the body of a 200: s3s logs no error for it.
                        tracing::error!(error = %err, bucket, key = ?object.key, "embedded store: deleting an object failed");
                        Some(s3_error!(InternalError))
                    }
                },
            };
            match refused {
                None => deleted.push(DeletedObject {
                    key: Some(object.key),
                    version_id: object.version_id,
                    ..Default::default()
                }),
                Some(err) => errors.push(Error {
                    code: Some(err.code().as_str().to_owned()),
                    message: err.message().map(str::to_owned),
                    key: Some(object.key),
                    version_id: object.version_id,
                }),
            }
        }
        let quiet = delete.quiet.unwrap_or(false);
        Ok(S3Response::new(DeleteObjectsOutput {
            deleted: (!quiet).then_some(deleted),
            errors: (!errors.is_empty()).then_some(errors),
            ..Default::default()
        }))
    }

    pub(super) async fn delete_bucket_and_side_files(
        &self,
        req: S3Request<DeleteBucketInput>,
    ) -> S3Result<S3Response<DeleteBucketOutput>> {
        keys::check_bucket(&req.input.bucket)?;
        let prefix = layout::bucket_side_file_prefix(&req.input.bucket);
        let answer = self.inner.delete_bucket(req).await?;
        let root = self.root.clone();
        let removed = tokio::task::spawn_blocking(move || -> io::Result<()> {
            for entry in std::fs::read_dir(&root)? {
                let entry = entry?;
                if entry
                    .file_name()
                    .to_str()
                    .is_some_and(|name| name.starts_with(&prefix))
                {
                    remove_if_present(&entry.path())?;
                }
            }
            Ok(())
        })
        .await
        .unwrap_or_else(|err| Err(io::Error::other(err)));
        // The bucket is gone, as asked; side files left now are swept at the next start.
        if let Err(err) = removed {
            tracing::warn!(error = %err, "embedded store: removing a deleted bucket's side files failed");
        }
        Ok(answer)
    }

    async fn check_bucket_exists(&self, bucket: &str) -> S3Result<()> {
        match tokio::fs::metadata(self.root.join(bucket)).await {
            Ok(meta) if meta.is_dir() => Ok(()),
            _ => Err(s3_error!(NoSuchBucket)),
        }
    }

    async fn remove_locked(&self, bucket: &str, key: &str) -> io::Result<()> {
        let _deleting = self.key_locks.lock(bucket, key).await;
        self.remove_object(bucket, key).await
    }

    /// Removes the object at `key` and its side files; nothing to remove is no error. `key` must have passed
    /// [`keys::check_key`], and the caller holds the key's lock.
    async fn remove_object(&self, bucket: &str, key: &str) -> io::Result<()> {
        let object = layout::object_path(&self.root, bucket, key);
        match tokio::fs::remove_file(&object).await {
            // A folder (`a` when `a/b` exists) or a path through a file (`a/b` when `a` is one) is no object.
            Err(err)
                if !matches!(
                    err.kind(),
                    io::ErrorKind::NotFound
                        | io::ErrorKind::IsADirectory
                        | io::ErrorKind::NotADirectory
                ) =>
            {
                return Err(err);
            }
            _ => {}
        }
        for side_file in layout::object_side_files(&self.root, bucket, key) {
            match tokio::fs::remove_file(&side_file).await {
                Err(err) if err.kind() != io::ErrorKind::NotFound => return Err(err),
                _ => {}
            }
        }
        Ok(())
    }
}

fn remove_if_present(path: &std::path::Path) -> io::Result<()> {
    match std::fs::remove_file(path) {
        Err(err) if err.kind() != io::ErrorKind::NotFound => Err(err),
        _ => Ok(()),
    }
}
