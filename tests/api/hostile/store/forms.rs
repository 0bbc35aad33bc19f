//! Form POSTs (PostObject): s3s reads a form's file into memory before it checks who sent it, so the store bounds
//! that file by `MAX_FILE_SIZE` rather than s3s's 5 GiB.

use reqwest::multipart::{Form, Part};

use crate::helpers::spawn_embedded_app_with;

#[tokio::test]
async fn an_unsigned_form_larger_than_max_file_size_is_refused_before_it_is_held() {
    // Arrange
    let app = spawn_embedded_app_with(&[("MAX_FILE_SIZE", "1024")]).await;
    let endpoint = app.endpoint.as_deref().expect("the embedded store");
    let form = Form::new().text("key", "big.bin").part(
        "file",
        Part::bytes(vec![b'x'; 64 * 1024]).file_name("big.bin"),
    );

    // Act
    let answer = reqwest::Client::new()
        .post(format!("{endpoint}/{}/", app.bucket))
        .multipart(form)
        .send()
        .await
        .expect("the store answers");

    // Assert: refused for its size (which s3s checks while reading), not only later for its missing signature.
    let status = answer.status();
    let text = answer.text().await.unwrap_or_default();
    assert_eq!(status, 400, "{text}");
    assert!(text.contains("EntityTooLarge"), "{text}");
}
