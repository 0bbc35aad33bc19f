//! Every setting the server reads, with its default.
//!
//! Settings come from the process environment, which `main` first fills from `.env` (dotenvy). The sample's
//! variable names (`AWS_ACCESS_KEY`, `AWS_SECRET_ACCESS_KEY`, `AWS_S3_BUCKET`) work unchanged, and so do the
//! standard AWS ones. [`Config::from_lookup`] takes any lookup function, so tests build configurations without
//! touching the process environment.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

const MIB: u64 = 1024 * 1024;

/// S3's smallest allowed part (except the last one).
pub const MIN_PART_SIZE: u64 = 5 * MIB;
/// S3's most parts in one multipart upload.
pub const MAX_PARTS: u64 = 10_000;
/// S3's largest allowed part.
pub const MAX_PART_SIZE: u64 = 5 * 1024 * MIB;

/// The whole configuration of one server.
#[derive(Clone, Debug)]
pub struct Config {
    /// `HOST`: the address the HTTP server binds. Default `0.0.0.0` (all interfaces, as the sample).
    pub host: IpAddr,
    /// `PORT`: the HTTP port. Default `3000`; `0` picks a free port.
    pub port: u16,
    /// Where objects go: AWS S3, any S3-compatible endpoint, or the embedded store.
    pub store: StoreConfig,
    /// `PUBLIC_BASE_URL`: replaces the origin (and bucket path) of every returned URL, e.g. a CDN in front of
    /// the bucket: `https://cdn.example.com` gives `https://cdn.example.com/<key>`. Default: none.
    pub public_base_url: Option<String>,
    /// How uploads are received and stored.
    pub upload: UploadConfig,
    /// `SHUTDOWN_GRACE_SECS`: how long in-flight uploads may take to finish after Ctrl-C or SIGTERM.
    /// Default 30 seconds.
    pub shutdown_grace: Duration,
    /// `SHUTDOWN_CLEANUP_SECS`: when the grace period ends, unfinished uploads are cancelled and this is how
    /// long their clean-up (aborting multipart uploads, deleting what they stored) may take before the process
    /// exits; what is left then is logged. Default 15 seconds.
    pub shutdown_cleanup: Duration,
    /// How many clients are served at once, and how long they may take.
    pub limits: ConnectionLimits,
    /// `LOG_FORMAT`: `text` (default) or `json`.
    pub log_format: LogFormat,
    /// Who may upload, and from which pages.
    pub access: AccessConfig,
    /// What `location` is: a public URL or a presigned one.
    pub url_mode: UrlMode,
    /// `RESUMABLE_EXPIRY_SECS`: how long a resumable (tus) upload is kept after its creation or its last
    /// received bytes, as its `Upload-Expires` says; 1 second to 30 days. Default 86400 (a day).
    pub resumable_expiry: Duration,
    /// `RESUMABLE_THRESHOLD`: the size, in bytes, from which the page sends a file through tus (`/files/`)
    /// instead of `POST /upload`, so that a dropped connection or a reload resumes it. `0` turns this off (the
    /// page never uses tus; `/files/` still serves other clients). Default 16 MiB (16777216); when set, at most
    /// `MAX_FILE_SIZE` (above it no file could reach it). `None` when off, or when the default is above
    /// `MAX_FILE_SIZE`.
    pub resumable_threshold: Option<u64>,
    /// `DIRECT_URL_TTL_SECS`: how long the URLs signed for direct uploads (`/s3/...`: the POST policy, part
    /// URLs) and the page's direct-upload ticket live; a direct multipart upload with no part URL asked for that
    /// long is aborted. 60 seconds to [`MAX_DIRECT_URL_TTL_SECS`]. Default 900 (15 minutes).
    pub direct_url_ttl: Duration,
    /// `PAGE_UPLOAD_MODE`: how the page sends files until its visitor flips its switch (which it then
    /// remembers): `server` (default: through this server, `POST /upload` or tus) or `direct` (straight to the
    /// store with URLs signed by the `/s3` routes).
    pub page_upload_mode: PageUploadMode,
}

/// Who may upload.
#[derive(Clone, Debug, Default)]
pub struct AccessConfig {
    /// `UPLOAD_TOKEN`: when set, `POST /upload` needs `Authorization: Bearer <token>`. Default: none (anyone who
    /// can reach the port may upload, as in the sample: set it on any public host).
    pub upload_token: Option<Secret>,
    /// `CORS_ALLOWED_ORIGINS`: comma-separated origins whose pages may call the API (e.g.
    /// `https://app.example.com`), or `*`. Default: none (same-origin only, the safe default).
    pub cors_allowed_origins: Vec<String>,
}

/// Bounds on what clients can hold: connections, requests, time to send headers.
#[derive(Clone, Debug)]
pub struct ConnectionLimits {
    /// `MAX_CONNECTIONS`: connections open at once. At the limit, new connections wait in the listen queue until
    /// one closes. Default 1024.
    pub max_connections: usize,
    /// `MAX_UPLOADS`: `POST /upload` requests processed at once; more are answered at once with 503
    /// `SERVER_BUSY` and `Retry-After`. Default 256.
    pub max_uploads: usize,
    /// `HEADER_READ_TIMEOUT_SECS`: the longest a client may take to send a request's headers, and the longest a
    /// connection stays open with no request (HTTP/1.1 keep-alive, HTTP/2 with no stream). Default 10 seconds.
    pub header_read_timeout: Duration,
    /// `HTTP2_MAX_STREAMS`: requests one HTTP/2 connection may have open at once. Default 32.
    pub http2_max_streams: u32,
    /// `SERVER_THREADS`: the threads that serve connections, each with its own runtime; a connection stays on
    /// one (see `lanes.rs`). Default: one per CPU the process may use.
    pub server_threads: usize,
}

/// What the `location` of a stored file is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UrlMode {
    /// `URL_MODE=public` (default): the object's public URL (the seed's bucket policy makes it readable), or
    /// `PUBLIC_BASE_URL/<key>` for a CDN.
    Public,
    /// `URL_MODE=presigned`: a presigned GET URL valid for `PRESIGNED_URL_TTL_SECS` (default 3600, at most
    /// 604800 = 7 days), for private buckets, which the AWS console recommends.
    Presigned { ttl: Duration },
}

/// How the page sends files by default (`PAGE_UPLOAD_MODE`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PageUploadMode {
    /// `server`: through this server (`POST /upload`, or tus from `RESUMABLE_THRESHOLD` on).
    #[default]
    Server,
    /// `direct`: to the store with presigned part URLs from `/s3/multipart` (the server never sees the bytes).
    Direct,
}

impl PageUploadMode {
    /// The setting's value, as `/config` tells the page.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Server => "server",
            Self::Direct => "direct",
        }
    }
}

/// The budget a part takes before its first bytes have shown that its client is sending: each file being read
/// holds at most this much until this many bytes of its part have arrived, then the rest of the part at once.
pub const FIRST_READ_BYTES: u64 = 64 * 1024;

/// The budget is handed out in whole blocks of this size past a part's first read.
pub const BUDGET_BLOCK_BYTES: u64 = MIB;

/// The longest key S3 accepts, in bytes.
pub const S3_MAX_KEY_BYTES: usize = 1024;

/// The longest key the embedded store can hold for its bucket `uploads`: s3s-fs names an object's side files
/// after the base64 of its bucket and key, and a file name has at most 255 bytes
/// (see `embedded::max_key_len`, which computes it and is tested against this value).
pub const EMBEDDED_MAX_KEY_BYTES: usize = 128;

/// The longest a URL signed for a direct upload lives (`DIRECT_URL_TTL_SECS`): 12 hours.
pub const MAX_DIRECT_URL_TTL_SECS: u64 = 12 * 3600;

/// The longest a resumable upload may wait for its next bytes (`RESUMABLE_EXPIRY_SECS`): 30 days.
pub const MAX_RESUMABLE_EXPIRY_SECS: u64 = 30 * 24 * 3600;

/// `RESUMABLE_THRESHOLD`'s default: files from 16 MiB on go through tus.
pub const DEFAULT_RESUMABLE_THRESHOLD: u64 = 16 * MIB;

/// The longest a presigned URL may live (SigV4's limit).
pub const MAX_PRESIGNED_TTL_SECS: u64 = 7 * 24 * 3600;

/// How long the embedded store keeps a multipart upload no one touches (7 days): a resumable upload may pause
/// for a day and resume after a restart.
pub const EMBEDDED_UPLOAD_KEEP: Duration = Duration::from_secs(7 * 24 * 3600);

/// Where the bucket lives.
#[derive(Clone, Debug)]
pub enum StoreConfig {
    /// No `AWS_S3_BUCKET`: an S3-compatible store runs in-process on loopback.
    Embedded(EmbeddedConfig),
    /// A real bucket on AWS S3 or on an S3-compatible endpoint.
    Remote(RemoteConfig),
}

/// The embedded store's settings (used only when no bucket is configured).
#[derive(Clone, Debug)]
pub struct EmbeddedConfig {
    /// `EMBEDDED_S3_ADDR`: the loopback address it listens on. Default `127.0.0.1:9400`, so that URLs stay
    /// valid across restarts; port `0` picks a free one.
    pub addr: SocketAddr,
    /// `EMBEDDED_S3_DATA_DIR`: where its objects are kept on disk. Default `./data`.
    pub data_dir: PathBuf,
    /// The bucket it creates: `uploads`.
    pub bucket: String,
    /// Its access key id (printed at start-up so the AWS CLI can look inside).
    pub access_key: String,
    /// Its secret access key.
    pub secret_key: Secret,
    /// The region it claims: `AWS_REGION`, default `ap-northeast-2`.
    pub region: String,
    /// How long a multipart upload may stay idle (no part, no completion) before the store's start-up sweep
    /// removes it: [`EMBEDDED_UPLOAD_KEEP`], no setting.
    pub upload_keep: Duration,
    /// The largest file a form POST (a direct upload's PostObject) may carry: `MAX_FILE_SIZE`, at most
    /// [`MAX_PART_SIZE`] (S3's limit for one PUT or POST). s3s reads a form's file into memory before it checks
    /// who sent it, so this bounds what any caller can make the store hold per request.
    pub form_file_limit: u64,
}

/// A real bucket's settings.
#[derive(Clone, Debug)]
pub struct RemoteConfig {
    /// `AWS_S3_BUCKET`: the bucket name (the sample's variable).
    pub bucket: String,
    /// `AWS_REGION` (or `AWS_DEFAULT_REGION`): default `ap-northeast-2` (Seoul), as in the sample.
    pub region: String,
    /// `AWS_ENDPOINT_URL_S3` or `AWS_ENDPOINT_URL`: an S3-compatible endpoint (MinIO, R2, Garage). When set,
    /// requests use path-style addressing and checksums only where the operation requires them.
    pub endpoint: Option<String>,
    /// Static keys: `AWS_ACCESS_KEY` or `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, optional
    /// `AWS_SESSION_TOKEN`. Without them, the standard AWS credential chain (an EC2 instance role, SSO, ...).
    pub credentials: Option<StaticCredentials>,
}

/// An access key pair from the environment.
#[derive(Clone, Debug)]
pub struct StaticCredentials {
    pub access_key_id: String,
    pub secret_access_key: Secret,
    pub session_token: Option<Secret>,
}

/// How uploads are received and written.
#[derive(Clone, Debug)]
pub struct UploadConfig {
    /// The multipart field that carries files: `photos`, as in the sample.
    pub field_name: String,
    /// `MAX_FILE_SIZE`: the largest file accepted, in bytes. Default 100 MiB (104857600).
    pub max_file_size: u64,
    /// `MAX_FILES`: how many files one request may carry. Default 10.
    pub max_files: usize,
    /// `MAX_FIELDS`: how many non-file fields one request may carry. Default 20.
    pub max_fields: usize,
    /// `MAX_FIELD_SIZE`: the largest non-file field value, in bytes. Default 64 KiB.
    pub max_field_size: u64,
    /// `MAX_PARTS`: how many parts (files and fields) one request may carry. Default 50.
    pub max_parts: usize,
    /// `KEY_STRATEGY`: `unique` (default: `<uuid>/<sanitized name>`, two `image.png` never collide) or
    /// `original` (the sample's `key = originalname`, sanitized; a name already in the bucket is refused with
    /// 409 `FILE_EXISTS`: uploads never overwrite, so a failed request can never remove another's file).
    pub key_strategy: KeyStrategy,
    /// `KEY_PREFIX`: prepended to every key, e.g. `uploads/`. Default empty.
    pub key_prefix: String,
    /// `OBJECT_ACL`: a canned ACL sent with every object (e.g. `public-read`). Default none: today's buckets
    /// have ACLs disabled and refuse any ACL (`AccessControlListNotSupported`); use a bucket policy instead.
    pub acl: Option<String>,
    /// `UPLOAD_PART_SIZE`: bytes per multipart part, 5 MiB to 5 GiB. Files smaller than one part go as one
    /// PutObject. Default 8 MiB.
    pub part_size: u64,
    /// `UPLOAD_PARTS_IN_FLIGHT`: parts (or small files) of one request uploaded at once. Default 3.
    pub parts_in_flight: usize,
    /// `UPLOAD_MEMORY_BUDGET`: bytes buffered across all uploads at once, taken as bytes arrive; when reached,
    /// clients are slowed down (back-pressure) instead of memory growing. It must hold one part (rounded up to
    /// whole MiB) plus [`FIRST_READ_BYTES`] for each of `MAX_UPLOADS`. Default 256 MiB.
    pub memory_budget: u64,
    /// `UPLOAD_MEMORY_WAIT_SECS`: the longest an upload waits for room in the budget; then it is answered 503
    /// `SERVER_BUSY` with `Retry-After`. Default 30 seconds.
    pub memory_wait: Duration,
    /// `BODY_READ_TIMEOUT_SECS`: the longest wait for the next bytes of a request body. Default 30 seconds.
    pub body_read_timeout: Duration,
    /// `BODY_MIN_BYTES_PER_SEC`: the slowest a body may arrive, on average over each `BODY_READ_TIMEOUT_SECS` of
    /// waiting for it (time the server itself spends waiting for the store does not count); slower bodies are
    /// ended with 408 `REQUEST_TIMEOUT`. `0` turns the check off. Default 1024.
    pub body_min_rate: u64,
    /// `S3_TIMEOUT_SECS`: the longest one S3 request attempt may take. Default 120 seconds.
    pub s3_timeout: Duration,
    /// `ALLOWED_TYPES`: comma-separated content types a file may have, judged from its bytes (then its
    /// extension), never from the client's claim; `image/*` style wildcards work. Others get 415
    /// `LIMIT_FILE_TYPE`. Default: empty, every type.
    pub allowed_types: Vec<String>,
    /// multer-s3's object options, sent with every object.
    pub object: ObjectOptions,
}

/// Options stored with every object (multer-s3's `cacheControl`, `storageClass`, `serverSideEncryption`,
/// `metadata`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObjectOptions {
    /// `CACHE_CONTROL`, e.g. `public, max-age=31536000, immutable`. Default: none.
    pub cache_control: Option<String>,
    /// `STORAGE_CLASS`, e.g. `STANDARD_IA`, `INTELLIGENT_TIERING`. Default: none (the bucket's, STANDARD).
    pub storage_class: Option<String>,
    /// `SERVER_SIDE_ENCRYPTION`: `AES256` or `aws:kms`. Default: none (the bucket's default encryption).
    pub server_side_encryption: Option<String>,
    /// `SSE_KMS_KEY_ID`: the KMS key for `aws:kms`. Default: none (the AWS managed key).
    pub sse_kms_key_id: Option<String>,
    /// `OBJECT_METADATA`: user metadata as `name=value` pairs separated by commas, stored as `x-amz-meta-*`.
    /// Non-ASCII values are sent RFC 2047-encoded, since S3 headers must be ASCII. Default: none.
    pub metadata: Vec<(String, String)>,
}

/// How object keys are chosen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyStrategy {
    /// `<uuid>/<sanitized original name>`: never collides, stays readable.
    Unique,
    /// The sanitized original name, as the sample does: the same name overwrites.
    Original,
}

/// The log line format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// A value that never prints: `Debug` and `Display` show `***`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself, for the one place that needs it (the S3 client).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// A setting that could not be used.
#[derive(Debug, thiserror::Error)]
#[error("setting {name}={value:?} is invalid: {reason}")]
pub struct ConfigError {
    pub name: &'static str,
    pub value: String,
    pub reason: String,
}

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// The bucket objects go to.
    pub fn bucket(&self) -> &str {
        match &self.store {
            StoreConfig::Embedded(embedded) => &embedded.bucket,
            StoreConfig::Remote(remote) => &remote.bucket,
        }
    }

    /// The bucket's region.
    pub fn region(&self) -> &str {
        match &self.store {
            StoreConfig::Embedded(embedded) => &embedded.region,
            StoreConfig::Remote(remote) => &remote.region,
        }
    }
}

mod checks;
mod read;
#[cfg(test)]
mod tests;
