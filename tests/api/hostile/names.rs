//! Names that break listings or logs: Unicode noncharacters, forged log lines.

use reqwest::multipart::Form;
use s3_upload_server::cli::CleanArgs;
use serde_json::Value;

use crate::helpers::{file_part, spawn_app_with};
use crate::setup::{config_for, run_clean};

/// U+FFFF cannot be written in XML 1.0 at all; U+FDD0 and U+1FFFE are noncharacters it discourages. A key with
/// the first made every ListObjects of the bucket fail, so `clean` could not empty it.
/// Each name, and the noncharacter in it.
const NAMES: [(&str, char); 3] = [
    ("a\u{FFFF}b.png", '\u{FFFF}'),
    ("\u{FDD0}report.txt", '\u{FDD0}'),
    ("plane\u{1FFFE}one.bin", '\u{1FFFE}'),
];

#[tokio::test]
async fn noncharacters_in_names_leave_the_bucket_listable_and_cleanable() {
    // Arrange: raw UTF-8 in filename="…", as curl and browsers send it.
    let app = spawn_app_with(&[]).await;
    let mut form = Form::new().percent_encode_noop();
    for (name, _) in NAMES {
        form = form.part("photos", file_part(b"x".to_vec(), name, "text/plain"));
    }

    // Act
    let response = app.upload(form).await;

    // Assert: stored under keys without them, the exact names kept where they are data.
    let status = response.status();
    let text = response.text().await.expect("body");
    assert_eq!(status, 200, "{text}");
    let files: Vec<Value> = serde_json::from_str(&text).expect("a JSON array");
    assert_eq!(files.len(), NAMES.len(), "{text}");
    for (file, (name, noncharacter)) in files.iter().zip(NAMES) {
        assert_eq!(file["originalname"], name);
        let key = file["key"].as_str().expect("key");
        assert!(!key.contains(noncharacter), "{key:?}");
        // The exact name reaches browsers in `filename*=`, where the noncharacter is percent-encoded.
        let disposition = file["contentDisposition"].as_str().expect("disposition");
        let encoded = percent_encoding::utf8_percent_encode(
            noncharacter.encode_utf8(&mut [0; 4]),
            percent_encoding::NON_ALPHANUMERIC,
        )
        .to_string();
        assert!(
            disposition.contains(&encoded),
            "{disposition} lacks {encoded}"
        );
    }

    let mut keys = app.keys().await;
    keys.sort();
    let mut answered: Vec<&str> = files.iter().filter_map(|f| f["key"].as_str()).collect();
    answered.sort_unstable();
    assert_eq!(keys, answered);

    // `clean --yes <bucket>` lists the bucket and empties it.
    let args = CleanArgs {
        yes: Some(app.bucket.clone()),
        ..CleanArgs::default()
    };
    let (done, out) = run_clean(config_for(&app, &[]), &args, "").await;
    assert!(done, "{out}");
    assert!(out.contains("3 object(s) deleted"), "{out}");
    app.assert_bucket_holds(0).await;
}
