//! Several copies of the server on one bucket, and requests racing on one upload: all state is in the bucket,
//! so any copy continues any upload, and two PATCHes at one offset never both count.

use std::time::Duration;

use futures_util::StreamExt;
use reqwest::Method;

use super::{MIN_PART_SIZE, create, described, header, patch, state_keys, tus};
use crate::helpers::{TestApp, pattern, spawn_app_with};
use crate::setup::settings_for;

const MIB: usize = 1024 * 1024;

/// A second copy of the server: its own process state, the same bucket and settings as `app`'s.
async fn second_copy(app: &TestApp) -> TestApp {
    let mut settings = settings_for(app);
    settings.insert("UPLOAD_PART_SIZE".to_owned(), MIN_PART_SIZE.to_owned());
    let settings: Vec<(&str, &str)> = settings
        .iter()
        .map(|(name, value)| (name.as_str(), value.as_str()))
        .collect();
    spawn_app_with(&settings).await
}

async fn offset_on(app: &TestApp, path: &str) -> usize {
    let head = tus(app, Method::HEAD, path).send().await.expect("HEAD");
    assert_eq!(head.status(), 200, "HEAD {path}");
    header(&head, "upload-offset")
        .and_then(|v| v.parse().ok())
        .expect("Upload-Offset")
}

/// A body sent in 64 KiB chunks, one every 2 ms: slow enough for two requests to overlap.
fn slow_body(bytes: Vec<u8>) -> reqwest::Body {
    let chunks: Vec<Vec<u8>> = bytes.chunks(64 * 1024).map(<[u8]>::to_vec).collect();
    let stream = futures_util::stream::iter(chunks).then(|chunk| async move {
        tokio::time::sleep(Duration::from_millis(2)).await;
        Ok::<_, std::io::Error>(chunk)
    });
    reqwest::Body::wrap_stream(stream)
}

#[tokio::test]
async fn an_upload_begun_on_one_copy_is_finished_on_another() {
    // Arrange: two copies of the server on one bucket.
    let first = spawn_app_with(&[("UPLOAD_PART_SIZE", MIN_PART_SIZE)]).await;
    let second = second_copy(&first).await;
    let data = pattern(13 * MIB + 17);
    let path = create(&first, data.len() as u64, "여행 사진.bin").await;

    // Act: one part and a tail on the first copy; the rest on the second.
    let begun = patch(&first, &path, 0, data[..6 * MIB].to_vec()).await;
    let offset = offset_on(&second, &path).await;
    let finished = patch(&second, &path, offset, data[offset..].to_vec()).await;

    // Assert
    assert_eq!(begun.status(), 204);
    assert_eq!(offset, 6 * MIB, "the second copy sees what the first kept");
    assert_eq!(finished.status(), 204);
    let location = header(&finished, "x-object-location").expect("X-Object-Location");
    // The first copy knows it completed.
    let described = described(&first, &path).await;
    assert_eq!(described["location"].as_str(), Some(location));
    assert_eq!(described["originalname"].as_str(), Some("여행 사진.bin"));
    assert_eq!(described["size"].as_u64(), Some(data.len() as u64));
    let key = described["key"].as_str().expect("key");
    assert!(
        first.object_bytes(key).await == data,
        "the stored bytes differ"
    );
    assert!(first.pending_multipart_uploads().await.is_empty());
    assert_eq!(state_keys(&first).await.len(), 1, "only the record is kept");
}

#[tokio::test]
async fn two_patches_racing_at_one_offset_count_once_and_the_upload_stays_whole() {
    // Arrange: two copies, so that the race goes through two processes' state, as behind a load balancer.
    let first = spawn_app_with(&[("UPLOAD_PART_SIZE", MIN_PART_SIZE)]).await;
    let second = second_copy(&first).await;
    let length = 12 * MIB;
    let path = create(&first, length as u64, "race.bin").await;
    let (a, b) = (pattern(6 * MIB), vec![b'b'; 6 * MIB]);

    // Act: both send 6 MiB at offset 0 at once, slowly enough to overlap.
    let send = |app: &TestApp, bytes: Vec<u8>| {
        tus(app, Method::PATCH, &path)
            .header("content-type", "application/offset+octet-stream")
            .header("upload-offset", 0)
            .header("content-length", bytes.len())
            .body(slow_body(bytes))
            .send()
    };
    let (answer_a, answer_b) = tokio::join!(send(&first, a.clone()), send(&second, b.clone()));
    let statuses = [
        answer_a.expect("PATCH a").status().as_u16(),
        answer_b.expect("PATCH b").status().as_u16(),
    ];

    // Assert: one counted, the other refused; the upload holds exactly the winner's bytes.
    assert_eq!(
        statuses.iter().filter(|s| **s == 204).count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses.iter().any(|s| *s == 409 || *s == 423),
        "{statuses:?}"
    );
    let winner = if statuses[0] == 204 { a } else { b };
    assert_eq!(offset_on(&first, &path).await, 6 * MIB);
    let rest = pattern(length)[6 * MIB..].to_vec();
    let finished = patch(&second, &path, 6 * MIB, rest.clone()).await;
    assert_eq!(finished.status(), 204);
    let described = described(&first, &path).await;
    let key = described["key"].as_str().expect("key");
    let stored = first.object_bytes(key).await;
    assert_eq!(stored.len(), length);
    assert!(
        stored[..6 * MIB] == winner[..] && stored[6 * MIB..] == rest[..],
        "the object is the winner's bytes and the rest, nothing of the loser's"
    );
    assert!(first.pending_multipart_uploads().await.is_empty());
    assert_eq!(
        state_keys(&first).await.len(),
        1,
        "the loser's tail is gone"
    );
}
