//! Resumable uploads over tus 1.0.0 at `/files`, through raw HTTP: the protocol's checks, creation, where an
//! upload stands, bytes (PATCH), completed uploads, termination.

mod complete;
mod copies;
mod creation;
mod expiry;
mod patch;
mod protocol;
mod recovery;
mod restart;
mod termination;
mod types;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use s3_upload_server::storage::resumable::cas::InfoStore;
use s3_upload_server::storage::resumable::info::STATE_FOLDER;

use crate::helpers::TestApp;

pub(crate) const KOREAN_NAME: &str = "스크린샷 2023-11-15 오후 8.04.29.png";

/// A request to `path` with `Tus-Resumable: 1.0.0`, as every tus client sends.
pub(crate) fn tus(app: &TestApp, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
    app.http
        .request(method, app.url(path))
        .header("tus-resumable", "1.0.0")
}

/// `Upload-Metadata` as tus-js-client writes it: each value the standard base64 of its UTF-8 text.
pub(crate) fn metadata(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(key, value)| format!("{key} {}", STANDARD.encode(value)))
        .collect::<Vec<_>>()
        .join(",")
}

/// Creates an upload of `length` bytes named `name`; returns its path (`/files/<id>`).
pub(crate) async fn create(app: &TestApp, length: u64, name: &str) -> String {
    let response = tus(app, reqwest::Method::POST, "/files")
        .header("upload-length", length)
        .header("upload-metadata", metadata(&[("filename", name)]))
        .send()
        .await
        .expect("POST /files");
    assert_eq!(response.status(), 201, "creation");
    location(&response)
}

/// `GET /files/<id>` of a completed upload: 200 and `POST /upload`'s description of the file.
pub(crate) async fn described(app: &TestApp, path: &str) -> serde_json::Value {
    let answer = tus(app, reqwest::Method::GET, path)
        .send()
        .await
        .expect("GET");
    assert_eq!(answer.status(), 200, "GET {path}: the upload is complete");
    answer.json().await.expect("JSON")
}

/// The `Location` of a creation's answer.
pub(crate) fn location(response: &reqwest::Response) -> String {
    response.headers()["location"]
        .to_str()
        .expect("ASCII Location")
        .to_owned()
}

/// A header of an answer as text, if present.
pub(crate) fn header<'r>(response: &'r reqwest::Response, name: &str) -> Option<&'r str> {
    response.headers().get(name).and_then(|v| v.to_str().ok())
}

/// The keys under `.resumable/`: uploads' state.
pub(crate) async fn state_keys(app: &TestApp) -> Vec<String> {
    app.keys()
        .await
        .into_iter()
        .filter(|key| key.contains(STATE_FOLDER))
        .collect()
}

/// The records of the app's uploads (the default `KEY_PREFIX`, empty).
pub(crate) fn info_store(app: &TestApp) -> InfoStore {
    InfoStore::new(app.s3.clone(), app.bucket.clone(), "")
}

/// 5 MiB: the smallest `UPLOAD_PART_SIZE`, so that a few MiB span parts.
pub(crate) const MIN_PART_SIZE: &str = "5242880";

/// A PATCH of `bytes` at `offset` to `path`, as tus-js-client sends it.
pub(crate) async fn patch(
    app: &TestApp,
    path: &str,
    offset: usize,
    bytes: Vec<u8>,
) -> reqwest::Response {
    tus(app, reqwest::Method::PATCH, path)
        .header("content-type", "application/offset+octet-stream")
        .header("upload-offset", offset)
        .body(bytes)
        .send()
        .await
        .expect("PATCH")
}
