//! A PATCH cut by a shutdown keeps what arrived, and the upload resumes after the restart: the real binary,
//! SIGTERM mid-body, then a new process on the same folder (the embedded store) or the same moto bucket.

use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use super::{MIN_PART_SIZE, metadata};
use crate::helpers::{pattern, remote_endpoint, spawn_app};
use crate::hostile::host;
use crate::process::ServerProcess;
use crate::setup::settings_for;

const MIB: usize = 1024 * 1024;

#[tokio::test]
async fn a_patch_cut_by_a_shutdown_keeps_its_bytes_and_resumes_after_the_restart() {
    // Arrange: the binary with a long grace (a PATCH must not hold it), on moto's bucket with TEST_S3_ENDPOINT.
    let bucket_app = match remote_endpoint() {
        Some(_) => Some(spawn_app().await),
        None => None,
    };
    let mut settings: Vec<(String, String)> = bucket_app
        .as_ref()
        .map(|app| settings_for(app).into_iter().collect())
        .unwrap_or_default();
    settings.push(("UPLOAD_PART_SIZE".to_owned(), MIN_PART_SIZE.to_owned()));
    settings.push(("SHUTDOWN_GRACE_SECS".to_owned(), "60".to_owned()));
    let settings: Vec<(&str, &str)> = settings
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let mut server = ServerProcess::start(&settings);
    let http = reqwest::Client::new();
    let data = pattern(20 * MIB);
    let created = http
        .post(format!("{}/files/", server.url))
        .header("tus-resumable", "1.0.0")
        .header("upload-length", data.len())
        .header("upload-metadata", metadata(&[("filename", "재시작.bin")]))
        .send()
        .await
        .expect("POST /files/");
    assert_eq!(created.status(), 201);
    let path = created.headers()["location"]
        .to_str()
        .expect("Location")
        .to_owned();

    // Act: 12 MiB of a 20 MiB PATCH arrive; then SIGTERM.
    let addr = host(&server.url).to_owned();
    let mut socket = tokio::net::TcpStream::connect(&addr)
        .await
        .expect("connect");
    let head = format!(
        "PATCH {path} HTTP/1.1\r\nHost: {addr}\r\nTus-Resumable: 1.0.0\r\n\
         Content-Type: application/offset+octet-stream\r\nUpload-Offset: 0\r\nContent-Length: {}\r\n\r\n",
        data.len()
    );
    socket.write_all(head.as_bytes()).await.expect("headers");
    socket.write_all(&data[..12 * MIB]).await.expect("12 MiB");
    socket.flush().await.expect("flush");
    tokio::time::sleep(Duration::from_millis(500)).await;
    server.terminate();
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(20), socket.read_to_end(&mut answer)).await;
    let exited = server.exited_within(Duration::from_secs(20)).await;
    let server = ServerProcess::start_in(server.into_dir(), &settings);
    let head = http
        .head(format!("{}{path}", server.url))
        .header("tus-resumable", "1.0.0")
        .send()
        .await
        .expect("HEAD");
    let offset: usize = head.headers()["upload-offset"]
        .to_str()
        .expect("ASCII")
        .parse()
        .expect("a number");
    let finished = http
        .patch(format!("{}{path}", server.url))
        .header("tus-resumable", "1.0.0")
        .header("content-type", "application/offset+octet-stream")
        .header("upload-offset", offset)
        .body(data[offset..].to_vec())
        .send()
        .await
        .expect("PATCH the rest");

    // Assert: answered 503 at once, exited without waiting for the body, and every byte that arrived was kept.
    read.expect("the PATCH is answered within 20 s")
        .expect("read the answer");
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        answer.starts_with("HTTP/1.1 503") && answer.contains("SHUTTING_DOWN"),
        "{answer}"
    );
    assert!(exited < Duration::from_secs(15), "exited after {exited:?}");
    assert_eq!(offset, 12 * MIB, "the bytes that arrived are kept");
    assert_eq!(finished.status(), 204);
    let location = finished.headers()["x-object-location"]
        .to_str()
        .expect("X-Object-Location")
        .to_owned();
    let described: serde_json::Value = http
        .get(format!("{}{path}", server.url))
        .header("tus-resumable", "1.0.0")
        .send()
        .await
        .expect("GET")
        .json()
        .await
        .expect("JSON");
    assert_eq!(described["location"].as_str(), Some(location.as_str()));
    assert_eq!(described["originalname"].as_str(), Some("재시작.bin"));
    let key = described["key"].as_str().expect("key");
    let stored = server
        .s3()
        .get_object()
        .bucket(described["bucket"].as_str().expect("bucket"))
        .key(key)
        .send()
        .await
        .expect("GetObject")
        .body
        .collect()
        .await
        .expect("the object's bytes")
        .into_bytes();
    assert!(stored == data, "the stored bytes differ");
}
