//! `POST /files`: creation and deferred length, the headers it refuses, and where the upload then stands
//! (`HEAD`, `GET`).

use std::time::{Duration, SystemTime};

use reqwest::Method;
use s3_upload_server::storage::resumable::info::{UploadId, info_key};

use super::{KOREAN_NAME, create, described, header, location, metadata, state_keys, tus};
use crate::helpers::{error_answer, file_part, spawn_app, spawn_app_with};

#[tokio::test]
async fn a_created_upload_shows_offset_0_its_length_metadata_and_expiry() {
    // Arrange
    let app = spawn_app().await;
    let sent = metadata(&[("filename", "cat.png"), ("filetype", "image/png")]);

    // Act
    let created = tus(&app, Method::POST, "/files")
        .header("upload-length", "1234")
        .header("upload-metadata", &sent)
        .send()
        .await
        .expect("POST /files");
    let path = location(&created);
    let head = tus(&app, Method::HEAD, &path).send().await.expect("HEAD");
    let get = tus(&app, Method::GET, &path).send().await.expect("GET");

    // Assert
    assert_eq!(created.status(), 201);
    let id = path
        .strip_prefix("/files/")
        .expect("a relative /files/<id>");
    let id = UploadId::parse(id).expect("an upload id");
    let expires = header(&created, "upload-expires")
        .expect("Upload-Expires")
        .to_owned();
    let when = httpdate::parse_http_date(&expires).expect("an IMF-fixdate");
    assert!(expires.ends_with(" GMT"), "{expires}");
    let in_a_day = SystemTime::now() + Duration::from_secs(86_400);
    let off = in_a_day
        .duration_since(when)
        .unwrap_or_else(|e| e.duration());
    assert!(off < Duration::from_secs(60), "{expires} is a day away");
    assert_eq!(head.status(), 200);
    assert_eq!(header(&head, "upload-offset"), Some("0"));
    assert_eq!(header(&head, "upload-length"), Some("1234"));
    assert_eq!(header(&head, "upload-metadata"), Some(sent.as_str()));
    assert_eq!(header(&head, "upload-expires"), Some(expires.as_str()));
    assert_eq!(header(&head, "cache-control"), Some("no-store"));
    assert_eq!(header(&head, "tus-resumable"), Some("1.0.0"));
    assert!(header(&head, "upload-defer-length").is_none());
    assert_eq!(get.status(), 202);
    assert_eq!(header(&get, "upload-offset"), Some("0"));
    let progress: serde_json::Value = get.json().await.expect("JSON");
    assert_eq!(progress["id"], id.as_str());
    assert_eq!(progress["offset"], 0);
    assert_eq!(progress["length"], 1234);
    assert_eq!(progress["complete"], false);
    assert!(
        progress["expires"]
            .as_str()
            .is_some_and(|e| e.ends_with('Z'))
    );
    assert_eq!(
        app.keys().await,
        [info_key("", &id)],
        "only the state record"
    );
    app.assert_bucket_holds(1).await;
}

#[tokio::test]
async fn a_deferred_length_is_shown_as_upload_defer_length() {
    // Arrange
    let app = spawn_app().await;

    // Act
    let created = tus(&app, Method::POST, "/files/")
        .header("upload-defer-length", "1")
        .send()
        .await
        .expect("POST /files/");
    let path = location(&created);
    let head = tus(&app, Method::HEAD, &path).send().await.expect("HEAD");
    let get = tus(&app, Method::GET, &path).send().await.expect("GET");

    // Assert
    assert_eq!(created.status(), 201);
    assert!(path.starts_with("/files/"), "{path}");
    assert_eq!(header(&head, "upload-defer-length"), Some("1"));
    assert_eq!(header(&head, "upload-offset"), Some("0"));
    assert!(header(&head, "upload-length").is_none());
    assert!(header(&head, "upload-metadata").is_none());
    let progress: serde_json::Value = get.json().await.expect("JSON");
    assert_eq!(progress["length"], serde_json::Value::Null);
    app.assert_bucket_holds(1).await;
}

#[tokio::test]
async fn a_length_over_max_file_size_is_refused_at_once() {
    // Arrange
    let app = spawn_app_with(&[("MAX_FILE_SIZE", "1024")]).await;

    // Act
    let at_limit = tus(&app, Method::POST, "/files")
        .header("upload-length", "1024")
        .send()
        .await
        .expect("POST");
    let over = tus(&app, Method::POST, "/files")
        .header("upload-length", "1025")
        .header("upload-metadata", metadata(&[("filename", "big.bin")]))
        .send()
        .await
        .expect("POST");

    // Assert
    assert_eq!(at_limit.status(), 201);
    let (status, body) = error_answer(over).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (413, Some("LIMIT_FILE_SIZE"))
    );
    assert_eq!(body["error"]["field"], "Upload-Length");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("big.bin"))
    );
    app.assert_bucket_holds(1).await;
}

#[tokio::test]
async fn bad_headers_and_metadata_are_400_and_name_the_header() {
    // Arrange
    let app = spawn_app().await;
    let cases: [(&[(&str, &str)], &str); 9] = [
        (&[("upload-length", "abc")], "Upload-Length"),
        (&[("upload-length", "-1")], "Upload-Length"),
        (
            &[("upload-length", "18446744073709551616")],
            "Upload-Length",
        ),
        (&[], "Upload-Length"),
        (
            &[("upload-length", "5"), ("upload-defer-length", "1")],
            "Upload-Length",
        ),
        (&[("upload-defer-length", "2")], "Upload-Defer-Length"),
        (
            &[("upload-length", "5"), ("upload-concat", "partial")],
            "Upload-Concat",
        ),
        (
            &[
                ("upload-length", "5"),
                ("upload-metadata", "filename not*base64"),
            ],
            "Upload-Metadata",
        ),
        (
            &[
                ("upload-length", "5"),
                ("upload-metadata", "name YQ==,name Yg=="),
            ],
            "Upload-Metadata",
        ),
    ];

    for (headers, named) in cases {
        // Act
        let mut request = tus(&app, Method::POST, "/files");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await.expect("POST");

        // Assert
        let (status, body) = error_answer(response).await;
        assert_eq!(status, 400, "{headers:?}: {body}");
        assert_eq!(body["error"]["code"], "INVALID_TUS_HEADER", "{headers:?}");
        assert_eq!(body["error"]["field"], named, "{headers:?}");
    }
    let too_many = (0..21)
        .map(|i| format!("k{i} YQ"))
        .collect::<Vec<_>>()
        .join(",");
    let response = tus(&app, Method::POST, "/files")
        .header("upload-length", "5")
        .header("upload-metadata", too_many)
        .send()
        .await
        .expect("POST");
    let (status, body) = error_answer(response).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (413, Some("LIMIT_FIELD_COUNT"))
    );
    let body_sent = tus(&app, Method::POST, "/files")
        .header("upload-length", "5")
        .header("content-type", "text/plain")
        .body("hello")
        .send()
        .await
        .expect("POST with a body of another type");
    let (status, body) = error_answer(body_sent).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (415, Some("UNSUPPORTED_MEDIA_TYPE"))
    );
    app.assert_bucket_holds(0).await;
}

#[tokio::test]
async fn a_korean_name_is_kept_in_the_key_as_post_upload_keeps_it() {
    // Arrange: KEY_STRATEGY=original, so that both ways must give exactly the same key.
    let settings = [("KEY_STRATEGY", "original"), ("KEY_PREFIX", "photos/")];
    let app = spawn_app_with(&settings).await;
    let form = reqwest::multipart::Form::new().part(
        "photos",
        file_part(crate::helpers::png(), KOREAN_NAME, "image/png"),
    );
    let files: serde_json::Value = app.upload(form).await.json().await.expect("JSON");
    let stored_key = files[0]["key"].as_str().expect("a key").to_owned();
    let other = spawn_app_with(&settings).await;

    // Act
    let taken = tus(&app, Method::POST, "/files")
        .header("upload-length", "10")
        .header("upload-metadata", metadata(&[("filename", KOREAN_NAME)]))
        .send()
        .await
        .expect("POST");
    let path = create(&other, 10, KOREAN_NAME).await;

    // Assert
    let (status, body) = error_answer(taken).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("FILE_EXISTS"))
    );
    app.assert_bucket_holds(1).await;
    let id = UploadId::parse(path.trim_start_matches("/files/")).expect("an id");
    let store = s3_upload_server::storage::resumable::cas::InfoStore::new(
        other.s3.clone(),
        other.bucket.clone(),
        "photos/",
    );
    let (info, _) = store.read(&id).await.expect("the record");
    assert_eq!(info.key, stored_key);
    assert_eq!(info.originalname, KOREAN_NAME);
    let head = tus(&other, Method::HEAD, &path).send().await.expect("HEAD");
    assert_eq!(
        header(&head, "upload-metadata"),
        Some(metadata(&[("filename", KOREAN_NAME)]).as_str())
    );
    assert_eq!(state_keys(&other).await.len(), 1);
    other.assert_bucket_holds(1).await;
}

#[tokio::test]
async fn an_empty_file_is_stored_when_created() {
    // Arrange
    let app = spawn_app().await;

    // Act: tus-js-client creates an empty file and sends no PATCH.
    let created = tus(&app, Method::POST, "/files/")
        .header("upload-length", 0)
        .header("upload-metadata", metadata(&[("filename", "빈 파일.txt")]))
        .send()
        .await
        .expect("POST /files/");

    // Assert: complete at once, the object stored and described as POST /upload describes an empty file.
    assert_eq!(created.status(), 201);
    assert_eq!(header(&created, "upload-offset"), Some("0"));
    let object = header(&created, "x-object-location")
        .expect("X-Object-Location")
        .to_owned();
    let path = location(&created);
    let described = described(&app, &path).await;
    assert_eq!(described["size"].as_u64(), Some(0));
    assert_eq!(described["originalname"].as_str(), Some("빈 파일.txt"));
    assert_eq!(described["location"].as_str(), Some(object.as_str()));
    let key = described["key"].as_str().expect("key");
    assert!(app.object_bytes(key).await.is_empty());
    assert_eq!(state_keys(&app).await.len(), 1, "only the record is kept");
}
