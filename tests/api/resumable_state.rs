//! A resumable upload's `info.json`, read and written by compare-and-swap against the app's store (the embedded
//! one, or `TEST_S3_ENDPOINT`'s).

use s3_upload_server::storage::resumable::cas::{CasError, InfoStore};
use s3_upload_server::storage::resumable::info::{Info, NewUpload, UploadId, info_key};

use crate::helpers::{TestApp, spawn_app};

const KOREAN_NAME: &str = "스크린샷 2023-11-15 오후 8.04.29.png";

fn store(app: &TestApp) -> InfoStore {
    InfoStore::new(app.s3.clone(), app.bucket.clone(), "uploads/")
}

fn new_info() -> Info {
    let id = UploadId::generate();
    let upload = NewUpload {
        key: format!("uploads/{id}/{KOREAN_NAME}"),
        originalname: KOREAN_NAME.to_owned(),
        mimetype: "image/png".to_owned(),
        metadata_header: Some("filename 7Iqk7YGs66aw7IO3".to_owned()),
        length: Some(20 * 1024 * 1024),
        part_size: 8 * 1024 * 1024,
    };
    Info::new(id, "first-attempt", upload, 1_700_000_000, 1_700_086_400)
}

/// The next version of `info`, as a later attempt writes it.
fn next_version(info: &Info, attempt: &str) -> Info {
    let mut next = info.clone();
    next.version += 1;
    attempt.clone_into(&mut next.written_by);
    next.updated_at += 1;
    next
}

#[tokio::test]
async fn creating_an_upload_twice_loses_the_second_time() {
    // Arrange
    let app = spawn_app().await;
    let store = store(&app);
    let info = new_info();

    // Act
    let first = store.create(&info).await;
    let second = store.create(&next_version(&info, "second-attempt")).await;

    // Assert
    first.expect("the first creation wins");
    assert!(
        matches!(second, Err(CasError::Lost)),
        "the second creation: {second:?}"
    );
    let (stored, _) = store.read(&info.id).await.expect("read");
    assert_eq!(stored, info, "the first record stays");
    assert_eq!(
        app.keys().await,
        [info_key("uploads/", &info.id)],
        "one object, at the layout's key"
    );
}

#[tokio::test]
async fn replacing_with_a_stale_etag_loses_and_with_the_current_one_wins() {
    // Arrange
    let app = spawn_app().await;
    let store = store(&app);
    let info = new_info();
    let created = store.create(&info).await.expect("create");
    let second = next_version(&info, "second");
    let current = store.replace(&second, &created).await.expect("replace");
    assert_ne!(current, created, "a new version has a new ETag");

    // Act: a writer that read the first version, then one that read the current version.
    let stale = store
        .replace(&next_version(&second, "stale"), &created)
        .await;
    let third = next_version(&second, "third");
    let fresh = store.replace(&third, &current).await;

    // Assert
    assert!(matches!(stale, Err(CasError::Lost)), "stale: {stale:?}");
    let newest = fresh.expect("the current ETag wins");
    assert_ne!(newest, current);
    let (stored, etag) = store.read(&info.id).await.expect("read");
    assert_eq!((stored, etag), (third, newest));
}

#[tokio::test]
async fn reading_an_upload_that_was_never_created_finds_nothing() {
    let app = spawn_app().await;

    let read = store(&app).read(&UploadId::generate()).await;

    assert!(matches!(read, Err(CasError::NotFound)), "read: {read:?}");
}

#[tokio::test]
async fn a_round_trip_keeps_a_korean_file_name_intact() {
    // Arrange
    let app = spawn_app().await;
    let store = store(&app);
    let info = new_info();

    // Act
    let etag = store.create(&info).await.expect("create");
    let (stored, read_etag) = store.read(&info.id).await.expect("read");

    // Assert
    assert_eq!(read_etag, etag, "the read returns the written version");
    assert_eq!(stored.originalname, KOREAN_NAME);
    assert_eq!(stored.key, format!("uploads/{}/{KOREAN_NAME}", info.id));
    assert_eq!(stored, info);
    // Stored as UTF-8 JSON, readable by an operator.
    let raw = app.object_bytes(&info_key("uploads/", &info.id)).await;
    let text = String::from_utf8(raw).expect("UTF-8");
    assert!(text.contains(KOREAN_NAME), "{text}");
}

#[tokio::test]
async fn a_broken_record_is_neither_written_nor_read() {
    // Arrange
    let app = spawn_app().await;
    let store = store(&app);
    let mut info = new_info();
    info.offset = 1; // no part or segment holds that byte

    // Act
    let write = store.create(&info).await;
    app.s3
        .put_object()
        .bucket(&app.bucket)
        .key(info_key("uploads/", &info.id))
        .body(serde_json::to_vec(&info).expect("json").into())
        .send()
        .await
        .expect("put a broken record behind the store's back");
    let read = store.read(&info.id).await;

    // Assert
    assert!(matches!(write, Err(CasError::Corrupt { .. })), "{write:?}");
    match read {
        Err(CasError::Corrupt { reason, .. }) => assert!(reason.contains("offset"), "{reason}"),
        other => panic!("read: {other:?}"),
    }
}

#[tokio::test]
async fn replacing_a_removed_record_finds_nothing() {
    // Arrange: an upload whose record was removed (terminated, or expired and swept).
    let app = spawn_app().await;
    let store = store(&app);
    let info = new_info();
    let etag = store.create(&info).await.expect("create");
    app.s3
        .delete_object()
        .bucket(&app.bucket)
        .key(info_key("uploads/", &info.id))
        .send()
        .await
        .expect("delete the record");

    // Act
    let replace = store.replace(&next_version(&info, "late"), &etag).await;

    // Assert: the late writer does not bring the upload back.
    assert!(
        matches!(replace, Err(CasError::NotFound)),
        "replace: {replace:?}"
    );
    app.assert_bucket_holds(0).await;
}
