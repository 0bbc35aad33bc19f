//! `DELETE /files/<id>` (tus termination): 204, then the upload is gone, and so is everything it held.

use aws_sdk_s3::primitives::ByteStream;
use reqwest::Method;
use s3_upload_server::storage::resumable::info::{Multipart, Segment, UploadId, segment_key};

use super::{create, header, info_store, state_keys, tus};
use crate::helpers::{error_answer, spawn_app};

#[tokio::test]
async fn a_terminated_upload_is_gone_with_its_state() {
    // Arrange
    let app = spawn_app().await;
    let path = create(&app, 100, "a.png").await;

    // Act
    let deleted = tus(&app, Method::DELETE, &path)
        .send()
        .await
        .expect("DELETE");
    let head = tus(&app, Method::HEAD, &path).send().await.expect("HEAD");
    let again = tus(&app, Method::DELETE, &path)
        .send()
        .await
        .expect("DELETE");

    // Assert
    assert_eq!(deleted.status(), 204);
    assert_eq!(header(&deleted, "tus-resumable"), Some("1.0.0"));
    assert_eq!(head.status(), 404);
    assert!(header(&head, "upload-offset").is_none());
    let (status, body) = error_answer(again).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("UPLOAD_NOT_FOUND"))
    );
    assert!(
        state_keys(&app).await.is_empty(),
        "nothing left under .resumable/"
    );
    app.assert_bucket_holds(0).await;
}

#[tokio::test]
async fn x_http_method_override_delete_terminates() {
    // Arrange
    let app = spawn_app().await;
    let path = create(&app, 100, "a.png").await;

    // Act
    let deleted = tus(&app, Method::POST, &path)
        .header("x-http-method-override", "delete")
        .send()
        .await
        .expect("POST as DELETE");
    let head = tus(&app, Method::HEAD, &path).send().await.expect("HEAD");

    // Assert
    assert_eq!(deleted.status(), 204);
    assert_eq!(head.status(), 404);
    app.assert_bucket_holds(0).await;
}

#[tokio::test]
async fn termination_aborts_the_multipart_upload_and_deletes_the_segments() {
    // Arrange: an upload that holds bytes as a PATCH will leave them (a multipart upload, a segment), written
    // here through the store, since PATCH does not exist yet.
    let app = spawn_app().await;
    let path = create(&app, 100, "a.png").await;
    let id = UploadId::parse(path.trim_start_matches("/files/")).expect("an id");
    let store = info_store(&app);
    let (mut info, etag) = store.read(&id).await.expect("the record");
    let multipart = app
        .s3
        .create_multipart_upload()
        .bucket(&app.bucket)
        .key(&info.key)
        .send()
        .await
        .expect("CreateMultipartUpload");
    let segment = segment_key("", &id, uuid::Uuid::new_v4());
    let written = app
        .s3
        .put_object()
        .bucket(&app.bucket)
        .key(&segment)
        .body(ByteStream::from_static(b"0123456789"))
        .send()
        .await
        .expect("PutObject segment");
    info.multipart = Some(Multipart {
        upload_id: multipart.upload_id().expect("an upload id").to_owned(),
    });
    info.segments.push(Segment {
        key: segment,
        etag: written.e_tag().unwrap_or_default().to_owned(),
        size: 10,
    });
    info.offset = 10;
    info.version += 1;
    store.replace(&info, &etag).await.expect("replace");
    assert_eq!(app.pending_multipart_uploads().await.len(), 1);

    // Act
    let deleted = tus(&app, Method::DELETE, &path)
        .send()
        .await
        .expect("DELETE");

    // Assert
    assert_eq!(deleted.status(), 204);
    assert!(
        state_keys(&app).await.is_empty(),
        "nothing left under .resumable/"
    );
    app.assert_bucket_holds(0).await;
}
