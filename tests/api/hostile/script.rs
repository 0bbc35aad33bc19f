//! A script stored where a browser would run it: no type the bytes or extension do not establish, and nothing but
//! inert types inline.
//!
//! Each upload is checked twice: in the answer (`contentType`, `contentDisposition`) and in the stored object's
//! own headers (HeadObject with the app's signed client), since the stored headers are what a browser gets.

use reqwest::multipart::Form;
use serde_json::Value;

use crate::helpers::{TestApp, file_part, png, spawn_app_with};

const OCTET_STREAM: &str = "application/octet-stream";

/// What the store answers for an object, and what the upload answered for it.
struct Stored {
    answer: Value,
    content_type: String,
    content_disposition: String,
}

/// Uploads one file and reads back how it was stored.
async fn upload_one(app: &TestApp, bytes: &[u8], name: &str, claim: &str) -> Stored {
    let form = Form::new().part("photos", file_part(bytes.to_vec(), name, claim));
    let response = app.upload(form).await;
    let status = response.status();
    let text = response.text().await.expect("body");
    assert_eq!(status, 200, "{name}: {text}");
    let files: Vec<Value> = serde_json::from_str(&text).expect("a JSON array");
    let answer = files.into_iter().next().expect("one file");
    let key = answer["key"].as_str().expect("key").to_owned();
    let head = app
        .s3
        .head_object()
        .bucket(&app.bucket)
        .key(&key)
        .send()
        .await
        .unwrap_or_else(|err| panic!("head {key}: {err:?}"));
    Stored {
        content_type: head.content_type().unwrap_or_default().to_owned(),
        content_disposition: head.content_disposition().unwrap_or_default().to_owned(),
        answer,
    }
}

/// Asserts the object was stored, and answered, as `content_type` with `disposition`.
fn assert_stored_as(stored: &Stored, content_type: &str, disposition: &str, what: &str) {
    assert_eq!(stored.answer["contentType"], content_type, "{what}");
    assert_eq!(stored.content_type, content_type, "{what}: stored type");
    let answered = stored.answer["contentDisposition"]
        .as_str()
        .unwrap_or_default();
    let prefix = format!("{disposition};");
    assert!(answered.starts_with(&prefix), "{what}: {answered}");
    assert!(
        stored.content_disposition.starts_with(&prefix),
        "{what}: stored {}",
        stored.content_disposition
    );
}

#[tokio::test]
async fn a_claimed_type_is_never_stored_for_bytes_nothing_recognizes() {
    // Arrange: the four reproductions of issue 10, each a file with no extension whose claim would make a
    // browser run its script on the bucket's origin.
    let app = spawn_app_with(&[]).await;
    let cases: [(&str, &[u8]); 4] = [
        (
            "text/xsl",
            b"<x:script xmlns:x=\"http://www.w3.org/1999/xhtml\">alert(1)</x:script>",
        ),
        ("application/unknown", b"<!--x--><script>alert(1)</script>"),
        ("*/*", b"<!--x--><script>alert(1)</script>"),
        (
            "multipart/x-mixed-replace",
            b"--frame\r\nContent-Type: text/html\r\n\r\n<script>alert(1)</script>\r\n--frame--",
        ),
    ];

    for (claim, bytes) in cases {
        // Act
        let stored = upload_one(&app, bytes, "page", claim).await;

        // Assert: stored as bytes, downloaded; the claim is only echoed, as multer's `mimetype`.
        assert_stored_as(&stored, OCTET_STREAM, "attachment", claim);
        assert_eq!(stored.answer["mimetype"], claim);
    }
    app.assert_bucket_holds(4).await;
}

#[tokio::test]
async fn files_named_as_active_content_are_downloaded_never_opened() {
    let app = spawn_app_with(&[]).await;
    let script = b"<script>alert(document.domain)</script>";
    let cases: [(&str, &[u8]); 6] = [
        ("page.html", b"<html><script>alert(1)</script></html>"),
        (
            "image.svg",
            b"<svg xmlns=\"http://www.w3.org/2000/svg\" onload=\"alert(1)\"/>",
        ),
        ("data.xml", b"<?xml version=\"1.0\"?><a>1</a>"),
        ("style.xsl", script),
        ("page.xhtml", script),
        ("app.js", b"alert(document.domain)"),
    ];

    for (name, bytes) in cases {
        // The client claims the most harmless type it can; it does not matter.
        let stored = upload_one(&app, bytes, name, "image/png").await;

        assert!(
            stored.answer["contentDisposition"]
                .as_str()
                .is_some_and(|d| d.starts_with("attachment;")),
            "{name}: {}",
            stored.answer
        );
        assert!(
            stored.content_disposition.starts_with("attachment;"),
            "{name}: stored {}",
            stored.content_disposition
        );
        assert_eq!(stored.answer["contentType"], stored.content_type.as_str());
        assert_ne!(stored.content_type, "image/png", "{name}");
    }
}

#[tokio::test]
async fn a_real_png_is_shown_inline_as_image_png() {
    let app = spawn_app_with(&[]).await;

    let stored = upload_one(&app, &png(), "photo.png", "application/octet-stream").await;

    assert_stored_as(&stored, "image/png", "inline", "photo.png");
}

#[tokio::test]
async fn a_page_named_png_is_not_stored_as_an_image() {
    let app = spawn_app_with(&[]).await;

    // Bytes that no signature recognizes, under the name of a type that has one: a disguise.
    let stored = upload_one(
        &app,
        b"<!--x--><script>alert(1)</script>",
        "photo.png",
        "image/png",
    )
    .await;
    assert_stored_as(&stored, OCTET_STREAM, "attachment", "disguised page");

    // Bytes the signatures recognize as a page are stored as the page they are, and downloaded.
    let stored = upload_one(
        &app,
        b"<html><script>alert(1)</script></html>",
        "photo.png",
        "image/png",
    )
    .await;
    assert_stored_as(
        &stored,
        "text/html; charset=utf-8",
        "attachment",
        "recognized page",
    );
}

#[tokio::test]
async fn a_text_file_is_shown_inline_as_plain_text() {
    let app = spawn_app_with(&[]).await;

    let stored = upload_one(&app, "안녕, world\n".as_bytes(), "notes.txt", "text/html").await;

    assert_stored_as(&stored, "text/plain; charset=utf-8", "inline", "notes.txt");
    assert_eq!(stored.answer["mimetype"], "text/html");
}
