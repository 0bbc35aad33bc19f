//! The page, probes, public configuration, and the embedded store's access rules.

use crate::helpers::spawn_app;

#[tokio::test]
async fn index_page_is_served_as_utf8_html() {
    let app = spawn_app().await;
    let response = reqwest::get(app.url("/")).await.expect("GET /");
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "text/html; charset=utf-8"
    );
    let text = response.text().await.expect("body");
    assert!(text.contains("이미지 테스트"));
}

#[tokio::test]
async fn health_and_ready_answer_when_the_bucket_does() {
    let app = spawn_app().await;
    let health = reqwest::get(app.url("/health")).await.expect("GET /health");
    assert_eq!(health.status(), 200);
    let ready = reqwest::get(app.url("/ready")).await.expect("GET /ready");
    assert_eq!(ready.status(), 200);
}

#[tokio::test]
async fn config_describes_the_public_limits() {
    let app =
        crate::helpers::spawn_app_with(&[("MAX_FILE_SIZE", "12345"), ("MAX_FILES", "3")]).await;
    let config: serde_json::Value = reqwest::get(app.url("/config"))
        .await
        .expect("GET")
        .json()
        .await
        .expect("json");
    assert_eq!(config["fieldName"], "photos");
    assert_eq!(config["maxFileSize"], 12345);
    assert_eq!(config["maxFiles"], 3);
    assert_eq!(config["allowedTypes"], serde_json::json!([]));
    assert_eq!(config["uploadTokenRequired"], false);
    // The default threshold (16 MiB) is above this MAX_FILE_SIZE: the page never uses tus.
    assert_eq!(config["resumable"], serde_json::Value::Null);
    assert_eq!(
        config["direct"],
        serde_json::json!({ "defaultMode": "server", "partSize": 8388608, "ttlSeconds": 900 })
    );
}

#[tokio::test]
async fn config_tells_the_page_to_upload_direct_when_page_upload_mode_says_so() {
    let app = crate::helpers::spawn_app_with(&[
        ("PAGE_UPLOAD_MODE", "direct"),
        ("UPLOAD_PART_SIZE", "5242880"),
        ("DIRECT_URL_TTL_SECS", "600"),
    ])
    .await;
    let config: serde_json::Value = reqwest::get(app.url("/config"))
        .await
        .expect("GET")
        .json()
        .await
        .expect("json");
    assert_eq!(
        config["direct"],
        serde_json::json!({ "defaultMode": "direct", "partSize": 5242880, "ttlSeconds": 600 })
    );
}

#[tokio::test]
async fn config_says_from_which_size_the_page_resumes_and_in_whole_parts() {
    let app = crate::helpers::spawn_app_with(&[
        ("RESUMABLE_THRESHOLD", "1048576"),
        ("UPLOAD_PART_SIZE", "5242880"),
    ])
    .await;
    let config: serde_json::Value = reqwest::get(app.url("/config"))
        .await
        .expect("GET")
        .json()
        .await
        .expect("json");
    assert_eq!(
        config["resumable"],
        serde_json::json!({ "endpoint": "/files/", "threshold": 1048576, "chunkSize": 5242880 })
    );

    let default = crate::helpers::spawn_app().await;
    let config: serde_json::Value = reqwest::get(default.url("/config"))
        .await
        .expect("GET")
        .json()
        .await
        .expect("json");
    assert_eq!(config["resumable"]["threshold"], 16 * 1024 * 1024);
    assert_eq!(config["resumable"]["chunkSize"], 8 * 1024 * 1024);

    let off = crate::helpers::spawn_app_with(&[("RESUMABLE_THRESHOLD", "0")]).await;
    let config: serde_json::Value = reqwest::get(off.url("/config"))
        .await
        .expect("GET")
        .json()
        .await
        .expect("json");
    assert_eq!(config["resumable"], serde_json::Value::Null);
}

#[tokio::test]
async fn config_says_a_token_is_needed_without_showing_it() {
    let app = crate::helpers::spawn_app_with(&[
        ("UPLOAD_TOKEN", "tok-123"),
        ("ALLOWED_TYPES", "image/*"),
    ])
    .await;
    let text = reqwest::get(app.url("/config"))
        .await
        .expect("GET")
        .text()
        .await
        .expect("body");
    let config: serde_json::Value = serde_json::from_str(&text).expect("json");
    assert_eq!(config["uploadTokenRequired"], true);
    assert_eq!(config["allowedTypes"], serde_json::json!(["image/*"]));
    assert!(!text.contains("tok-123"), "{text}");
}

#[tokio::test]
async fn every_answer_carries_a_request_id() {
    let app = spawn_app().await;
    let response = reqwest::get(app.url("/health")).await.expect("GET");
    assert!(response.headers().contains_key("x-request-id"));
}

#[tokio::test]
async fn embedded_store_refuses_anonymous_writes_and_listing() {
    // About the embedded store itself (a moto server accepts anonymous writes): it runs whatever
    // TEST_S3_ENDPOINT says.
    let app = crate::helpers::spawn_embedded_app_with(&[]).await;
    let location = {
        let form = reqwest::multipart::Form::new().part(
            "photos",
            crate::helpers::file_part(b"x".to_vec(), "a.txt", "text/plain"),
        );
        let files: serde_json::Value = app.upload(form).await.json().await.expect("json");
        files[0]["location"].as_str().unwrap_or_default().to_owned()
    };
    let bucket_url = location
        .rsplitn(3, '/')
        .nth(2)
        .expect("bucket URL")
        .to_owned();
    let put = app
        .http
        .put(format!("{bucket_url}/evil.txt"))
        .body("x")
        .send()
        .await
        .expect("PUT");
    assert_eq!(put.status(), 403);
    let list = app.http.get(&bucket_url).send().await.expect("GET bucket");
    assert_eq!(list.status(), 403);
    let delete = app.http.delete(&location).send().await.expect("DELETE");
    assert_eq!(delete.status(), 403);
    app.assert_bucket_holds(1).await;
}

#[tokio::test]
async fn unknown_paths_and_methods_answer_json() {
    let app = spawn_app().await;
    let missing = reqwest::get(app.url("/nope")).await.expect("GET");
    assert_eq!(missing.status(), 404);
    let body: serde_json::Value = missing.json().await.expect("json");
    assert_eq!(body["error"]["code"], "NOT_FOUND");
    let wrong = app
        .http
        .get(app.url("/upload"))
        .send()
        .await
        .expect("GET /upload");
    assert_eq!(wrong.status(), 405);
    let body: serde_json::Value = wrong.json().await.expect("json");
    assert_eq!(body["error"]["code"], "METHOD_NOT_ALLOWED");
}
