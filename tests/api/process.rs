//! The real binary as a child process: SIGTERM during an upload, and a bounded soak on loopback with its
//! memory read from /proc.

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use futures_util::StreamExt;
use reqwest::multipart::Form;

use crate::helpers::{file_part, pattern};
use crate::server::ServerChild;

/// The server binary in `dir` (an empty folder, so no `.env` is read), on free loopback ports, with its
/// embedded store in `dir/store`, JSON logs, and `settings` on top.
pub(crate) fn server_command(dir: &std::path::Path, settings: &[(&str, &str)]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_s3-upload-server"));
    command
        .current_dir(dir)
        .env("HOST", "127.0.0.1")
        .env("PORT", "0")
        .env("EMBEDDED_S3_ADDR", "127.0.0.1:0")
        .env("EMBEDDED_S3_DATA_DIR", dir.join("store"))
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("LOG_FORMAT", "json")
        .env("RUST_LOG", "s3_upload_server=info,warn")
        .env_remove("AWS_S3_BUCKET");
    for (name, value) in settings {
        command.env(name, value);
    }
    command
}

pub(crate) struct ServerProcess {
    process: ServerChild,
    pub(crate) url: String,
    /// The store's endpoint, as the server logged it (none with `LOG_FORMAT=text`).
    pub(crate) store: Option<String>,
    pub(crate) dir: tempfile::TempDir,
}

impl ServerProcess {
    /// Starts the binary on free ports, in an empty folder (so no `.env` is read), and waits for its address
    /// (see tests/support/server.rs). Logs are JSON unless `settings` say `LOG_FORMAT=text`.
    pub(crate) fn start(settings: &[(&str, &str)]) -> Self {
        Self::start_in(tempfile::tempdir().expect("temporary folder"), settings)
    }

    /// As [`Self::start`], in `dir`: a restart on the folder (and embedded store) an earlier run left.
    pub(crate) fn start_in(dir: tempfile::TempDir, settings: &[(&str, &str)]) -> Self {
        let mut command = server_command(dir.path(), settings);
        command.stderr(Stdio::inherit());
        let process = ServerChild::start(command, usize::MAX)
            .unwrap_or_else(|err| panic!("the server binary did not start: {err:#}"));
        Self {
            url: process.url.clone(),
            store: process.endpoint.clone(),
            process,
            dir,
        }
    }

    /// The folder, once the process has exited, for [`Self::start_in`].
    pub(crate) fn into_dir(self) -> tempfile::TempDir {
        self.dir
    }

    /// The lines logged so far that contain `text`.
    pub(crate) fn logged(&self, text: &str) -> Vec<String> {
        let mut lines = self.process.log.lines();
        lines.retain(|line| line.contains(text));
        lines
    }

    /// Sends SIGTERM, as a service manager does.
    pub(crate) fn terminate(&self) {
        let killed = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status()
            .expect("kill");
        assert!(killed.success());
    }

    /// Waits for the process to exit, for at most `limit`; returns how long it took.
    pub(crate) async fn exited_within(&mut self, limit: Duration) -> Duration {
        let start = Instant::now();
        loop {
            if let Some(status) = self.process.child.try_wait().expect("wait") {
                assert!(status.success(), "exit status {status}");
                return start.elapsed();
            }
            assert!(
                start.elapsed() < limit,
                "the server did not exit within {limit:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub(crate) fn pid(&self) -> u32 {
        self.process.pid()
    }

    /// A field of /proc/<pid>/status, in KiB (VmRSS, VmHWM).
    pub(crate) fn status_kib(&self, field: &str) -> u64 {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", self.pid())).expect("/proc status");
        status
            .lines()
            .find_map(|l| {
                l.strip_prefix(field)?
                    .trim_start_matches(':')
                    .split_whitespace()
                    .next()?
                    .parse()
                    .ok()
            })
            .expect("the field is in /proc status")
    }

    pub(crate) fn s3(&self) -> aws_sdk_s3::Client {
        let config = aws_sdk_s3::config::Builder::new()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("ap-northeast-2"))
            .endpoint_url(
                self.store
                    .as_deref()
                    .expect("the server logged its store's endpoint"),
            )
            .force_path_style(true)
            .credentials_provider(Credentials::new(
                "embedded-access-key",
                "embedded-secret-key",
                None,
                None,
                "test",
            ))
            .build();
        aws_sdk_s3::Client::from_conf(config)
    }
}

#[tokio::test]
async fn sigterm_during_an_upload_lets_it_finish_and_refuses_new_connections() {
    let mut server = ServerProcess::start(&[]);
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(4);
    let mut rx = rx;
    let body =
        reqwest::Body::wrap_stream(futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx)));
    let part = reqwest::multipart::Part::stream(body).file_name("slow.bin");
    let upload = tokio::spawn(
        reqwest::Client::new()
            .post(format!("{}/upload", server.url))
            .multipart(Form::new().part("photos", part))
            .send(),
    );
    tx.send(Ok(pattern(64 * 1024))).await.expect("first half");
    tokio::time::sleep(Duration::from_millis(300)).await;

    server.terminate();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let fresh = reqwest::Client::new()
        .get(format!("{}/health", server.url))
        .send()
        .await;
    assert!(
        fresh.is_err(),
        "a new connection was accepted after SIGTERM"
    );

    tx.send(Ok(pattern(64 * 1024))).await.expect("second half");
    drop(tx);
    let response = upload
        .await
        .expect("task")
        .expect("the in-flight upload is answered");
    assert_eq!(response.status(), 200);
    let files: serde_json::Value = response.json().await.expect("json");
    assert_eq!(files[0]["size"], 128 * 1024);

    server.exited_within(Duration::from_secs(10)).await;
}

#[derive(Clone, Copy, Debug)]
enum Kind {
    Good(usize),
    TooLarge,
    WrongField,
}

const SOAK_LIMIT: usize = 10 * 1024 * 1024;

/// One round of the soak: `count` requests, `in_flight` at once, mixed sizes, 6% bad requests.
async fn soak_round(
    server: &ServerProcess,
    count: usize,
    in_flight: usize,
) -> Vec<(Kind, u16, serde_json::Value)> {
    let client = reqwest::Client::new();
    let data = Arc::new(pattern(SOAK_LIMIT + 1));
    let kinds: Vec<Kind> = (0..count)
        .map(|i| match i % 100 {
            0..=2 => Kind::TooLarge,
            3..=5 => Kind::WrongField,
            6..=8 => Kind::Good(9 * 1024 * 1024 + i),
            9..=30 => Kind::Good(256 * 1024 + i * 7),
            _ => Kind::Good(1 + (i * 131) % (64 * 1024)),
        })
        .collect();
    futures_util::stream::iter(kinds)
        .map(|kind| {
            let (client, data, url) = (
                client.clone(),
                Arc::clone(&data),
                format!("{}/upload", server.url),
            );
            async move {
                let (field, len) = match kind {
                    Kind::Good(len) => ("photos", len),
                    Kind::TooLarge => ("photos", SOAK_LIMIT + 1),
                    Kind::WrongField => ("photo", 10),
                };
                let part = file_part(data[..len].to_vec(), "soak.bin", "application/octet-stream");
                let response = client
                    .post(url)
                    .multipart(Form::new().part(field, part))
                    .send()
                    .await
                    .expect("every request gets an answer");
                let status = response.status().as_u16();
                (kind, status, response.json().await.expect("a JSON answer"))
            }
        })
        .buffer_unordered(in_flight)
        .collect()
        .await
}

/// Thousands of uploads in two identical rounds, 32 in flight, mixed sizes and some bad requests, against
/// the debug binary: every 200 is matched by an object of its size, nothing else is in the bucket, and memory
/// goes back near its idle level (and the second round does not grow it: no leak with the number of uploads).
#[tokio::test]
async fn soak_mixed_uploads_match_the_bucket_and_memory_returns_near_idle() {
    const ROUND: usize = 1000;
    const IN_FLIGHT: usize = 32;
    // The store runs in a process of its own (the binary in embedded mode), as S3 does in production, so the
    // server's memory is measured alone.
    let store = ServerProcess::start(&[]);
    let server = ServerProcess::start(&[
        ("AWS_S3_BUCKET", "uploads"),
        ("AWS_ACCESS_KEY_ID", "embedded-access-key"),
        ("AWS_SECRET_ACCESS_KEY", "embedded-secret-key"),
        (
            "AWS_ENDPOINT_URL",
            store.store.as_deref().expect("the store's endpoint"),
        ),
        ("MAX_FILE_SIZE", &SOAK_LIMIT.to_string()),
        ("UPLOAD_MEMORY_BUDGET", "134217728"),
    ]);
    let idle_kib = server.status_kib("VmRSS");

    let started = Instant::now();
    let mut results = soak_round(&server, ROUND, IN_FLIGHT).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let after_first_kib = server.status_kib("VmRSS");
    results.extend(soak_round(&server, ROUND, IN_FLIGHT).await);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let after_second_kib = server.status_kib("VmRSS");
    let elapsed = started.elapsed();
    let peak_kib = server.status_kib("VmHWM");

    let s3 = store.s3();
    let mut stored = std::collections::HashMap::new();
    let mut pages = s3
        .list_objects_v2()
        .bucket("uploads")
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        for object in page.expect("list objects").contents() {
            stored.insert(
                object.key().unwrap_or_default().to_owned(),
                object.size().unwrap_or(-1),
            );
        }
    }
    let mut answered_200 = 0;
    for (kind, status, body) in &results {
        match kind {
            Kind::Good(len) => {
                assert_eq!(*status, 200, "{kind:?}: {body}");
                let key = body[0]["key"].as_str().expect("key");
                assert_eq!(stored.get(key).copied(), Some(*len as i64), "{key}");
                answered_200 += 1;
            }
            Kind::TooLarge => assert_eq!(
                (*status, body["error"]["code"].as_str()),
                (413, Some("LIMIT_FILE_SIZE"))
            ),
            Kind::WrongField => {
                assert_eq!(
                    (*status, body["error"]["code"].as_str()),
                    (400, Some("LIMIT_UNEXPECTED_FILE"))
                );
            }
        }
    }
    // Every object in the bucket was answered 200, and nothing else is there.
    assert_eq!(stored.len(), answered_200);
    let pending = std::fs::read_dir(store.dir.path().join("store"))
        .expect("store folder")
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with(".upload"))
        .count();
    assert_eq!(pending, 0, "open multipart uploads after the soak");

    eprintln!(
        "soak: {} requests in {elapsed:?}; RSS idle {idle_kib} KiB, after round 1 {after_first_kib} KiB, \
         after round 2 {after_second_kib} KiB, peak {peak_kib} KiB",
        2 * ROUND
    );
    assert!(peak_kib < 320 * 1024, "peak RSS {peak_kib} KiB");
    assert!(
        after_second_kib < idle_kib + 32 * 1024,
        "memory did not go back near idle: {idle_kib} KiB idle, {after_second_kib} KiB after"
    );
    assert!(
        after_second_kib < after_first_kib + after_first_kib / 4,
        "memory grew with the number of uploads: {after_first_kib} KiB then {after_second_kib} KiB"
    );
}
