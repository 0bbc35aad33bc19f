//! `GET /s3/params`: a presigned POST form for one file, as `@uppy/aws-s3` asks for files under its multipart
//! threshold; refused when the bytes would need checking or the form could replace a file.

use serde_json::Value;

use crate::helpers::{TestApp, png, spawn_app, spawn_app_with};

async fn params(app: &TestApp, query: &str) -> (u16, Value) {
    let answer = app
        .http
        .get(app.url(&format!("/s3/params?{query}")))
        .send()
        .await
        .expect("GET /s3/params");
    let status = answer.status().as_u16();
    (status, answer.json().await.expect("JSON"))
}

#[tokio::test]
async fn a_signed_form_stores_the_file_at_the_servers_key_as_a_browser_sends_it() {
    // Arrange
    let app = spawn_app().await;
    let data = png();

    // Act: the plugin's query, then the form as its buildPostPolicyForm makes it (fields, then the file).
    let (status, signed) = params(
        &app,
        "filename=%EC%82%AC%EC%A7%84.png&type=image%2Fpng&metadata%5Bname%5D=x",
    )
    .await;
    let url = signed["url"].as_str().expect("url").to_owned();
    let fields = signed["fields"].as_object().expect("fields").clone();
    let mut form = reqwest::multipart::Form::new();
    for (name, value) in &fields {
        form = form.text(name.clone(), value.as_str().expect("text").to_owned());
    }
    let file = reqwest::multipart::Part::bytes(data.clone()).file_name("사진.png");
    let posted = reqwest::Client::new()
        .post(&url)
        .multipart(form.part("file", file))
        .send()
        .await
        .expect("POST the form");

    // Assert
    assert_eq!(status, 200, "{signed}");
    assert_eq!(signed["method"], "POST");
    assert!(url.ends_with('/'), "{url}");
    let key = fields["key"].as_str().expect("key");
    assert!(key.ends_with("/사진.png"), "{key}");
    assert_eq!(fields["Content-Type"], "image/png");
    assert!(
        (200..300).contains(&posted.status().as_u16()),
        "{}",
        posted.status()
    );
    assert!(app.object_bytes(key).await == data);
}

#[tokio::test]
async fn no_form_is_signed_when_the_bytes_would_need_checking_or_could_replace_a_file() {
    // Arrange
    let typed = spawn_app_with(&[("ALLOWED_TYPES", "image/*")]).await;
    let original = spawn_app_with(&[("KEY_STRATEGY", "original")]).await;

    // Act
    let (typed_status, typed_body) = params(&typed, "filename=a.png&type=image%2Fpng").await;
    let (original_status, original_body) = params(&original, "filename=a.png").await;

    // Assert
    assert_eq!(typed_status, 403, "{typed_body}");
    assert_eq!(typed_body["error"]["code"], "MULTIPART_REQUIRED");
    assert_eq!(original_status, 403, "{original_body}");
    assert_eq!(original_body["error"]["code"], "MULTIPART_REQUIRED");
    typed.assert_bucket_holds(0).await;
}

#[tokio::test]
async fn a_form_needs_the_token_or_a_ticket() {
    // Arrange
    let app = spawn_app_with(&[("UPLOAD_TOKEN", "s3cret")]).await;

    // Act
    let (refused, body) = params(&app, "filename=a.png").await;
    let ticket: Value = app
        .http
        .post(app.url("/s3/ticket"))
        .bearer_auth("s3cret")
        .send()
        .await
        .expect("ticket")
        .json()
        .await
        .expect("JSON");
    let endpoint = ticket["companionEndpoint"].as_str().expect("endpoint");
    let ticketed = app
        .http
        .get(app.url(&format!("{endpoint}/s3/params?filename=a.png")))
        .send()
        .await
        .expect("GET");

    // Assert
    assert_eq!(refused, 401, "{body}");
    assert_eq!(ticketed.status(), 200);
}
