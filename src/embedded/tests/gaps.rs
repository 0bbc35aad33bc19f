//! CompleteMultipartUpload with gaps in the part numbers: S3's rule (strictly ascending, each listed part as
//! uploaded, every part but the last at least 5 MiB); parts not listed are not in the object.

use std::collections::BTreeMap;

use bytes::Bytes;
use futures_util::TryStreamExt as _;
use s3s::dto::*;
use s3s::{S3 as _, S3ErrorCode, S3Result};

use super::{PART, md5, pattern, request, store_with_bucket};
use crate::embedded::completion::hex;
use crate::embedded::store::CheckedFs;

const KEY: &str = "gaps/파일.bin";

/// An upload of `KEY` with `parts` (number, bytes) uploaded in the order given; returns its id and ETags.
pub(super) async fn upload_numbered(
    store: &CheckedFs,
    parts: &[(i32, Bytes)],
) -> (String, BTreeMap<i32, ETag>) {
    let create = CreateMultipartUploadInput::builder()
        .bucket("uploads".to_owned())
        .key(KEY.to_owned())
        .content_type(Some("application/octet-stream".to_owned()))
        .build()
        .expect("input");
    let upload_id = store
        .create_multipart_upload(request(create))
        .await
        .expect("create")
        .output
        .upload_id
        .expect("id");
    let mut e_tags = BTreeMap::new();
    for (number, bytes) in parts {
        let input = UploadPartInput::builder()
            .bucket("uploads".to_owned())
            .key(KEY.to_owned())
            .upload_id(upload_id.clone())
            .part_number(*number)
            .content_length(Some(i64::try_from(bytes.len()).expect("small")))
            .body(Some(StreamingBlob::from(s3s::Body::from(bytes.clone()))))
            .build()
            .expect("input");
        let stored = store.upload_part(request(input)).await.expect("part");
        e_tags.insert(*number, stored.output.e_tag.expect("etag"));
    }
    (upload_id, e_tags)
}

/// CompleteMultipartUpload of `KEY` with these (number, ETag) in this order.
pub(super) async fn complete_listed(
    store: &CheckedFs,
    upload_id: &str,
    listed: &[(i32, ETag)],
) -> S3Result<Option<ETag>> {
    let parts = listed
        .iter()
        .map(|(number, e_tag)| CompletedPart {
            e_tag: Some(e_tag.clone()),
            part_number: Some(*number),
            ..Default::default()
        })
        .collect();
    let input = CompleteMultipartUploadInput::builder()
        .bucket("uploads".to_owned())
        .key(KEY.to_owned())
        .upload_id(upload_id.to_owned())
        .multipart_upload(Some(CompletedMultipartUpload { parts: Some(parts) }))
        .build()
        .expect("input");
    Ok(store
        .complete_multipart_upload(request(input))
        .await?
        .output
        .e_tag)
}

/// The stored object's bytes.
pub(super) async fn object_bytes(store: &CheckedFs) -> Vec<u8> {
    let get = GetObjectInput::builder()
        .bucket("uploads".to_owned())
        .key(KEY.to_owned())
        .build()
        .expect("input");
    let got = store.get_object(request(get)).await.expect("get").output;
    let body: Vec<Bytes> = got.body.expect("body").try_collect().await.expect("read");
    body.concat()
}

/// The multipart ETag of these parts: MD5 of their MD5s, `-N`.
fn multipart_e_tag(parts: &[&Bytes]) -> ETag {
    let mut all = Vec::new();
    for part in parts {
        all.extend_from_slice(&md5(part));
    }
    ETag::Strong(format!("{}-{}", hex(&md5(&all)), parts.len()))
}

/// No file of a multipart upload is left in the folder.
fn no_upload_files(dir: &std::path::Path) {
    let left: Vec<String> = std::fs::read_dir(dir)
        .expect("read")
        .map(|entry| {
            entry
                .expect("entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .filter(|name| {
            name.starts_with(".upload") || name.contains(".upload-") || name.starts_with(".tmp.")
        })
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

fn listed(e_tags: &BTreeMap<i32, ETag>, numbers: &[i32]) -> Vec<(i32, ETag)> {
    numbers.iter().map(|n| (*n, e_tags[n].clone())).collect()
}

#[tokio::test]
async fn parts_with_gaps_complete_to_the_exact_bytes() {
    // Arrange: parts 1, 2, 5 and a short last part 9; part 5 arrives first, so it lives in its own file.
    let (dir, store) = store_with_bucket().await;
    let parts = [
        (5, pattern(PART, 5)),
        (1, pattern(PART, 1)),
        (2, pattern(PART, 2)),
        (9, pattern(1234, 9)),
    ];
    let (upload_id, e_tags) = upload_numbered(&store, &parts).await;

    // Act
    let e_tag = complete_listed(&store, &upload_id, &listed(&e_tags, &[1, 2, 5, 9]))
        .await
        .expect("gaps are allowed");

    // Assert
    let in_order = [&parts[1].1, &parts[2].1, &parts[0].1, &parts[3].1];
    assert_eq!(e_tag, Some(multipart_e_tag(&in_order)));
    let expected: Vec<u8> = in_order.iter().flat_map(|p| p.iter().copied()).collect();
    assert_eq!(object_bytes(&store).await, expected);
    no_upload_files(dir.path());
}

#[tokio::test]
async fn parts_uploaded_but_not_listed_are_not_in_the_object() {
    // Part 3 is between listed parts, part 5 after the last listed one.
    let (dir, store) = store_with_bucket().await;
    let parts: Vec<(i32, Bytes)> = (1..=5).map(|n| (n, pattern(PART, n as u8))).collect();
    let (upload_id, e_tags) = upload_numbered(&store, &parts).await;

    complete_listed(&store, &upload_id, &listed(&e_tags, &[1, 2, 4]))
        .await
        .expect("complete");

    let expected = [&parts[0].1, &parts[1].1, &parts[3].1];
    assert_eq!(
        object_bytes(&store).await,
        expected.map(|p| p.to_vec()).concat()
    );
    no_upload_files(dir.path());

    // Listing 1..N in place leaves out a staged part N + 1.
    let (dir, store) = store_with_bucket().await;
    let parts: Vec<(i32, Bytes)> = (1..=3).map(|n| (n, pattern(PART, n as u8))).collect();
    let (upload_id, e_tags) = upload_numbered(&store, &parts).await;
    complete_listed(&store, &upload_id, &listed(&e_tags, &[1, 2]))
        .await
        .expect("complete");
    assert_eq!(
        object_bytes(&store).await,
        [parts[0].1.to_vec(), parts[1].1.to_vec()].concat()
    );
    no_upload_files(dir.path());
}

#[tokio::test]
async fn a_wrong_etag_or_an_order_that_is_not_strictly_ascending_is_refused() {
    let (_dir, store) = store_with_bucket().await;
    let parts = [
        (2, pattern(PART, 2)),
        (4, pattern(PART, 4)),
        (7, pattern(10, 7)),
    ];
    let (upload_id, e_tags) = upload_numbered(&store, &parts).await;

    let mut wrong = listed(&e_tags, &[2, 4, 7]);
    wrong[1].1 = ETag::Strong(hex(&md5(b"not part 4")));
    let err = complete_listed(&store, &upload_id, &wrong)
        .await
        .expect_err("wrong ETag");
    assert_eq!(*err.code(), S3ErrorCode::InvalidPart);

    let err = complete_listed(&store, &upload_id, &listed(&e_tags, &[4, 2, 7]))
        .await
        .expect_err("descending");
    assert_eq!(*err.code(), S3ErrorCode::InvalidPartOrder);

    let err = complete_listed(&store, &upload_id, &listed(&e_tags, &[2, 2, 7]))
        .await
        .expect_err("repeated");
    assert_eq!(*err.code(), S3ErrorCode::InvalidPartOrder);

    let mut not_uploaded = listed(&e_tags, &[2, 4, 7]);
    not_uploaded.insert(2, (5, e_tags[&4].clone()));
    let err = complete_listed(&store, &upload_id, &not_uploaded)
        .await
        .expect_err("part 5 was never uploaded");
    assert_eq!(*err.code(), S3ErrorCode::InvalidPart);

    // The refusals lose nothing: the right list still completes.
    complete_listed(&store, &upload_id, &listed(&e_tags, &[2, 4, 7]))
        .await
        .expect("complete");
    let expected = parts.map(|(_, bytes)| bytes.to_vec()).concat();
    assert_eq!(object_bytes(&store).await, expected);
}

#[tokio::test]
async fn a_small_part_before_the_last_is_too_small_with_gaps_too() {
    let (_dir, store) = store_with_bucket().await;
    let parts = [
        (1, pattern(PART, 1)),
        (3, pattern(10, 3)),
        (6, pattern(10, 6)),
    ];
    let (upload_id, e_tags) = upload_numbered(&store, &parts).await;

    let err = complete_listed(&store, &upload_id, &listed(&e_tags, &[1, 3, 6]))
        .await
        .expect_err("part 3 is short");

    assert_eq!(*err.code(), S3ErrorCode::EntityTooSmall);
}
