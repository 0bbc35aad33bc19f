//! Every bad input gets a JSON error with a stable code and the right status, and leaves nothing behind.

use reqwest::multipart::Form;

use crate::helpers::{
    error_answer, file_part, pattern, png, spawn_app, spawn_app_with, spawn_embedded_app_with,
};

#[tokio::test]
async fn wrong_field_name_is_400_limit_unexpected_file() {
    let app = spawn_app().await;
    let (status, body) = error_answer(
        app.upload(Form::new().part("photo", file_part(png(), "a.png", "image/png")))
            .await,
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["code"], "LIMIT_UNEXPECTED_FILE");
    assert_eq!(body["error"]["field"], "photo");
    app.assert_bucket_holds(0).await;
}

#[tokio::test]
async fn no_file_is_400_no_file() {
    let app = spawn_app().await;
    let (status, body) =
        error_answer(app.upload(Form::new().text("title", "no file here")).await).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["code"], "NO_FILE");
}

#[tokio::test]
async fn not_multipart_is_415() {
    let app = spawn_app().await;
    let (status, body) = error_answer(app.upload_raw("application/json", "{}").await).await;
    assert_eq!(status, 415);
    assert_eq!(body["error"]["code"], "UNSUPPORTED_MEDIA_TYPE");
    let response = app
        .http
        .post(app.url("/upload"))
        .body("x")
        .send()
        .await
        .expect("POST");
    let (status, _) = error_answer(response).await;
    assert_eq!(
        status, 415,
        "a missing Content-Type is not multipart either"
    );
}

#[tokio::test]
async fn multipart_without_boundary_is_400() {
    let app = spawn_app().await;
    let (status, body) = error_answer(app.upload_raw("multipart/form-data", "x").await).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["code"], "MALFORMED_MULTIPART");
}

#[tokio::test]
async fn truncated_body_is_400_and_stores_nothing() {
    let app = spawn_app().await;
    let body =
        "--x\r\nContent-Disposition: form-data; name=\"photos\"; filename=\"a.txt\"\r\n\r\nhello";
    let (status, body) = error_answer(
        app.upload_raw("multipart/form-data; boundary=x", body)
            .await,
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["code"], "MALFORMED_MULTIPART");
    assert_eq!(body["error"]["file"], "a.txt");
    app.assert_bucket_holds(0).await;
}

#[tokio::test]
async fn part_without_field_name_is_400_missing_field_name() {
    let app = spawn_app().await;
    let body =
        "--x\r\nContent-Disposition: form-data; filename=\"a.txt\"\r\n\r\nhello\r\n--x--\r\n";
    let (status, body) = error_answer(
        app.upload_raw("multipart/form-data; boundary=x", body)
            .await,
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["code"], "MISSING_FIELD_NAME");
}

#[tokio::test]
async fn file_over_the_size_limit_is_413_and_leaves_nothing() {
    let app = spawn_app_with(&[("MAX_FILE_SIZE", "1000")]).await;
    let form = Form::new().part(
        "photos",
        file_part(pattern(1001), "big.bin", "application/octet-stream"),
    );
    let (status, body) = error_answer(app.upload(form).await).await;
    assert_eq!(status, 413);
    assert_eq!(body["error"]["code"], "LIMIT_FILE_SIZE");
    assert_eq!(body["error"]["field"], "photos");
    assert_eq!(body["error"]["file"], "big.bin");
    app.assert_bucket_holds(0).await;
}

#[tokio::test]
async fn multipart_file_over_the_limit_is_aborted_and_leaves_no_upload() {
    // The limit is crossed after two parts have been sent: the multipart upload must be aborted.
    let app = spawn_app_with(&[("MAX_FILE_SIZE", &(17 * 1024 * 1024).to_string())]).await;
    let form = Form::new().part(
        "photos",
        file_part(
            pattern(18 * 1024 * 1024),
            "big.bin",
            "application/octet-stream",
        ),
    );
    let (status, body) = error_answer(app.upload(form).await).await;
    assert_eq!(status, 413);
    assert_eq!(body["error"]["code"], "LIMIT_FILE_SIZE");
    app.assert_bucket_holds(0).await;
}

#[tokio::test]
async fn too_many_files_is_413_and_the_stored_ones_are_deleted() {
    let app = spawn_app_with(&[("MAX_FILES", "2")]).await;
    let form = Form::new()
        .part("photos", file_part(png(), "1.png", "image/png"))
        .part("photos", file_part(png(), "2.png", "image/png"))
        .part("photos", file_part(png(), "3.png", "image/png"));
    let (status, body) = error_answer(app.upload(form).await).await;
    assert_eq!(status, 413);
    assert_eq!(body["error"]["code"], "LIMIT_FILE_COUNT");
    app.assert_bucket_holds(0).await;
}

#[tokio::test]
async fn a_failing_second_file_removes_the_first() {
    let app = spawn_app_with(&[("MAX_FILE_SIZE", "100")]).await;
    let form = Form::new()
        .part(
            "photos",
            file_part(b"small".to_vec(), "ok.txt", "text/plain"),
        )
        .part(
            "photos",
            file_part(pattern(101), "too-big.bin", "application/octet-stream"),
        );
    let (status, body) = error_answer(app.upload(form).await).await;
    assert_eq!(status, 413);
    assert_eq!(body["error"]["file"], "too-big.bin");
    app.assert_bucket_holds(0).await;
}

#[tokio::test]
async fn text_field_limits_use_multer_codes() {
    let app = spawn_app_with(&[("MAX_FIELD_SIZE", "10"), ("MAX_FIELDS", "1")]).await;
    let (status, body) =
        error_answer(app.upload(Form::new().text("note", "x".repeat(11))).await).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (413, Some("LIMIT_FIELD_VALUE"))
    );
    let (status, body) =
        error_answer(app.upload(Form::new().text("a", "1").text("b", "2")).await).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (413, Some("LIMIT_FIELD_COUNT"))
    );
    let (status, body) =
        error_answer(app.upload(Form::new().text("k".repeat(101), "1")).await).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (413, Some("LIMIT_FIELD_KEY"))
    );
}

#[tokio::test]
async fn unreachable_store_is_503_store_unavailable() {
    // A bucket on an endpoint where nothing listens (a port just freed).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let endpoint = format!("http://127.0.0.1:{port}");
    let app = spawn_app_with(&[
        ("AWS_S3_BUCKET", "nowhere"),
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
        ("AWS_ENDPOINT_URL", &endpoint),
        ("S3_TIMEOUT_SECS", "2"),
    ])
    .await;
    let (status, body) = error_answer(
        app.upload(Form::new().part("photos", file_part(png(), "a.png", "image/png")))
            .await,
    )
    .await;
    assert_eq!(status, 503);
    assert_eq!(body["error"]["code"], "STORE_UNAVAILABLE");
    let ready = reqwest::get(app.url("/ready")).await.expect("GET /ready");
    assert_eq!(ready.status(), 503);
}

#[tokio::test]
async fn wrong_keys_are_502_store_access_denied() {
    // The embedded store checks every signature (a moto server, for one, accepts any key), so it is the store
    // here whatever TEST_S3_ENDPOINT says.
    let store = spawn_embedded_app_with(&[]).await;
    let endpoint = store.endpoint.clone().expect("embedded endpoint");
    let app = spawn_app_with(&[
        ("AWS_S3_BUCKET", &store.bucket),
        ("AWS_ACCESS_KEY_ID", "embedded-access-key"),
        ("AWS_SECRET_ACCESS_KEY", "wrong-secret"),
        ("AWS_ENDPOINT_URL", &endpoint),
    ])
    .await;
    let (status, body) = error_answer(
        app.upload(Form::new().part("photos", file_part(png(), "a.png", "image/png")))
            .await,
    )
    .await;
    assert_eq!(status, 502);
    assert_eq!(body["error"]["code"], "STORE_ACCESS_DENIED");
    store.assert_bucket_holds(0).await;
}

#[tokio::test]
async fn empty_field_name_is_400_missing_field_name() {
    let app = spawn_app().await;
    let body = "--x\r\nContent-Disposition: form-data; name=\"\"; filename=\"a.txt\"\r\n\r\nhello\r\n--x--\r\n";
    let (status, body) = error_answer(
        app.upload_raw("multipart/form-data; boundary=x", body)
            .await,
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["code"], "MISSING_FIELD_NAME");
    app.assert_bucket_holds(0).await;
}

#[tokio::test]
async fn non_utf8_file_name_is_stored_safely_with_replacement_characters() {
    let app = spawn_app().await;
    let mut body = b"--x\r\nContent-Disposition: form-data; name=\"photos\"; filename=\"\xbb\xe7\xc1\xf8.png\"\r\n\r\n".to_vec();
    body.extend_from_slice(b"hello\r\n--x--\r\n");
    let response = app
        .upload_raw("multipart/form-data; boundary=x", body)
        .await;
    assert_eq!(response.status(), 200);
    let files: serde_json::Value = response.json().await.expect("json");
    // EUC-KR bytes of "사진" are not UTF-8: each invalid sequence becomes U+FFFD, never a crash or mojibake key.
    let name = files[0]["originalname"].as_str().expect("name");
    assert!(
        name.ends_with(".png") && name.contains('\u{FFFD}'),
        "{name}"
    );
    let key = files[0]["key"].as_str().expect("key");
    assert!(key.ends_with("/_.png"), "{key}");
    app.assert_bucket_holds(1).await;
}
