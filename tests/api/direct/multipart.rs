//! A direct multipart upload from start to end: the server's key, parts PUT straight to the store, the parts
//! listed, the completion answered as `POST /upload`, and the object checked and corrected.

use super::{MIB, complete, create, ids, records, send_part, upload_path};
use crate::helpers::{pattern, png, spawn_app, spawn_embedded_app_with};

#[tokio::test]
async fn a_file_sent_in_two_parts_is_stored_and_answered_as_post_upload() {
    // Arrange: a PNG padded to 6 MiB, in a 5 MiB part and a 1 MiB part.
    let app = spawn_app().await;
    let mut data = png();
    data.extend(pattern(6 * MIB - data.len()));

    // Act
    let (status, created) = create(&app, "여행 사진.png", "image/png").await;
    assert_eq!(status, 200, "{created}");
    let (upload_id, key) = ids(&created);
    let first = send_part(&app, &upload_id, &key, 1, data[..5 * MIB].to_vec()).await;
    let second = send_part(&app, &upload_id, &key, 2, data[5 * MIB..].to_vec()).await;
    let (status, file) = complete(&app, &upload_id, &key, &[(1, first), (2, second)]).await;

    // Assert
    assert!(key.ends_with("/여행 사진.png"), "{key}");
    assert_eq!(created["bucket"].as_str(), Some(app.bucket.as_str()));
    assert_eq!(status, 200, "{file}");
    assert_eq!(file["key"].as_str(), Some(key.as_str()));
    assert_eq!(file["originalname"].as_str(), Some("여행 사진.png"));
    assert_eq!(file["size"].as_u64(), Some(data.len() as u64));
    assert_eq!(file["contentType"].as_str(), Some("image/png"));
    assert!(file["location"].as_str().is_some_and(|l| !l.is_empty()));
    assert!(
        app.object_bytes(&key).await == data,
        "the stored bytes differ"
    );
    assert!(app.pending_multipart_uploads().await.is_empty());
    assert!(records(&app).await.is_empty(), "the record is gone");
}

#[tokio::test]
async fn an_object_whose_bytes_are_another_type_than_its_name_is_stored_as_its_bytes_say() {
    // Arrange: PNG bytes under a .txt name (created as text/plain, inline).
    let app = spawn_app().await;
    let data = png();

    // Act
    let (_, created) = create(&app, "notes.txt", "text/plain").await;
    let (upload_id, key) = ids(&created);
    let etag = send_part(&app, &upload_id, &key, 1, data.clone()).await;
    let (status, file) = complete(&app, &upload_id, &key, &[(1, etag)]).await;

    // Assert: the answer and the object both say image/png.
    assert_eq!(status, 200, "{file}");
    assert_eq!(file["contentType"].as_str(), Some("image/png"));
    let head = app
        .s3
        .head_object()
        .bucket(&app.bucket)
        .key(&key)
        .send()
        .await
        .expect("HeadObject");
    assert_eq!(head.content_type(), Some("image/png"));
    assert!(app.object_bytes(&key).await == data);
}

/// On the embedded store only: moto 5.2.5 answers ListParts with a `ListPartsResponse` root element (S3's is
/// `ListPartsResult`), which the Rust SDK refuses to read.
#[tokio::test]
async fn the_parts_sent_so_far_are_listed_with_their_etags_and_sizes_for_a_resume() {
    // Arrange: two parts of an upload, sent in the order 2 then 1.
    let app = spawn_embedded_app_with(&[]).await;
    let data = pattern(6 * MIB);
    let (_, created) = create(&app, "resume.bin", "application/octet-stream").await;
    let (upload_id, key) = ids(&created);
    let second = send_part(&app, &upload_id, &key, 2, data[5 * MIB..].to_vec()).await;
    let first = send_part(&app, &upload_id, &key, 1, data[..5 * MIB].to_vec()).await;

    // Act
    let listed = app
        .http
        .get(app.url(&upload_path(&upload_id, "", &key)))
        .send()
        .await
        .expect("list parts");
    let status = listed.status().as_u16();
    let listed: serde_json::Value = listed.json().await.expect("JSON");

    // Assert: by number, with the ETags the PUTs answered; the listed ETags complete the upload.
    assert_eq!(status, 200, "{listed}");
    let parts = listed.as_array().expect("an array");
    assert_eq!(parts.len(), 2, "{listed}");
    assert_eq!(parts[0]["PartNumber"].as_u64(), Some(1));
    assert_eq!(parts[0]["ETag"].as_str(), Some(first.as_str()));
    assert_eq!(parts[0]["Size"].as_u64(), Some(5 * MIB as u64));
    assert_eq!(parts[1]["ETag"].as_str(), Some(second.as_str()));
    assert_eq!(parts[1]["Size"].as_u64(), Some(MIB as u64));
    let etags: Vec<(u32, String)> = parts
        .iter()
        .map(|p| {
            let n = p["PartNumber"].as_u64().expect("number") as u32;
            (n, p["ETag"].as_str().expect("ETag").to_owned())
        })
        .collect();
    let (done, file) = complete(&app, &upload_id, &key, &etags).await;
    assert_eq!(done, 200, "{file}");
    assert!(app.object_bytes(&key).await == data);
}
