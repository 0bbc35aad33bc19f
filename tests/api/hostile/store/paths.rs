//! Keys that name files beside the bucket, keys the store cannot hold, requests that made it panic, and answers
//! a browser could run as a page.

use aws_sdk_s3::primitives::ByteStream;

use super::{put, raw_request, status, tree};
use crate::helpers::spawn_embedded_app_with;

const SECRET: &str = "SECRET_TOKEN=do-not-serve-me";

#[tokio::test]
async fn keys_beside_the_bucket_never_read_files_of_the_data_folder() {
    // Arrange: a secret beside the bucket, as `.env` is when the data folder is the project folder.
    let app = spawn_embedded_app_with(&[]).await;
    let dir = app.data_dir().expect("embedded store");
    std::fs::write(dir.join(".env"), format!("{SECRET}\n")).expect("write .env");
    std::fs::create_dir_all(dir.join("uploads/a")).expect("a folder in the bucket");

    for path in [
        "/uploads/..%2F.env",
        "/uploads/%2E%2E%2F.env",
        "/uploads/%2e%2e/.env",
        "/uploads/../.env",
        "/uploads/..%5C.env",
        "/uploads//..//.env",
        "/uploads/a/..%2F..%2F.env",
        "/uploads/.%2F..%2F.env",
    ] {
        for method in ["GET", "HEAD"] {
            // Act
            let (status, answer) = raw_request(&app, method, path).await;

            // Assert
            let status = status.unwrap_or_else(|| panic!("{method} {path}: no answer"));
            assert!(
                (400..500).contains(&status),
                "{method} {path}: {status}\n{answer}"
            );
            assert!(!answer.contains(SECRET), "{method} {path} served .env");
        }
    }
    // The store's own credentials do not reach beside the bucket either.
    let signed = app
        .s3
        .get_object()
        .bucket(&app.bucket)
        .key("../.env")
        .send()
        .await;
    let err = signed.expect_err("a signed GET of ../.env is refused");
    assert!(matches!(status(&err), Some(400..=499)), "{err:?}");
}

#[tokio::test]
async fn a_dot_dot_key_gets_a_4xx_and_the_store_keeps_serving() {
    let app = spawn_embedded_app_with(&[]).await;

    for path in [
        "/uploads/..",
        "/uploads/.",
        "/uploads/a/..",
        "/uploads/%2E%2E",
    ] {
        for method in ["GET", "HEAD"] {
            let (status, answer) = raw_request(&app, method, path).await;
            let status = status.unwrap_or_else(|| panic!("{method} {path}: no answer"));
            assert!(
                (400..500).contains(&status),
                "{method} {path}: {status}\n{answer}"
            );
        }
    }

    put(&app, "after/ok.txt", b"still serving")
        .await
        .expect("a normal PUT after the attacks");
    let (status, answer) = raw_request(&app, "GET", "/uploads/after/ok.txt").await;
    assert_eq!(status, Some(200), "{answer}");
    assert!(answer.ends_with("still serving"), "{answer}");
}

#[tokio::test]
async fn keys_the_store_cannot_hold_are_refused_and_nothing_is_written() {
    let app = spawn_embedded_app_with(&[]).await;
    let dir = app.data_dir().expect("embedded store").to_path_buf();
    let too_long = "k".repeat(129);
    let before = tree(&dir);

    for key in [
        "a/../b",
        "./x",
        "a/./b",
        "a//b",
        "/leading",
        "trailing/",
        "a\\b",
        "nul\0byte",
        "bell\u{7}",
        "not\u{FFFF}xml",
        "not\u{FFFE}xml",
        "non\u{FDD0}character",
        "plane\u{1FFFF}end",
        too_long.as_str(),
    ] {
        // Act
        let refused = put(&app, key, b"x").await;

        // Assert
        let (put_status, code) = refused.expect_err(&format!("{key:?} is refused"));
        assert!(
            matches!(put_status, Some(400..=499)),
            "{key:?}: {put_status:?} {code}"
        );
        let multipart = app
            .s3
            .create_multipart_upload()
            .bucket(&app.bucket)
            .key(key)
            .send()
            .await;
        let err = multipart.expect_err(&format!("multipart {key:?} is refused"));
        assert!(matches!(status(&err), Some(400..=499)), "{key:?}: {err:?}");
    }
    assert_eq!(tree(&dir), before, "a refused key left files behind");

    // The limit is exact: 128 bytes fit, with every side file the store writes for them.
    let longest = "k".repeat(128);
    put(&app, &longest, b"fits").await.expect("a 128-byte key");
    let created = app
        .s3
        .create_multipart_upload()
        .bucket(&app.bucket)
        .key(&longest)
        .send()
        .await
        .expect("a multipart upload of a 128-byte key");
    app.s3
        .abort_multipart_upload()
        .bucket(&app.bucket)
        .key(&longest)
        .upload_id(created.upload_id().expect("upload id"))
        .send()
        .await
        .expect("abort");
    assert_eq!(app.keys().await, vec![longest]);
}

#[tokio::test]
async fn listings_with_delimiters_s3s_fs_cannot_split_are_refused_not_a_panic() {
    let app = spawn_embedded_app_with(&[]).await;
    put(&app, "dir/é.txt", b"x").await.expect("put");

    for delimiter in ["", "é"] {
        let listed = app
            .s3
            .list_objects_v2()
            .bucket(&app.bucket)
            .delimiter(delimiter)
            .send()
            .await;
        let err = listed.expect_err(&format!("delimiter {delimiter:?} is refused"));
        assert!(
            matches!(status(&err), Some(400..=499)),
            "{delimiter:?}: {err:?}"
        );
    }
    assert_eq!(app.keys().await, vec!["dir/é.txt".to_owned()]);
}

#[tokio::test]
async fn object_answers_forbid_sniffing_and_scripts() {
    let app = spawn_embedded_app_with(&[]).await;
    app.s3
        .put_object()
        .bucket(&app.bucket)
        .key("page.html")
        .content_type("text/html")
        .body(ByteStream::from_static(
            b"<script>alert(document.domain)</script>",
        ))
        .send()
        .await
        .expect("put a page");

    for method in ["GET", "HEAD"] {
        let (status, answer) = raw_request(&app, method, "/uploads/page.html").await;
        assert_eq!(status, Some(200), "{answer}");
        let head = answer.to_ascii_lowercase();
        assert!(
            head.contains("\r\nx-content-type-options: nosniff\r\n"),
            "{method}: {answer}"
        );
        assert!(
            head.contains("\r\ncontent-security-policy: sandbox\r\n"),
            "{method}: {answer}"
        );
    }
}
