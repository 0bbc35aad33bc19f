//! Presigned POST forms (`storage::direct`), sent as a browser sends them: `multipart/form-data` to the bucket's
//! URL, the signed fields in order, then the file. What a form stores is checked on the app's store (the
//! embedded one, or `TEST_S3_ENDPOINT`'s); refusals on the embedded store only: moto 5.2.5 checks nothing of a
//! form (signature, expiration, conditions, `content-length-range`) and stores whatever it is sent.

use std::time::{Duration, SystemTime};

use s3_upload_server::storage::direct::{PostPolicy, PresignedPost, presign_post, presign_post_at};
use s3_upload_server::storage::upload::ObjectSpec;

use crate::helpers::{TestApp, pattern, spawn_app, spawn_app_with, spawn_embedded_app_with};

const CONTENT_TYPE: &str = "image/png";
const DISPOSITION: &str = "inline; filename*=UTF-8''%EC%8A%A4%ED%81%AC%EB%A6%B0%EC%83%B7.png";
const MAX_SIZE: u64 = 64 * 1024;

fn policy(app: &TestApp, key: &str, ttl: Duration) -> PostPolicy {
    PostPolicy {
        object: ObjectSpec {
            key: key.to_owned(),
            content_type: CONTENT_TYPE.to_owned(),
            content_disposition: DISPOSITION.to_owned(),
        },
        max_size: MAX_SIZE,
        ttl,
        options: app.state.uploader.options().clone(),
    }
}

async fn sign(app: &TestApp, key: &str) -> PresignedPost {
    presign_post(
        &app.state.bucket,
        &policy(app, key, Duration::from_secs(300)),
    )
    .await
    .expect("signed")
}

/// POSTs `form`'s fields in order, with `changed` values instead of the signed ones (and after them, those of
/// `changed` the form does not have), then `file`.
async fn send(
    app: &TestApp,
    form: &PresignedPost,
    changed: &[(&str, &str)],
    file: Vec<u8>,
) -> reqwest::Response {
    let mut body = reqwest::multipart::Form::new();
    for (name, value) in &form.fields {
        let value = changed
            .iter()
            .find(|(changed, _)| changed == name)
            .map_or(value.as_str(), |(_, value)| value);
        body = body.text(name.clone(), value.to_owned());
    }
    for (name, value) in changed {
        if form.field(name).is_none() {
            body = body.text((*name).to_owned(), (*value).to_owned());
        }
    }
    let file = reqwest::multipart::Part::bytes(file)
        .file_name("스크린샷.png")
        .mime_str(CONTENT_TYPE)
        .expect("a MIME type");
    app.http
        .post(&form.url)
        .multipart(body.part("file", file))
        .send()
        .await
        .expect("the store answers")
}

/// The status and the S3 error code of a refusal, printed for the record (`--nocapture`).
async fn refusal(case: &str, response: reqwest::Response) -> (u16, String) {
    let status = response.status().as_u16();
    let body = response.text().await.unwrap_or_default();
    let code = body
        .split_once("<Code>")
        .and_then(|(_, rest)| rest.split_once("</Code>"))
        .map_or_else(String::new, |(code, _)| code.to_owned());
    eprintln!("{case}: {status} {code} ({body})");
    (status, code)
}

#[tokio::test]
async fn a_signed_form_stores_the_file_as_signed() {
    // Arrange
    let app = spawn_app().await;
    let key = "direct/스크린샷 1.png";
    let form = sign(&app, key).await;
    let bytes = pattern(40_000);

    // Act
    let response = send(&app, &form, &[], bytes.clone()).await;

    // Assert
    assert_eq!(response.status().as_u16(), 204, "S3's default answer");
    assert_eq!(app.object_bytes(key).await, bytes);
    let head = app
        .s3
        .head_object()
        .bucket(&app.bucket)
        .key(key)
        .send()
        .await
        .expect("head");
    assert_eq!(head.content_type(), Some(CONTENT_TYPE));
    assert_eq!(head.content_disposition(), Some(DISPOSITION));
    assert_eq!(head.content_length(), Some(40_000));
    app.assert_bucket_holds(1).await;
}

#[tokio::test]
async fn the_object_options_are_stored_with_the_file() {
    // Arrange
    let app = spawn_app_with(&[
        ("CACHE_CONTROL", "public, max-age=31536000, immutable"),
        ("OBJECT_METADATA", "team=web"),
    ])
    .await;
    let form = sign(&app, "direct/options.png").await;

    // Act
    let response = send(&app, &form, &[], pattern(100)).await;

    // Assert
    assert_eq!(response.status().as_u16(), 204);
    let head = app
        .s3
        .head_object()
        .bucket(&app.bucket)
        .key("direct/options.png")
        .send()
        .await
        .expect("head");
    assert_eq!(
        head.cache_control(),
        Some("public, max-age=31536000, immutable")
    );
    assert_eq!(
        head.metadata()
            .and_then(|m| m.get("team"))
            .map(String::as_str),
        Some("web")
    );
}

#[tokio::test]
async fn another_key_is_refused_and_nothing_is_stored() {
    // Arrange
    // On the embedded store: moto 5.2.5 checks nothing of a form (signature, expiration, conditions).
    let app = spawn_embedded_app_with(&[]).await;
    let form = sign(&app, "direct/signed.png").await;

    // Act
    let response = send(&app, &form, &[("key", "direct/other.png")], pattern(100)).await;

    // Assert
    let (status, _) = refusal("another key", response).await;
    assert!((400..500).contains(&status), "refused: {status}");
    app.assert_bucket_holds(0).await;
}

#[tokio::test]
async fn another_content_type_is_refused() {
    // Arrange
    // On the embedded store: moto 5.2.5 checks nothing of a form (signature, expiration, conditions).
    let app = spawn_embedded_app_with(&[]).await;
    let form = sign(&app, "direct/typed.png").await;

    // Act
    let response = send(&app, &form, &[("Content-Type", "text/html")], pattern(100)).await;

    // Assert
    let (status, _) = refusal("another Content-Type", response).await;
    assert!((400..500).contains(&status), "refused: {status}");
    app.assert_bucket_holds(0).await;
}

#[tokio::test]
async fn a_field_the_policy_does_not_name_is_refused() {
    // Arrange
    // On the embedded store: moto 5.2.5 checks nothing of a form (signature, expiration, conditions).
    let app = spawn_embedded_app_with(&[]).await;
    let form = sign(&app, "direct/extra.png").await;

    // Act: a form that would make the object public.
    let response = send(&app, &form, &[("acl", "public-read")], pattern(100)).await;

    // Assert
    let (status, _) = refusal("a field the policy does not name", response).await;
    assert!((400..500).contains(&status), "refused: {status}");
    app.assert_bucket_holds(0).await;
}

#[tokio::test]
async fn a_file_over_the_signed_size_is_refused() {
    // Arrange
    // On the embedded store: moto 5.2.5 checks nothing of a form (signature, expiration, conditions).
    let app = spawn_embedded_app_with(&[]).await;
    let form = sign(&app, "direct/large.png").await;
    let too_large = usize::try_from(MAX_SIZE).expect("small") + 1;

    // Act
    let response = send(&app, &form, &[], pattern(too_large)).await;

    // Assert
    let (status, _) = refusal("a file over max_size", response).await;
    assert!((400..500).contains(&status), "refused: {status}");
    app.assert_bucket_holds(0).await;
}

#[tokio::test]
async fn an_expired_form_is_refused() {
    // Arrange: signed five minutes ago for one minute (an `x-amz-date` well within any store's clock skew, so
    // that only the policy's expiration refuses it).
    // On the embedded store: moto 5.2.5 checks nothing of a form (signature, expiration, conditions).
    let app = spawn_embedded_app_with(&[]).await;
    let five_minutes_ago = SystemTime::now() - Duration::from_secs(300);
    let policy = policy(&app, "direct/late.png", Duration::from_secs(60));
    let form = presign_post_at(&app.state.bucket, &policy, five_minutes_ago)
        .await
        .expect("signed");

    // Act
    let response = send(&app, &form, &[], pattern(100)).await;

    // Assert
    let (status, _) = refusal("an expired form", response).await;
    assert!((400..500).contains(&status), "refused: {status}");
    app.assert_bucket_holds(0).await;
}

#[tokio::test]
async fn a_form_works_until_its_expiration_even_after_fifteen_minutes() {
    // Arrange: S3 checks a form's policy expiration, not the 15 minutes of skew it allows signed requests.
    let app = spawn_app_with(&[("DIRECT_URL_TTL_SECS", "3600")]).await;
    let twenty_minutes_ago = SystemTime::now() - Duration::from_secs(1200);
    let ttl = app.state.config.direct_url_ttl;
    let policy = policy(&app, "direct/slow.png", ttl);
    let form = presign_post_at(&app.state.bucket, &policy, twenty_minutes_ago)
        .await
        .expect("signed");

    // Act
    let response = send(&app, &form, &[], pattern(100)).await;

    // Assert
    let status = response.status().as_u16();
    let body = response.text().await.unwrap_or_default();
    assert_eq!(status, 204, "{body}");
    assert_eq!(app.object_bytes("direct/slow.png").await, pattern(100));
}
