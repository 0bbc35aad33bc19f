//! `PATCH /files/<id>`: bytes appended at the upload's offset, refused at another, checked against
//! `Upload-Checksum`, only as `application/offset+octet-stream`, also through `X-HTTP-Method-Override`.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use reqwest::Method;
use sha2::{Digest as _, Sha256};

use super::{create, described, header, patch, state_keys, tus};
use crate::helpers::{error_answer, pattern, spawn_app};

#[tokio::test]
async fn a_patch_at_the_offset_is_kept_and_answers_the_new_offset() {
    // Arrange
    let app = spawn_app().await;
    let upload = create(&app, 100, "data.bin").await;

    // Act
    let response = patch(&app, &upload, 0, pattern(40)).await;
    let head = tus(&app, Method::HEAD, &upload).send().await.expect("HEAD");

    // Assert
    assert_eq!(response.status(), 204);
    assert_eq!(header(&response, "upload-offset"), Some("40"));
    assert!(header(&response, "upload-expires").is_some());
    assert!(header(&response, "x-object-location").is_none());
    assert_eq!(header(&head, "upload-offset"), Some("40"));
    assert_eq!(header(&head, "upload-length"), Some("100"));
    // info.json and one segment.
    app.assert_bucket_holds(2).await;
}

#[tokio::test]
async fn a_patch_at_another_offset_is_409_and_changes_nothing() {
    // Arrange
    let app = spawn_app().await;
    let upload = create(&app, 100, "data.bin").await;
    let first = patch(&app, &upload, 0, pattern(10)).await;
    assert_eq!(first.status(), 204);

    // Act
    let behind = patch(&app, &upload, 0, pattern(10)).await;
    let ahead = patch(&app, &upload, 20, pattern(10)).await;
    let head = tus(&app, Method::HEAD, &upload).send().await.expect("HEAD");

    // Assert
    for refused in [behind, ahead] {
        let (status, body) = error_answer(refused).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (409, Some("OFFSET_MISMATCH"))
        );
    }
    assert_eq!(header(&head, "upload-offset"), Some("10"));
    app.assert_bucket_holds(2).await;
}

#[tokio::test]
async fn a_body_that_misses_its_checksum_is_460_and_a_good_retry_is_kept() {
    // Arrange
    let app = spawn_app().await;
    let upload = create(&app, 100, "data.bin").await;
    let body = pattern(30);
    let good = STANDARD.encode(Sha256::digest(&body));
    let wrong = STANDARD.encode(Sha256::digest(b"something else"));
    let send = |digest: String| {
        tus(&app, Method::PATCH, &upload)
            .header("content-type", "application/offset+octet-stream")
            .header("upload-offset", "0")
            .header("upload-checksum", format!("sha256 {digest}"))
            .body(body.clone())
            .send()
    };

    // Act
    let mismatch = send(wrong).await.expect("PATCH with a wrong checksum");
    let after_mismatch = tus(&app, Method::HEAD, &upload).send().await.expect("HEAD");
    let retry = send(good).await.expect("PATCH with the right checksum");
    let unknown = tus(&app, Method::PATCH, &upload)
        .header("content-type", "application/offset+octet-stream")
        .header("upload-offset", "30")
        .header("upload-checksum", "md5 AAAA")
        .body(pattern(5))
        .send()
        .await
        .expect("PATCH with md5");

    // Assert
    let (status, body) = error_answer(mismatch).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (460, Some("CHECKSUM_MISMATCH"))
    );
    assert_eq!(header(&after_mismatch, "upload-offset"), Some("0"));
    assert_eq!(retry.status(), 204);
    assert_eq!(header(&retry, "upload-offset"), Some("30"));
    let (status, body) = error_answer(unknown).await;
    assert_eq!(
        (
            status,
            body["error"]["code"].as_str(),
            body["error"]["field"].as_str()
        ),
        (400, Some("CHECKSUM_UNSUPPORTED"), Some("Upload-Checksum"))
    );
    app.assert_bucket_holds(2).await;
}

#[tokio::test]
async fn a_patch_of_another_type_or_without_an_offset_is_refused_unread() {
    // Arrange
    let app = spawn_app().await;
    let upload = create(&app, 100, "data.bin").await;

    // Act
    let wrong_type = tus(&app, Method::PATCH, &upload)
        .header("content-type", "application/octet-stream")
        .header("upload-offset", "0")
        .body(pattern(10))
        .send()
        .await
        .expect("PATCH as octet-stream");
    let no_offset = tus(&app, Method::PATCH, &upload)
        .header("content-type", "application/offset+octet-stream")
        .body(pattern(10))
        .send()
        .await
        .expect("PATCH without Upload-Offset");
    let too_long = patch(&app, &upload, 0, pattern(101)).await;

    // Assert
    let (status, body) = error_answer(wrong_type).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (415, Some("UNSUPPORTED_MEDIA_TYPE"))
    );
    let (status, body) = error_answer(no_offset).await;
    assert_eq!(
        (
            status,
            body["error"]["code"].as_str(),
            body["error"]["field"].as_str()
        ),
        (400, Some("INVALID_TUS_HEADER"), Some("Upload-Offset"))
    );
    let (status, body) = error_answer(too_long).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (413, Some("LIMIT_FILE_SIZE"))
    );
    let head = tus(&app, Method::HEAD, &upload).send().await.expect("HEAD");
    assert_eq!(header(&head, "upload-offset"), Some("0"));
    app.assert_bucket_holds(1).await;
}

#[tokio::test]
async fn a_post_with_a_patch_override_appends() {
    // Arrange
    let app = spawn_app().await;
    let upload = create(&app, 100, "data.bin").await;

    // Act
    let response = tus(&app, Method::POST, &upload)
        .header("x-http-method-override", "PATCH")
        .header("content-type", "application/offset+octet-stream")
        .header("upload-offset", "0")
        .body(pattern(25))
        .send()
        .await
        .expect("POST as PATCH");

    // Assert
    assert_eq!(response.status(), 204);
    assert_eq!(header(&response, "upload-offset"), Some("25"));
    app.assert_bucket_holds(2).await;
}

#[tokio::test]
async fn a_deferred_length_is_set_by_a_patch() {
    // Arrange
    let app = spawn_app().await;
    let created = tus(&app, Method::POST, "/files")
        .header("upload-defer-length", "1")
        .send()
        .await
        .expect("POST /files");
    let upload = super::location(&created);

    // Act
    let first = patch(&app, &upload, 0, pattern(10)).await;
    let last = tus(&app, Method::PATCH, &upload)
        .header("content-type", "application/offset+octet-stream")
        .header("upload-offset", "10")
        .header("upload-length", "20")
        .body(pattern(10))
        .send()
        .await
        .expect("last PATCH");

    // Assert
    assert_eq!(first.status(), 204);
    assert_eq!(last.status(), 204);
    assert_eq!(header(&last, "upload-offset"), Some("20"));
    assert!(header(&last, "x-object-location").is_some());
    app.assert_bucket_holds(2).await;
}

#[tokio::test]
async fn a_creation_with_a_body_appends_it_at_offset_0() {
    // Arrange
    let app = spawn_app().await;
    let data = pattern(30);
    let create_with = |body: Vec<u8>| {
        tus(&app, Method::POST, "/files")
            .header("upload-length", "30")
            .header("content-type", "application/offset+octet-stream")
            .body(body)
            .send()
    };

    // Act
    let partial = create_with(data[..10].to_vec())
        .await
        .expect("POST with 10 bytes");
    let whole = create_with(data.clone())
        .await
        .expect("POST with every byte");

    // Assert
    assert_eq!(partial.status(), 201);
    assert_eq!(header(&partial, "upload-offset"), Some("10"));
    assert!(header(&partial, "upload-expires").is_some());
    let upload = super::location(&partial);
    let rest = patch(&app, &upload, 10, data[10..].to_vec()).await;
    assert_eq!(rest.status(), 204);
    assert_eq!(whole.status(), 201);
    assert_eq!(header(&whole, "upload-offset"), Some("30"));
    let location = header(&whole, "x-object-location").expect("X-Object-Location");
    let stored = reqwest::get(location).await.expect("GET location");
    assert!(stored.bytes().await.expect("object") == data);
    // Two objects and two records.
    app.assert_bucket_holds(4).await;
}

#[tokio::test]
async fn many_small_patches_keep_few_segments_and_the_bytes_whole() {
    // Arrange: 30 PATCHes of 1,000 bytes, none filling a part.
    let app = spawn_app().await;
    let data = pattern(30_000);
    let upload = create(&app, data.len() as u64, "small-chunks.bin").await;
    let mut most_state_keys = 0;

    // Act
    for (i, chunk) in data.chunks(1_000).enumerate() {
        let answer = patch(&app, &upload, i * 1_000, chunk.to_vec()).await;
        assert_eq!(answer.status(), 204, "PATCH {i}");
        most_state_keys = most_state_keys.max(state_keys(&app).await.len());
    }

    // Assert: the record and at most 8 segments at any time; the object is every byte in order.
    assert!(most_state_keys <= 9, "{most_state_keys} state objects");
    let described = described(&app, &upload).await;
    let key = described["key"].as_str().expect("key");
    assert!(
        app.object_bytes(key).await == data,
        "the stored bytes differ"
    );
    assert_eq!(state_keys(&app).await.len(), 1);
}
