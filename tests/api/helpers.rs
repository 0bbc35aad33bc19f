//! `spawn_app()`: the real application on port 0, with its own bucket.
//!
//! By default each app runs its own embedded store in its own folder. With `TEST_S3_ENDPOINT` set (e.g.
//! `http://127.0.0.1:5000`, a moto server), each app instead gets a fresh bucket on that endpoint, created here
//! with the sample's public-read bucket policy, and is configured as a remote bucket, the way a deployment is:
//! the same tests then prove the server against a second, independent S3 implementation.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Once;

use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_s3::types::{BucketLocationConstraint, CreateBucketConfiguration};
use s3_upload_server::state::AppState;
use s3_upload_server::{Application, Config};
use serde_json::Value;

pub(crate) use crate::fixtures::{pattern, png};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

static TRACING: Once = Once::new();

/// The S3 endpoint every test bucket is created on, instead of each app's embedded store.
const ENDPOINT_VARIABLE: &str = "TEST_S3_ENDPOINT";
/// The sample's region (Seoul), used for the remote test buckets too.
const REMOTE_REGION: &str = "ap-northeast-2";

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

/// `TEST_S3_ENDPOINT`, when set and not empty.
pub(crate) fn remote_endpoint() -> Option<String> {
    std::env::var(ENDPOINT_VARIABLE)
        .ok()
        .map(|url| url.trim().trim_end_matches('/').to_owned())
        .filter(|url| !url.is_empty())
}

/// `TEST_S3_ENDPOINT`, for a test of calls the embedded store (s3s-fs 0.14.1) lacks: such a test is
/// `#[ignore]`d, scripts/test's moto pass runs it (`--include-ignored`), and it fails when run without moto.
pub(crate) fn needs_moto() -> String {
    remote_endpoint().unwrap_or_else(|| {
        panic!(
            "this test needs a moto server: set {ENDPOINT_VARIABLE} (scripts/test's moto pass does, with \
             --include-ignored)"
        )
    })
}

/// Where a test app's bucket lives.
enum Backend {
    /// The app's own embedded store (s3s-fs), which keeps its files in `data_dir`.
    Embedded { data_dir: PathBuf },
    /// Another S3 server: `TEST_S3_ENDPOINT`, or the store a test configured itself.
    Remote,
}

pub(crate) struct TestApp {
    pub(crate) addr: String,
    pub(crate) http: reqwest::Client,
    pub(crate) s3: aws_sdk_s3::Client,
    pub(crate) bucket: String,
    /// The store's endpoint (the embedded one, or the configured one).
    pub(crate) endpoint: Option<String>,
    /// The app's shared state: its bucket (with the credentials it signs with) and uploader.
    pub(crate) state: AppState,
    backend: Backend,
    _dir: Option<tempfile::TempDir>,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<anyhow::Result<()>>>,
}

/// The application with default settings.
pub(crate) async fn spawn_app() -> TestApp {
    spawn_app_with(&[]).await
}

/// The application with some settings changed, e.g. `&[("MAX_FILE_SIZE", "1024")]`.
///
/// With `TEST_S3_ENDPOINT` set, it writes to a new bucket there, unless the test names a bucket of its own
/// (`AWS_S3_BUCKET`, with its endpoint and keys). Settings the test passes always win over those chosen here.
pub(crate) async fn spawn_app_with(settings: &[(&str, &str)]) -> TestApp {
    match remote_endpoint() {
        Some(endpoint) if !names_a_bucket(settings) => {
            spawn_remote_app_with(&endpoint, settings).await
        }
        _ => spawn_embedded_app_with(settings).await,
    }
}

/// The application on its own embedded store whatever `TEST_S3_ENDPOINT` says: for tests about the embedded
/// store itself, or that need a store known to check signatures.
pub(crate) async fn spawn_embedded_app_with(settings: &[(&str, &str)]) -> TestApp {
    let dir = tempfile::tempdir().expect("temporary folder");
    let data_dir = dir.path().join("store");
    let base = [
        ("EMBEDDED_S3_ADDR", "127.0.0.1:0".to_owned()),
        ("EMBEDDED_S3_DATA_DIR", data_dir.display().to_string()),
    ];
    let backend = if names_a_bucket(settings) {
        Backend::Remote
    } else {
        Backend::Embedded { data_dir }
    };
    start(&base, settings, backend, Some(dir)).await
}

fn names_a_bucket(settings: &[(&str, &str)]) -> bool {
    settings.iter().any(|(name, _)| *name == "AWS_S3_BUCKET")
}

/// The application on a new bucket of the S3 server at `endpoint`.
async fn spawn_remote_app_with(endpoint: &str, settings: &[(&str, &str)]) -> TestApp {
    let region = settings
        .iter()
        .find(|(name, _)| *name == "AWS_REGION")
        .map_or(REMOTE_REGION, |(_, value)| *value);
    let bucket = format!("upload-test-{}", uuid::Uuid::new_v4().simple());
    create_public_read_bucket(endpoint, region, &bucket).await;
    let base = [
        ("AWS_S3_BUCKET", bucket),
        ("AWS_ACCESS_KEY_ID", "test".to_owned()),
        ("AWS_SECRET_ACCESS_KEY", "test".to_owned()),
        ("AWS_ENDPOINT_URL", endpoint.to_owned()),
        ("AWS_REGION", region.to_owned()),
    ];
    start(&base, settings, Backend::Remote, None).await
}

/// Creates `bucket` as the course does: in the app's region, and readable by anyone through the sample's
/// bucket policy, so that returned URLs open without credentials, as in a browser.
async fn create_public_read_bucket(endpoint: &str, region: &str, bucket: &str) {
    let config = aws_sdk_s3::config::Builder::new()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(region.to_owned()))
        .credentials_provider(Credentials::new("test", "test", None, None, "tests"))
        .endpoint_url(endpoint)
        .force_path_style(true)
        .build();
    let admin = aws_sdk_s3::Client::from_conf(config);
    let mut create = admin.create_bucket().bucket(bucket);
    if region != "us-east-1" {
        // Outside us-east-1, S3 (and moto) want the bucket's region named in the request.
        create = create.create_bucket_configuration(
            CreateBucketConfiguration::builder()
                .location_constraint(BucketLocationConstraint::from(region))
                .build(),
        );
    }
    create
        .send()
        .await
        .unwrap_or_else(|err| panic!("create bucket {bucket} on {endpoint}: {err:?}"));
    let policy = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "PublicReadGetObject",
            "Effect": "Allow",
            "Principal": "*",
            "Action": ["s3:GetObject"],
            "Resource": [format!("arn:aws:s3:::{bucket}/*")],
        }],
    });
    admin
        .put_bucket_policy()
        .bucket(bucket)
        .policy(policy.to_string())
        .send()
        .await
        .unwrap_or_else(|err| panic!("set the public-read policy of {bucket}: {err:?}"));
}

/// Builds and starts the app: common settings, then `base`, then the test's own `settings` on top.
async fn start(
    base: &[(&str, String)],
    settings: &[(&str, &str)],
    backend: Backend,
    dir: Option<tempfile::TempDir>,
) -> TestApp {
    init_tracing();
    let mut env: HashMap<String, String> = HashMap::from([
        ("HOST".to_owned(), "127.0.0.1".to_owned()),
        ("PORT".to_owned(), "0".to_owned()),
        ("SHUTDOWN_GRACE_SECS".to_owned(), "10".to_owned()),
    ]);
    for (name, value) in base {
        env.insert((*name).to_owned(), value.clone());
    }
    for (name, value) in settings {
        env.insert((*name).to_owned(), (*value).to_owned());
    }
    let config =
        Config::from_lookup(|name| env.get(name).cloned()).expect("valid test configuration");
    let app = Application::build(config)
        .await
        .expect("application starts");
    let addr = format!("http://127.0.0.1:{}", app.port());
    let store = app.storage().bucket();
    let (s3, bucket) = (store.client().clone(), store.name().to_owned());
    let endpoint = store.endpoint().map(str::to_owned);
    let state = app.state().clone();
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
        state,
        backend,
        _dir: dir,
        shutdown: Some(tx),
        server: Some(server),
    }
}

impl TestApp {
    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.addr)
    }

    /// The embedded store's data folder, when the app runs on its own embedded store.
    pub(crate) fn data_dir(&self) -> Option<&std::path::Path> {
        match &self.backend {
            Backend::Embedded { data_dir } => Some(data_dir),
            Backend::Remote => None,
        }
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

    /// Multipart uploads the store still holds open: ListMultipartUploads on a remote store. s3s-fs 0.14.1
    /// lacks that call, so for the embedded store its data folder is read (one `.upload-<id>.json` file each).
    pub(crate) async fn pending_multipart_uploads(&self) -> Vec<String> {
        match &self.backend {
            Backend::Embedded { data_dir } => embedded_uploads(data_dir),
            Backend::Remote => {
                let listed = self
                    .s3
                    .list_multipart_uploads()
                    .bucket(&self.bucket)
                    .send()
                    .await
                    .expect("list multipart uploads");
                listed
                    .uploads()
                    .iter()
                    .map(|u| {
                        let key = u.key().unwrap_or_default();
                        format!("{key} ({})", u.upload_id().unwrap_or_default())
                    })
                    .collect()
            }
        }
    }

    /// The bytes of the object at `key`.
    pub(crate) async fn object_bytes(&self, key: &str) -> Vec<u8> {
        let object = self
            .s3
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .unwrap_or_else(|err| panic!("get {key}: {err:?}"));
        object
            .body
            .collect()
            .await
            .expect("the object's body")
            .into_bytes()
            .to_vec()
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

/// The multipart uploads an embedded store's folder holds open: its `.upload-<id>.json` records and
/// `.upload_id-<id>.*` part and staging files.
pub(crate) fn embedded_uploads(data_dir: &std::path::Path) -> Vec<String> {
    std::fs::read_dir(data_dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with(".upload-") || n.starts_with(".upload_id-"))
                .collect()
        })
        .unwrap_or_default()
}

/// A file part for a multipart form.
pub(crate) fn file_part(bytes: Vec<u8>, name: &str, mime: &str) -> reqwest::multipart::Part {
    reqwest::multipart::Part::bytes(bytes)
        .file_name(name.to_owned())
        .mime_str(mime)
        .expect("valid mime")
}

/// An error answer: its status and its JSON body (`body["error"]["code"]` is the code).
pub(crate) async fn error_answer(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let body: Value = response.json().await.expect("a JSON error body");
    (status, body)
}
