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

/// A browser sends CR/LF in a file name as `%0D`/`%0A`, which the server decodes: a rejected upload's log line
/// carried the name raw, so a name could forge a line of the text log.
#[tokio::test]
async fn a_file_name_cannot_forge_a_log_line() {
    let server = crate::process::ServerProcess::start(&[
        ("LOG_FORMAT", "text"),
        ("NO_COLOR", "1"),
        ("MAX_FILE_SIZE", "10"),
    ]);
    let forged = "FORGED  INFO s3_upload_server: stored key=evil";
    let name = format!("a.png%0A{forged}");
    let body = format!(
        "--x\r\nContent-Disposition: form-data; name=\"photos\"; filename=\"{name}\"\r\n\r\n\
         more than ten bytes\r\n--x--\r\n"
    );
    let response = reqwest::Client::new()
        .post(format!("{}/upload", server.url))
        .header("content-type", "multipart/form-data; boundary=x")
        .body(body)
        .send()
        .await
        .expect("POST");
    assert_eq!(response.status(), 413);
    let answer: Value = response.json().await.expect("json");
    assert_eq!(answer["error"]["file"], format!("a.png\n{forged}"));

    let mut logged = Vec::new();
    for _ in 0..50 {
        logged = server.logged("FORGED");
        if !logged.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(logged.len(), 1, "{logged:?}");
    assert!(logged[0].contains("upload rejected"), "{}", logged[0]);
    assert!(
        logged[0].contains("a.png\\nFORGED"),
        "the newline is escaped: {}",
        logged[0]
    );
    assert!(!logged.iter().any(|line| line.starts_with("FORGED")));
}
