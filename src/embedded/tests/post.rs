//! Form POSTs (PostObject, a browser's direct upload) reach the store as PutObject does: the same checks, and the
//! ETag header S3 answers.

use bytes::Bytes;
use hyper::header::ETAG;
use s3s::S3 as _;
use s3s::dto::{GetObjectInput, PostObjectInput, StreamingBlob};
use s3s::{S3ErrorCode, S3Response, S3Result};

use super::{md5, request, store_with_bucket};
use crate::embedded::store::CheckedFs;

async fn post(
    store: &CheckedFs,
    key: &str,
    body: &'static [u8],
) -> S3Result<S3Response<s3s::dto::PostObjectOutput>> {
    let input = PostObjectInput::builder()
        .bucket("uploads".to_owned())
        .key(key.to_owned())
        .content_length(Some(i64::try_from(body.len()).expect("small")))
        .body(Some(StreamingBlob::from(s3s::Body::from(
            Bytes::from_static(body),
        ))))
        .build()
        .expect("input");
    store.post_object(request(input)).await
}

#[tokio::test]
async fn a_form_post_stores_the_object_and_answers_its_etag_header() {
    let (_dir, store) = store_with_bucket().await;
    let body = b"a page's file";

    let answer = post(&store, "direct/form.txt", body).await.expect("stored");

    let expected = format!("\"{}\"", hex(&md5(body)));
    assert_eq!(answer.headers[ETAG], expected.as_str());
    let get = GetObjectInput::builder()
        .bucket("uploads".to_owned())
        .key("direct/form.txt".to_owned())
        .build()
        .expect("input");
    let stored = store.get_object(request(get)).await.expect("the object");
    assert_eq!(stored.output.content_length, Some(13));
}

#[tokio::test]
async fn a_form_post_is_checked_as_a_put_is() {
    let (_dir, store) = store_with_bucket().await;

    let beside = post(&store, "../beside.txt", b"x").await;

    let err = beside.expect_err("a key beside the bucket is refused");
    assert_eq!(*err.code(), S3ErrorCode::InvalidArgument, "{err:?}");
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
