//! The data folder over time: deletes leave no side file, a restart removes what the previous run left and
//! keeps every object and every open multipart upload, and a second server cannot share the folder.

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart, Delete, ObjectIdentifier};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use s3_upload_server::{Application, Config};

use super::{side_files, tree, uploaded};
use crate::helpers::{pattern, spawn_embedded_app_with};

#[tokio::test]
async fn deleting_objects_removes_their_side_files() {
    let app = spawn_embedded_app_with(&[]).await;
    let dir = app.data_dir().expect("embedded store").to_path_buf();
    let first = uploaded(&app, "혼자.txt", b"one".to_vec(), "text/plain").await;
    let second = uploaded(&app, "둘.txt", b"two".to_vec(), "text/plain").await;
    let third = uploaded(&app, "셋.txt", b"three".to_vec(), "text/plain").await;
    assert_eq!(
        side_files(&dir).len(),
        6,
        "metadata and internal info of each"
    );

    // Act: one DeleteObject, one DeleteObjects of two keys.
    app.s3
        .delete_object()
        .bucket(&app.bucket)
        .key(first["key"].as_str().expect("key"))
        .send()
        .await
        .expect("delete one");
    assert_eq!(side_files(&dir).len(), 4, "{:?}", side_files(&dir));
    let objects = [&second, &third]
        .iter()
        .map(|file| {
            ObjectIdentifier::builder()
                .key(file["key"].as_str().expect("key"))
                .build()
                .expect("identifier")
        })
        .collect();
    let deleted = app
        .s3
        .delete_objects()
        .bucket(&app.bucket)
        .delete(
            Delete::builder()
                .set_objects(Some(objects))
                .build()
                .expect("delete"),
        )
        .send()
        .await
        .expect("delete two");

    // Assert
    assert_eq!(deleted.deleted().len(), 2);
    assert!(deleted.errors().is_empty(), "{:?}", deleted.errors());
    assert_eq!(side_files(&dir), Vec::<String>::new());
    app.assert_bucket_holds(0).await;
}

#[tokio::test]
async fn a_restart_sweeps_what_the_previous_run_left_and_keeps_every_object_and_open_upload() {
    // Arrange: a folder that outlives the first app.
    let folder = tempfile::tempdir().expect("temporary folder");
    let data = folder.path().join("store");
    let data_setting = data.display().to_string();
    let settings = [("EMBEDDED_S3_DATA_DIR", data_setting.as_str())];
    let mut first = spawn_embedded_app_with(&settings).await;
    let kept = uploaded(&first, "보고서.pdf", pattern(3000), "application/pdf").await;
    let location = kept["location"].as_str().expect("location").to_owned();
    let before = reqwest::get(&location).await.expect("GET the kept object");
    assert_eq!(before.status(), 200);
    let content_type = before.headers()["content-type"].clone();
    let disposition = before.headers()["content-disposition"].clone();
    let kept_side_files = side_files(&data);
    assert_eq!(kept_side_files.len(), 2, "{kept_side_files:?}");
    // An upload paused by the stop: its record, its staged part and its attributes stay, for the next run.
    let cut = first
        .s3
        .create_multipart_upload()
        .bucket(&first.bucket)
        .key("cut/big.bin")
        .content_type("application/octet-stream")
        .send()
        .await
        .expect("create upload");
    let cut_id = cut.upload_id().expect("upload id").to_owned();
    let part_1 = first
        .s3
        .upload_part()
        .bucket(&first.bucket)
        .key("cut/big.bin")
        .upload_id(&cut_id)
        .part_number(1)
        .body(ByteStream::from(pattern(6 * 1024 * 1024)))
        .send()
        .await
        .expect("upload part 1");
    // The leftovers of a delete from before this fix, an upload s3s-fs no longer knows (its owner file is not
    // one), and an empty folder an old delete left.
    let encode = |s: &str| URL_SAFE_NO_PAD.encode(s);
    let orphan = format!(
        ".bucket-{}.object-{}",
        encode("uploads"),
        encode("gone.txt")
    );
    let orphan_id = uuid::Uuid::new_v4();
    let leftovers = [
        format!("{orphan}.metadata.json"),
        format!("{orphan}.internal.json"),
        format!(".upload-{orphan_id}.json"),
        format!(".upload_id-{orphan_id}.part-1"),
        format!(".upload_id-{orphan_id}.staging"),
        format!("{orphan}.upload-{orphan_id}.metadata.json"),
    ];
    for name in &leftovers {
        std::fs::write(data.join(name), b"{}").expect("write a leftover");
    }
    std::fs::create_dir_all(data.join("uploads/emptied/deeper")).expect("an empty folder");
    // The paused upload's owner, record and staging file, and three leftovers.
    let upload_files: Vec<String> = tree(&data)
        .into_iter()
        .filter(|name| name.starts_with(".upload"))
        .collect();
    assert_eq!(upload_files.len(), 6, "{upload_files:?}");
    first.begin_shutdown();
    first.wait_stopped().await;

    // Act
    let second = spawn_embedded_app_with(&settings).await;

    // Assert
    let after = tree(&data);
    for name in &leftovers {
        assert!(!after.contains(name), "{name} survived the restart");
    }
    let uploads_left: Vec<&String> = after.iter().filter(|n| n.starts_with(".upload")).collect();
    assert_eq!(uploads_left.len(), 3, "{uploads_left:?}");
    assert!(
        uploads_left.iter().all(|name| name.contains(&cut_id)),
        "{uploads_left:?}"
    );
    assert!(!after.contains("uploads/emptied"), "{after:?}");
    // The objects' side files, and the paused upload's attributes.
    let (upload_side_files, object_side_files): (Vec<String>, Vec<String>) = side_files(&data)
        .into_iter()
        .partition(|name| name.contains(&format!(".upload-{cut_id}.")));
    assert_eq!(object_side_files, kept_side_files);
    assert_eq!(upload_side_files.len(), 1, "{upload_side_files:?}");
    let location = location.replace(
        first_endpoint(&location),
        second.endpoint.as_deref().expect("endpoint"),
    );
    let got = reqwest::get(&location).await.expect("GET after restart");
    assert_eq!(got.status(), 200);
    assert_eq!(got.headers()["content-type"], content_type);
    assert_eq!(got.headers()["content-disposition"], disposition);
    assert_eq!(got.bytes().await.expect("body").to_vec(), pattern(3000));
    assert_eq!(
        second.keys().await,
        vec![kept["key"].as_str().expect("key")]
    );
    // The paused upload completes on the second run, and then nothing of it is left.
    let part = CompletedPart::builder()
        .part_number(1)
        .e_tag(part_1.e_tag().expect("etag"))
        .build();
    second
        .s3
        .complete_multipart_upload()
        .bucket(&second.bucket)
        .key("cut/big.bin")
        .upload_id(&cut_id)
        .multipart_upload(CompletedMultipartUpload::builder().parts(part).build())
        .send()
        .await
        .expect("complete the paused upload");
    let completed = second
        .s3
        .get_object()
        .bucket(&second.bucket)
        .key("cut/big.bin")
        .send()
        .await
        .expect("get the completed upload");
    let bytes = completed.body.collect().await.expect("body").into_bytes();
    assert_eq!(bytes.to_vec(), pattern(6 * 1024 * 1024));
    let uploads_left = tree(&data)
        .into_iter()
        .filter(|n| n.starts_with(".upload") || n.contains(".upload-"))
        .collect::<Vec<_>>();
    assert!(uploads_left.is_empty(), "{uploads_left:?}");
}

/// `http://127.0.0.1:<port>` of a URL on the embedded store.
fn first_endpoint(location: &str) -> &str {
    let after_scheme = location.find("://").map_or(0, |at| at + 3);
    let end = location[after_scheme..]
        .find('/')
        .map_or(location.len(), |at| after_scheme + at);
    &location[..end]
}

#[tokio::test]
async fn a_second_server_on_a_folder_in_use_fails_to_start() {
    let folder = tempfile::tempdir().expect("temporary folder");
    let data = folder.path().join("store");
    let data_setting = data.display().to_string();
    let mut first = spawn_embedded_app_with(&[("EMBEDDED_S3_DATA_DIR", &data_setting)]).await;
    let config = || {
        let env = [
            ("HOST", "127.0.0.1"),
            ("PORT", "0"),
            ("EMBEDDED_S3_ADDR", "127.0.0.1:0"),
            ("EMBEDDED_S3_DATA_DIR", data_setting.as_str()),
        ];
        Config::from_lookup(|name| {
            env.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| (*v).to_owned())
        })
        .expect("valid configuration")
    };

    // Act
    let second = Application::build(config()).await;

    // Assert
    let err = second.err().expect("a second server on the folder fails");
    let message = format!("{err:#}");
    assert!(message.contains(&data_setting), "{message}");
    assert!(message.contains("in use"), "{message}");
    first.begin_shutdown();
    first.wait_stopped().await;
    Application::build(config())
        .await
        .expect("the folder is free once the first server stopped");
}
