//! The store as the server's page reaches it for direct uploads (issue 13): preflights answered for the page's
//! origin and no other, a presigned part PUT whose ETag the page can read, and refusals the page can read too,
//! since CORS never stands in for a signature.

use std::time::Duration;

use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use reqwest::Method;
use reqwest::multipart::{Form, Part};

use crate::helpers::{TestApp, spawn_embedded_app_with};

const ALLOW_ORIGIN: &str = "access-control-allow-origin";
const ALLOW_METHODS: &str = "access-control-allow-methods";
const ALLOW_HEADERS: &str = "access-control-allow-headers";
const EXPOSE_HEADERS: &str = "access-control-expose-headers";

fn store_url(app: &TestApp, path: &str) -> String {
    let endpoint = app.endpoint.as_deref().expect("the embedded store");
    format!("{endpoint}/{}{path}", app.bucket)
}

/// A browser's preflight from `origin` for `method` to `url`.
async fn preflight(url: &str, origin: &str, method: &str, headers: &str) -> reqwest::Response {
    reqwest::Client::new()
        .request(Method::OPTIONS, url)
        .header("origin", origin)
        .header("access-control-request-method", method)
        .header("access-control-request-headers", headers)
        .send()
        .await
        .expect("the store answers")
}

fn header<'a>(answer: &'a reqwest::Response, name: &str) -> Option<&'a str> {
    answer
        .headers()
        .get(name)
        .map(|v| v.to_str().expect("ASCII"))
}

#[tokio::test]
async fn the_pages_preflights_for_part_puts_and_form_posts_are_allowed() {
    // Arrange: the tests' server listens on 127.0.0.1, on a port chosen at bind time.
    let app = spawn_embedded_app_with(&[]).await;
    let part_url = store_url(&app, "/a.bin?partNumber=1&uploadId=x");
    let form_url = store_url(&app, "/");

    for origin in [app.addr.clone(), app.addr.replace("127.0.0.1", "localhost")] {
        // Act
        let put = preflight(&part_url, &origin, "PUT", "content-type").await;
        let post = preflight(&form_url, &origin, "POST", "").await;

        // Assert
        for answer in [&put, &post] {
            assert_eq!(answer.status(), 200, "{origin}");
            assert_eq!(header(answer, ALLOW_ORIGIN), Some(origin.as_str()));
            assert_eq!(header(answer, ALLOW_METHODS), Some("GET, HEAD, PUT, POST"));
            assert!(header(answer, "access-control-max-age").is_some());
            assert!(header(answer, "vary").is_some_and(|v| v.contains("Origin")));
        }
        assert_eq!(header(&put, ALLOW_HEADERS), Some("content-type"));
    }
}

#[tokio::test]
async fn preflights_from_other_origins_are_refused_with_no_allow_headers() {
    let app = spawn_embedded_app_with(&[]).await;
    let url = store_url(&app, "/a.bin");
    let other_port = format!("http://127.0.0.1:{}", app_port(&app).wrapping_add(1));

    for origin in ["http://evil.example", other_port.as_str()] {
        let answer = preflight(&url, origin, "PUT", "content-type").await;

        assert_eq!(answer.status(), 403, "{origin}");
        assert_eq!(header(&answer, ALLOW_ORIGIN), None, "{origin}");
        assert_eq!(header(&answer, ALLOW_METHODS), None, "{origin}");
    }
}

fn app_port(app: &TestApp) -> u16 {
    app.addr
        .rsplit(':')
        .next()
        .and_then(|port| port.parse().ok())
        .expect("the server's port")
}

#[tokio::test]
async fn cors_allowed_origins_may_preflight_the_store_too() {
    let app = spawn_embedded_app_with(&[("CORS_ALLOWED_ORIGINS", "https://app.example.com")]).await;

    let answer = preflight(
        &store_url(&app, "/a.bin"),
        "https://app.example.com",
        "PUT",
        "content-type, x-amz-checksum-crc32",
    )
    .await;

    assert_eq!(answer.status(), 200);
    assert_eq!(
        header(&answer, ALLOW_ORIGIN),
        Some("https://app.example.com")
    );
    assert_eq!(
        header(&answer, ALLOW_HEADERS),
        Some("content-type, x-amz-checksum-crc32")
    );
}

#[tokio::test]
async fn a_presigned_part_put_from_the_page_exposes_its_etag_and_completes() {
    // Arrange: a multipart upload, and a part URL signed as the server will sign it for the page.
    let app = spawn_embedded_app_with(&[]).await;
    let key = "direct/part.bin";
    let created = app
        .s3
        .create_multipart_upload()
        .bucket(&app.bucket)
        .key(key)
        .send()
        .await
        .expect("create the multipart upload");
    let upload_id = created.upload_id().expect("an upload id");
    let presigned = app
        .s3
        .upload_part()
        .bucket(&app.bucket)
        .key(key)
        .upload_id(upload_id)
        .part_number(1)
        .presigned(PresigningConfig::expires_in(Duration::from_secs(300)).expect("a TTL"))
        .await
        .expect("presign the part");
    let body = b"the page's bytes, sent straight to the store".to_vec();

    // Act: the browser's PUT, with its Origin.
    let mut put = reqwest::Client::new()
        .put(presigned.uri())
        .header("origin", &app.addr)
        .body(body.clone());
    for (name, value) in presigned.headers() {
        put = put.header(name, value);
    }
    let answer = put.send().await.expect("the store answers");

    // Assert: the page can read the ETag, and it completes the upload.
    let status = answer.status();
    let etag = header(&answer, "etag").map(str::to_owned);
    assert_eq!(status, 200, "{}", answer.text().await.unwrap_or_default());
    assert_eq!(header(&answer, ALLOW_ORIGIN), Some(app.addr.as_str()));
    assert!(
        header(&answer, EXPOSE_HEADERS).is_some_and(|v| v.contains("ETag")),
        "{:?}",
        answer.headers()
    );
    let etag = etag.expect("an ETag");
    app.s3
        .complete_multipart_upload()
        .bucket(&app.bucket)
        .key(key)
        .upload_id(upload_id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .parts(CompletedPart::builder().part_number(1).e_tag(etag).build())
                .build(),
        )
        .send()
        .await
        .expect("complete with the page's ETag");
    let stored = app
        .s3
        .get_object()
        .bucket(&app.bucket)
        .key(key)
        .send()
        .await
        .expect("the object")
        .body
        .collect()
        .await
        .expect("its bytes")
        .into_bytes();
    assert_eq!(stored.as_ref(), body.as_slice());
}

#[tokio::test]
async fn unsigned_writes_from_the_page_are_still_refused_and_the_page_can_read_why() {
    let app = spawn_embedded_app_with(&[]).await;
    let client = reqwest::Client::new();

    let put = client
        .put(store_url(&app, "/unsigned.bin"))
        .header("origin", &app.addr)
        .body("no signature")
        .send()
        .await
        .expect("the store answers");
    // A form POST with no policy and no signature: s3s's PostObject, refused to anonymous callers.
    let form = Form::new().text("key", "unsigned-form.bin").part(
        "file",
        Part::bytes(b"no policy".to_vec()).file_name("a.bin"),
    );
    let post = client
        .post(store_url(&app, "/"))
        .header("origin", &app.addr)
        .multipart(form)
        .send()
        .await
        .expect("the store answers");

    for answer in [put, post] {
        let allow_origin = header(&answer, ALLOW_ORIGIN).map(str::to_owned);
        let status = answer.status();
        let text = answer.text().await.unwrap_or_default();
        assert_eq!(status, 403, "{text}");
        assert!(text.contains("AccessDenied"), "{text}");
        assert_eq!(allow_origin.as_deref(), Some(app.addr.as_str()));
    }
    for key in ["unsigned.bin", "unsigned-form.bin"] {
        let head = app
            .s3
            .head_object()
            .bucket(&app.bucket)
            .key(key)
            .send()
            .await;
        assert!(head.is_err(), "{key} was stored");
    }
}
