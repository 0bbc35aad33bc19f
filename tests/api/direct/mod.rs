//! Direct uploads at `/s3`, as `@uppy/aws-s3` calls them in companion mode: the routes over raw HTTP, the parts
//! sent straight to the store with the URLs the server signed, and the object checked at completion.

mod multipart;
mod params;
mod refusals;
mod sweep;

use serde_json::{Value, json};

use crate::helpers::TestApp;

const MIB: usize = 1024 * 1024;

/// `POST /s3/multipart` as the plugin sends it; the answer's status and JSON.
pub(crate) async fn create(app: &TestApp, filename: &str, claimed: &str) -> (u16, Value) {
    let answer = app
        .http
        .post(app.url("/s3/multipart"))
        .json(&json!({ "filename": filename, "type": claimed, "metadata": {} }))
        .send()
        .await
        .expect("POST /s3/multipart");
    let status = answer.status().as_u16();
    (status, answer.json().await.expect("JSON"))
}

/// `POST /s3/ticket` with `token`: the `companionEndpoint` it answers (`/direct/<ticket>`).
pub(crate) async fn ticket_endpoint(app: &TestApp, token: &str) -> String {
    let ticket: Value = app
        .http
        .post(app.url("/s3/ticket"))
        .bearer_auth(token)
        .send()
        .await
        .expect("ticket")
        .json()
        .await
        .expect("JSON");
    ticket["companionEndpoint"]
        .as_str()
        .expect("companionEndpoint")
        .to_owned()
}

/// The upload id and key of a created upload.
pub(crate) fn ids(created: &Value) -> (String, String) {
    (
        created["uploadId"].as_str().expect("uploadId").to_owned(),
        created["key"].as_str().expect("key").to_owned(),
    )
}

/// `/s3/multipart/<uploadId><rest>?key=<key>`, both encoded as the plugin encodes them.
pub(crate) fn upload_path(upload_id: &str, rest: &str, key: &str) -> String {
    let encode = |s: &str| -> String {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect()
    };
    format!(
        "/s3/multipart/{}{rest}?key={}",
        encode(upload_id),
        encode(key)
    )
}

/// Asks for part `number`'s URL and PUTs `bytes` to it, as the browser does; returns the ETag.
pub(crate) async fn send_part(
    app: &TestApp,
    upload_id: &str,
    key: &str,
    number: u32,
    bytes: Vec<u8>,
) -> String {
    let signed: Value = app
        .http
        .get(app.url(&upload_path(upload_id, &format!("/{number}"), key)))
        .send()
        .await
        .expect("GET part URL")
        .json()
        .await
        .expect("JSON");
    let url = signed["url"].as_str().expect("url");
    let put = reqwest::Client::new()
        .put(url)
        .body(bytes)
        .send()
        .await
        .expect("PUT part");
    assert_eq!(put.status(), 200, "the part PUT to the store");
    put.headers()["etag"].to_str().expect("ETag").to_owned()
}

/// `POST .../complete` with `parts` (number, ETag); the answer's status and JSON.
pub(crate) async fn complete(
    app: &TestApp,
    upload_id: &str,
    key: &str,
    parts: &[(u32, String)],
) -> (u16, Value) {
    let parts: Vec<Value> = parts
        .iter()
        .map(|(n, etag)| json!({ "PartNumber": n, "ETag": etag }))
        .collect();
    let answer = app
        .http
        .post(app.url(&upload_path(upload_id, "/complete", key)))
        .json(&json!({ "parts": parts }))
        .send()
        .await
        .expect("complete");
    let status = answer.status().as_u16();
    (status, answer.json().await.expect("JSON"))
}

/// The keys of the direct uploads' records.
pub(crate) async fn records(app: &TestApp) -> Vec<String> {
    app.keys()
        .await
        .into_iter()
        .filter(|k| k.contains(".direct/"))
        .collect()
}
