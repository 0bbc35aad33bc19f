//! A failed request never removes an object that another request stored.
//!
//! Found: with `KEY_STRATEGY=original`, A's `same.png` was stored; B sent `same.png` and an oversized file, got
//! 413, and its clean-up deleted `same.png`: A's URL answered 404. Now every write of that strategy is
//! conditional (`If-None-Match: *`): B's `same.png` is refused (409 `FILE_EXISTS`) and A's file stays as A
//! stored it.

use reqwest::multipart::Form;

use crate::helpers::{
    error_answer, file_part, pattern, png, spawn_app_with, spawn_embedded_app_with,
};

#[tokio::test]
async fn a_failed_request_cannot_delete_a_file_another_request_stored() {
    let app = spawn_app_with(&[("KEY_STRATEGY", "original"), ("MAX_FILE_SIZE", "100000")]).await;
    let a = app
        .upload(Form::new().part("photos", file_part(png(), "same.png", "image/png")))
        .await;
    assert_eq!(a.status(), 200);

    // B: the same name, then a file over the limit.
    let form = Form::new()
        .part(
            "photos",
            file_part(b"B's bytes".to_vec(), "same.png", "image/png"),
        )
        .part(
            "photos",
            file_part(pattern(100_001), "big.bin", "application/octet-stream"),
        );
    let (status, body) = error_answer(app.upload(form).await).await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["code"], "FILE_EXISTS");
    assert_eq!(body["error"]["file"], "same.png");

    // B again, with a new name first: its own file goes, A's stays.
    let form = Form::new()
        .part("photos", file_part(png(), "b-only.png", "image/png"))
        .part(
            "photos",
            file_part(pattern(100_001), "big.bin", "application/octet-stream"),
        );
    let (status, body) = error_answer(app.upload(form).await).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (413, Some("LIMIT_FILE_SIZE"))
    );

    assert_eq!(app.object_bytes("same.png").await, png());
    app.assert_bucket_holds(1).await;
}

#[tokio::test]
async fn a_large_file_of_a_stored_name_is_refused_at_completion_and_aborted() {
    // Multipart uploads complete with If-None-Match: * too (moto does not honour it there: the embedded store).
    let app = spawn_embedded_app_with(&[("KEY_STRATEGY", "original")]).await;
    let first = pattern(9 * 1024 * 1024);
    let a = app
        .upload(Form::new().part(
            "photos",
            file_part(first.clone(), "video.bin", "application/octet-stream"),
        ))
        .await;
    assert_eq!(a.status(), 200);

    let second: Vec<u8> = first.iter().map(|b| b ^ 0xFF).collect();
    let (status, body) = error_answer(
        app.upload(Form::new().part(
            "photos",
            file_part(second, "video.bin", "application/octet-stream"),
        ))
        .await,
    )
    .await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["code"], "FILE_EXISTS");
    assert!(
        app.object_bytes("video.bin").await == first,
        "A's bytes are kept"
    );
    app.assert_bucket_holds(1).await;
}
