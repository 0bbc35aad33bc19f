//! Production settings: upload token, CORS, type allowlist, presigned URLs, and multer-s3's object options.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use hyper::HeaderMap;
use reqwest::multipart::Form;
use serde_json::Value;

use crate::helpers::{TestApp, error_answer, file_part, png, spawn_app, spawn_app_with};
use crate::proxy::{FaultProxy, is_put_object};

fn png_form() -> Form {
    Form::new().part("photos", file_part(png(), "사진.png", "image/png"))
}

#[tokio::test]
async fn upload_token_is_required_when_set() {
    let app = spawn_app_with(&[("UPLOAD_TOKEN", "s3cr3t-token")]).await;

    let (status, body) = error_answer(app.upload(png_form()).await).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (401, Some("UNAUTHORIZED"))
    );
    let wrong = app
        .http
        .post(app.url("/upload"))
        .bearer_auth("s3cr3t-tokeN")
        .multipart(png_form())
        .send()
        .await
        .expect("POST");
    assert_eq!(wrong.status(), 401);
    assert_eq!(wrong.headers()["www-authenticate"], "Bearer");
    app.assert_bucket_holds(0).await;

    let right = app
        .http
        .post(app.url("/upload"))
        .bearer_auth("s3cr3t-token")
        .multipart(png_form())
        .send()
        .await
        .expect("POST");
    assert_eq!(right.status(), 200);
    app.assert_bucket_holds(1).await;
    // The page and the probes stay open.
    assert_eq!(
        reqwest::get(app.url("/health"))
            .await
            .expect("GET")
            .status(),
        200
    );
}

async fn preflight(app: &TestApp, origin: &str) -> reqwest::Response {
    app.http
        .request(reqwest::Method::OPTIONS, app.url("/upload"))
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "authorization")
        .send()
        .await
        .expect("OPTIONS")
}

#[tokio::test]
async fn cors_allows_only_the_configured_origins() {
    let app = spawn_app_with(&[("CORS_ALLOWED_ORIGINS", "https://app.example")]).await;
    let allowed = preflight(&app, "https://app.example").await;
    assert_eq!(
        allowed.headers()["access-control-allow-origin"],
        "https://app.example"
    );
    let other = preflight(&app, "https://evil.example").await;
    assert!(!other.headers().contains_key("access-control-allow-origin"));
}

#[tokio::test]
async fn cors_is_off_by_default() {
    let app = spawn_app().await;
    let response = preflight(&app, "https://app.example").await;
    assert!(
        !response
            .headers()
            .contains_key("access-control-allow-origin")
    );
    let upload = app
        .http
        .post(app.url("/upload"))
        .header("origin", "https://app.example")
        .multipart(png_form())
        .send()
        .await
        .expect("POST");
    assert!(!upload.headers().contains_key("access-control-allow-origin"));
}

#[tokio::test]
async fn allowed_types_are_judged_by_bytes_not_by_the_claim() {
    let app = spawn_app_with(&[("ALLOWED_TYPES", "image/*")]).await;
    assert_eq!(app.upload(png_form()).await.status(), 200);

    // A page claiming to be a PNG, named like one.
    let disguised = Form::new().part(
        "photos",
        file_part(
            b"<html><script>alert(1)</script></html>".to_vec(),
            "cat.png",
            "image/png",
        ),
    );
    let (status, body) = error_answer(app.upload(disguised).await).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (415, Some("LIMIT_FILE_TYPE"))
    );
    assert_eq!(body["error"]["file"], "cat.png");
    assert_eq!(body["error"]["field"], "photos");

    let text = Form::new().part(
        "photos",
        file_part(b"hello".to_vec(), "a.txt", "text/plain"),
    );
    let (status, _) = error_answer(app.upload(text).await).await;
    assert_eq!(status, 415);
    app.assert_bucket_holds(1).await;
}

#[tokio::test]
async fn presigned_mode_returns_a_signed_url_that_opens() {
    let app = spawn_app_with(&[("URL_MODE", "presigned"), ("PRESIGNED_URL_TTL_SECS", "600")]).await;
    let files: Value = app.upload(png_form()).await.json().await.expect("json");
    let location = files[0]["location"].as_str().expect("location");
    assert!(location.contains("X-Amz-Signature="), "{location}");
    assert!(location.contains("X-Amz-Expires=600"), "{location}");
    let got = reqwest::get(location).await.expect("GET");
    assert_eq!(got.status(), 200);
    assert_eq!(got.bytes().await.expect("bytes").as_ref(), png().as_slice());
}

#[tokio::test]
async fn object_options_are_sent_with_every_object_and_answered() {
    // The store is reached through a recording proxy, to see the headers S3 receives.
    let store = spawn_app().await;
    let upstream = store.endpoint.clone().expect("the store's endpoint");
    let proxy = FaultProxy::start(&upstream, SocketAddr::from(([127, 0, 0, 1], 0))).await;
    let seen: Arc<Mutex<Vec<HeaderMap>>> = Arc::default();
    let record = Arc::clone(&seen);
    proxy.set_rule(move |request| {
        if is_put_object(request) {
            record.lock().expect("lock").push(request.headers().clone());
        }
        None
    });
    let app = spawn_app_with(&[
        ("AWS_S3_BUCKET", store.bucket.as_str()),
        ("AWS_ACCESS_KEY_ID", "embedded-access-key"),
        ("AWS_SECRET_ACCESS_KEY", "embedded-secret-key"),
        ("AWS_ENDPOINT_URL", &proxy.endpoint),
        ("CACHE_CONTROL", "public, max-age=31536000, immutable"),
        ("STORAGE_CLASS", "REDUCED_REDUNDANCY"),
        ("SERVER_SIDE_ENCRYPTION", "AES256"),
        ("OBJECT_METADATA", "team=웹팀,source=upload-server"),
    ])
    .await;

    let response = app.upload(png_form()).await;
    assert_eq!(response.status(), 200);
    let files: Value = response.json().await.expect("json");

    assert_eq!(files[0]["storageClass"], "REDUCED_REDUNDANCY");
    assert_eq!(files[0]["metadata"]["team"], "웹팀");
    assert_eq!(files[0]["metadata"]["source"], "upload-server");
    let headers = seen
        .lock()
        .expect("lock")
        .pop()
        .expect("a PutObject went through the proxy");
    assert_eq!(
        headers["cache-control"],
        "public, max-age=31536000, immutable"
    );
    assert_eq!(headers["x-amz-storage-class"], "REDUCED_REDUNDANCY");
    assert_eq!(headers["x-amz-server-side-encryption"], "AES256");
    assert_eq!(headers["x-amz-meta-source"], "upload-server");
    // S3 headers are ASCII: the Korean value travels RFC 2047-encoded.
    assert_eq!(headers["x-amz-meta-team"], "=?UTF-8?B?7Ju57YyA?=");
    assert!(
        headers.get("x-amz-acl").is_none(),
        "no ACL unless OBJECT_ACL is set"
    );

    let key = files[0]["key"].as_str().expect("key");
    let head = store
        .s3
        .head_object()
        .bucket(&store.bucket)
        .key(key)
        .send()
        .await
        .expect("head");
    assert_eq!(
        head.cache_control(),
        Some("public, max-age=31536000, immutable")
    );
}
