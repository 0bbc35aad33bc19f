//! Successful uploads: names, sizes, bytes, types, order, keys.

use reqwest::multipart::Form;
use serde_json::Value;

use crate::helpers::{error_answer, file_part, pattern, png, spawn_app, spawn_app_with};

const KOREAN: &str = "스크린샷 2023-11-15 오후 8.04.29.png";

/// The sample's field names, in the sample's order.
const FIELDS: [&str; 17] = [
    "fieldname",
    "originalname",
    "encoding",
    "mimetype",
    "size",
    "bucket",
    "key",
    "acl",
    "contentType",
    "contentDisposition",
    "contentEncoding",
    "storageClass",
    "serverSideEncryption",
    "metadata",
    "location",
    "etag",
    "versionId",
];

async fn json_array(response: reqwest::Response) -> Vec<Value> {
    let status = response.status();
    let text = response.text().await.expect("body");
    assert_eq!(status, 200, "{text}");
    serde_json::from_str(&text).expect("a JSON array")
}

#[tokio::test]
async fn korean_png_round_trips_with_exact_name_size_bytes_and_type() {
    // Arrange
    let app = spawn_app().await;
    let bytes = png();
    // Raw UTF-8 in filename="…", as curl and browsers send it.
    let form = Form::new()
        .percent_encode_noop()
        .part("photos", file_part(bytes.clone(), KOREAN, "image/png"));

    // Act
    let response = app.upload(form).await;

    // Assert
    let raw = response.text().await.expect("body");
    let keys_in_order: Vec<&str> = FIELDS
        .iter()
        .map(|f| {
            let at = raw
                .find(&format!("\"{f}\":"))
                .unwrap_or_else(|| panic!("field {f} missing in {raw}"));
            (at, *f)
        })
        .scan(0, |last, (at, f)| {
            assert!(at > *last || *last == 0, "field {f} out of order in {raw}");
            *last = at;
            Some(f)
        })
        .collect();
    assert_eq!(keys_in_order.len(), 17);
    let files: Vec<Value> = serde_json::from_str(&raw).expect("JSON array");
    assert_eq!(files.len(), 1);
    let file = &files[0];
    assert_eq!(file["fieldname"], "photos");
    assert_eq!(file["originalname"], KOREAN);
    assert_eq!(file["size"], bytes.len() as u64);
    assert_eq!(file["contentType"], "image/png");
    let key = file["key"].as_str().expect("key");
    assert!(key.ends_with(KOREAN), "{key}");

    let stored = app
        .s3
        .head_object()
        .bucket(&app.bucket)
        .key(key)
        .send()
        .await
        .expect("head");
    assert_eq!(stored.content_type(), Some("image/png"));
    assert_eq!(stored.content_length(), Some(bytes.len() as i64));
    let disposition = stored.content_disposition().expect("content disposition");
    assert!(disposition.starts_with("inline; "), "{disposition}");
    assert!(
        disposition.contains("filename*=UTF-8''%EC%8A%A4%ED%81%AC%EB%A6%B0%EC%83%B7%202023-11-15"),
        "{disposition}"
    );

    // The returned URL opens without credentials, as in a browser.
    let location = file["location"].as_str().expect("location");
    assert!(location.contains("%EC%8A%A4"), "{location}");
    assert!(
        !location.contains(' ') && !location.contains('+'),
        "{location}"
    );
    let got = reqwest::get(location).await.expect("GET location");
    assert_eq!(got.status(), 200);
    assert_eq!(got.headers()["content-type"], "image/png");
    assert_eq!(got.bytes().await.expect("bytes").as_ref(), bytes.as_slice());
}

#[tokio::test]
async fn postman_style_filename_star_gives_the_same_name() {
    let app = spawn_app().await;
    // reqwest's attr-chars mode sends filename*=utf-8''<percent-encoded>, as Postman does beside filename.
    let form = Form::new()
        .percent_encode_attr_chars()
        .part("photos", file_part(png(), KOREAN, "image/png"));
    let files = json_array(app.upload(form).await).await;
    assert_eq!(files[0]["originalname"], KOREAN);
}

#[tokio::test]
async fn several_files_in_one_request_are_answered_in_order() {
    let app = spawn_app().await;
    let names = ["첫째.png", "second.txt", "세번째.bin"];
    let form = Form::new()
        .percent_encode_noop()
        .part("photos", file_part(png(), names[0], "image/png"))
        .text("caption", "a text field beside the files is accepted")
        .part(
            "photos",
            file_part(b"hello".to_vec(), names[1], "text/plain"),
        )
        .part(
            "photos",
            file_part(pattern(1000), names[2], "application/octet-stream"),
        );

    let files = json_array(app.upload(form).await).await;

    let got: Vec<&str> = files
        .iter()
        .map(|f| f["originalname"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(got, names);
    assert_eq!(files[1]["contentType"], "text/plain; charset=utf-8");
    assert_eq!(files[2]["size"], 1000);
    app.assert_bucket_holds(3).await;
}

#[tokio::test]
async fn file_larger_than_a_part_goes_multipart_with_exact_size_and_bytes() {
    let app = spawn_app().await;
    let bytes = pattern(20 * 1024 * 1024 + 1);
    let form = Form::new().part(
        "photos",
        file_part(bytes.clone(), "big.bin", "application/octet-stream"),
    );

    let files = json_array(app.upload(form).await).await;

    assert_eq!(files[0]["size"], bytes.len() as u64);
    let etag = files[0]["etag"].as_str().expect("etag");
    assert!(
        etag.contains('-'),
        "a multipart ETag ends in -<parts>: {etag}"
    );
    let location = files[0]["location"].as_str().expect("location");
    let got = reqwest::get(location)
        .await
        .expect("GET")
        .bytes()
        .await
        .expect("bytes");
    assert_eq!(got.len(), bytes.len());
    assert!(got.as_ref() == bytes.as_slice(), "stored bytes differ");
    app.assert_bucket_holds(1).await;
}

#[tokio::test]
async fn file_of_exactly_one_part_goes_as_one_put() {
    let app = spawn_app().await;
    let bytes = pattern(8 * 1024 * 1024);
    let form = Form::new().part(
        "photos",
        file_part(bytes.clone(), "exact.bin", "application/octet-stream"),
    );
    let files = json_array(app.upload(form).await).await;
    assert_eq!(files[0]["size"], bytes.len() as u64);
    let etag = files[0]["etag"].as_str().expect("etag");
    assert!(
        !etag.contains('-'),
        "one PutObject has a plain ETag: {etag}"
    );
}

#[tokio::test]
async fn same_name_uploaded_twice_keeps_both_files() {
    let app = spawn_app().await;
    let first = json_array(
        app.upload(Form::new().part("photos", file_part(png(), "image.png", "image/png")))
            .await,
    )
    .await;
    let second = json_array(
        app.upload(Form::new().part(
            "photos",
            file_part(b"other".to_vec(), "image.png", "image/png"),
        ))
        .await,
    )
    .await;
    assert_ne!(first[0]["key"], second[0]["key"]);
    app.assert_bucket_holds(2).await;
    let got = reqwest::get(first[0]["location"].as_str().unwrap_or_default())
        .await
        .expect("GET");
    assert_eq!(got.bytes().await.expect("bytes").as_ref(), png().as_slice());
}

#[tokio::test]
async fn original_key_strategy_reproduces_the_sample() {
    let app = spawn_app_with(&[("KEY_STRATEGY", "original"), ("KEY_PREFIX", "uploads/")]).await;
    let files = json_array(
        app.upload(Form::new().part("photos", file_part(png(), "image.png", "image/png")))
            .await,
    )
    .await;
    assert_eq!(files[0]["key"], "uploads/image.png");
    // A second upload of the same name is refused, never overwrites: a failed request can then only ever
    // delete its own files (issue 10).
    let (status, body) = error_answer(
        app.upload(Form::new().part("photos", file_part(png(), "image.png", "image/png")))
            .await,
    )
    .await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["code"], "FILE_EXISTS");
    assert_eq!(body["error"]["file"], "image.png");
    app.assert_bucket_holds(1).await;
}

#[tokio::test]
async fn content_type_comes_from_the_bytes_not_the_claim() {
    let app = spawn_app().await;
    // A PNG sent as octet-stream under a .jpg name is stored as image/png.
    let form = Form::new().part(
        "photos",
        file_part(png(), "photo.jpg", "application/octet-stream"),
    );
    let files = json_array(app.upload(form).await).await;
    assert_eq!(files[0]["mimetype"], "application/octet-stream");
    assert_eq!(files[0]["contentType"], "image/png");
}

#[tokio::test]
async fn html_is_stored_as_attachment_never_inline() {
    let app = spawn_app().await;
    let form = Form::new().part(
        "photos",
        file_part(
            b"<html><script>alert(1)</script>".to_vec(),
            "x.html",
            "text/html",
        ),
    );
    let files = json_array(app.upload(form).await).await;
    let disposition = files[0]["contentDisposition"].as_str().unwrap_or_default();
    assert!(disposition.starts_with("attachment;"), "{disposition}");
}

#[tokio::test]
async fn hostile_names_are_stored_under_safe_keys() {
    let app = spawn_app().await;
    let hostile = [
        "../../etc/passwd",
        "..\\..\\win.ini",
        "..",
        "/abs/.hidden",
        &"긴".repeat(120),
    ];
    for name in hostile {
        let form = Form::new().part("photos", file_part(b"x".to_vec(), name, "text/plain"));
        let files = json_array(app.upload(form).await).await;
        let key = files[0]["key"].as_str().unwrap_or_default().to_owned();
        assert_eq!(files[0]["originalname"], name);
        assert!(
            !key.split('/')
                .any(|s| s == ".." || s == "." || s.is_empty()),
            "{key}"
        );
        assert!(
            !key.starts_with('/') && !key.contains('\\') && !key.chars().any(char::is_control),
            "{key}"
        );
    }
    app.assert_bucket_holds(hostile.len()).await;
}

#[tokio::test]
async fn empty_file_is_stored_with_size_zero() {
    let app = spawn_app().await;
    let files = json_array(
        app.upload(Form::new().part("photos", file_part(Vec::new(), "empty.txt", "text/plain")))
            .await,
    )
    .await;
    assert_eq!(files[0]["size"], 0);
    app.assert_bucket_holds(1).await;
}

#[tokio::test]
async fn browser_escaped_quotes_and_newlines_are_decoded_and_sanitized() {
    let app = spawn_app().await;
    // What a browser sends for a file named `a"b` + CR LF + `c.png`.
    let body = "--x\r\nContent-Disposition: form-data; name=\"photos\"; filename=\"a%22b%0D%0Ac.png\"\r\n\
                Content-Type: image/png\r\n\r\nhello\r\n--x--\r\n";
    let files = json_array(
        app.upload_raw("multipart/form-data; boundary=x", body)
            .await,
    )
    .await;
    assert_eq!(files[0]["originalname"], "a\"b\r\nc.png");
    let key = files[0]["key"].as_str().unwrap_or_default();
    assert!(key.ends_with("/a_b_c.png"), "{key}");
}

#[tokio::test]
async fn raw_control_characters_in_part_headers_are_a_clear_400() {
    let app = spawn_app().await;
    let body = "--x\r\nContent-Disposition: form-data; name=\"photos\"; filename=\"a\u{1}b.png\"\r\n\r\nhello\r\n--x--\r\n";
    let response = app
        .upload_raw("multipart/form-data; boundary=x", body)
        .await;
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["error"]["code"], "MALFORMED_MULTIPART");
    app.assert_bucket_holds(0).await;
}

#[tokio::test]
async fn graceful_shutdown_lets_an_upload_in_flight_finish() {
    let mut app = spawn_app().await;
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(4);
    let body = reqwest::Body::wrap_stream(tokio_stream_from(rx));
    let part = reqwest::multipart::Part::stream(body)
        .file_name("slow.bin")
        .mime_str("application/octet-stream");
    let form = Form::new().part("photos", part.expect("mime"));
    let request = app.http.post(app.url("/upload")).multipart(form).send();
    let upload = tokio::spawn(request);

    tx.send(Ok(pattern(1024))).await.expect("send first half");
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let addr = app.url("/health");
    app.begin_shutdown();
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    // New connections are refused while the upload is still in flight.
    let fresh = reqwest::Client::new().get(&addr).send().await;
    assert!(
        fresh.is_err(),
        "a new connection was accepted during shutdown"
    );
    tx.send(Ok(pattern(1024))).await.expect("send second half");
    drop(tx);

    let response = upload
        .await
        .expect("task")
        .expect("the in-flight upload is answered");
    let files = json_array(response).await;
    assert_eq!(files[0]["size"], 2048);
    app.wait_stopped().await;
}

fn tokio_stream_from<T: Send + 'static>(
    mut rx: tokio::sync::mpsc::Receiver<T>,
) -> impl futures_util::Stream<Item = T> + Send + 'static {
    futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx))
}
