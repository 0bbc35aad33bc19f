//! `ALLOWED_TYPES` on resumable uploads: the first bytes judged as `POST /upload` judges a file's, a refused
//! upload terminated with nothing left, an allowed one stored with the type its bytes say.

use reqwest::Method;

use super::{create, header, patch, tus};
use crate::helpers::{error_answer, pattern, png, spawn_app_with};

#[tokio::test]
async fn a_first_patch_whose_bytes_are_not_allowed_is_415_and_leaves_nothing() {
    // Arrange
    let app = spawn_app_with(&[("ALLOWED_TYPES", "image/*")]).await;
    let data = pattern(20_000);
    let upload = create(&app, data.len() as u64, "photo.png").await;

    // Act
    let refused = patch(&app, &upload, 0, data).await;
    let head = tus(&app, Method::HEAD, &upload).send().await.expect("HEAD");

    // Assert
    let (status, body) = error_answer(refused).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (415, Some("LIMIT_FILE_TYPE"))
    );
    assert_eq!(body["error"]["file"].as_str(), Some("photo.png"));
    assert_eq!(head.status(), 404);
    app.assert_bucket_holds(0).await;
}

#[tokio::test]
async fn an_allowed_file_is_stored_with_the_type_its_bytes_say() {
    // Arrange
    let app = spawn_app_with(&[("ALLOWED_TYPES", "image/*")]).await;
    let data = png();
    let upload = create(&app, data.len() as u64, "photo.png").await;

    // Act
    let done = patch(&app, &upload, 0, data.clone()).await;
    let get = tus(&app, Method::GET, &upload).send().await.expect("GET");

    // Assert
    assert_eq!(done.status(), 204);
    let location = header(&done, "x-object-location").expect("X-Object-Location");
    let stored = reqwest::get(location).await.expect("GET location");
    assert_eq!(
        stored.headers()["content-type"].to_str().ok(),
        Some("image/png")
    );
    assert!(stored.bytes().await.expect("object") == data);
    let described: serde_json::Value = get.json().await.expect("JSON");
    assert_eq!(described["contentType"].as_str(), Some("image/png"));
    let disposition = described["contentDisposition"].as_str().unwrap_or_default();
    assert!(disposition.starts_with("inline;"), "{disposition}");
    app.assert_bucket_holds(2).await;
}
