//! Appending bodies to a resumable upload (`Resumable::append`, no HTTP route yet), against the app's store (the
//! embedded one, or `TEST_S3_ENDPOINT`'s), with 5 MiB parts (S3's minimum) so that a few MiB span parts.

use std::convert::Infallible;

use bytes::Bytes;
use futures_util::{Stream, stream};
use s3_upload_server::config::Config;
use s3_upload_server::lifecycle::Lifecycle;
use s3_upload_server::storage::resumable::checksum::{Algorithm, Expected};
use s3_upload_server::storage::resumable::info::{Info, NewUpload, State, UploadId};
use s3_upload_server::storage::resumable::{AppendError, Appended, Resumable};
use s3_upload_server::storage::upload::{UploadError, Uploader};
use sha2::{Digest as _, Sha256};

use crate::helpers::{TestApp, pattern, spawn_app, spawn_embedded_app_with};

const MIB: usize = 1024 * 1024;
const PART: u64 = 5 * MIB as u64;

fn service(app: &TestApp) -> Resumable {
    service_with(app, &[])
}

/// The service with some upload settings changed, e.g. `&[("KEY_STRATEGY", "original")]`.
fn service_with(app: &TestApp, settings: &[(&str, &str)]) -> Resumable {
    let lookup = |name: &str| {
        let found = settings.iter().find(|(n, _)| *n == name);
        found.map(|(_, value)| (*value).to_owned())
    };
    let config = Config::from_lookup(lookup).expect("test configuration");
    let uploader = Uploader::new(
        app.s3.clone(),
        app.bucket.clone(),
        &config.upload,
        Lifecycle::new(),
    );
    Resumable::new(&uploader, "uploads/")
}

/// A new upload of `length` bytes (as a creation writes it); its id and final key.
async fn create(resumable: &Resumable, length: usize) -> (UploadId, String) {
    let id = UploadId::generate();
    let key = format!("uploads/{id}/data.bin");
    let upload = NewUpload {
        key: key.clone(),
        originalname: "data.bin".to_owned(),
        mimetype: "application/octet-stream".to_owned(),
        metadata_header: None,
        length: Some(length as u64),
        part_size: PART,
    };
    let info = Info::new(id.clone(), "creation", upload, 1_700_000_000, 1_700_086_400);
    resumable.infos().create(&info).await.expect("create");
    (id, key)
}

/// `data` as a body of 256 KiB chunks.
fn body(data: &[u8]) -> impl Stream<Item = Result<Bytes, Infallible>> + Unpin + use<> {
    let chunks: Vec<_> = data
        .chunks(256 * 1024)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    stream::iter(chunks)
}

async fn append(
    resumable: &Resumable,
    id: &UploadId,
    offset: usize,
    data: &[u8],
) -> Result<Appended, AppendError<Infallible>> {
    resumable
        .append(id, offset as u64, None, body(data), None)
        .await
}

async fn record(resumable: &Resumable, id: &UploadId) -> Info {
    resumable.infos().read(id).await.expect("read the record").0
}

/// The upload is complete: the object holds exactly `data`; the record and the object are all that is left.
async fn assert_completed(
    app: &TestApp,
    resumable: &Resumable,
    id: &UploadId,
    key: &str,
    data: &[u8],
) {
    let info = record(resumable, id).await;
    assert_eq!(info.state, State::Completed);
    assert_eq!(info.offset, data.len() as u64);
    assert!(info.segments.is_empty(), "{:?}", info.segments);
    let stored = app.object_bytes(key).await;
    assert!(
        stored == data,
        "the object differs from the file ({} bytes)",
        stored.len()
    );
    app.assert_bucket_holds(2).await;
}

#[tokio::test]
async fn one_append_of_20_mib_and_7_bytes_completes_exactly() {
    let app = spawn_app().await;
    let resumable = service(&app);
    let data = pattern(20 * MIB + 7);
    let (id, key) = create(&resumable, data.len()).await;

    let appended = append(&resumable, &id, 0, &data).await.expect("append");

    match appended {
        Appended::Completed { offset, object } => {
            assert_eq!(offset, data.len() as u64);
            assert_eq!(object.size, data.len() as u64);
        }
        other => panic!("{other:?}"),
    }
    let info = record(&resumable, &id).await;
    assert_eq!(
        info.parts.len(),
        5,
        "four parts of 5 MiB and the last 7 bytes"
    );
    assert_completed(&app, &resumable, &id, &key, &data).await;
}

#[tokio::test]
async fn appends_of_3_mib_go_through_segments_and_complete_exactly() {
    let app = spawn_app().await;
    let resumable = service(&app);
    let data = pattern(20 * MIB + 7);
    let (id, key) = create(&resumable, data.len()).await;

    let mut outcomes = Vec::new();
    for (i, chunk) in data.chunks(3 * MIB).enumerate() {
        outcomes.push(
            append(&resumable, &id, i * 3 * MIB, chunk)
                .await
                .expect("append"),
        );
        if i == 0 {
            let info = record(&resumable, &id).await;
            assert_eq!(
                (info.parts.len(), info.segments.len()),
                (0, 1),
                "3 MiB: a segment"
            );
        }
    }

    let (last, received) = outcomes.split_last().expect("outcomes");
    for (i, outcome) in received.iter().enumerate() {
        let offset = ((i + 1) * 3 * MIB) as u64;
        assert_eq!(*outcome, Appended::Received { offset });
    }
    assert!(matches!(last, Appended::Completed { .. }), "{last:?}");
    assert_completed(&app, &resumable, &id, &key, &data).await;
}

#[tokio::test]
async fn a_file_smaller_than_a_part_is_one_object() {
    let app = spawn_app().await;
    let resumable = service(&app);
    let data = pattern(MIB + 3);
    let (id, key) = create(&resumable, data.len()).await;

    let first = append(&resumable, &id, 0, &data[..1000])
        .await
        .expect("append");
    let second = append(&resumable, &id, 1000, &data[1000..])
        .await
        .expect("append");

    assert_eq!(first, Appended::Received { offset: 1000 });
    assert!(matches!(second, Appended::Completed { .. }), "{second:?}");
    let info = record(&resumable, &id).await;
    assert!(
        info.multipart.is_none() && info.parts.is_empty(),
        "one PutObject"
    );
    assert_completed(&app, &resumable, &id, &key, &data).await;
}

#[tokio::test]
async fn an_append_at_the_wrong_offset_changes_nothing() {
    let app = spawn_app().await;
    let resumable = service(&app);
    let data = pattern(8 * MIB);
    let (id, _) = create(&resumable, data.len()).await;
    append(&resumable, &id, 0, &data[..MIB])
        .await
        .expect("append");
    let before = resumable.infos().read(&id).await.expect("read");

    let appended = append(&resumable, &id, 0, &data[..MIB])
        .await
        .expect("append");

    assert_eq!(appended, Appended::OffsetMismatch { offset: MIB as u64 });
    let after = resumable.infos().read(&id).await.expect("read");
    assert_eq!(after, before, "the same record, the same version");
    app.assert_bucket_holds(2).await; // the record and one segment
}

#[tokio::test]
async fn a_body_that_fails_after_9_mib_keeps_them_and_the_rest_completes() {
    let app = spawn_app().await;
    let resumable = service(&app);
    let data = pattern(12 * MIB + 5);
    let (id, key) = create(&resumable, data.len()).await;
    let mut chunks: Vec<Result<Bytes, std::io::Error>> = data[..9 * MIB]
        .chunks(MIB)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    chunks.push(Err(std::io::Error::other("the client went away")));

    let failed = resumable
        .append(&id, 0, None, stream::iter(chunks), None)
        .await;

    match failed {
        Err(AppendError::Source { error, offset }) => {
            assert_eq!(offset, 9 * MIB as u64);
            assert_eq!(error.to_string(), "the client went away");
        }
        other => panic!("{other:?}"),
    }
    let info = record(&resumable, &id).await;
    assert_eq!(
        (info.offset, info.parts.len(), info.segments.len()),
        (9 * MIB as u64, 1, 1)
    );
    let rest = append(&resumable, &id, 9 * MIB, &data[9 * MIB..])
        .await
        .expect("append");
    assert!(matches!(rest, Appended::Completed { .. }), "{rest:?}");
    assert_completed(&app, &resumable, &id, &key, &data).await;
}

#[tokio::test]
async fn a_checksum_mismatch_keeps_nothing_and_a_correct_retry_completes() {
    let app = spawn_app().await;
    let resumable = service(&app);
    let data = pattern(7 * MIB);
    let (id, key) = create(&resumable, data.len()).await;
    let sha256 = |bytes: &[u8]| Expected {
        algorithm: Algorithm::Sha256,
        digest: Sha256::digest(bytes).to_vec(),
    };

    let wrong = resumable
        .append(&id, 0, None, body(&data), Some(sha256(b"other bytes")))
        .await
        .expect("append");

    assert_eq!(wrong, Appended::ChecksumMismatch { offset: 0 });
    let info = record(&resumable, &id).await;
    assert_eq!(
        (info.offset, info.parts.len(), info.segments.len()),
        (0, 0, 0)
    );
    assert!(info.claim.is_none());
    assert!(info.next_part > 1, "the number sent is never reused");
    assert_eq!(app.keys().await.len(), 1, "the record only: no segment");

    let right = resumable
        .append(&id, 0, None, body(&data), Some(sha256(&data)))
        .await
        .expect("append");
    assert!(matches!(right, Appended::Completed { .. }), "{right:?}");
    assert_completed(&app, &resumable, &id, &key, &data).await;
}

#[tokio::test]
async fn of_two_appends_racing_at_one_offset_exactly_one_commits() {
    let app = spawn_app().await;
    let resumable = service(&app);
    let data = pattern(14 * MIB);
    let (id, key) = create(&resumable, data.len()).await;

    let (a, b) = tokio::join!(
        append(&resumable, &id, 0, &data[..6 * MIB]),
        append(&resumable, &id, 0, &data[..6 * MIB]),
    );

    let outcomes = [a.expect("first"), b.expect("second")];
    let committed = outcomes
        .iter()
        .filter(|o| {
            **o == Appended::Received {
                offset: 6 * MIB as u64,
            }
        })
        .count();
    assert_eq!(committed, 1, "{outcomes:?}");
    assert!(
        outcomes
            .iter()
            .any(|o| matches!(o, Appended::Conflict | Appended::OffsetMismatch { .. })),
        "{outcomes:?}"
    );
    let info = record(&resumable, &id).await;
    assert_eq!(info.offset, 6 * MIB as u64);
    assert!(info.claim.is_none());
    let rest = append(&resumable, &id, 6 * MIB, &data[6 * MIB..])
        .await
        .expect("append");
    assert!(matches!(rest, Appended::Completed { .. }), "{rest:?}");
    assert_completed(&app, &resumable, &id, &key, &data).await;
}

/// On the embedded store only: moto 5.2.5 does not honour `If-None-Match` on CompleteMultipartUpload.
#[tokio::test]
async fn a_completion_onto_a_key_taken_meanwhile_fails_the_upload_when_create_only() {
    let app = spawn_embedded_app_with(&[]).await;
    let resumable = service_with(&app, &[("KEY_STRATEGY", "original")]);
    let data = pattern(6 * MIB);
    let (id, key) = create(&resumable, data.len()).await;
    app.s3
        .put_object()
        .bucket(&app.bucket)
        .key(&key)
        .body(b"first".to_vec().into())
        .send()
        .await
        .expect("another object at the key");

    let appended = append(&resumable, &id, 0, &data).await;

    match appended {
        Err(AppendError::Upload(UploadError::Exists { key: taken })) => assert_eq!(taken, key),
        other => panic!("{other:?}"),
    }
    let info = record(&resumable, &id).await;
    assert_eq!(info.state, State::Failed);
    assert_eq!(info.failure.map(|f| f.code).as_deref(), Some("FILE_EXISTS"));
    assert_eq!(app.object_bytes(&key).await, b"first", "never overwritten");
    app.assert_bucket_holds(2).await; // the record and the other object; the multipart upload aborted
}
