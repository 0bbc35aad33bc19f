//! Abandoned direct uploads: a record whose URLs have all expired has its multipart upload aborted, by a
//! server's own pass at start (and every `DIRECT_URL_TTL_SECS`).

use s3_upload_server::cli::{CheckArgs, CleanArgs, Status, steps};
use s3_upload_server::storage::direct::record::DirectRecords;

use super::{create, ids, records, send_part};
use crate::helpers::{TestApp, pattern, spawn_app, spawn_app_with};
use crate::setup::{config_for, run_check, run_clean, settings_for};

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

#[tokio::test]
async fn check_lists_abandoned_uploads_clean_expired_aborts_them_and_clean_aborts_the_rest() {
    // Arrange: an abandoned upload and a live one, each with a part.
    let app = spawn_app().await;
    let (_, abandoned) = create(&app, "abandoned.bin", "application/octet-stream").await;
    let (abandoned_id, abandoned_key) = ids(&abandoned);
    send_part(&app, &abandoned_id, &abandoned_key, 1, pattern(1000)).await;
    let (_, live) = create(&app, "live.bin", "application/octet-stream").await;
    let (live_id, live_key) = ids(&live);
    send_part(&app, &live_id, &live_key, 1, pattern(1000)).await;
    expire(&app, &abandoned_id).await;
    let config = || config_for(&app, &[]);

    // Act
    let (report, checked) = run_check(config(), &CheckArgs::default()).await;
    let expired = CleanArgs {
        expired_uploads: true,
        ..CleanArgs::default()
    };
    let (swept, swept_out) = run_clean(config(), &expired, "").await;
    let after_sweep = records(&app).await;
    let everything = CleanArgs {
        yes: Some(app.bucket.clone()),
        ..CleanArgs::default()
    };
    let (cleaned, cleaned_out) = run_clean(config(), &everything, "").await;

    // Assert
    let step = report.step(steps::DIRECT).expect("the direct uploads step");
    assert_eq!(step.status, Status::Warn, "{checked}");
    assert!(
        step.detail.contains("1 in progress, 1 abandoned"),
        "{checked}"
    );
    assert!(
        checked.contains(&format!("abandoned: `{abandoned_key}`")),
        "{checked}"
    );
    assert!(swept, "{swept_out}");
    assert!(
        swept_out.contains("1 abandoned direct upload(s) aborted"),
        "{swept_out}"
    );
    assert_eq!(
        after_sweep.len(),
        1,
        "the live record stays: {after_sweep:?}"
    );
    assert!(cleaned, "{cleaned_out}");
    assert!(
        cleaned_out.contains("1 direct upload(s) recorded and aborted"),
        "{cleaned_out}"
    );
    assert!(app.pending_multipart_uploads().await.is_empty());
    app.assert_bucket_holds(0).await;
}
