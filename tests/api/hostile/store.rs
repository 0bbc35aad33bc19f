//! The embedded store as an attacker reaches it: keys beside the bucket, panics, side files left by deletes,
//! leftovers of a previous run, a second server on the same folder, racing conditional writes.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use aws_sdk_s3::error::{ProvideErrorMetadata as _, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart, Delete, ObjectIdentifier};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::multipart::Form;
use s3_upload_server::{Application, Config};
use serde_json::Value;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::helpers::{TestApp, file_part, pattern, spawn_embedded_app_with};

const SECRET: &str = "SECRET_TOKEN=do-not-serve-me";

/// A request written byte for byte, so that no client library resolves `..` or re-encodes the path first.
/// Returns the status (`None` when the store closed the connection without answering) and the whole answer.
async fn raw_request(app: &TestApp, method: &str, path: &str) -> (Option<u16>, String) {
    let endpoint = app
        .endpoint
        .as_deref()
        .expect("the embedded store's endpoint");
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
async fn a_restart_sweeps_what_the_previous_run_left_and_keeps_every_object() {
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
    // An upload cut by the stop: its record, its staged part and its attributes stay behind.
    let cut = first
        .s3
        .create_multipart_upload()
        .bucket(&first.bucket)
        .key("cut/big.bin")
        .content_type("application/octet-stream")
        .send()
        .await
        .expect("create upload");
    first
        .s3
        .upload_part()
        .bucket(&first.bucket)
        .key("cut/big.bin")
        .upload_id(cut.upload_id().expect("upload id"))
        .part_number(1)
        .body(ByteStream::from(pattern(6 * 1024 * 1024)))
        .send()
        .await
        .expect("upload part 1");
    // The leftovers of a delete from before this fix, and an empty folder an old delete left.
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
    // The cut upload's record and staging file, and three leftovers.
    let upload_files: Vec<String> = tree(&data)
        .into_iter()
        .filter(|name| name.starts_with(".upload"))
        .collect();
    assert_eq!(upload_files.len(), 5, "{upload_files:?}");
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
    assert!(uploads_left.is_empty(), "{uploads_left:?}");
    assert!(!after.contains("uploads/emptied"), "{after:?}");
    assert_eq!(side_files(&data), kept_side_files);
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

#[tokio::test]
async fn racing_conditional_writes_of_one_key_have_exactly_one_winner() {
    let app = spawn_embedded_app_with(&[]).await;
    let key = "race/one.bin";
    let racers = 12;

    // Act: conditional PUTs and conditional completions of the same key, all at once.
    let mut tasks = tokio::task::JoinSet::new();
    for n in 0..racers {
        let s3 = app.s3.clone();
        let bucket = app.bucket.clone();
        tasks.spawn(async move {
            let body = format!("racer {n}").into_bytes();
            let answer = s3
                .put_object()
                .bucket(&bucket)
                .key(key)
                .if_none_match("*")
                .body(ByteStream::from(body.clone()))
                .send()
                .await;
            (body, answer.map(|_| ()).map_err(|err| status(&err)))
        });
    }
    for n in 0..2u8 {
        let s3 = app.s3.clone();
        let bucket = app.bucket.clone();
        tasks.spawn(async move {
            let body = vec![n; 5 * 1024 * 1024 + 1];
            (
                body.clone(),
                multipart_if_none_match(&s3, &bucket, key, body).await,
            )
        });
    }
    let mut winners = Vec::new();
    let mut refused = 0;
    while let Some(joined) = tasks.join_next().await {
        match joined.expect("racer task") {
            (body, Ok(())) => winners.push(body),
            (_, Err(Some(412))) => refused += 1,
            (_, Err(other)) => panic!("a racer got {other:?} instead of 200 or 412"),
        }
    }

    // Assert
    assert_eq!(winners.len(), 1, "exactly one conditional write wins");
    assert_eq!(refused, racers + 1);
    let stored = app
        .s3
        .get_object()
        .bucket(&app.bucket)
        .key(key)
        .send()
        .await
        .expect("get the winner");
    let bytes = stored.body.collect().await.expect("body").into_bytes();
    assert_eq!(bytes.to_vec(), winners[0]);
    app.assert_bucket_holds(1).await;
}

/// One multipart upload of `body` completed with `If-None-Match: *`; a refused completion is aborted.
async fn multipart_if_none_match(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    body: Vec<u8>,
) -> Result<(), Option<u16>> {
    let created = s3
        .create_multipart_upload()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .expect("create upload");
    let upload_id = created.upload_id().expect("upload id").to_owned();
    let part = s3
        .upload_part()
        .bucket(bucket)
        .key(key)
        .upload_id(&upload_id)
        .part_number(1)
        .body(ByteStream::from(body))
        .send()
        .await
        .expect("upload part");
    let completed = s3
        .complete_multipart_upload()
        .bucket(bucket)
        .key(key)
        .upload_id(&upload_id)
        .if_none_match("*")
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .parts(
                    CompletedPart::builder()
                        .part_number(1)
                        .e_tag(part.e_tag().expect("etag"))
                        .build(),
                )
                .build(),
        )
        .send()
        .await;
    match completed {
        Ok(_) => Ok(()),
        Err(err) => {
            s3.abort_multipart_upload()
                .bucket(bucket)
                .key(key)
                .upload_id(&upload_id)
                .send()
                .await
                .expect("abort the refused upload");
            Err(status(&err))
        }
    }
}

#[tokio::test]
async fn if_match_writes_only_over_the_expected_object() {
    let app = spawn_embedded_app_with(&[]).await;
    let key = "cas.txt";
    let first = app
        .s3
        .put_object()
        .bucket(&app.bucket)
        .key(key)
        .body(ByteStream::from_static(b"v1"))
        .send()
        .await
        .expect("v1");
    let e_tag = first.e_tag().expect("etag").to_owned();

    let stale = app
        .s3
        .put_object()
        .bucket(&app.bucket)
        .key(key)
        .if_match("\"00000000000000000000000000000000\"")
        .body(ByteStream::from_static(b"v2"))
        .send()
        .await
        .expect_err("a stale ETag is refused");
    assert_eq!(status(&stale), Some(412));
    let missing = app
        .s3
        .put_object()
        .bucket(&app.bucket)
        .key("missing.txt")
        .if_match(&e_tag)
        .body(ByteStream::from_static(b"v2"))
        .send()
        .await
        .expect_err("If-Match on a missing key is refused");
    assert_eq!(status(&missing), Some(404), "as S3: NoSuchKey");
    app.s3
        .put_object()
        .bucket(&app.bucket)
        .key(key)
        .if_match(&e_tag)
        .body(ByteStream::from_static(b"v2"))
        .send()
        .await
        .expect("the current ETag matches");
    let (status_line, answer) = raw_request(&app, "GET", "/uploads/cas.txt").await;
    assert_eq!(status_line, Some(200));
    assert!(answer.ends_with("v2"), "{answer}");
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
