//! The embedded store's S3 implementation: s3s-fs behind a wrapper. Every bucket name and key is checked first
//! ([`super::keys`]); where keys and folders differ, the answers are S3's, not s3s-fs's 500s ([`super::tree`]);
//! writes and deletes of one key happen one at a time, so that their conditions hold ([`super::conditional`]);
//! deletes remove side files too ([`super::deletes`]); multipart uploads are written in place
//! ([`super::multipart`]); form POSTs (PostObject) are PutObjects that answer the ETag header, as on S3; the rest
//! is s3s-fs's.

use std::collections::HashMap;
use std::path::Path;
use std::pin::Pin;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};

use hyper::Method;
use hyper::header::ETAG;
use s3s::dto::*;
use s3s::{S3, S3Request, S3Response, S3Result, s3_error};

use super::conditional::KeyLocks;
use super::keys::{KeyUse, check_bucket, check_key};
use super::records::{self, UploadRecord};
use super::tree::{check_listing, keep_reachable};

/// The embedded store's S3 implementation: s3s-fs, with multipart uploads written once.
pub(crate) struct CheckedFs {
    pub(super) inner: s3s_fs::FileSystem,
    pub(super) root: Arc<Path>,
    pub(super) uploads: Mutex<HashMap<String, UploadRecord>>,
    /// Held while an upload's record file is written ([`super::records`]).
    pub(super) record_writes: tokio::sync::Mutex<()>,
    pub(super) tmp_counter: Arc<AtomicU64>,
    /// Multipart uploads completed here (the rest went to s3s-fs).
    pub(super) completed_here: AtomicU64,
    /// Held by each write or delete of an object, for its key ([`super::conditional`]).
    pub(super) key_locks: KeyLocks,
}

impl CheckedFs {
    /// Opens the store on `root` (an existing folder), as `s3s_fs::FileSystem::new` does, with the records of the
    /// multipart uploads earlier runs left.
    pub(crate) fn new(root: &Path) -> anyhow::Result<Self> {
        let inner = s3s_fs::FileSystem::new(root).map_err(|err| {
            anyhow::anyhow!("open the embedded store at {}: {err:?}", root.display())
        })?;
        // The same root s3s-fs resolves (it canonicalizes the folder relative to the working directory).
        let root = std::env::current_dir()?.join(root).canonicalize()?;
        let uploads = records::load(&root).map_err(|err| {
            anyhow::anyhow!(
                "read the multipart uploads' records in {}: {err}",
                root.display()
            )
        })?;
        Ok(Self {
            inner,
            root: root.into(),
            uploads: Mutex::new(uploads),
            record_writes: tokio::sync::Mutex::new(()),
            tmp_counter: Arc::new(AtomicU64::new(0)),
            completed_here: AtomicU64::new(0),
            key_locks: KeyLocks::default(),
        })
    }
}

/// Forwards S3 operations to s3s-fs once `check` accepts their input.
macro_rules! checked {
    ($($op:ident: $input:ident => $output:ident, |$i:ident| $check:expr;)*) => {
        $(
            // Written as `#[async_trait]` expands a method: the attribute does not look inside macros.
            fn $op<'life0, 'async_trait>(
                &'life0 self,
                req: S3Request<$input>,
            ) -> Pin<Box<dyn Future<Output = S3Result<S3Response<$output>>> + Send + 'async_trait>>
            where
                'life0: 'async_trait,
                Self: 'async_trait,
            {
                let check = |$i: &$input| -> S3Result<()> { $check };
                match check(&req.input) {
                    Ok(()) => self.inner.$op(req),
                    Err(err) => Box::pin(std::future::ready(Err(err))),
                }
            }
        )*
    };
}

impl CheckedFs {
    /// The source of a copy, when it names a bucket and key (s3s-fs answers the other forms `NotImplemented`).
    async fn check_copy_source(&self, source: &CopySource) -> S3Result<()> {
        match source {
            CopySource::Bucket { bucket, key, .. } => {
                check_key(bucket, key, KeyUse::Read)?;
                self.check_not_a_folder(bucket, key).await
            }
            _ => Ok(()),
        }
    }
}

#[async_trait::async_trait]
impl S3 for CheckedFs {
    checked! {
        create_bucket: CreateBucketInput => CreateBucketOutput, |i| check_bucket(&i.bucket);
        get_bucket_location: GetBucketLocationInput => GetBucketLocationOutput, |i| check_bucket(&i.bucket);
        head_bucket: HeadBucketInput => HeadBucketOutput, |i| check_bucket(&i.bucket);
        list_buckets: ListBucketsInput => ListBucketsOutput, |_i| Ok(());
        create_multipart_upload: CreateMultipartUploadInput => CreateMultipartUploadOutput,
            |i| check_key(&i.bucket, &i.key, KeyUse::Write);
    }

    async fn put_object(
        &self,
        req: S3Request<PutObjectInput>,
    ) -> S3Result<S3Response<PutObjectOutput>> {
        let PutObjectInput {
            bucket,
            key,
            if_match,
            if_none_match,
            ..
        } = &req.input;
        check_key(bucket, key, KeyUse::Write)?;
        let _writing = self.key_locks.lock(bucket, key).await;
        self.check_conditions(bucket, key, if_match.as_ref(), if_none_match.as_ref())
            .await?;
        self.check_room_for(bucket, key).await?;
        // A form POST (PostObject) comes here too, through s3s's default `post_object`. S3 answers it with the
        // object's ETag header, which a page may read; s3s writes the ETag only into a `201` body.
        let form = req.method == Method::POST;
        // s3s-fs checks the conditions again, and now finds what was just checked.
        let mut answer = self.inner.put_object(req).await?;
        if form && let Some(etag) = answer.output.e_tag.as_ref().map(ETag::to_http_header) {
            answer
                .headers
                .insert(ETAG, etag.map_err(|_| s3_error!(InternalError))?);
        }
        Ok(answer)
    }

    async fn copy_object(
        &self,
        req: S3Request<CopyObjectInput>,
    ) -> S3Result<S3Response<CopyObjectOutput>> {
        self.check_copy_source(&req.input.copy_source).await?;
        check_key(&req.input.bucket, &req.input.key, KeyUse::Write)?;
        let _writing = self.key_locks.lock(&req.input.bucket, &req.input.key).await;
        self.check_room_for(&req.input.bucket, &req.input.key)
            .await?;
        self.inner.copy_object(req).await
    }

    async fn delete_bucket(
        &self,
        req: S3Request<DeleteBucketInput>,
    ) -> S3Result<S3Response<DeleteBucketOutput>> {
        self.delete_bucket_and_side_files(req).await
    }

    async fn delete_object(
        &self,
        req: S3Request<DeleteObjectInput>,
    ) -> S3Result<S3Response<DeleteObjectOutput>> {
        self.delete_one(req).await
    }

    async fn delete_objects(
        &self,
        req: S3Request<DeleteObjectsInput>,
    ) -> S3Result<S3Response<DeleteObjectsOutput>> {
        self.delete_many(req).await
    }

    async fn get_object(
        &self,
        req: S3Request<GetObjectInput>,
    ) -> S3Result<S3Response<GetObjectOutput>> {
        check_key(&req.input.bucket, &req.input.key, KeyUse::Read)?;
        self.check_not_a_folder(&req.input.bucket, &req.input.key)
            .await?;
        self.inner.get_object(req).await
    }

    async fn head_object(
        &self,
        req: S3Request<HeadObjectInput>,
    ) -> S3Result<S3Response<HeadObjectOutput>> {
        check_key(&req.input.bucket, &req.input.key, KeyUse::Read)?;
        self.check_not_a_folder(&req.input.bucket, &req.input.key)
            .await?;
        self.inner.head_object(req).await
    }

    async fn list_objects(
        &self,
        req: S3Request<ListObjectsInput>,
    ) -> S3Result<S3Response<ListObjectsOutput>> {
        check_listing(&req.input.bucket, req.input.delimiter.as_deref())?;
        let bucket = req.input.bucket.clone();
        let mut answer = self.inner.list_objects(req).await?;
        let output = &mut answer.output;
        keep_reachable(&bucket, &mut output.contents, &mut output.common_prefixes);
        Ok(answer)
    }

    async fn list_objects_v2(
        &self,
        req: S3Request<ListObjectsV2Input>,
    ) -> S3Result<S3Response<ListObjectsV2Output>> {
        check_listing(&req.input.bucket, req.input.delimiter.as_deref())?;
        let bucket = req.input.bucket.clone();
        let mut answer = self.inner.list_objects_v2(req).await?;
        let output = &mut answer.output;
        let hidden = keep_reachable(&bucket, &mut output.contents, &mut output.common_prefixes);
        if let Some(count) = &mut output.key_count {
            *count = count.saturating_sub(i32::try_from(hidden).unwrap_or(i32::MAX));
        }
        Ok(answer)
    }

    async fn upload_part(
        &self,
        req: S3Request<UploadPartInput>,
    ) -> S3Result<S3Response<UploadPartOutput>> {
        check_key(&req.input.bucket, &req.input.key, KeyUse::Write)?;
        self.upload_part_in_place(req).await
    }

    async fn list_parts(
        &self,
        req: S3Request<ListPartsInput>,
    ) -> S3Result<S3Response<ListPartsOutput>> {
        check_key(&req.input.bucket, &req.input.key, KeyUse::Read)?;
        self.list_recorded_parts(req).await
    }

    async fn upload_part_copy(
        &self,
        req: S3Request<UploadPartCopyInput>,
    ) -> S3Result<S3Response<UploadPartCopyOutput>> {
        self.check_copy_source(&req.input.copy_source).await?;
        check_key(&req.input.bucket, &req.input.key, KeyUse::Write)?;
        self.upload_part_copy_recorded(req).await
    }

    async fn complete_multipart_upload(
        &self,
        req: S3Request<CompleteMultipartUploadInput>,
    ) -> S3Result<S3Response<CompleteMultipartUploadOutput>> {
        check_key(&req.input.bucket, &req.input.key, KeyUse::Write)?;
        self.complete_in_place(req).await
    }

    async fn abort_multipart_upload(
        &self,
        req: S3Request<AbortMultipartUploadInput>,
    ) -> S3Result<S3Response<AbortMultipartUploadOutput>> {
        check_key(&req.input.bucket, &req.input.key, KeyUse::Write)?;
        self.abort_recorded(req).await
    }
}
