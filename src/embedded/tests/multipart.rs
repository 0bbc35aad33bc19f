//! Multipart uploads written in place: bytes, attributes and ETags kept; what cannot be vouched for refused.

use std::path::Path;
use std::sync::atomic::Ordering;

use base64::Engine as _;
use bytes::Bytes;
use futures_util::TryStreamExt as _;
use s3s::crypto::{Checksum as _, Md5};
use s3s::dto::*;
use s3s::{S3 as _, S3Response, S3Result};

use super::{PART, md5, pattern, request};
use crate::embedded::completion::{decode_md5, hex, plain_path};
use crate::embedded::records::{MAX_RECORDED_UPLOADS, UploadRecord};
use crate::embedded::store::CheckedFs;

struct Upload {
    store: CheckedFs,
    dir: tempfile::TempDir,
    upload_id: String,
    parts: Vec<Bytes>,
    e_tags: Vec<ETag>,
}

/// A store with bucket `uploads` and a multipart upload of `uploads/그림 1.png` with these parts stored, sent in the
/// given order of part indexes; with `content_md5`, each part carries a Content-MD5 (so s3s-fs stores it).
async fn upload_parts_with(parts: Vec<Bytes>, order: &[usize], content_md5: bool) -> Upload {
    let dir = tempfile::tempdir().unwrap();
    let store = CheckedFs::new(dir.path()).unwrap();
    let bucket = CreateBucketInput::builder()
        .bucket("uploads".to_owned())
        .build()
        .unwrap();
    store.create_bucket(request(bucket)).await.unwrap();
    let create = CreateMultipartUploadInput::builder()
        .bucket("uploads".to_owned())
        .key("uploads/그림 1.png".to_owned())
        .content_type(Some("image/png".to_owned()))
        .content_disposition(Some("inline; filename*=UTF-8''x.png".to_owned()))
        .metadata(Some([("team".to_owned(), "upload".to_owned())].into()))
        .build()
        .unwrap();
    let created = store
        .create_multipart_upload(request(create))
        .await
        .unwrap();
    let upload_id = created.output.upload_id.unwrap();
    let mut e_tags = vec![ETag::Strong(String::new()); parts.len()];
    for &index in order {
        let part = &parts[index];
        let input = UploadPartInput::builder()
            .bucket("uploads".to_owned())
            .key("uploads/그림 1.png".to_owned())
            .upload_id(upload_id.clone())
            .part_number(i32::try_from(index + 1).unwrap())
            .content_length(Some(i64::try_from(part.len()).unwrap()))
            .content_md5(
                content_md5.then(|| base64::engine::general_purpose::STANDARD.encode(md5(part))),
            )
            .body(Some(StreamingBlob::from(s3s::Body::from(part.clone()))))
            .build()
            .unwrap();
        let stored = store.upload_part(request(input)).await.unwrap();
        e_tags[index] = stored.output.e_tag.unwrap();
    }
    Upload {
        store,
        dir,
        upload_id,
        parts,
        e_tags,
    }
}

async fn upload_parts(parts: Vec<Bytes>) -> Upload {
    let order: Vec<usize> = (0..parts.len()).collect();
    upload_parts_with(parts, &order, false).await
}

fn expected_e_tag(parts: &[Bytes]) -> String {
    let mut hash = Md5::new();
    for part in parts {
        hash.update(&md5(part));
    }
    format!("{}-{}", hex(&hash.finalize()), parts.len())
}

/// The object's bytes, Content-Type and ETag.
async fn stored(store: &CheckedFs) -> (Vec<u8>, Option<String>, Option<ETag>) {
    let get = GetObjectInput::builder()
        .bucket("uploads".to_owned())
        .key("uploads/그림 1.png".to_owned())
        .build()
        .unwrap();
    let got = store.get_object(request(get)).await.unwrap().output;
    let body: Vec<Bytes> = got.body.unwrap().try_collect().await.unwrap();
    (body.concat(), got.content_type, got.e_tag)
}

async fn complete(
    upload: &Upload,
    e_tags: Vec<ETag>,
) -> S3Result<S3Response<CompleteMultipartUploadOutput>> {
    let parts = e_tags
        .into_iter()
        .enumerate()
        .map(|(index, e_tag)| CompletedPart {
            e_tag: Some(e_tag),
            part_number: Some(i32::try_from(index + 1).unwrap()),
            ..Default::default()
        })
        .collect();
    let input = CompleteMultipartUploadInput::builder()
        .bucket("uploads".to_owned())
        .key("uploads/그림 1.png".to_owned())
        .upload_id(upload.upload_id.clone())
        .multipart_upload(Some(CompletedMultipartUpload { parts: Some(parts) }))
        .build()
        .unwrap();
    upload.store.complete_multipart_upload(request(input)).await
}

fn leftovers(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with(".upload") || name.starts_with(".tmp."))
        .collect()
}

#[tokio::test]
async fn completes_without_s3s_fs_and_keeps_bytes_attributes_and_etag() {
    let upload = upload_parts(vec![pattern(PART, 1), pattern(PART, 2), pattern(3, 3)]).await;

    let done = complete(&upload, upload.e_tags.clone()).await.unwrap();

    assert_eq!(upload.store.completed_here.load(Ordering::Relaxed), 1);
    let expected = expected_e_tag(&upload.parts);
    assert!(expected.ends_with("-3"));
    assert_eq!(done.output.e_tag, Some(ETag::Strong(expected.clone())));

    let get = GetObjectInput::builder()
        .bucket("uploads".to_owned())
        .key("uploads/그림 1.png".to_owned())
        .build()
        .unwrap();
    let got = upload.store.get_object(request(get)).await.unwrap().output;
    assert_eq!(got.content_type.as_deref(), Some("image/png"));
    assert_eq!(
        got.content_disposition.as_deref(),
        Some("inline; filename*=UTF-8''x.png")
    );
    assert_eq!(
        got.metadata.unwrap().get("team").map(String::as_str),
        Some("upload")
    );
    assert_eq!(got.e_tag, Some(ETag::Strong(expected)));
    let body: Vec<Bytes> = got.body.unwrap().try_collect().await.unwrap();
    assert_eq!(body.concat(), upload.parts.concat());
    assert_eq!(leftovers(upload.dir.path()), Vec::<String>::new());
    assert!(upload.store.uploads().is_empty());
}

#[tokio::test]
async fn an_etag_that_is_not_the_stored_part_is_invalid_part() {
    let upload = upload_parts(vec![pattern(PART, 1), pattern(10, 2)]).await;
    let mut e_tags = upload.e_tags.clone();
    e_tags[1] = ETag::Strong(hex(&md5(b"something else")));

    let err = complete(&upload, e_tags).await.unwrap_err();

    assert_eq!(*err.code(), s3s::S3ErrorCode::InvalidPart);
    let head = HeadObjectInput::builder()
        .bucket("uploads".to_owned())
        .key("uploads/그림 1.png".to_owned())
        .build()
        .unwrap();
    assert!(upload.store.head_object(request(head)).await.is_err());

    // The refusal loses nothing: completing with the right ETags still works.
    complete(&upload, upload.e_tags.clone()).await.unwrap();
    assert_eq!(stored(&upload.store).await.0, upload.parts.concat());
}

#[tokio::test]
async fn uploads_beyond_the_recorded_limit_go_to_s3s_fs_and_recorded_ones_are_kept() {
    let upload = upload_parts(vec![pattern(PART, 1), pattern(5, 2)]).await;
    for n in 1..MAX_RECORDED_UPLOADS {
        upload
            .store
            .uploads()
            .insert(format!("other-{n}"), UploadRecord::default());
    }
    // A new upload now: its parts go to s3s-fs's own files.
    let create = CreateMultipartUploadInput::builder()
        .bucket("uploads".to_owned())
        .key("late.bin".to_owned())
        .build()
        .unwrap();
    let late = upload
        .store
        .create_multipart_upload(request(create))
        .await
        .unwrap();
    let late_id = late.output.upload_id.unwrap();
    let part = UploadPartInput::builder()
        .bucket("uploads".to_owned())
        .key("late.bin".to_owned())
        .upload_id(late_id.clone())
        .part_number(1)
        .content_length(Some(3))
        .body(Some(StreamingBlob::from(s3s::Body::from(
            Bytes::from_static(b"abc"),
        ))))
        .build()
        .unwrap();
    upload.store.upload_part(request(part)).await.unwrap();
    assert!(!upload.store.uploads().contains_key(&late_id));
    assert!(
        upload
            .dir
            .path()
            .join(format!(".upload_id-{late_id}.part-1"))
            .exists()
    );

    // The upload recorded before the limit still completes from its staged parts.
    complete(&upload, upload.e_tags.clone()).await.unwrap();
    assert_eq!(upload.store.completed_here.load(Ordering::Relaxed), 1);
    assert_eq!(stored(&upload.store).await.0, upload.parts.concat());
}

#[tokio::test]
async fn parts_out_of_layout_are_copied_into_place() {
    // Part 2 arrives before part 1 (so it has no place yet and goes to its own file).
    let upload = upload_parts_with(vec![pattern(PART, 1), pattern(9, 2)], &[1, 0], false).await;
    complete(&upload, upload.e_tags.clone()).await.unwrap();
    let (bytes, content_type, e_tag) = stored(&upload.store).await;
    assert_eq!(bytes, upload.parts.concat());
    assert_eq!(content_type.as_deref(), Some("image/png"));
    assert_eq!(e_tag, Some(ETag::Strong(expected_e_tag(&upload.parts))));
    assert_eq!(upload.store.completed_here.load(Ordering::Relaxed), 1);
    assert_eq!(leftovers(upload.dir.path()), Vec::<String>::new());

    // Part 2 smaller than part 1 but not the last: the parts are concatenated instead.
    let parts = vec![pattern(PART + 5, 1), pattern(PART, 2), pattern(3, 3)];
    let upload = upload_parts(parts).await;
    complete(&upload, upload.e_tags.clone()).await.unwrap();
    let (bytes, _, e_tag) = stored(&upload.store).await;
    assert_eq!(bytes, upload.parts.concat());
    assert_eq!(e_tag, Some(ETag::Strong(expected_e_tag(&upload.parts))));
    assert_eq!(leftovers(upload.dir.path()), Vec::<String>::new());
}

#[tokio::test]
async fn what_it_cannot_vouch_for_is_refused_or_left_to_s3s_fs() {
    // A part smaller than 5 MiB before the last: EntityTooSmall, as S3.
    let upload = upload_parts(vec![pattern(10, 1), pattern(10, 2)]).await;
    let err = complete(&upload, upload.e_tags.clone()).await.unwrap_err();
    assert_eq!(*err.code(), s3s::S3ErrorCode::EntityTooSmall);

    // Staged parts the store has no record of (a record lost): InvalidPart, not a wrong object.
    let upload = upload_parts(vec![pattern(PART, 1), pattern(7, 2)]).await;
    upload.store.uploads().remove(&upload.upload_id);
    let err = complete(&upload, upload.e_tags.clone()).await.unwrap_err();
    assert_eq!(*err.code(), s3s::S3ErrorCode::InvalidPart);

    // Parts with a Content-MD5 go to s3s-fs; unrecorded, s3s-fs completes them itself, correctly.
    let upload = upload_parts_with(vec![pattern(PART, 1), pattern(7, 2)], &[0, 1], true).await;
    upload.store.uploads().remove(&upload.upload_id);
    let done = complete(&upload, upload.e_tags.clone()).await.unwrap();
    assert_eq!(upload.store.completed_here.load(Ordering::Relaxed), 0);
    // s3s-fs answers through its keep-alive future.
    let output = match done.output.future {
        Some(future) => future.await.unwrap(),
        None => done.output,
    };
    assert_eq!(
        output.e_tag,
        Some(ETag::Strong(expected_e_tag(&upload.parts)))
    );
    assert_eq!(stored(&upload.store).await.0, upload.parts.concat());
}

#[tokio::test]
async fn abort_forgets_the_recorded_parts() {
    let upload = upload_parts(vec![pattern(PART, 1)]).await;
    assert_eq!(upload.store.uploads().len(), 1);
    let abort = AbortMultipartUploadInput::builder()
        .bucket("uploads".to_owned())
        .key("uploads/그림 1.png".to_owned())
        .upload_id(upload.upload_id.clone())
        .build()
        .unwrap();
    upload
        .store
        .abort_multipart_upload(request(abort))
        .await
        .unwrap();
    assert!(upload.store.uploads().is_empty());
    assert_eq!(leftovers(upload.dir.path()), Vec::<String>::new());
}

#[test]
fn only_plain_relative_paths_take_the_fast_path() {
    assert!(plain_path("uploads/0190/사진.png").is_some());
    for odd in ["", "/etc/passwd", "../x", "a/../b", "./a", "a\\b"] {
        assert!(plain_path(odd).is_none(), "{odd:?}");
    }
    assert_eq!(
        decode_md5("\"00112233445566778899aabbccddeeff\""),
        Some([
            0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd,
            0xee, 0xff
        ])
    );
    assert_eq!(decode_md5("0011"), None);
    assert_eq!(decode_md5("zz112233445566778899aabbccddeeff"), None);
}
