//! Abandoned direct uploads: a record whose URLs have all expired has its multipart upload aborted, by a
//! server's own pass at start (and every `DIRECT_URL_TTL_SECS`).

use s3_upload_server::storage::direct::record::DirectRecords;

use super::{create, ids, records, send_part};
use crate::helpers::{TestApp, pattern, spawn_app, spawn_app_with};
use crate::setup::settings_for;

fn direct_records(app: &TestApp) -> DirectRecords {
    DirectRecords::new(app.s3.clone(), app.bucket.clone(), "")
}

/// Moves the upload's expiry to the past, as if no part URL had been asked for in `DIRECT_URL_TTL_SECS`.
async fn expire(app: &TestApp, upload_id: &str) {
    let records = direct_records(app);
    let mut upload = records
        .read(upload_id)
        .await
        .expect("read")
        .expect("the record");
    upload.expires_at = 1;
    records.write(&upload).await.expect("write");
}

#[tokio::test]
async fn a_server_aborts_the_abandoned_uploads_it_finds_at_start_and_keeps_live_ones() {
    // Arrange: two uploads with a part each; one abandoned.
    let first = spawn_app().await;
    let (_, abandoned) = create(&first, "abandoned.bin", "application/octet-stream").await;
    let (abandoned_id, abandoned_key) = ids(&abandoned);
    send_part(&first, &abandoned_id, &abandoned_key, 1, pattern(1000)).await;
    let (_, live) = create(&first, "live.bin", "application/octet-stream").await;
    let (live_id, live_key) = ids(&live);
    send_part(&first, &live_id, &live_key, 1, pattern(1000)).await;
    expire(&first, &abandoned_id).await;

    // Act: another copy starts on the bucket.
    let settings = settings_for(&first);
    let settings: Vec<(&str, &str)> = settings
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let _second = spawn_app_with(&settings).await;
    let mut left = records(&first).await;
    for _ in 0..50 {
        if left.len() == 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        left = records(&first).await;
    }

    // Assert: the abandoned one's record and multipart upload are gone; the live one completes.
    assert_eq!(left.len(), 1, "{left:?}");
    let kept = direct_records(&first)
        .read(&live_id)
        .await
        .expect("read")
        .expect("the live record");
    assert_eq!(kept.key, live_key);
    assert!(
        direct_records(&first)
            .read(&abandoned_id)
            .await
            .expect("read")
            .is_none()
    );
    let pending = first.pending_multipart_uploads().await;
    assert!(pending.iter().any(|p| p.contains(&live_id)), "{pending:?}");
    assert!(
        !pending.iter().any(|p| p.contains(&abandoned_id)),
        "{pending:?}"
    );
}
