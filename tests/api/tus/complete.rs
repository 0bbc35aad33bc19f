//! Completed uploads: the last PATCH answers where the object opens, `HEAD` and `GET` describe it as
//! `POST /upload` does, and a client that dropped mid-PATCH resumes from what arrived.

use std::time::Duration;

use reqwest::Method;
use tokio::io::AsyncWriteExt as _;

use super::{KOREAN_NAME, MIN_PART_SIZE, create, header, patch, tus};
use crate::helpers::{file_part, pattern, spawn_app, spawn_app_with};

const MIB: usize = 1024 * 1024;

#[tokio::test]
async fn a_file_sent_in_three_uneven_patches_opens_at_its_location_and_reads_as_post_upload() {
    // Arrange
    let app = spawn_app_with(&[("UPLOAD_PART_SIZE", MIN_PART_SIZE)]).await;
    let data = pattern(12 * MIB + 5);
    let upload = create(&app, data.len() as u64, "data.bin").await;
    let cuts = [0, 3 * MIB + 1, 9 * MIB + 2, data.len()];

    // Act
    let mut answers = Vec::new();
    for window in cuts.windows(2) {
        let (from, to) = (window[0], window[1]);
        answers.push(patch(&app, &upload, from, data[from..to].to_vec()).await);
    }
    let head = tus(&app, Method::HEAD, &upload).send().await.expect("HEAD");
    let get = tus(&app, Method::GET, &upload).send().await.expect("GET");
    let posted = app
        .upload(reqwest::multipart::Form::new().part(
            "photos",
            file_part(data.clone(), "data.bin", "application/octet-stream"),
        ))
        .await;

    // Assert
    for (answer, end) in answers.iter().zip(&cuts[1..]) {
        assert_eq!(answer.status(), 204);
        assert_eq!(
            header(answer, "upload-offset"),
            Some(end.to_string().as_str())
        );
    }
    assert!(header(&answers[0], "x-object-location").is_none());
    let location = header(&answers[2], "x-object-location").expect("X-Object-Location");
    let stored = reqwest::get(location).await.expect("GET location");
    assert_eq!(stored.status(), 200);
    assert!(
        stored.bytes().await.expect("object") == data,
        "the stored bytes differ"
    );
    assert_eq!(head.status(), 200);
    assert_eq!(
        header(&head, "upload-offset"),
        header(&head, "upload-length")
    );
    assert_eq!(header(&head, "x-object-location"), Some(location));
    assert!(header(&head, "upload-expires").is_none());

    assert_eq!(get.status(), 200);
    let resumed: serde_json::Value = get.json().await.expect("JSON");
    let posted: serde_json::Value = posted.json().await.expect("POST /upload JSON");
    let posted = &posted[0];
    let fields = |v: &serde_json::Value| -> Vec<String> {
        v.as_object().expect("object").keys().cloned().collect()
    };
    assert_eq!(fields(&resumed), fields(posted));
    for same in [
        "fieldname",
        "originalname",
        "encoding",
        "mimetype",
        "size",
        "bucket",
    ] {
        assert_eq!(resumed[same], posted[same], "{same}");
    }
    assert_eq!(resumed["contentType"], posted["contentType"]);
    assert_eq!(resumed["contentDisposition"], posted["contentDisposition"]);
    assert_eq!(resumed["size"], data.len());
    let key = resumed["key"].as_str().expect("key");
    assert!(key.ends_with("/data.bin"), "{key}");
    assert!(location.ends_with(key), "{location} for {key}");
    assert_eq!(resumed["location"].as_str(), Some(location));
    // Two objects, the upload's record; no multipart upload left open.
    app.assert_bucket_holds(3).await;
}

#[tokio::test]
async fn a_korean_file_name_is_kept_as_the_original_name() {
    // Arrange
    let app = spawn_app().await;
    let data = pattern(1000);
    let upload = create(&app, 1000, KOREAN_NAME).await;

    // Act
    let done = patch(&app, &upload, 0, data.clone()).await;
    let get = tus(&app, Method::GET, &upload).send().await.expect("GET");

    // Assert
    assert_eq!(done.status(), 204);
    let described: serde_json::Value = get.json().await.expect("JSON");
    assert_eq!(described["originalname"].as_str(), Some(KOREAN_NAME));
    assert_eq!(described["fieldname"].as_str(), Some("photos"));
    assert_eq!(
        described["mimetype"].as_str(),
        Some("application/octet-stream")
    );
    let location = described["location"].as_str().expect("location");
    let stored = reqwest::get(location).await.expect("GET location");
    assert!(stored.bytes().await.expect("object") == data);
    // A repeat of the last PATCH (its answer lost) is answered again.
    let repeat = patch(&app, &upload, 1000, Vec::new()).await;
    assert_eq!(repeat.status(), 204);
    assert_eq!(header(&repeat, "x-object-location"), Some(location));
    app.assert_bucket_holds(2).await;
}

#[tokio::test]
async fn a_client_that_drops_mid_patch_keeps_what_arrived_and_resumes() {
    // Arrange
    let app = spawn_app().await;
    let data = pattern(200_000);
    let upload = create(&app, data.len() as u64, "data.bin").await;
    let half = 100_000;

    // Act: the headers announce the whole body; half of it is sent, then the connection closes.
    let host = app.addr.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(host).await.expect("connect");
    let request = format!(
        "PATCH {upload} HTTP/1.1\r\nHost: {}\r\nTus-Resumable: 1.0.0\r\n\
         Content-Type: application/offset+octet-stream\r\nUpload-Offset: 0\r\n\
         Content-Length: {}\r\n\r\n",
        host,
        data.len()
    );
    stream.write_all(request.as_bytes()).await.expect("headers");
    stream
        .write_all(&data[..half])
        .await
        .expect("half the body");
    stream.flush().await.expect("flush");
    tokio::time::sleep(Duration::from_millis(300)).await;
    drop(stream);
    let mut offset = 0;
    for _ in 0..100 {
        let head = tus(&app, Method::HEAD, &upload).send().await.expect("HEAD");
        offset = header(&head, "upload-offset")
            .and_then(|v| v.parse::<usize>().ok())
            .unwrap_or_default();
        if offset > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let rest = patch(&app, &upload, offset, data[offset..].to_vec()).await;

    // Assert
    assert!(offset > 0 && offset <= half, "offset {offset}");
    assert_eq!(rest.status(), 204);
    let location = header(&rest, "x-object-location").expect("X-Object-Location");
    let stored = reqwest::get(location).await.expect("GET location");
    assert!(
        stored.bytes().await.expect("object") == data,
        "the stored bytes differ"
    );
    app.assert_bucket_holds(2).await;
}

#[tokio::test]
async fn metrics_count_resumable_uploads_their_bytes_and_the_stored_file() {
    // Arrange
    let app = spawn_app().await;
    let data = pattern(300_000);

    // Act: one upload in two PATCHes, and one PATCH at a wrong offset (kept nothing).
    let upload = create(&app, data.len() as u64, "data.bin").await;
    assert_eq!(
        patch(&app, &upload, 0, data[..100_000].to_vec())
            .await
            .status(),
        204
    );
    assert_eq!(
        patch(&app, &upload, 5, data[..10].to_vec()).await.status(),
        409
    );
    assert_eq!(
        patch(&app, &upload, 100_000, data[100_000..].to_vec())
            .await
            .status(),
        204
    );
    let text = reqwest::get(app.url("/metrics"))
        .await
        .expect("GET /metrics")
        .text()
        .await
        .expect("text");

    // Assert
    let series = |name: &str| {
        text.lines()
            .find_map(|line| line.strip_prefix(name)?.trim().parse::<f64>().ok())
            .unwrap_or_else(|| panic!("{name} in\n{text}"))
    };
    assert_eq!(series("resumable_uploads_created_total "), 1.0);
    assert_eq!(series("resumable_bytes_received_total "), 300_000.0);
    assert_eq!(series("upload_files_total "), 1.0);
    assert_eq!(series("upload_bytes_total "), 300_000.0);
    assert_eq!(series("http_errors_total{code=\"OFFSET_MISMATCH\"} "), 1.0);
}
