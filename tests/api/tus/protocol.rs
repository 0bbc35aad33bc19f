//! The protocol around the uploads: discovery, the version check, the token, methods, CORS.

use reqwest::Method;

use super::{create, header, tus};
use crate::helpers::{error_answer, spawn_app, spawn_app_with};

#[tokio::test]
async fn options_advertises_version_extensions_and_max_size_without_a_token() {
    // Arrange
    let app = spawn_app_with(&[("UPLOAD_TOKEN", "tok-123"), ("MAX_FILE_SIZE", "4096")]).await;

    // Act
    let response = app
        .http
        .request(Method::OPTIONS, app.url("/files"))
        .send()
        .await
        .expect("OPTIONS /files");

    // Assert
    assert_eq!(response.status(), 204);
    assert_eq!(header(&response, "tus-resumable"), Some("1.0.0"));
    assert_eq!(header(&response, "tus-version"), Some("1.0.0"));
    assert_eq!(
        header(&response, "tus-extension"),
        Some("creation,creation-with-upload,creation-defer-length,termination,checksum,expiration")
    );
    assert_eq!(
        header(&response, "tus-checksum-algorithm"),
        Some("sha1,sha256")
    );
    assert_eq!(header(&response, "tus-max-size"), Some("4096"));
    assert_eq!(header(&response, "cache-control"), Some("no-store"));
    let on_an_upload = app
        .http
        .request(Method::OPTIONS, app.url("/files/anything"))
        .send()
        .await
        .expect("OPTIONS /files/<id>");
    assert_eq!(on_an_upload.status(), 204);
    app.assert_bucket_holds(0).await;
}

#[tokio::test]
async fn requests_without_tus_resumable_1_0_0_are_refused_with_412() {
    // Arrange
    let app = spawn_app().await;
    let upload = create(&app, 10, "a.png").await;

    // Act
    let missing = app
        .http
        .post(app.url("/files"))
        .header("upload-length", "10")
        .send()
        .await
        .expect("POST");
    let old = app
        .http
        .post(app.url("/files"))
        .header("tus-resumable", "0.2.2")
        .header("upload-length", "10")
        .send()
        .await
        .expect("POST");
    let delete = app
        .http
        .delete(app.url(&upload))
        .send()
        .await
        .expect("DELETE");
    let head = app
        .http
        .head(app.url(&upload))
        .header("tus-resumable", "2.0.0")
        .send()
        .await
        .expect("HEAD");
    let head_without = app.http.head(app.url(&upload)).send().await.expect("HEAD");

    // Assert
    for refused in [missing, old, delete] {
        assert_eq!(header(&refused, "tus-version"), Some("1.0.0"));
        assert_eq!(header(&refused, "tus-resumable"), Some("1.0.0"));
        let (status, body) = error_answer(refused).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (412, Some("TUS_VERSION_UNSUPPORTED"))
        );
    }
    assert_eq!(head.status(), 412);
    assert_eq!(head_without.status(), 200, "HEAD and GET may leave it out");
    assert_eq!(
        super::state_keys(&app).await.len(),
        1,
        "only the first upload"
    );
    app.assert_bucket_holds(1).await;
}

#[tokio::test]
async fn the_upload_token_is_required_except_for_options() {
    // Arrange
    let app = spawn_app_with(&[("UPLOAD_TOKEN", "tok-123")]).await;

    // Act
    let anonymous = tus(&app, Method::POST, "/files")
        .header("upload-length", "10")
        .send()
        .await
        .expect("POST");
    let wrong = tus(&app, Method::POST, "/files")
        .bearer_auth("tok-124")
        .header("upload-length", "10")
        .send()
        .await
        .expect("POST");
    let allowed = tus(&app, Method::POST, "/files")
        .bearer_auth("tok-123")
        .header("upload-length", "10")
        .send()
        .await
        .expect("POST");
    let path = super::location(&allowed);
    let head = tus(&app, Method::HEAD, &path).send().await.expect("HEAD");
    let delete = tus(&app, Method::DELETE, &path)
        .send()
        .await
        .expect("DELETE");

    // Assert
    assert_eq!(allowed.status(), 201);
    assert_eq!(head.status(), 401);
    assert_eq!(delete.status(), 401);
    for refused in [anonymous, wrong] {
        assert_eq!(header(&refused, "www-authenticate"), Some("Bearer"));
        assert_eq!(header(&refused, "tus-resumable"), Some("1.0.0"));
        let (status, body) = error_answer(refused).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (401, Some("UNAUTHORIZED"))
        );
    }
    app.assert_bucket_holds(1).await;
}

#[tokio::test]
async fn a_post_on_an_upload_needs_an_override() {
    // Arrange
    let app = spawn_app().await;
    let upload = create(&app, 10, "a.png").await;

    // Act
    let post = tus(&app, Method::POST, &upload).send().await.expect("POST");

    // Assert
    assert_eq!(
        header(&post, "allow"),
        Some("OPTIONS, HEAD, GET, PATCH, DELETE")
    );
    let (status, body) = error_answer(post).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (405, Some("METHOD_NOT_ALLOWED"))
    );
    app.assert_bucket_holds(1).await;
}

#[tokio::test]
async fn a_malformed_or_unknown_id_is_upload_not_found() {
    // Arrange
    let app = spawn_app().await;
    let unknown = format!("/files/{}", uuid::Uuid::now_v7().simple());

    // Act
    let malformed = tus(&app, Method::GET, "/files/..%2F..%2Fetc")
        .send()
        .await
        .expect("GET");
    let uppercase = tus(
        &app,
        Method::GET,
        &unknown.to_uppercase().replace("/FILES/", "/files/"),
    )
    .send()
    .await
    .expect("GET");
    let missing = tus(&app, Method::GET, &unknown).send().await.expect("GET");
    let head = tus(&app, Method::HEAD, &unknown)
        .send()
        .await
        .expect("HEAD");

    // Assert
    assert_eq!(head.status(), 404);
    assert!(header(&head, "upload-offset").is_none());
    for answer in [malformed, uppercase, missing] {
        let (status, body) = error_answer(answer).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (404, Some("UPLOAD_NOT_FOUND"))
        );
    }
    app.assert_bucket_holds(0).await;
}

#[tokio::test]
async fn cors_preflight_allows_a_tus_patch_and_exposes_its_headers() {
    // Arrange
    let app = spawn_app_with(&[("CORS_ALLOWED_ORIGINS", "https://app.example")]).await;

    // Act
    let preflight = app
        .http
        .request(Method::OPTIONS, app.url("/files/0190abcd"))
        .header("origin", "https://app.example")
        .header("access-control-request-method", "PATCH")
        .header(
            "access-control-request-headers",
            "authorization,content-type,tus-resumable,upload-offset,upload-checksum,x-request-id",
        )
        .send()
        .await
        .expect("preflight");
    let creation = tus(&app, Method::POST, "/files")
        .header("origin", "https://app.example")
        .header("upload-length", "10")
        .send()
        .await
        .expect("POST");

    // Assert
    assert!(preflight.status().is_success(), "{}", preflight.status());
    assert_eq!(
        header(&preflight, "access-control-allow-origin"),
        Some("https://app.example")
    );
    let methods = header(&preflight, "access-control-allow-methods").unwrap_or_default();
    assert!(
        methods.contains("PATCH") && methods.contains("HEAD"),
        "{methods}"
    );
    let allowed = header(&preflight, "access-control-allow-headers").unwrap_or_default();
    for name in [
        "authorization",
        "tus-resumable",
        "upload-offset",
        "upload-checksum",
    ] {
        assert!(allowed.contains(name), "{name} in {allowed}");
    }
    let exposed = header(&creation, "access-control-expose-headers").unwrap_or_default();
    for name in [
        "location",
        "upload-offset",
        "upload-expires",
        "x-object-location",
    ] {
        assert!(exposed.contains(name), "{name} in {exposed}");
    }
    app.assert_bucket_holds(1).await;
}
