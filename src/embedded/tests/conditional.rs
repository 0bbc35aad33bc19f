//! Conditional writes hold under concurrency, on both of PutObject's and CompleteMultipartUpload's paths.

use std::sync::Arc;

use bytes::Bytes;
use futures_util::TryStreamExt as _;
use s3s::dto::*;
use s3s::{S3 as _, S3ErrorCode, S3Result};

use super::{PART, pattern, put, request, staged_upload, store_with_bucket};
use crate::embedded::store::CheckedFs;

fn code<T>(answer: S3Result<T>) -> Option<S3ErrorCode> {
    answer.err().map(|err| err.code().clone())
}

async fn put_if(
    store: &CheckedFs,
    key: &str,
    body: Bytes,
    if_match: Option<ETagCondition>,
    if_none_match: Option<ETagCondition>,
) -> S3Result<Option<ETag>> {
    let input = PutObjectInput::builder()
        .bucket("uploads".to_owned())
        .key(key.to_owned())
        .content_length(Some(i64::try_from(body.len()).expect("small")))
        .if_match(if_match)
        .if_none_match(if_none_match)
        .body(Some(StreamingBlob::from(s3s::Body::from(body))))
        .build()
        .expect("input");
    Ok(store.put_object(request(input)).await?.output.e_tag)
}

async fn read(store: &CheckedFs, key: &str) -> Vec<u8> {
    let get = GetObjectInput::builder()
        .bucket("uploads".to_owned())
        .key(key.to_owned())
        .build()
        .expect("input");
    let got = store.get_object(request(get)).await.expect("get").output;
    let body: Vec<Bytes> = got.body.expect("body").try_collect().await.expect("read");
    body.concat()
}

async fn complete_if_none_match(
    store: &CheckedFs,
    key: &str,
    upload_id: &str,
    e_tag: ETag,
) -> S3Result<()> {
    let input = CompleteMultipartUploadInput::builder()
        .bucket("uploads".to_owned())
        .key(key.to_owned())
        .upload_id(upload_id.to_owned())
        .if_none_match(Some(ETagCondition::Any))
        .multipart_upload(Some(CompletedMultipartUpload {
            parts: Some(vec![CompletedPart {
                e_tag: Some(e_tag),
                part_number: Some(1),
                ..Default::default()
            }]),
        }))
        .build()
        .expect("input");
    store.complete_multipart_upload(request(input)).await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_if_none_match_puts_of_one_key_have_one_winner() {
    let (_dir, store) = store_with_bucket().await;
    let store = Arc::new(store);

    let racers: Vec<_> = (0..16u8)
        .map(|n| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                let body = Bytes::from(vec![n; 64 * 1024]);
                let answer = put_if(
                    &store,
                    "race.bin",
                    body.clone(),
                    None,
                    Some(ETagCondition::Any),
                )
                .await;
                (body, answer)
            })
        })
        .collect();
    let mut winners = Vec::new();
    for racer in racers {
        let (body, answer) = racer.await.expect("racer");
        match answer {
            Ok(_) => winners.push(body),
            Err(err) => assert_eq!(*err.code(), S3ErrorCode::PreconditionFailed),
        }
    }

    assert_eq!(winners.len(), 1);
    assert_eq!(read(&store, "race.bin").await, winners[0].to_vec());
}

#[tokio::test]
async fn a_conditional_completion_is_done_in_place_or_refused_keeping_the_upload() {
    let (_dir, store) = store_with_bucket().await;
    let (first, first_tag) = staged_upload(&store, "doc.bin", pattern(PART, 1)).await;
    let (second, second_tag) = staged_upload(&store, "doc.bin", pattern(PART, 2)).await;

    complete_if_none_match(&store, "doc.bin", &first, first_tag)
        .await
        .expect("the key is new: completed");
    let refused = complete_if_none_match(&store, "doc.bin", &second, second_tag.clone()).await;

    assert_eq!(code(refused), Some(S3ErrorCode::PreconditionFailed));
    assert_eq!(read(&store, "doc.bin").await, pattern(PART, 1).to_vec());
    // The refused upload is still there, to be aborted (or completed elsewhere).
    let abort = AbortMultipartUploadInput::builder()
        .bucket("uploads".to_owned())
        .key("doc.bin".to_owned())
        .upload_id(second)
        .build()
        .expect("input");
    store
        .abort_multipart_upload(request(abort))
        .await
        .expect("abort");
}

#[tokio::test]
async fn if_match_writes_over_the_expected_object_only() {
    let (_dir, store) = store_with_bucket().await;
    let v1 = put_if(&store, "cas.txt", Bytes::from_static(b"v1"), None, None)
        .await
        .expect("v1")
        .expect("etag");
    let stale = ETagCondition::ETag(ETag::Strong("0123456789abcdef0123456789abcdef".to_owned()));

    assert_eq!(
        code(
            put_if(
                &store,
                "cas.txt",
                Bytes::from_static(b"v2"),
                Some(stale.clone()),
                None
            )
            .await
        ),
        Some(S3ErrorCode::PreconditionFailed)
    );
    assert_eq!(
        code(
            put_if(
                &store,
                "missing.txt",
                Bytes::from_static(b"v2"),
                Some(ETagCondition::Any),
                None
            )
            .await
        ),
        Some(S3ErrorCode::NoSuchKey)
    );
    assert_eq!(
        code(
            put_if(
                &store,
                "cas.txt",
                Bytes::from_static(b"v2"),
                None,
                Some(ETagCondition::ETag(v1.clone()))
            )
            .await
        ),
        Some(S3ErrorCode::NotImplemented)
    );
    assert_eq!(read(&store, "cas.txt").await, b"v1");
    put_if(
        &store,
        "cas.txt",
        Bytes::from_static(b"v2"),
        Some(ETagCondition::ETag(v1)),
        None,
    )
    .await
    .expect("the current ETag");
    assert_eq!(read(&store, "cas.txt").await, b"v2");

    // A delete with a stale If-Match keeps the object.
    let delete = DeleteObjectInput::builder()
        .bucket("uploads".to_owned())
        .key("cas.txt".to_owned())
        .if_match(Some(stale))
        .build()
        .expect("input");
    assert_eq!(
        code(store.delete_object(request(delete)).await),
        Some(S3ErrorCode::PreconditionFailed)
    );
    assert_eq!(read(&store, "cas.txt").await, b"v2");
    put(&store, "plain.txt", b"unconditional writes still overwrite")
        .await
        .expect("put");
    put(&store, "plain.txt", b"again").await.expect("overwrite");
}
