//! Conditional writes of one key racing each other, through PutObject and CompleteMultipartUpload.

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};

use super::{raw_request, status};
use crate::helpers::spawn_embedded_app_with;

#[tokio::test]
async fn racing_conditional_writes_of_one_key_have_exactly_one_winner() {
    let app = spawn_embedded_app_with(&[]).await;
    let key = "race/one.bin";
    let racers = 12;

    // Act: conditional PUTs and conditional completions of the same key, all at once.
    let mut tasks = tokio::task::JoinSet::new();
    for n in 0..racers {
        let s3 = app.s3.clone();
        let bucket = app.bucket.clone();
        tasks.spawn(async move {
            let body = format!("racer {n}").into_bytes();
            let answer = s3
                .put_object()
                .bucket(&bucket)
                .key(key)
                .if_none_match("*")
                .body(ByteStream::from(body.clone()))
                .send()
                .await;
            (body, answer.map(|_| ()).map_err(|err| status(&err)))
        });
    }
    for n in 0..2u8 {
        let s3 = app.s3.clone();
        let bucket = app.bucket.clone();
        tasks.spawn(async move {
            let body = vec![n; 5 * 1024 * 1024 + 1];
            (
                body.clone(),
                multipart_if_none_match(&s3, &bucket, key, body).await,
            )
        });
    }
    let mut winners = Vec::new();
    let mut refused = 0;
    while let Some(joined) = tasks.join_next().await {
        match joined.expect("racer task") {
            (body, Ok(())) => winners.push(body),
            (_, Err(Some(412))) => refused += 1,
            (_, Err(other)) => panic!("a racer got {other:?} instead of 200 or 412"),
        }
    }

    // Assert
    assert_eq!(winners.len(), 1, "exactly one conditional write wins");
    assert_eq!(refused, racers + 1);
    assert_eq!(app.object_bytes(key).await, winners[0]);
    app.assert_bucket_holds(1).await;
}

/// One multipart upload of `body` completed with `If-None-Match: *`; a refused completion is aborted.
async fn multipart_if_none_match(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    body: Vec<u8>,
) -> Result<(), Option<u16>> {
    let created = s3
        .create_multipart_upload()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .expect("create upload");
    let upload_id = created.upload_id().expect("upload id").to_owned();
    let part = s3
        .upload_part()
        .bucket(bucket)
        .key(key)
        .upload_id(&upload_id)
        .part_number(1)
        .body(ByteStream::from(body))
        .send()
        .await
        .expect("upload part");
    let completed = s3
        .complete_multipart_upload()
        .bucket(bucket)
        .key(key)
        .upload_id(&upload_id)
        .if_none_match("*")
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .parts(
                    CompletedPart::builder()
                        .part_number(1)
                        .e_tag(part.e_tag().expect("etag"))
                        .build(),
                )
                .build(),
        )
        .send()
        .await;
    match completed {
        Ok(_) => Ok(()),
        Err(err) => {
            s3.abort_multipart_upload()
                .bucket(bucket)
                .key(key)
                .upload_id(&upload_id)
                .send()
                .await
                .expect("abort the refused upload");
            Err(status(&err))
        }
    }
}

#[tokio::test]
async fn if_match_writes_only_over_the_expected_object() {
    let app = spawn_embedded_app_with(&[]).await;
    let key = "cas.txt";
    let first = app
        .s3
        .put_object()
        .bucket(&app.bucket)
        .key(key)
        .body(ByteStream::from_static(b"v1"))
        .send()
        .await
        .expect("v1");
    let e_tag = first.e_tag().expect("etag").to_owned();

    let stale = app
        .s3
        .put_object()
        .bucket(&app.bucket)
        .key(key)
        .if_match("\"00000000000000000000000000000000\"")
        .body(ByteStream::from_static(b"v2"))
        .send()
        .await
        .expect_err("a stale ETag is refused");
    assert_eq!(status(&stale), Some(412));
    let missing = app
        .s3
        .put_object()
        .bucket(&app.bucket)
        .key("missing.txt")
        .if_match(&e_tag)
        .body(ByteStream::from_static(b"v2"))
        .send()
        .await
        .expect_err("If-Match on a missing key is refused");
    assert_eq!(status(&missing), Some(404), "as S3: NoSuchKey");
    app.s3
        .put_object()
        .bucket(&app.bucket)
        .key(key)
        .if_match(&e_tag)
        .body(ByteStream::from_static(b"v2"))
        .send()
        .await
        .expect("the current ETag matches");
    let (status_line, answer) = raw_request(&app, "GET", "/uploads/cas.txt").await;
    assert_eq!(status_line, Some(200));
    assert!(answer.ends_with("v2"), "{answer}");
}
