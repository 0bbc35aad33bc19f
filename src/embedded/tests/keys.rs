//! Keys checked before the disk: nothing outside the bucket is read or written, folders are no objects, and
//! listings name only keys that can be reached.

use s3s::S3 as _;
use s3s::S3ErrorCode;
use s3s::dto::*;

use super::{put, request, store_with_bucket, tree};

fn code<T>(answer: s3s::S3Result<T>) -> Option<S3ErrorCode> {
    answer.err().map(|err| err.code().clone())
}

#[tokio::test]
async fn keys_beside_the_bucket_are_refused_before_the_disk() {
    let (dir, store) = store_with_bucket().await;
    std::fs::write(dir.path().join(".env"), "SECRET=1").expect("write");
    let before = tree(dir.path());

    for key in ["../.env", "..", "a/../../.env", "./x", "a//b", "a\\b"] {
        let get = GetObjectInput::builder()
            .bucket("uploads".to_owned())
            .key(key.to_owned())
            .build()
            .expect("input");
        assert_eq!(
            code(store.get_object(request(get)).await),
            Some(S3ErrorCode::InvalidArgument),
            "{key:?}"
        );
        let head = HeadObjectInput::builder()
            .bucket("uploads".to_owned())
            .key(key.to_owned())
            .build()
            .expect("input");
        assert_eq!(
            code(store.head_object(request(head)).await),
            Some(S3ErrorCode::InvalidArgument),
            "{key:?}"
        );
        assert_eq!(
            code(put(&store, key, b"x").await),
            Some(S3ErrorCode::InvalidArgument),
            "{key:?}"
        );
        let delete = DeleteObjectInput::builder()
            .bucket("uploads".to_owned())
            .key(key.to_owned())
            .build()
            .expect("input");
        assert!(
            store.delete_object(request(delete)).await.is_err(),
            "{key:?}"
        );
    }
    // A copy from beside the bucket, or into it.
    put(&store, "inside.txt", b"in").await.expect("put");
    for (source, destination) in [
        ("uploads/../.env", "copy.txt"),
        ("uploads/inside.txt", "../x"),
    ] {
        let copy = CopyObjectInput::builder()
            .bucket("uploads".to_owned())
            .key(destination.to_owned())
            .copy_source(CopySource::Bucket {
                bucket: "uploads".into(),
                key: source.trim_start_matches("uploads/").into(),
                version_id: None,
            })
            .build()
            .expect("input");
        assert_eq!(
            code(store.copy_object(request(copy)).await),
            Some(S3ErrorCode::InvalidArgument),
            "{source} -> {destination}"
        );
    }
    let mut after = tree(dir.path());
    after.retain(|name| !name.contains("inside.txt") && !name.starts_with(".bucket-"));
    assert_eq!(after, before);
}

#[tokio::test]
async fn a_folder_is_no_object() {
    let (_dir, store) = store_with_bucket().await;
    put(&store, "folder/file.txt", b"x").await.expect("put");

    let get = GetObjectInput::builder()
        .bucket("uploads".to_owned())
        .key("folder".to_owned())
        .build()
        .expect("input");
    let head = HeadObjectInput::builder()
        .bucket("uploads".to_owned())
        .key("folder".to_owned())
        .build()
        .expect("input");

    assert_eq!(
        code(store.get_object(request(get)).await),
        Some(S3ErrorCode::NoSuchKey)
    );
    assert_eq!(
        code(store.head_object(request(head)).await),
        Some(S3ErrorCode::NoSuchKey)
    );
}

#[tokio::test]
async fn listings_leave_out_keys_no_request_can_reach() {
    let (dir, store) = store_with_bucket().await;
    put(&store, "ok/one.txt", b"1").await.expect("put");
    // Objects stored before keys were checked.
    let bucket = dir.path().join("uploads");
    std::fs::write(bucket.join("not\u{FFFF}xml.txt"), "x").expect("write");
    std::fs::write(bucket.join("back\\slash.txt"), "x").expect("write");
    std::fs::create_dir_all(bucket.join("bad\u{1}dir")).expect("mkdir");
    std::fs::write(bucket.join("bad\u{1}dir/x.txt"), "x").expect("write");

    let list = ListObjectsV2Input::builder()
        .bucket("uploads".to_owned())
        .build()
        .expect("input");
    let listed = store
        .list_objects_v2(request(list))
        .await
        .expect("list")
        .output;
    let keys: Vec<_> = listed
        .contents
        .unwrap_or_default()
        .into_iter()
        .filter_map(|o| o.key)
        .collect();
    assert_eq!(keys, vec!["ok/one.txt".to_owned()]);
    assert_eq!(listed.key_count, Some(1));

    let list = ListObjectsInput::builder()
        .bucket("uploads".to_owned())
        .delimiter(Some("/".to_owned()))
        .build()
        .expect("input");
    let listed = store
        .list_objects(request(list))
        .await
        .expect("list")
        .output;
    let prefixes: Vec<_> = listed
        .common_prefixes
        .unwrap_or_default()
        .into_iter()
        .filter_map(|p| p.prefix)
        .collect();
    assert_eq!(prefixes, vec!["ok/".to_owned()]);
}

#[tokio::test]
async fn delimiters_s3s_fs_cannot_split_on_are_refused() {
    let (_dir, store) = store_with_bucket().await;
    put(&store, "dir/é.txt", b"x").await.expect("put");

    for delimiter in ["", "é", "//"] {
        let list = ListObjectsV2Input::builder()
            .bucket("uploads".to_owned())
            .delimiter(Some(delimiter.to_owned()))
            .build()
            .expect("input");
        assert_eq!(
            code(store.list_objects_v2(request(list)).await),
            Some(S3ErrorCode::InvalidArgument),
            "{delimiter:?}"
        );
    }
}

#[tokio::test]
async fn a_key_and_keys_under_it_cannot_both_be_written_and_are_refused_first() {
    let (dir, store) = store_with_bucket().await;
    put(&store, "file", b"an object").await.expect("put");
    put(&store, "folder/inside", b"x").await.expect("put");

    // Under an object, and over a folder of other keys: 400, not s3s-fs's 500 after the body.
    for key in ["file/under", "file/deeper/under", "folder"] {
        assert_eq!(
            code(put(&store, key, b"y").await),
            Some(S3ErrorCode::InvalidArgument),
            "{key}"
        );
    }
    let copy = CopyObjectInput::builder()
        .bucket("uploads".to_owned())
        .key("copy".to_owned())
        .copy_source(CopySource::Bucket {
            bucket: "uploads".into(),
            key: "folder".into(),
            version_id: None,
        })
        .build()
        .expect("input");
    assert_eq!(
        code(store.copy_object(request(copy)).await),
        Some(S3ErrorCode::NoSuchKey)
    );
    assert_eq!(
        std::fs::read(dir.path().join("uploads/file")).expect("kept"),
        b"an object"
    );
}
