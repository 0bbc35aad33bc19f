//! `clean` on a shared bucket: it stays within KEY_PREFIX unless told `--all`.
//!
//! The bucket holds the server's objects under `uploads/` and other data beside them, including a key that
//! starts with the same letters (`uploads-old/…`) but is outside the prefix.

use reqwest::multipart::Form;
use s3_upload_server::cli::{CheckArgs, CleanArgs};

use crate::helpers::{TestApp, file_part, needs_moto, png, remote_endpoint, spawn_app_with};
use crate::setup::{config_for, put, run_check, run_clean};

const PREFIX: &str = "uploads/";
/// The server's objects, besides the one uploaded through it.
const INSIDE: [&str; 2] = ["uploads/a.txt", "uploads/deep/b.txt"];
/// Other data in the same bucket.
const OUTSIDE: [&str; 3] = ["other-app/data.json", "root.txt", "uploads-old/keep.txt"];

/// An app that writes under [`PREFIX`], in a bucket that also holds [`OUTSIDE`].
async fn shared_bucket() -> TestApp {
    let app = spawn_app_with(&[("KEY_PREFIX", PREFIX)]).await;
    let form = Form::new().part("photos", file_part(png(), "photo.png", "image/png"));
    let response = app.upload(form).await;
    assert_eq!(response.status(), 200);
    for key in INSIDE.iter().chain(&OUTSIDE) {
        put(&app, key).await;
    }
    app
}

async fn start_multipart_upload(app: &TestApp, key: &str) {
    app.s3
        .create_multipart_upload()
        .bucket(&app.bucket)
        .key(key)
        .send()
        .await
        .expect("create multipart upload");
}

async fn sorted_keys(app: &TestApp) -> Vec<String> {
    let mut keys = app.keys().await;
    keys.sort();
    keys
}

#[tokio::test]
async fn clean_empties_only_the_key_prefix_and_all_the_whole_bucket() {
    // Arrange
    let app = shared_bucket().await;
    let remote = remote_endpoint().is_some();
    if remote {
        // s3s-fs cannot list multipart uploads; moto can.
        start_multipart_upload(&app, "uploads/abandoned.bin").await;
        start_multipart_upload(&app, "other-app/abandoned.bin").await;
    }
    let config = config_for(&app, &[("KEY_PREFIX", PREFIX)]);
    let args = CleanArgs {
        yes: Some(app.bucket.clone()),
        ..CleanArgs::default()
    };

    // Act
    let (done, out) = run_clean(config.clone(), &args, "").await;

    // Assert: the summary and the confirmation name the prefix; only its objects and uploads are gone.
    assert!(done, "{out}");
    assert!(out.contains("Prefix:  `uploads/` (KEY_PREFIX)"), "{out}");
    assert!(out.contains("Objects: 3 "), "{out}");
    assert!(
        out.contains(&format!(
            "every object under `uploads/` in `{}` and the incomplete multipart uploads there, and \
             nothing outside `uploads/`",
            app.bucket
        )),
        "{out}"
    );
    assert!(
        out.contains("3 object(s) deleted under `uploads/`"),
        "{out}"
    );
    assert_eq!(sorted_keys(&app).await, OUTSIDE);
    if remote {
        assert!(out.contains("1 aborted under `uploads/`"), "{out}");
        let pending = app.pending_multipart_uploads().await;
        assert_eq!(pending.len(), 1, "{pending:?}");
        assert!(
            pending[0].starts_with("other-app/abandoned.bin"),
            "{pending:?}"
        );
    }

    // Act: --all is the whole bucket.
    let all = CleanArgs { all: true, ..args };
    let (done, out) = run_clean(config, &all, "").await;

    // Assert
    assert!(done, "{out}");
    assert!(
        out.contains("Prefix:  none (--all): the whole bucket, not only KEY_PREFIX `uploads/`"),
        "{out}"
    );
    assert!(out.contains("3 object(s) deleted"), "{out}");
    app.assert_bucket_holds(0).await;
}

#[tokio::test]
async fn clean_deletes_a_bucket_with_a_key_prefix_only_when_told_all() {
    let app = shared_bucket().await;
    let config = config_for(&app, &[("KEY_PREFIX", PREFIX)]);
    let args = CleanArgs {
        delete_bucket: true,
        yes: Some(app.bucket.clone()),
        ..CleanArgs::default()
    };

    // Refused outright: not even the prefix is emptied.
    let (done, out) = run_clean(config.clone(), &args, "").await;
    assert!(!done, "{out}");
    assert!(out.contains("nothing was deleted"), "{out}");
    assert!(out.contains("Add --all"), "{out}");
    assert_eq!(app.keys().await.len(), INSIDE.len() + 1 + OUTSIDE.len());

    let all = CleanArgs { all: true, ..args };
    let (done, out) = run_clean(config, &all, "").await;
    assert!(done, "{out}");
    assert!(out.contains("bucket deleted"), "{out}");
    let head = app.s3.head_bucket().bucket(&app.bucket).send().await;
    assert!(head.is_err(), "the bucket still exists");
}

#[tokio::test]
#[ignore = "needs moto (s3s-fs 0.14.1 cannot list multipart uploads): scripts/test runs it against moto"]
async fn check_aborts_incomplete_uploads_only_under_the_key_prefix_unless_all() {
    needs_moto();
    let app = spawn_app_with(&[("KEY_PREFIX", PREFIX)]).await;
    start_multipart_upload(&app, "uploads/abandoned.bin").await;
    start_multipart_upload(&app, "other-app/abandoned.bin").await;
    let config = config_for(&app, &[("KEY_PREFIX", PREFIX)]);
    let args = CheckArgs {
        abort_incomplete: true,
        older_than_mins: 0,
        ..CheckArgs::default()
    };

    let (report, out) = run_check(config.clone(), &args).await;
    assert!(report.passed(), "{out}");
    assert!(out.contains("1 found under `uploads/`, 1 aborted"), "{out}");
    let pending = app.pending_multipart_uploads().await;
    assert_eq!(pending.len(), 1, "{pending:?}");
    assert!(
        pending[0].starts_with("other-app/abandoned.bin"),
        "{pending:?}"
    );

    let all = CheckArgs { all: true, ..args };
    let (report, out) = run_check(config, &all).await;
    assert!(report.passed(), "{out}");
    assert!(out.contains("1 found, 1 aborted"), "{out}");
    app.assert_bucket_holds(0).await;
}
