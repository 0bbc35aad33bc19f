//! `GET /metrics` and `GET /openapi.json` through HTTP.

use std::collections::BTreeSet;

use reqwest::multipart::Form;
use serde_json::Value;

use crate::helpers::{TestApp, file_part, pattern, png, spawn_app, spawn_app_with};

/// The body of `GET /metrics`, after checking it is the text exposition format 0.0.4.
async fn metrics(app: &TestApp) -> String {
    let response = reqwest::get(app.url("/metrics"))
        .await
        .expect("GET /metrics");
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"]
        .to_str()
        .expect("ASCII")
        .to_owned();
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );
    response.text().await.expect("body")
}

/// The value of one series (`name{labels}`) in a metrics text.
fn value(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

async fn openapi(app: &TestApp) -> Value {
    let response = reqwest::get(app.url("/openapi.json"))
        .await
        .expect("GET /openapi.json");
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    response.json().await.expect("the document is JSON")
}

#[tokio::test]
async fn metrics_count_stored_files_bytes_and_errors_by_code() {
    // Arrange
    let app = spawn_app_with(&[("MAX_FILE_SIZE", "1000")]).await;
    let image = png();

    // Act: one stored file, one file over the limit, one unknown path.
    let ok = app
        .upload(Form::new().part("photos", file_part(image.clone(), "a.png", "image/png")))
        .await;
    assert_eq!(ok.status(), 200);
    let too_large = app
        .upload(Form::new().part(
            "photos",
            file_part(pattern(1001), "big.bin", "application/octet-stream"),
        ))
        .await;
    assert_eq!(too_large.status(), 413);
    let missing = reqwest::get(app.url("/no-such-page")).await.expect("GET");
    assert_eq!(missing.status(), 404);

    // Assert
    let text = metrics(&app).await;
    let series = |name: &str| value(&text, name).unwrap_or_else(|| panic!("{name} in\n{text}"));
    assert_eq!(series("upload_files_total"), 1.0);
    assert_eq!(series("upload_bytes_total"), image.len() as f64);
    assert_eq!(series("http_errors_total{code=\"LIMIT_FILE_SIZE\"}"), 1.0);
    assert_eq!(series("http_errors_total{code=\"NOT_FOUND\"}"), 1.0);
    assert_eq!(series("http_errors_total{code=\"NO_FILE\"}"), 0.0);
    assert_eq!(series("upload_requests_total{outcome=\"success\"}"), 1.0);
    assert_eq!(
        series("upload_requests_total{outcome=\"client_error\"}"),
        1.0
    );
    assert_eq!(
        series("upload_requests_total{outcome=\"server_error\"}"),
        0.0
    );
    assert_eq!(series("upload_request_duration_seconds_count"), 2.0);
    assert_eq!(series("upload_requests_in_flight"), 0.0);
    assert!(text.contains("# TYPE upload_request_duration_seconds histogram"));
}

#[tokio::test]
async fn each_app_counts_only_its_own_uploads() {
    let (busy, idle) = (spawn_app().await, spawn_app().await);
    let response = busy
        .upload(Form::new().part("photos", file_part(png(), "a.png", "image/png")))
        .await;
    assert_eq!(response.status(), 200);

    assert_eq!(
        value(&metrics(&busy).await, "upload_files_total"),
        Some(1.0)
    );
    assert_eq!(
        value(&metrics(&idle).await, "upload_files_total"),
        Some(0.0)
    );
}

#[tokio::test]
async fn openapi_document_parses_and_describes_upload() {
    let app = spawn_app().await;

    let doc = openapi(&app).await;

    assert!(
        doc["openapi"]
            .as_str()
            .unwrap_or_default()
            .starts_with("3.")
    );
    assert_eq!(doc["servers"][0]["url"], "/");
    let upload = &doc["paths"]["/upload"]["post"];
    assert!(upload.is_object(), "POST /upload is documented");
    let photos =
        &upload["requestBody"]["content"]["multipart/form-data"]["schema"]["properties"]["photos"];
    assert_eq!(photos["items"]["format"], "binary");
    let codes = &doc["components"]["schemas"]["ErrorCode"]["enum"];
    assert!(
        codes
            .as_array()
            .is_some_and(|codes| codes.contains(&Value::from("LIMIT_FILE_SIZE")))
    );
}

#[tokio::test]
async fn every_documented_method_is_routed_and_every_other_is_405() {
    let app = spawn_app().await;
    let doc = openapi(&app).await;
    let paths = doc["paths"].as_object().expect("paths");
    let client = reqwest::Client::new();

    for (path, operations) in paths {
        for method in ["GET", "POST", "PUT", "DELETE", "PATCH"] {
            let documented = operations.get(method.to_lowercase()).is_some();
            let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
            let response = client
                .request(method.clone(), app.url(path))
                .send()
                .await
                .expect("request");
            let status = response.status().as_u16();
            // A path parameter is sent as written (`/files/{id}`): a route may answer 404 with its own code
            // (`UPLOAD_NOT_FOUND`), but not the router's `NOT_FOUND` for a path no route has.
            let body: Value = response.json().await.unwrap_or(Value::Null);
            let code = body["error"]["code"].as_str().unwrap_or_default();
            if documented {
                assert!(
                    status != 405 && code != "NOT_FOUND",
                    "{method} {path} is documented but answers {status} {code}"
                );
            } else {
                assert_eq!(status, 405, "{method} {path} is not documented");
            }
        }
    }
}

#[tokio::test]
async fn upload_answer_has_exactly_the_documented_fields() {
    let app = spawn_app().await;
    let doc = openapi(&app).await;

    let files: Value = app
        .upload(Form::new().part("photos", file_part(png(), "a.png", "image/png")))
        .await
        .json()
        .await
        .expect("JSON answer");

    let answered: BTreeSet<&String> = files[0].as_object().expect("a file").keys().collect();
    let documented: BTreeSet<&String> = doc["components"]["schemas"]["UploadedFile"]["properties"]
        .as_object()
        .expect("properties")
        .keys()
        .collect();
    assert_eq!(answered, documented);
}

/// The keys of the schema that answers `GET path` with `status`, following one `$ref`.
fn documented_keys<'a>(doc: &'a Value, path: &str, status: &str) -> BTreeSet<&'a String> {
    let mut schema =
        &doc["paths"][path]["get"]["responses"][status]["content"]["application/json"]["schema"];
    if let Some(target) = schema["$ref"].as_str() {
        schema = doc
            .pointer(target.trim_start_matches('#'))
            .expect("the reference resolves");
    }
    schema["properties"]
        .as_object()
        .unwrap_or_else(|| panic!("GET {path} {status} has an object schema"))
        .keys()
        .collect()
}

#[tokio::test]
async fn json_answers_have_exactly_the_documented_fields() {
    let app = spawn_app().await;
    let doc = openapi(&app).await;

    for path in ["/config", "/health", "/ready"] {
        let answer: Value = reqwest::get(app.url(path))
            .await
            .expect("GET")
            .json()
            .await
            .expect("JSON");

        let answered: BTreeSet<&String> = answer.as_object().expect("an object").keys().collect();
        assert_eq!(answered, documented_keys(&doc, path, "200"), "GET {path}");
    }
}
