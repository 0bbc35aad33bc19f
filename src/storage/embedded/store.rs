//! The embedded store's S3 implementation: s3s-fs behind a wrapper. Multipart uploads are handled here
//! ([`super::multipart`]); every other operation is s3s-fs's.

use std::collections::HashMap;
use std::path::Path;
use std::pin::Pin;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};

use s3s::dto::*;
use s3s::{S3, S3Request, S3Response, S3Result};

use super::multipart::UploadRecord;

/// The embedded store's S3 implementation: s3s-fs, with multipart uploads written once.
pub(crate) struct Store {
    pub(super) inner: s3s_fs::FileSystem,
    pub(super) root: Arc<Path>,
    pub(super) uploads: Mutex<HashMap<String, UploadRecord>>,
    pub(super) tmp_counter: Arc<AtomicU64>,
    /// Multipart uploads completed here (the rest went to s3s-fs).
    pub(super) completed_here: AtomicU64,
}

impl Store {
    /// Opens the store on `root` (an existing folder), as `s3s_fs::FileSystem::new` does.
    pub(crate) fn new(root: &Path) -> anyhow::Result<Self> {
        let inner = s3s_fs::FileSystem::new(root).map_err(|err| {
            anyhow::anyhow!("open the embedded store at {}: {err:?}", root.display())
        })?;
        // The same root s3s-fs resolves (it canonicalizes the folder relative to the working directory).
        let root = std::env::current_dir()?.join(root).canonicalize()?;
        Ok(Self {
            inner,
            root: root.into(),
            uploads: Mutex::new(HashMap::new()),
            tmp_counter: Arc::new(AtomicU64::new(0)),
            completed_here: AtomicU64::new(0),
        })
    }
}

/// Forwards S3 operations to s3s-fs unchanged.
macro_rules! delegate {
    ($($op:ident: $input:ident => $output:ident),* $(,)?) => {
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
                self.inner.$op(req)
            }
        )*
    };
}

#[async_trait::async_trait]
impl S3 for Store {
    delegate! {
        create_bucket: CreateBucketInput => CreateBucketOutput,
        copy_object: CopyObjectInput => CopyObjectOutput,
        delete_bucket: DeleteBucketInput => DeleteBucketOutput,
        delete_object: DeleteObjectInput => DeleteObjectOutput,
        delete_objects: DeleteObjectsInput => DeleteObjectsOutput,
        get_bucket_location: GetBucketLocationInput => GetBucketLocationOutput,
        get_object: GetObjectInput => GetObjectOutput,
        head_bucket: HeadBucketInput => HeadBucketOutput,
        head_object: HeadObjectInput => HeadObjectOutput,
        list_buckets: ListBucketsInput => ListBucketsOutput,
        list_objects: ListObjectsInput => ListObjectsOutput,
        list_objects_v2: ListObjectsV2Input => ListObjectsV2Output,
        put_object: PutObjectInput => PutObjectOutput,
        create_multipart_upload: CreateMultipartUploadInput => CreateMultipartUploadOutput,
        // Lists s3s-fs's part files only: staged parts are not listed (nothing here uses ListParts).
        list_parts: ListPartsInput => ListPartsOutput,
    }

    async fn upload_part(
        &self,
        req: S3Request<UploadPartInput>,
    ) -> S3Result<S3Response<UploadPartOutput>> {
        self.upload_part_in_place(req).await
    }

    async fn upload_part_copy(
        &self,
        req: S3Request<UploadPartCopyInput>,
    ) -> S3Result<S3Response<UploadPartCopyOutput>> {
        self.upload_part_copy_recorded(req).await
    }

    async fn complete_multipart_upload(
        &self,
        req: S3Request<CompleteMultipartUploadInput>,
    ) -> S3Result<S3Response<CompleteMultipartUploadOutput>> {
        self.complete_in_place(req).await
    }

    async fn abort_multipart_upload(
        &self,
        req: S3Request<AbortMultipartUploadInput>,
    ) -> S3Result<S3Response<AbortMultipartUploadOutput>> {
        self.abort_recorded(req).await
    }
}
