//! `spawn_app()`: the real application on port 0, with its own embedded store in its own folder.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Once;

use s3_upload_server::{Application, Config};
use serde_json::Value;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

static TRACING: Once = Once::new();

/// Logs are shown only when asked: `TEST_LOG=1 cargo test`.
fn init_tracing() {
    TRACING.call_once(|| {
        if std::env::var_os("TEST_LOG").is_some() {
            tracing_subscriber::fmt()
                .with_env_filter(tracing_subscriber::EnvFilter::new(
                    "s3_upload_server=debug,info",
                ))
                .with_test_writer()
                .init();
        }
    });
}

pub(crate) struct TestApp {
    pub(crate) addr: String,
    pub(crate) http: reqwest::Client,
    pub(crate) s3: aws_sdk_s3::Client,
    pub(crate) bucket: String,
    /// The store's endpoint (the embedded one, or the configured one).
    pub(crate) endpoint: Option<String>,
    pub(crate) data_dir: PathBuf,
    _dir: tempfile::TempDir,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<anyhow::Result<()>>>,
}

/// The application with default settings.
pub(crate) async fn spawn_app() -> TestApp {
    spawn_app_with(&[]).await
}

/// The application with some settings changed, e.g. `&[("MAX_FILE_SIZE", "1024")]`.
pub(crate) async fn spawn_app_with(settings: &[(&str, &str)]) -> TestApp {
    init_tracing();
    let dir = tempfile::tempdir().expect("temporary folder");
    let data_dir = dir.path().join("store");
    let mut env: HashMap<String, String> = HashMap::from([
        ("HOST".to_owned(), "127.0.0.1".to_owned()),
        ("PORT".to_owned(), "0".to_owned()),
        ("EMBEDDED_S3_ADDR".to_owned(), "127.0.0.1:0".to_owned()),
        (
            "EMBEDDED_S3_DATA_DIR".to_owned(),
            data_dir.display().to_string(),
        ),
        ("SHUTDOWN_GRACE_SECS".to_owned(), "10".to_owned()),
    ]);
    for (name, value) in settings {
        env.insert((*name).to_owned(), (*value).to_owned());
    }
    let config =
        Config::from_lookup(|name| env.get(name).cloned()).expect("valid test configuration");
    let app = Application::build(config)
        .await
        .expect("application starts");
    let addr = format!("http://127.0.0.1:{}", app.port());
    let s3 = app.state().uploader.client().clone();
    let bucket = app.state().uploader.bucket().to_owned();
    let endpoint = app.store().endpoint();
    let (tx, rx) = oneshot::channel();
    let server = tokio::spawn(app.run_until_stopped(async {
        let _ = rx.await;
    }));
    TestApp {
        addr,
        http: reqwest::Client::new(),
        s3,
        bucket,
        endpoint,
        data_dir,
        _dir: dir,
        shutdown: Some(tx),
        server: Some(server),
    }
}

impl TestApp {
    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.addr)
    }

    /// POSTs a multipart form to `/upload`.
    pub(crate) async fn upload(&self, form: reqwest::multipart::Form) -> reqwest::Response {
        self.http
            .post(self.url("/upload"))
            .multipart(form)
            .send()
            .await
            .expect("upload request")
    }

    /// POSTs a raw body with a given Content-Type to `/upload`.
    pub(crate) async fn upload_raw(
        &self,
        content_type: &str,
        body: impl Into<reqwest::Body>,
    ) -> reqwest::Response {
        self.http
            .post(self.url("/upload"))
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .expect("upload request")
    }

    /// Every key in the bucket.
    pub(crate) async fn keys(&self) -> Vec<String> {
        let listed = self
            .s3
            .list_objects_v2()
            .bucket(&self.bucket)
            .send()
            .await
            .expect("list objects");
        listed
            .contents()
            .iter()
            .filter_map(|o| o.key().map(str::to_owned))
            .collect()
    }

    /// Multipart uploads the store still holds open (s3s-fs keeps one `.upload-<id>.json` file each).
    pub(crate) async fn pending_multipart_uploads(&self) -> Vec<String> {
        std::fs::read_dir(&self.data_dir)
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| n.starts_with(".upload-") || n.starts_with(".upload_id-"))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Asserts the bucket holds exactly `expected` objects and no open multipart upload.
    pub(crate) async fn assert_bucket_holds(&self, expected: usize) {
        let keys = self.keys().await;
        assert_eq!(keys.len(), expected, "objects in the bucket: {keys:?}");
        let pending = self.pending_multipart_uploads().await;
        assert!(
            pending.is_empty(),
            "open multipart uploads left behind: {pending:?}"
        );
    }

    /// Starts a graceful shutdown (as SIGTERM does), without waiting for it.
    pub(crate) fn begin_shutdown(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }

    /// Waits until the server has stopped after [`Self::begin_shutdown`].
    pub(crate) async fn wait_stopped(mut self) {
        if let Some(server) = self.server.take() {
            server
                .await
                .expect("server task")
                .expect("server stops cleanly");
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(server) = self.server.take() {
            server.abort();
        }
    }
}

/// A small valid PNG (4x4 red pixels).
pub(crate) fn png() -> Vec<u8> {
    fn chunk(out: &mut Vec<u8>, kind: &[u8], data: &[u8]) {
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let mut crc_input = kind.to_vec();
        crc_input.extend_from_slice(data);
        out.extend_from_slice(&crc_input);
        out.extend_from_slice(&crc32(&crc_input).to_be_bytes());
    }
    let mut raw = Vec::new();
    for _ in 0..4 {
        raw.push(0);
        raw.extend_from_slice(&[255, 0, 0].repeat(4));
    }
    // A stored (uncompressed) deflate block inside a zlib stream.
    let mut zlib = vec![0x78, 0x01, 0x01];
    zlib.extend_from_slice(&(raw.len() as u16).to_le_bytes());
    zlib.extend_from_slice(&(!(raw.len() as u16)).to_le_bytes());
    zlib.extend_from_slice(&raw);
    zlib.extend_from_slice(&adler32(&raw).to_be_bytes());
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&4u32.to_be_bytes());
    ihdr.extend_from_slice(&4u32.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    chunk(&mut png, b"IHDR", &ihdr);
    chunk(&mut png, b"IDAT", &zlib);
    chunk(&mut png, b"IEND", &[]);
    png
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn adler32(data: &[u8]) -> u32 {
    let (mut a, mut b) = (1u32, 0u32);
    for &byte in data {
        a = (a + u32::from(byte)) % 65521;
        b = (b + a) % 65521;
    }
    (b << 16) | a
}

/// Deterministic pseudo-random bytes (so a wrong offset is caught, unlike zeros).
pub(crate) fn pattern(len: usize) -> Vec<u8> {
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect()
}

/// A file part for a multipart form.
pub(crate) fn file_part(bytes: Vec<u8>, name: &str, mime: &str) -> reqwest::multipart::Part {
    reqwest::multipart::Part::bytes(bytes)
        .file_name(name.to_owned())
        .mime_str(mime)
        .expect("valid mime")
}

/// The `error.code` of an error answer.
pub(crate) async fn error_code(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let body: Value = response.json().await.expect("a JSON error body");
    (status, body)
}
