//! Unit tests of the embedded store, one file per concern, calling its S3 implementation directly.

mod conditional;
mod cors;
mod deletes;
mod gaps;
mod keys;
mod multipart;
mod post;
mod restart;
mod sweep;

use bytes::Bytes;
use hyper::http::{Extensions, HeaderMap, Method, Uri};
use s3s::auth::Credentials;
use s3s::crypto::{Checksum as _, Md5};
use s3s::dto::{
    CreateBucketInput, CreateMultipartUploadInput, ETag, PutObjectInput, StreamingBlob,
    UploadPartInput,
};
use s3s::{S3 as _, S3Request, S3Result};

use super::store::CheckedFs;

pub(super) const PART: usize = 5 * 1024 * 1024;

pub(super) fn request<T>(input: T) -> S3Request<T> {
    S3Request {
        input,
        method: Method::POST,
        uri: Uri::from_static("/"),
        headers: HeaderMap::new(),
        extensions: Extensions::new(),
        credentials: Some(Credentials {
            access_key: "tester".to_owned(),
            secret_key: "secret".into(),
        }),
        region: None,
        service: None,
        trailing_headers: None,
    }
}

pub(super) fn md5(bytes: &[u8]) -> [u8; 16] {
    let mut hash = Md5::new();
    hash.update(bytes);
    hash.finalize()
}

pub(super) fn pattern(len: usize, seed: u8) -> Bytes {
    (0..len)
        .map(|i| (i % 251) as u8 ^ seed)
        .collect::<Vec<u8>>()
        .into()
}

/// A store in a fresh folder, with the bucket `uploads`.
pub(super) async fn store_with_bucket() -> (tempfile::TempDir, CheckedFs) {
    let dir = tempfile::tempdir().expect("temporary folder");
    let store = CheckedFs::new(dir.path()).expect("open the store");
    let bucket = CreateBucketInput::builder()
        .bucket("uploads".to_owned())
        .build()
        .expect("input");
    store
        .create_bucket(request(bucket))
        .await
        .expect("create the bucket");
    (dir, store)
}

/// PutObject of `body` at `key` in `uploads`.
pub(super) async fn put(store: &CheckedFs, key: &str, body: &'static [u8]) -> S3Result<()> {
    let input = PutObjectInput::builder()
        .bucket("uploads".to_owned())
        .key(key.to_owned())
        .content_length(Some(i64::try_from(body.len()).expect("small")))
        .body(Some(StreamingBlob::from(s3s::Body::from(
            Bytes::from_static(body),
        ))))
        .build()
        .expect("input");
    store.put_object(request(input)).await.map(|_| ())
}

/// Every file and folder under `dir`, relative to it.
pub(super) fn tree(dir: &std::path::Path) -> std::collections::BTreeSet<String> {
    let mut found = std::collections::BTreeSet::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(next) = pending.pop() {
        for entry in std::fs::read_dir(&next).expect("read the folder") {
            let path = entry.expect("folder entry").path();
            found.insert(
                path.strip_prefix(dir)
                    .expect("inside")
                    .display()
                    .to_string(),
            );
            if path.is_dir() {
                pending.push(path);
            }
        }
    }
    found
}

/// A multipart upload of `key` with one staged part of `body` (so the store completes it itself).
pub(super) async fn staged_upload(store: &CheckedFs, key: &str, body: Bytes) -> (String, ETag) {
    let create = CreateMultipartUploadInput::builder()
        .bucket("uploads".to_owned())
        .key(key.to_owned())
        .build()
        .expect("input");
    let upload_id = store
        .create_multipart_upload(request(create))
        .await
        .expect("create")
        .output
        .upload_id
        .expect("id");
    let part = UploadPartInput::builder()
        .bucket("uploads".to_owned())
        .key(key.to_owned())
        .upload_id(upload_id.clone())
        .part_number(1)
        .content_length(Some(i64::try_from(body.len()).expect("small")))
        .body(Some(StreamingBlob::from(s3s::Body::from(body))))
        .build()
        .expect("input");
    let e_tag = store
        .upload_part(request(part))
        .await
        .expect("part")
        .output
        .e_tag
        .expect("etag");
    (upload_id, e_tag)
}
