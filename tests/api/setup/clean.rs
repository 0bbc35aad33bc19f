//! `clean`: the confirmation it asks for, and emptying or deleting the test app's bucket.

use futures_util::StreamExt as _;
use s3_upload_server::cli::CleanArgs;

use super::{config_for, embedded_config, put, run_clean};
use crate::helpers::{remote_endpoint, spawn_app};

#[tokio::test]
async fn clean_with_yes_empties_the_bucket_in_batches() {
    // Arrange: more objects than one DeleteObjects call takes.
    let app = spawn_app().await;
    futures_util::stream::iter(0..1005)
        .for_each_concurrent(16, |i| {
            let app = &app;
            async move { put(app, &format!("dir/{i:04}.txt")).await }
        })
        .await;
    if remote_endpoint().is_some() {
        app.s3
            .create_multipart_upload()
            .bucket(&app.bucket)
            .key("abandoned.bin")
            .send()
            .await
            .expect("create multipart upload");
    }
    let args = CleanArgs {
        delete_bucket: false,
        yes: Some(app.bucket.clone()),
        ..CleanArgs::default()
    };

    // Act
    let (done, out) = run_clean(config_for(&app, &[]), &args, "").await;

    // Assert
    assert!(done, "{out}");
    assert!(out.contains("Objects: 1005"), "{out}");
    assert!(
        out.contains("Prefix:  none (KEY_PREFIX is empty): the whole bucket"),
        "{out}"
    );
    assert!(out.contains("1005 object(s) deleted"), "{out}");
    let listed = app
        .s3
        .list_objects_v2()
        .bucket(&app.bucket)
        .send()
        .await
        .expect("list objects");
    assert_eq!(listed.key_count(), Some(0), "{listed:?}");
    assert!(listed.contents().is_empty());
    app.assert_bucket_holds(0).await;
}

#[tokio::test]
async fn clean_refuses_a_wrong_confirmation_and_deletes_nothing() {
    let app = spawn_app().await;
    put(&app, "keep.txt").await;

    let args = CleanArgs {
        delete_bucket: true,
        yes: Some("some-other-bucket".to_owned()),
        ..CleanArgs::default()
    };
    let (done, out) = run_clean(config_for(&app, &[]), &args, "").await;
    assert!(!done, "{out}");
    assert!(out.contains("nothing was deleted"), "{out}");

    // Asked interactively: a wrong answer, then no answer at all.
    let (done, out) = run_clean(
        config_for(&app, &[]),
        &CleanArgs::default(),
        "uploads-typo\n",
    )
    .await;
    assert!(!done, "{out}");
    assert!(out.contains("Type the bucket name to confirm"), "{out}");
    let (done, out) = run_clean(config_for(&app, &[]), &CleanArgs::default(), "").await;
    assert!(!done, "{out}");

    assert_eq!(app.keys().await, ["keep.txt"]);
}

#[tokio::test]
async fn clean_deletes_the_bucket_once_the_name_is_typed() {
    let app = spawn_app().await;
    put(&app, "a.txt").await;
    let args = CleanArgs {
        delete_bucket: true,
        yes: None,
        ..CleanArgs::default()
    };

    let (done, out) = run_clean(config_for(&app, &[]), &args, &format!("{}\n", app.bucket)).await;

    assert!(done, "{out}");
    assert!(out.contains("Objects: 1 (1 bytes)"), "{out}");
    assert!(out.contains("bucket deleted"), "{out}");
    let head = app.s3.head_bucket().bucket(&app.bucket).send().await;
    assert!(head.is_err(), "the bucket still exists");
}

#[tokio::test]
async fn clean_in_embedded_mode_needs_the_same_confirmation() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let config = embedded_config(dir.path());

    let (done, out) = run_clean(config.clone(), &CleanArgs::default(), "\n").await;
    assert!(!done, "{out}");
    assert!(out.contains("embedded store"), "{out}");

    let args = CleanArgs {
        delete_bucket: false,
        yes: Some("uploads".to_owned()),
        ..CleanArgs::default()
    };
    let (done, out) = run_clean(config, &args, "").await;
    assert!(done, "{out}");
}
