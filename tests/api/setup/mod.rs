//! `check` and `clean`, the set-up commands, against each test app's own store: the embedded one by default, a
//! moto bucket with `TEST_S3_ENDPOINT`. They are called as library functions with the configuration a user's
//! `.env` would hold for that store, and print into a buffer. This file holds what both use (and
//! `hostile/clean.rs`); the tests are in `check.rs` and `clean.rs`.

mod check;
mod clean;

use std::collections::HashMap;

use s3_upload_server::Config;
use s3_upload_server::cli::{self, CheckArgs, CleanArgs};

use crate::helpers::{TestApp, remote_endpoint};

/// The settings a `.env` would hold to use the test app's bucket as a real one.
pub(crate) fn settings_for(app: &TestApp) -> HashMap<String, String> {
    let endpoint = app
        .endpoint
        .clone()
        .expect("test apps use a custom endpoint");
    let (key, secret) = if remote_endpoint().is_some_and(|e| e == endpoint) {
        ("test", "test")
    } else {
        ("embedded-access-key", "embedded-secret-key")
    };
    HashMap::from([
        ("AWS_S3_BUCKET".to_owned(), app.bucket.clone()),
        ("AWS_ENDPOINT_URL".to_owned(), endpoint),
        ("AWS_ACCESS_KEY_ID".to_owned(), key.to_owned()),
        ("AWS_SECRET_ACCESS_KEY".to_owned(), secret.to_owned()),
        ("AWS_REGION".to_owned(), "ap-northeast-2".to_owned()),
        ("S3_TIMEOUT_SECS".to_owned(), "10".to_owned()),
    ])
}

pub(super) fn config_from(settings: HashMap<String, String>) -> Config {
    Config::from_lookup(|name| settings.get(name).cloned()).expect("valid configuration")
}

/// The embedded store's configuration (no bucket set) on a free port, keeping its files in `dir`.
pub(super) fn embedded_config(dir: &std::path::Path) -> Config {
    config_from(HashMap::from([
        ("EMBEDDED_S3_ADDR".to_owned(), "127.0.0.1:0".to_owned()),
        ("EMBEDDED_S3_DATA_DIR".to_owned(), dir.display().to_string()),
    ]))
}

pub(crate) fn config_for(app: &TestApp, changes: &[(&str, &str)]) -> Config {
    let mut settings = settings_for(app);
    for (name, value) in changes {
        settings.insert((*name).to_owned(), (*value).to_owned());
    }
    config_from(settings)
}

pub(crate) async fn run_check(config: Config, args: &CheckArgs) -> (cli::Report, String) {
    let mut out = Vec::new();
    let report = cli::check(config, args, &mut out)
        .await
        .expect("check runs");
    (report, String::from_utf8(out).expect("UTF-8 output"))
}

pub(crate) async fn run_clean(config: Config, args: &CleanArgs, input: &str) -> (bool, String) {
    let mut out = Vec::new();
    let mut input = input.as_bytes();
    let done = cli::clean(config, args, &mut input, &mut out)
        .await
        .expect("clean runs");
    (done, String::from_utf8(out).expect("UTF-8 output"))
}

pub(crate) async fn put(app: &TestApp, key: &str) {
    app.s3
        .put_object()
        .bucket(&app.bucket)
        .key(key)
        .body(b"x".to_vec().into())
        .send()
        .await
        .expect("put object");
}
