//! Deletes remove an object's side files with its data, and DeleteBucket the bucket's.

use s3s::S3 as _;
use s3s::S3ErrorCode;
use s3s::dto::*;

use super::{put, request, store_with_bucket, tree};

/// Side files in the store's folder.
fn side_files(dir: &std::path::Path) -> Vec<String> {
    tree(dir)
        .into_iter()
        .filter(|name| name.starts_with(".bucket-"))
        .collect()
}

fn identifier(key: &str) -> ObjectIdentifier {
    ObjectIdentifier {
        key: key.to_owned(),
        ..Default::default()
    }
}

#[tokio::test]
async fn delete_object_removes_the_data_and_both_side_files() {
    let (dir, store) = store_with_bucket().await;
    put(&store, "a/gone.txt", b"1").await.expect("put");
    put(&store, "a/kept.txt", b"2").await.expect("put");
    assert_eq!(side_files(dir.path()).len(), 4);

    let delete = DeleteObjectInput::builder()
        .bucket("uploads".to_owned())
        .key("a/gone.txt".to_owned())
        .build()
        .expect("input");
    store.delete_object(request(delete)).await.expect("delete");

    assert!(!dir.path().join("uploads/a/gone.txt").exists());
    assert!(dir.path().join("uploads/a/kept.txt").exists());
    let left = side_files(dir.path());
    assert_eq!(left.len(), 2, "{left:?}");
    let kept_stem = crate::embedded::layout::side_file_stem("uploads", "a/kept.txt");
    assert!(
        left.iter().all(|name| name.starts_with(&kept_stem)),
        "{left:?}"
    );
}

#[tokio::test]
async fn delete_objects_answers_each_key_and_removes_side_files() {
    let (dir, store) = store_with_bucket().await;
    put(&store, "one.txt", b"1").await.expect("put");
    put(&store, "two.txt", b"2").await.expect("put");

    let delete = DeleteObjectsInput::builder()
        .bucket("uploads".to_owned())
        .delete(Delete {
            objects: vec![
                identifier("one.txt"),
                identifier("../outside"),
                identifier("never-stored.txt"),
                identifier("two.txt"),
            ],
            quiet: None,
        })
        .build()
        .expect("input");
    let answer = store
        .delete_objects(request(delete))
        .await
        .expect("deleted")
        .output;

    let deleted: Vec<_> = answer
        .deleted
        .unwrap_or_default()
        .into_iter()
        .filter_map(|d| d.key)
        .collect();
    assert_eq!(deleted, ["one.txt", "never-stored.txt", "two.txt"]);
    let errors = answer.errors.unwrap_or_default();
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].key.as_deref(), Some("../outside"));
    assert_eq!(errors[0].code.as_deref(), Some("InvalidArgument"));
    assert_eq!(side_files(dir.path()), Vec::<String>::new());
    assert_eq!(tree(&dir.path().join("uploads")).len(), 0);
}

#[tokio::test]
async fn quiet_delete_objects_lists_errors_only_and_a_missing_bucket_is_no_such_bucket() {
    let (_dir, store) = store_with_bucket().await;
    put(&store, "one.txt", b"1").await.expect("put");
    let quiet = DeleteObjectsInput::builder()
        .bucket("uploads".to_owned())
        .delete(Delete {
            objects: vec![identifier("one.txt")],
            quiet: Some(true),
        })
        .build()
        .expect("input");
    let answer = store
        .delete_objects(request(quiet))
        .await
        .expect("deleted")
        .output;
    assert!(answer.deleted.is_none() && answer.errors.is_none());

    let elsewhere = DeleteObjectInput::builder()
        .bucket("elsewhere".to_owned())
        .key("x".to_owned())
        .build()
        .expect("input");
    let err = store
        .delete_object(request(elsewhere))
        .await
        .expect_err("no such bucket");
    assert_eq!(*err.code(), S3ErrorCode::NoSuchBucket);
}

#[tokio::test]
async fn delete_bucket_removes_the_side_files_of_that_bucket_only() {
    let (dir, store) = store_with_bucket().await;
    let other = CreateBucketInput::builder()
        .bucket("other".to_owned())
        .build()
        .expect("input");
    store.create_bucket(request(other)).await.expect("create");
    put(&store, "x.txt", b"1").await.expect("put");
    let in_other = PutObjectInput::builder()
        .bucket("other".to_owned())
        .key("y.txt".to_owned())
        .body(Some(StreamingBlob::from(s3s::Body::from(
            bytes::Bytes::from_static(b"2"),
        ))))
        .build()
        .expect("input");
    store.put_object(request(in_other)).await.expect("put");
    let create = CreateMultipartUploadInput::builder()
        .bucket("uploads".to_owned())
        .key("pending.bin".to_owned())
        .build()
        .expect("input");
    store
        .create_multipart_upload(request(create))
        .await
        .expect("create upload");
    assert_eq!(side_files(dir.path()).len(), 5);

    let delete = DeleteBucketInput::builder()
        .bucket("uploads".to_owned())
        .build()
        .expect("input");
    store.delete_bucket(request(delete)).await.expect("delete");

    let prefix = crate::embedded::layout::bucket_side_file_prefix("other");
    let left = side_files(dir.path());
    assert_eq!(left.len(), 2, "{left:?}");
    assert!(
        left.iter().all(|name| name.starts_with(&prefix)),
        "{left:?}"
    );
}
