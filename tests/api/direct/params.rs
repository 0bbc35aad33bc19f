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
    let endpoint = super::ticket_endpoint(&app, "s3cret").await;
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

#[tokio::test]
async fn a_form_whose_file_holds_cr_bytes_is_stored() {
    // Arrange: the form's body written by hand and sent in frames whose first ends with a CR byte of the file,
    // the next one 192 KiB. s3s 0.14.1 refuses a form whose body reaches it so ("failed to read file stream");
    // through loopback TCP the server's reads do not keep these frames, so this passes without the fix too:
    // the benchmark's 500 forms of 1 MiB are what showed it (embedded/rechunk.rs), this is the plain case.
    let app = spawn_app().await;
    let (_, signed) = params(&app, "filename=photo.bin").await;
    let url = signed["url"].as_str().expect("url").to_owned();
    let boundary = "----form-boundary-7c1f";
    let mut head = Vec::new();
    for (name, value) in signed["fields"].as_object().expect("fields") {
        let value = value.as_str().expect("text");
        head.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            )
            .as_bytes(),
        );
    }
    head.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"photo.bin\"\r\n\
             Content-Type: application/octet-stream\r\n\r\n"
        )
        .as_bytes(),
    );
    let mut file = vec![b'a'; 512 * 1024];
    file[1000] = b'\r';
    let tail = format!("\r\n--{boundary}--\r\n").into_bytes();
    let mut first = head.clone();
    first.extend_from_slice(&file[..1001]);
    let mut frames = vec![first];
    for chunk in file[1001..].chunks(192 * 1024) {
        frames.push(chunk.to_vec());
    }
    frames.push(tail);
    let length: usize = frames.iter().map(Vec::len).sum();
    let stream = futures_util::stream::iter(frames.into_iter().map(Ok::<_, std::io::Error>));

    // Act
    let posted = reqwest::Client::new()
        .post(&url)
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .header("content-length", length)
        .body(reqwest::Body::wrap_stream(stream))
        .send()
        .await
        .expect("POST the form");

    // Assert
    let status = posted.status();
    let body = posted.text().await.unwrap_or_default();
    assert!(status.is_success(), "{status}: {body}");
    let key = signed["fields"]["key"].as_str().expect("key");
    assert!(app.object_bytes(key).await == file);
}
