//! Multipart uploads that outlive the store: completed or aborted by the next run on the same folder, and swept
//! only once idle beyond the keep-age.

use std::path::Path;
use std::time::{Duration, SystemTime};

use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use s3s::S3 as _;
use s3s::dto::{AbortMultipartUploadInput, ListPartsInput};

use super::gaps::{complete_listed, object_bytes, upload_numbered};
use super::{PART, pattern, request, store_with_bucket, tree};
use crate::config::{EMBEDDED_UPLOAD_KEEP, EmbeddedConfig, Secret};
use crate::embedded::folder::{Swept, sweep};
use crate::embedded::store::CheckedFs;
use crate::embedded::{EmbeddedStore, PageOrigins};
use crate::storage::{ClientSettings, build_client};

/// The files of multipart uploads in `dir`.
fn upload_files(dir: &Path) -> Vec<String> {
    tree(dir)
        .into_iter()
        .filter(|name| name.starts_with(".upload") || name.contains(".upload-"))
        .collect()
}

/// An embedded store on `dir` (on a free port) and a client to it.
async fn start(dir: &Path) -> (EmbeddedStore, Client) {
    let config = EmbeddedConfig {
        addr: ([127, 0, 0, 1], 0).into(),
        data_dir: dir.to_path_buf(),
        bucket: "uploads".to_owned(),
        access_key: "restart-key".to_owned(),
        secret_key: Secret::new("restart-secret"),
        region: "ap-northeast-2".to_owned(),
        upload_keep: EMBEDDED_UPLOAD_KEEP,
        form_file_limit: 1024 * 1024,
    };
    let store = EmbeddedStore::start(&config, PageOrigins::none())
        .await
        .expect("start");
    let client = build_client(ClientSettings {
        region: config.region.clone(),
        endpoint: Some(store.endpoint()),
        credentials: Some(aws_sdk_s3::config::Credentials::new(
            "restart-key",
            "restart-secret",
            None,
            None,
            "test",
        )),
        timeout: Duration::from_secs(30),
    })
    .await;
    (store, client)
}

async fn upload_part(
    client: &Client,
    upload_id: &str,
    number: i32,
    bytes: &bytes::Bytes,
) -> String {
    client
        .upload_part()
        .bucket("uploads")
        .key("resumed/사진.png")
        .upload_id(upload_id)
        .part_number(number)
        .body(ByteStream::from(bytes.clone()))
        .send()
        .await
        .expect("upload part")
        .e_tag
        .expect("etag")
}

#[tokio::test]
async fn an_upload_begun_by_one_store_is_completed_by_the_next_on_the_same_folder() {
    // Arrange: the first store creates the upload and takes parts 1 and 3, then stops.
    let dir = tempfile::tempdir().expect("folder");
    let parts = [pattern(PART, 1), pattern(PART, 3), pattern(4321, 4)];
    let (store, client) = start(dir.path()).await;
    client
        .create_bucket()
        .bucket("uploads")
        .send()
        .await
        .expect("bucket");
    let upload_id = client
        .create_multipart_upload()
        .bucket("uploads")
        .key("resumed/사진.png")
        .content_type("image/png")
        .send()
        .await
        .expect("create")
        .upload_id
        .expect("id");
    let mut e_tags = vec![
        upload_part(&client, &upload_id, 1, &parts[0]).await,
        upload_part(&client, &upload_id, 3, &parts[1]).await,
    ];
    drop((client, store));

    // Act: the next store takes the last part, numbered 4, and completes 1, 3, 4.
    let (store, client) = start(dir.path()).await;
    e_tags.push(upload_part(&client, &upload_id, 4, &parts[2]).await);
    let listed = [1, 3, 4]
        .into_iter()
        .zip(&e_tags)
        .map(|(number, e_tag)| {
            CompletedPart::builder()
                .part_number(number)
                .e_tag(e_tag)
                .build()
        })
        .collect();
    client
        .complete_multipart_upload()
        .bucket("uploads")
        .key("resumed/사진.png")
        .upload_id(&upload_id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .set_parts(Some(listed))
                .build(),
        )
        .send()
        .await
        .expect("complete after the restart");

    // Assert
    let got = client
        .get_object()
        .bucket("uploads")
        .key("resumed/사진.png")
        .send()
        .await
        .expect("get");
    assert_eq!(got.content_type(), Some("image/png"));
    let bytes = got.body.collect().await.expect("read").into_bytes();
    assert_eq!(bytes.to_vec(), parts.map(|p| p.to_vec()).concat());
    assert_eq!(upload_files(dir.path()), Vec::<String>::new());
    drop((client, store));
}

#[tokio::test]
async fn after_a_restart_parts_are_listed_and_abort_removes_the_record() {
    // Part 2 before part 1: part 2 is in s3s-fs's own file, part 1 staged.
    let (dir, store) = store_with_bucket().await;
    let (upload_id, _) =
        upload_numbered(&store, &[(2, pattern(PART, 2)), (1, pattern(PART, 1))]).await;
    let record = format!(".upload_id-{upload_id}.record.json");
    assert!(tree(dir.path()).contains(&record));
    drop(store);

    let store = CheckedFs::new(dir.path()).expect("reopen");
    assert!(store.uploads().contains_key(&upload_id));
    let list = ListPartsInput::builder()
        .bucket("uploads".to_owned())
        .key("gaps/파일.bin".to_owned())
        .upload_id(upload_id.clone())
        .build()
        .expect("input");
    let listed = store.list_parts(request(list)).await.expect("list parts");
    let numbers: Vec<_> = listed
        .output
        .parts
        .unwrap_or_default()
        .iter()
        .map(|p| p.part_number)
        .collect();
    // Both, by number: the staged part too, from the record (parts_list.rs).
    assert_eq!(numbers, [Some(1), Some(2)]);
    let abort = AbortMultipartUploadInput::builder()
        .bucket("uploads".to_owned())
        .key("gaps/파일.bin".to_owned())
        .upload_id(upload_id.clone())
        .build()
        .expect("input");
    store
        .abort_multipart_upload(request(abort))
        .await
        .expect("abort");

    assert!(store.uploads().is_empty());
    assert_eq!(upload_files(dir.path()), Vec::<String>::new());
}

/// Sets the modification time of every file of the upload to `age` ago.
fn make_idle(dir: &Path, upload_id: &str, age: Duration) {
    let then = SystemTime::now() - age;
    for name in upload_files(dir)
        .iter()
        .filter(|name| name.contains(upload_id))
    {
        let file = std::fs::File::options()
            .write(true)
            .open(dir.join(name))
            .expect("open");
        file.set_modified(then).expect("set the modification time");
    }
}

#[tokio::test]
async fn the_sweep_keeps_a_fresh_upload_and_removes_an_idle_one() {
    // Arrange: two uploads; the old one last touched eight days ago.
    let (dir, store) = store_with_bucket().await;
    let fresh_parts = [(1, pattern(PART, 1)), (2, pattern(77, 2))];
    let (fresh, fresh_tags) = upload_numbered(&store, &fresh_parts).await;
    let (old, old_tags) = upload_numbered(&store, &[(1, pattern(PART, 9))]).await;
    drop(store);
    make_idle(dir.path(), &old, Duration::from_secs(8 * 24 * 3600));
    make_idle(dir.path(), &fresh, Duration::from_secs(6 * 24 * 3600));

    // Act
    let swept = sweep(dir.path(), EMBEDDED_UPLOAD_KEEP, SystemTime::now()).expect("sweep");

    // Assert: the old upload's record, owner, attributes and staging file went; the fresh one completes.
    assert_eq!(
        Swept {
            uploads: swept.uploads,
            kept_uploads: swept.kept_uploads,
            upload_files: swept.upload_files,
            ..Swept::default()
        },
        Swept {
            uploads: 1,
            kept_uploads: 1,
            upload_files: 4,
            ..Swept::default()
        }
    );
    let left = upload_files(dir.path());
    assert!(!left.iter().any(|name| name.contains(&old)), "{left:?}");
    assert!(left.iter().any(|name| name.contains(&fresh)), "{left:?}");
    let store = CheckedFs::new(dir.path()).expect("reopen");
    let listed: Vec<_> = fresh_tags.into_iter().collect();
    complete_listed(&store, &fresh, &listed)
        .await
        .expect("complete");
    let expected = fresh_parts.map(|(_, bytes)| bytes.to_vec()).concat();
    assert_eq!(object_bytes(&store).await, expected);
    let old_tags: Vec<_> = old_tags.into_iter().collect();
    assert!(complete_listed(&store, &old, &old_tags).await.is_err());
}

#[tokio::test]
async fn staged_parts_that_are_gone_are_refused_not_completed_as_zeros() {
    // Arrange: a recorded upload whose staging file is cut short before the next run.
    let (dir, store) = store_with_bucket().await;
    let parts = [(1, pattern(PART, 1)), (2, pattern(10, 2))];
    let (upload_id, e_tags) = upload_numbered(&store, &parts).await;
    drop(store);
    let staging = dir.path().join(format!(".upload_id-{upload_id}.staging"));
    std::fs::File::options()
        .write(true)
        .open(&staging)
        .expect("open")
        .set_len(u64::try_from(PART).expect("small"))
        .expect("cut");
    let store = CheckedFs::new(dir.path()).expect("reopen");

    // Act
    let listed: Vec<_> = e_tags.into_iter().collect();
    let err = complete_listed(&store, &upload_id, &listed)
        .await
        .expect_err("part 2's bytes are gone");

    // Assert
    assert_eq!(*err.code(), s3s::S3ErrorCode::InvalidPart);
    assert!(!tree(dir.path()).contains("uploads/gaps/파일.bin"));
}
