//! The embedded store as an attacker reaches it, one file per kind of attack: keys beside the bucket, panics and
//! answers a browser would run (`paths`); side files left by deletes, leftovers of a previous run and a second
//! server on the same folder (`folder`); racing conditional writes (`conditional`); pages of other origins, and
//! unsigned writes from the server's own page (`cors`); form POSTs' files held in memory (`forms`).

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use aws_sdk_s3::error::{ProvideErrorMetadata as _, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use reqwest::multipart::Form;
use serde_json::Value;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::helpers::{TestApp, file_part};

mod conditional;
mod cors;
mod folder;
mod forms;
mod paths;

/// A request written byte for byte, so that no client library resolves `..` or re-encodes the path first.
/// Returns the status (`None` when the store closed the connection without answering) and the whole answer.
pub(super) async fn raw_request(app: &TestApp, method: &str, path: &str) -> (Option<u16>, String) {
    let endpoint = app
        .endpoint
        .as_deref()
        .expect("the embedded store's endpoint");
    let authority = endpoint.trim_start_matches("http://");
    let mut socket = tokio::net::TcpStream::connect(authority)
        .await
        .expect("connect to the store");
    let request =
        format!("{method} {path} HTTP/1.1\r\nhost: {authority}\r\nconnection: close\r\n\r\n");
    socket
        .write_all(request.as_bytes())
        .await
        .expect("send the request");
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), socket.read_to_end(&mut answer))
        .await
        .expect("the store answers within 10 s")
        .ok();
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let status = answer
        .strip_prefix("HTTP/1.1 ")
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse().ok());
    (status, answer)
}

/// Every file and folder under `dir`, relative to it.
pub(super) fn tree(dir: &Path) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(next) = pending.pop() {
        for entry in std::fs::read_dir(&next).expect("read the data folder") {
            let path = entry.expect("folder entry").path();
            let relative = path.strip_prefix(dir).expect("under the folder");
            found.insert(relative.display().to_string());
            if path.is_dir() {
                pending.push(path);
            }
        }
    }
    found
}

/// The HTTP status of an SDK error (`None` when no answer came back).
pub(super) fn status<E>(err: &SdkError<E, aws_sdk_s3::config::http::HttpResponse>) -> Option<u16> {
    err.raw_response().map(|r| r.status().as_u16())
}

pub(super) async fn put(
    app: &TestApp,
    key: &str,
    body: &'static [u8],
) -> Result<(), (Option<u16>, String)> {
    app.s3
        .put_object()
        .bucket(&app.bucket)
        .key(key)
        .body(ByteStream::from_static(body))
        .send()
        .await
        .map(|_| ())
        .map_err(|err| (status(&err), err.code().unwrap_or_default().to_owned()))
}

pub(super) async fn uploaded(app: &TestApp, name: &str, bytes: Vec<u8>, mime: &str) -> Value {
    let response = app
        .upload(Form::new().part("photos", file_part(bytes, name, mime)))
        .await;
    let status = response.status();
    let body: Value = response.json().await.expect("a JSON answer");
    assert_eq!(status, 200, "{body}");
    body[0].clone()
}

pub(super) fn side_files(dir: &Path) -> Vec<String> {
    tree(dir)
        .into_iter()
        .filter(|name| name.starts_with(".bucket-"))
        .collect()
}
