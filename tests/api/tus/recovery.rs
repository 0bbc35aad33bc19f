//! A completion the store fails is finished by the next request that looks at the upload, on any copy: nothing
//! is sent twice, and a whole small file whose object was never stored takes its last bytes again.

use hyper::StatusCode;
use reqwest::Method;

use super::{MIN_PART_SIZE, create, described, header, patch, state_keys, tus};
use crate::faults::behind_proxy;
use crate::helpers::pattern;
use crate::proxy::{Fault, is_complete_multipart, is_put_object};

const MIB: usize = 1024 * 1024;

#[tokio::test]
async fn a_failed_multipart_completion_is_finished_by_the_next_head() {
    // Arrange: a 7 MiB upload whose first 5 MiB part is stored; the store then fails every completion.
    let (store, proxy, app) = behind_proxy(&[("UPLOAD_PART_SIZE", MIN_PART_SIZE)]).await;
    let data = pattern(7 * MIB);
    let path = create(&app, data.len() as u64, "photo.bin").await;
    assert_eq!(
        patch(&app, &path, 0, data[..5 * MIB].to_vec())
            .await
            .status(),
        204
    );
    proxy.set_rule(|request| {
        is_complete_multipart(request).then_some(Fault::Error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalError",
        ))
    });

    // Act: the last bytes arrive while completions fail; then the store recovers and the client asks.
    let last = patch(&app, &path, 5 * MIB, data[5 * MIB..].to_vec()).await;
    let last_status = last.status();
    proxy.set_rule(|_| None);
    let head = tus(&app, Method::HEAD, &path).send().await.expect("HEAD");

    // Assert
    assert_eq!(
        last_status, 502,
        "the failed completion is the store's error"
    );
    assert!(proxy.faults() >= 1, "the fault was never injected");
    assert_eq!(head.status(), 200);
    assert_eq!(header(&head, "upload-offset"), Some("7340032"));
    let location = header(&head, "x-object-location").expect("X-Object-Location");
    let described = described(&app, &path).await;
    assert_eq!(described["location"].as_str(), Some(location));
    let key = described["key"].as_str().expect("key");
    assert!(
        store.object_bytes(key).await == data,
        "the stored bytes differ"
    );
    assert!(store.pending_multipart_uploads().await.is_empty());
    assert_eq!(state_keys(&store).await.len(), 1, "only the record is kept");
}

#[tokio::test]
async fn a_small_file_whose_object_was_not_stored_takes_its_last_bytes_again() {
    // Arrange: a 3 MiB upload (one object, no part); the store fails the object's PUT (not the record's).
    let (store, proxy, app) = behind_proxy(&[("UPLOAD_PART_SIZE", MIN_PART_SIZE)]).await;
    let data = pattern(3 * MIB);
    let path = create(&app, data.len() as u64, "small.bin").await;
    proxy.set_rule(|request| {
        (is_put_object(request) && !request.uri().path().contains(".resumable")).then_some(
            Fault::Error(StatusCode::INTERNAL_SERVER_ERROR, "InternalError"),
        )
    });

    // Act
    let failed = patch(&app, &path, 0, data.clone()).await;
    let failed_status = failed.status();
    proxy.set_rule(|_| None);
    let head = tus(&app, Method::HEAD, &path).send().await.expect("HEAD");
    let offset = header(&head, "upload-offset").map(str::to_owned);
    let again = patch(&app, &path, 0, data.clone()).await;

    // Assert: the upload stands at 0 again, and the second try stores it.
    assert_eq!(failed_status, 502);
    assert!(proxy.faults() >= 1, "the fault was never injected");
    assert_eq!(head.status(), 200);
    assert_eq!(offset.as_deref(), Some("0"));
    assert_eq!(again.status(), 204);
    let described = described(&app, &path).await;
    let key = described["key"].as_str().expect("key");
    assert!(
        store.object_bytes(key).await == data,
        "the stored bytes differ"
    );
    assert_eq!(state_keys(&store).await.len(), 1, "only the record is kept");
}
