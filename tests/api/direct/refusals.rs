//! What direct uploads refuse, each answered as `POST /upload` answers it and leaving nothing behind.

use super::{MIB, complete, create, ids, records, send_part, ticket_endpoint, upload_path};
use crate::helpers::{pattern, png, spawn_app, spawn_app_with, spawn_embedded_app_with};

#[tokio::test]
async fn without_the_token_nothing_is_created_and_a_ticket_opens_the_routes() {
    // Arrange
    let app = spawn_app_with(&[("UPLOAD_TOKEN", "s3cret")]).await;

    // Act
    let (status, body) = create(&app, "a.png", "image/png").await;
    let endpoint = ticket_endpoint(&app, "s3cret").await;
    let endpoint = endpoint.as_str();
    let ticketed = app
        .http
        .post(app.url(&format!("{endpoint}/s3/multipart")))
        .json(&serde_json::json!({ "filename": "a.png", "type": "image/png" }))
        .send()
        .await
        .expect("ticketed create");
    let forged = app
        .http
        .post(app.url("/direct/9999999999.00/s3/multipart"))
        .json(&serde_json::json!({ "filename": "a.png", "type": "image/png" }))
        .send()
        .await
        .expect("forged create");
    let no_ticket = app
        .http
        .post(app.url("/s3/ticket"))
        .send()
        .await
        .expect("ticket");

    // Assert
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["error"]["code"], "UNAUTHORIZED");
    assert!(endpoint.starts_with("/direct/"), "{endpoint}");
    assert!(!endpoint.contains("s3cret"));
    assert_eq!(ticketed.status(), 200);
    assert_eq!(forged.status(), 401);
    assert_eq!(no_ticket.status(), 401);
    let (upload_id, key) = ids(&ticketed.json().await.expect("JSON"));
    // The ticketed upload is one of ours: aborting it through the ticket works and leaves nothing.
    let aborted = app
        .http
        .delete(app.url(&format!("{endpoint}{}", upload_path(&upload_id, "", &key))))
        .send()
        .await
        .expect("abort");
    assert_eq!(aborted.status(), 204);
    assert!(app.pending_multipart_uploads().await.is_empty());
    assert!(records(&app).await.is_empty());
}

#[tokio::test]
async fn part_urls_are_signed_only_for_this_servers_uploads_and_their_own_key() {
    // Arrange: an upload of ours, and one created straight on the store.
    let app = spawn_app().await;
    let (_, created) = create(&app, "a.bin", "application/octet-stream").await;
    let (upload_id, key) = ids(&created);
    let foreign = app
        .s3
        .create_multipart_upload()
        .bucket(&app.bucket)
        .key("elsewhere.bin")
        .send()
        .await
        .expect("CreateMultipartUpload");
    let foreign_id = foreign.upload_id().expect("upload id").to_owned();

    // Act
    let get = |path: String| {
        let app = &app;
        async move { app.http.get(app.url(&path)).send().await.expect("GET") }
    };
    let other_key = get(upload_path(&upload_id, "/1", "elsewhere.bin")).await;
    let foreign_upload = get(upload_path(&foreign_id, "/1", "elsewhere.bin")).await;
    let bad_number = get(upload_path(&upload_id, "/10001", &key)).await;
    let not_a_number = get(upload_path(&upload_id, "/x", &key)).await;

    // Assert
    assert_eq!(other_key.status(), 404);
    assert_eq!(foreign_upload.status(), 404);
    let body: serde_json::Value = foreign_upload.json().await.expect("JSON");
    assert_eq!(body["error"]["code"], "UPLOAD_NOT_FOUND");
    assert_eq!(bad_number.status(), 400);
    assert_eq!(not_a_number.status(), 400);
}

#[tokio::test]
async fn an_object_over_the_limit_is_deleted_and_answered_413() {
    // Arrange: MAX_FILE_SIZE 6 MiB; 7 MiB sent in two parts.
    let app = spawn_app_with(&[("MAX_FILE_SIZE", "6291456")]).await;
    let data = pattern(7 * MIB);
    let (_, created) = create(&app, "big.bin", "application/octet-stream").await;
    let (upload_id, key) = ids(&created);
    let first = send_part(&app, &upload_id, &key, 1, data[..5 * MIB].to_vec()).await;
    let second = send_part(&app, &upload_id, &key, 2, data[5 * MIB..].to_vec()).await;

    // Act
    let (status, body) = complete(&app, &upload_id, &key, &[(1, first), (2, second)]).await;

    // Assert
    assert_eq!(status, 413, "{body}");
    assert_eq!(body["error"]["code"], "LIMIT_FILE_SIZE");
    assert_eq!(body["error"]["file"], "big.bin");
    app.assert_bucket_holds(0).await;
    assert!(app.pending_multipart_uploads().await.is_empty());
}

#[tokio::test]
async fn a_type_not_allowed_is_refused_by_name_at_once_and_by_bytes_at_completion() {
    // Arrange
    let app = spawn_app_with(&[("ALLOWED_TYPES", "image/png")]).await;

    // Act: a name of another type; then a .png name whose bytes are text.
    let (by_name, refused) = create(&app, "page.html", "text/html").await;
    let (_, created) = create(&app, "fake.png", "image/png").await;
    let (upload_id, key) = ids(&created);
    let etag = send_part(
        &app,
        &upload_id,
        &key,
        1,
        b"<script>alert(1)</script>".to_vec(),
    )
    .await;
    let (by_bytes, body) = complete(&app, &upload_id, &key, &[(1, etag)]).await;
    let (good, _) = create(&app, "ok.png", "image/png").await;

    // Assert
    assert_eq!(by_name, 415, "{refused}");
    assert_eq!(refused["error"]["code"], "LIMIT_FILE_TYPE");
    assert_eq!(by_bytes, 415, "{body}");
    assert_eq!(body["error"]["code"], "LIMIT_FILE_TYPE");
    assert_eq!(body["error"]["file"], "fake.png");
    assert_eq!(good, 200);
    let objects: Vec<String> = app
        .keys()
        .await
        .into_iter()
        .filter(|k| !k.contains(".direct/"))
        .collect();
    assert!(objects.is_empty(), "{objects:?}");
    let _ = png();
}

#[tokio::test]
async fn a_completion_with_parts_out_of_order_is_400_and_the_upload_can_still_complete() {
    // Arrange
    let app = spawn_app().await;
    let (_, created) = create(&app, "a.bin", "application/octet-stream").await;
    let (upload_id, key) = ids(&created);
    let etag = send_part(&app, &upload_id, &key, 1, pattern(1000)).await;

    // Act
    let (bad, body) = complete(
        &app,
        &upload_id,
        &key,
        &[(2, etag.clone()), (1, etag.clone())],
    )
    .await;
    let (none, _) = complete(&app, &upload_id, &key, &[]).await;
    let (good, file) = complete(&app, &upload_id, &key, &[(1, etag)]).await;

    // Assert
    assert_eq!(bad, 400, "{body}");
    assert_eq!(body["error"]["code"], "INVALID_PARTS");
    assert_eq!(none, 400);
    assert_eq!(good, 200, "{file}");
    assert_eq!(file["size"].as_u64(), Some(1000));
}

#[tokio::test]
async fn a_part_number_only_a_file_over_the_limit_could_reach_gets_no_url() {
    // Arrange: MAX_FILE_SIZE 12 MiB: parts 1 to 3 can exist (two of at least 5 MiB, then the rest).
    let app = spawn_app_with(&[("MAX_FILE_SIZE", "12582912")]).await;
    let (_, created) = create(&app, "long.bin", "application/octet-stream").await;
    let (upload_id, key) = ids(&created);

    // Act
    let third = app
        .http
        .get(app.url(&upload_path(&upload_id, "/3", &key)))
        .send()
        .await
        .expect("GET");
    let fourth = app
        .http
        .get(app.url(&upload_path(&upload_id, "/4", &key)))
        .send()
        .await
        .expect("GET");

    // Assert
    assert_eq!(third.status(), 200);
    assert_eq!(fourth.status(), 413);
    let body: serde_json::Value = fourth.json().await.expect("JSON");
    assert_eq!(body["error"]["code"], "LIMIT_FILE_SIZE");
    assert_eq!(body["error"]["file"], "long.bin");
}

#[tokio::test]
async fn an_upload_whose_urls_have_all_expired_gets_no_new_one() {
    // Arrange: an upload whose record says no part URL was asked for within DIRECT_URL_TTL_SECS.
    let app = spawn_app().await;
    let (_, created) = create(&app, "late.bin", "application/octet-stream").await;
    let (upload_id, key) = ids(&created);
    let records = s3_upload_server::storage::direct::record::DirectRecords::new(
        app.s3.clone(),
        app.bucket.clone(),
        "",
    );
    let mut upload = records
        .read(&upload_id)
        .await
        .expect("read")
        .expect("record");
    upload.expires_at = 1;
    records.write(&upload).await.expect("write");

    // Act
    let asked = app
        .http
        .get(app.url(&upload_path(&upload_id, "/1", &key)))
        .send()
        .await
        .expect("GET");

    // Assert
    assert_eq!(asked.status(), 404);
    let body: serde_json::Value = asked.json().await.expect("JSON");
    assert_eq!(body["error"]["code"], "UPLOAD_NOT_FOUND");
}

/// On the embedded store only: moto 5.2.5 accepts a presigned URL after it expired.
#[tokio::test]
async fn a_part_url_is_refused_by_the_store_once_it_expired() {
    // Arrange: a part URL of a created upload, signed as the server signs them but living 1 s.
    let app = spawn_embedded_app_with(&[]).await;
    let (_, created) = create(&app, "late.bin", "application/octet-stream").await;
    let (upload_id, key) = ids(&created);
    let presigned = app
        .s3
        .upload_part()
        .bucket(&app.bucket)
        .key(&key)
        .upload_id(&upload_id)
        .part_number(1)
        .presigned(
            aws_sdk_s3::presigning::PresigningConfig::expires_in(std::time::Duration::from_secs(1))
                .expect("presigning"),
        )
        .await
        .expect("presign");
    tokio::time::sleep(std::time::Duration::from_millis(2_100)).await;

    // Act
    let late_put = reqwest::Client::new()
        .put(presigned.uri())
        .body(pattern(1000))
        .send()
        .await
        .expect("PUT");

    // Assert
    assert_eq!(late_put.status(), 403, "the store refuses an expired URL");
}
