//! The embedded store as an attacker reaches it: keys beside the bucket, panics, side files left by deletes,
//! leftovers of a previous run, a second server on the same folder, racing conditional writes.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use aws_sdk_s3::error::{ProvideErrorMetadata as _, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{Delete, ObjectIdentifier};
use reqwest::multipart::Form;
use serde_json::Value;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::helpers::{TestApp, file_part, spawn_embedded_app_with};

const SECRET: &str = "SECRET_TOKEN=do-not-serve-me";

/// A request written byte for byte, so that no client library resolves `..` or re-encodes the path first.
/// Returns the status (`None` when the store closed the connection without answering) and the whole answer.
async fn raw_request(app: &TestApp, method: &str, path: &str) -> (Option<u16>, String) {
    let endpoint = app.endpoint.as_deref().expect("the embedded store's endpoint");
    let authority = endpoint.trim_start_matches("http://");
    let mut socket = tokio::net::TcpStream::connect(authority)
        .await
        .expect("connect to the store");
    let request =
        format!("{method} {path} HTTP/1.1\r\nhost: {authority}\r\nconnection: close\r\n\r\n");
    socket
        .write_all(request.as_bytes())
        .await
        .expect("send the request");
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), socket.read_to_end(&mut answer))
        .await
        .expect("the store answers within 10 s")
        .ok();
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let status = answer
        .strip_prefix("HTTP/1.1 ")
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse().ok());
    (status, answer)
}

/// Every file and folder under `dir`, relative to it.
fn tree(dir: &Path) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(next) = pending.pop() {
        for entry in std::fs::read_dir(&next).expect("read the data folder") {
            let path = entry.expect("folder entry").path();
            let relative = path.strip_prefix(dir).expect("under the folder");
            found.insert(relative.display().to_string());
            if path.is_dir() {
                pending.push(path);
            }
        }
    }
    found
}

/// The HTTP status of an SDK error (`None` when no answer came back).
fn status<E>(err: &SdkError<E, aws_sdk_s3::config::http::HttpResponse>) -> Option<u16> {
    err.raw_response().map(|r| r.status().as_u16())
}

async fn put(app: &TestApp, key: &str, body: &'static [u8]) -> Result<(), (Option<u16>, String)> {
    app.s3
        .put_object()
        .bucket(&app.bucket)
        .key(key)
        .body(ByteStream::from_static(body))
        .send()
        .await
        .map(|_| ())
        .map_err(|err| (status(&err), err.code().unwrap_or_default().to_owned()))
}

async fn uploaded(app: &TestApp, name: &str, bytes: Vec<u8>, mime: &str) -> Value {
    let response = app
        .upload(Form::new().part("photos", file_part(bytes, name, mime)))
        .await;
    let status = response.status();
    let body: Value = response.json().await.expect("a JSON answer");
    assert_eq!(status, 200, "{body}");
    body[0].clone()
}

fn side_files(dir: &Path) -> Vec<String> {
    tree(dir)
        .into_iter()
        .filter(|name| name.starts_with(".bucket-"))
        .collect()
}

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

    for path in ["/uploads/..", "/uploads/.", "/uploads/a/..", "/uploads/%2E%2E"] {
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
async fn object_answers_forbid_sniffing_and_scripts() {
    let app = spawn_embedded_app_with(&[]).await;
    app.s3
        .put_object()
        .bucket(&app.bucket)
        .key("page.html")
        .content_type("text/html")
        .body(ByteStream::from_static(b"<script>alert(document.domain)</script>"))
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
