//! Every setting the server reads, with its default.
//!
//! Settings come from the process environment, which `main` first fills from `.env` (dotenvy). The sample's
//! variable names (`AWS_ACCESS_KEY`, `AWS_SECRET_ACCESS_KEY`, `AWS_S3_BUCKET`) work unchanged, and so do the
//! standard AWS ones. [`Config::from_lookup`] takes any lookup function, so tests build configurations without
//! touching the process environment.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::str::FromStr;
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
    /// `LOG_FORMAT`: `text` (default) or `json`.
    pub log_format: LogFormat,
    /// Who may upload, and from which pages.
    pub access: AccessConfig,
    /// What `location` is: a public URL or a presigned one.
    pub url_mode: UrlMode,
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

/// The longest a presigned URL may live (SigV4's limit).
pub const MAX_PRESIGNED_TTL_SECS: u64 = 7 * 24 * 3600;

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
    /// `original` (the sample's `key = originalname`, sanitized; a second upload overwrites the first).
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
    /// `UPLOAD_MEMORY_BUDGET`: bytes buffered across all uploads at once; when reached, clients are slowed down
    /// (back-pressure) instead of memory growing. Default 256 MiB.
    pub memory_budget: u64,
    /// `BODY_READ_TIMEOUT_SECS`: the longest wait for the next bytes of a request body. Default 30 seconds.
    pub body_read_timeout: Duration,
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

    /// Reads settings through `lookup`; an empty value counts as unset.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let env = Env(&lookup);
        let region = env
            .first(&["AWS_REGION", "AWS_DEFAULT_REGION"])
            .unwrap_or_else(|| "ap-northeast-2".to_owned());

        let store = match env.get("AWS_S3_BUCKET") {
            None => StoreConfig::Embedded(EmbeddedConfig {
                addr: env.parse("EMBEDDED_S3_ADDR", SocketAddr::from(([127, 0, 0, 1], 9400)))?,
                data_dir: env
                    .get("EMBEDDED_S3_DATA_DIR")
                    .map_or_else(|| PathBuf::from("data"), PathBuf::from),
                bucket: "uploads".to_owned(),
                access_key: "embedded-access-key".to_owned(),
                secret_key: Secret::new("embedded-secret-key"),
                region,
            }),
            Some(bucket) => {
                let access_key = env.first(&["AWS_ACCESS_KEY", "AWS_ACCESS_KEY_ID"]);
                let secret_key = env.get("AWS_SECRET_ACCESS_KEY");
                let credentials = match (access_key, secret_key) {
                    (Some(access_key_id), Some(secret)) => Some(StaticCredentials {
                        access_key_id,
                        secret_access_key: Secret::new(secret),
                        session_token: env.get("AWS_SESSION_TOKEN").map(Secret::new),
                    }),
                    (None, None) => None,
                    (Some(_), None) => {
                        return Err(ConfigError {
                            name: "AWS_SECRET_ACCESS_KEY",
                            value: String::new(),
                            reason: "an access key is set but its secret is not".to_owned(),
                        });
                    }
                    (None, Some(_)) => {
                        return Err(ConfigError {
                            name: "AWS_ACCESS_KEY",
                            value: String::new(),
                            reason: "a secret is set but no access key (AWS_ACCESS_KEY or AWS_ACCESS_KEY_ID)"
                                .to_owned(),
                        });
                    }
                };
                let endpoint = env
                    .first(&["AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"])
                    .map(|url| url.trim_end_matches('/').to_owned());
                if let Some(url) = &endpoint {
                    check_http_url("AWS_ENDPOINT_URL", url)?;
                }
                StoreConfig::Remote(RemoteConfig {
                    bucket,
                    region,
                    endpoint,
                    credentials,
                })
            }
        };

        let public_base_url = env
            .get("PUBLIC_BASE_URL")
            .map(|url| url.trim_end_matches('/').to_owned());
        if let Some(url) = &public_base_url {
            check_http_url("PUBLIC_BASE_URL", url)?;
        }

        let part_size = env.parse("UPLOAD_PART_SIZE", 8 * MIB)?;
        if !(MIN_PART_SIZE..=MAX_PART_SIZE).contains(&part_size) {
            return Err(ConfigError {
                name: "UPLOAD_PART_SIZE",
                value: part_size.to_string(),
                reason: format!("S3 parts are {MIN_PART_SIZE} to {MAX_PART_SIZE} bytes"),
            });
        }
        let parts_in_flight = env.parse("UPLOAD_PARTS_IN_FLIGHT", 3usize)?.max(1);
        let memory_budget = env.parse("UPLOAD_MEMORY_BUDGET", 256 * MIB)?;
        if memory_budget < part_size {
            return Err(ConfigError {
                name: "UPLOAD_MEMORY_BUDGET",
                value: memory_budget.to_string(),
                reason: format!("must hold at least one part (UPLOAD_PART_SIZE = {part_size})"),
            });
        }

        let max_file_size = env.parse("MAX_FILE_SIZE", 100 * MIB)?;
        if max_file_size > part_size.saturating_mul(MAX_PARTS) {
            return Err(ConfigError {
                name: "MAX_FILE_SIZE",
                value: max_file_size.to_string(),
                reason: format!(
                    "a multipart upload has at most {MAX_PARTS} parts: raise UPLOAD_PART_SIZE to at least {}",
                    max_file_size.div_ceil(MAX_PARTS)
                ),
            });
        }

        let key_strategy = match env.get("KEY_STRATEGY").as_deref() {
            None | Some("unique") => KeyStrategy::Unique,
            Some("original") => KeyStrategy::Original,
            Some(other) => {
                return Err(ConfigError {
                    name: "KEY_STRATEGY",
                    value: other.to_owned(),
                    reason: "expected `unique` or `original`".to_owned(),
                });
            }
        };
        let log_format = match env.get("LOG_FORMAT").as_deref() {
            None | Some("text") => LogFormat::Text,
            Some("json") => LogFormat::Json,
            Some(other) => {
                return Err(ConfigError {
                    name: "LOG_FORMAT",
                    value: other.to_owned(),
                    reason: "expected `text` or `json`".to_owned(),
                });
            }
        };
        let key_prefix = env.get("KEY_PREFIX").unwrap_or_default();
        if key_prefix.starts_with('/')
            || key_prefix.split('/').any(|s| s == "..")
            || key_prefix.len() > 64
        {
            return Err(ConfigError {
                name: "KEY_PREFIX",
                value: key_prefix,
                reason: "must not start with `/`, contain a `..` segment, or exceed 64 bytes"
                    .to_owned(),
            });
        }

        let url_mode = match env.get("URL_MODE").as_deref() {
            None | Some("public") => UrlMode::Public,
            Some("presigned") => {
                let ttl = env.parse("PRESIGNED_URL_TTL_SECS", 3600u64)?;
                if !(1..=MAX_PRESIGNED_TTL_SECS).contains(&ttl) {
                    return Err(ConfigError {
                        name: "PRESIGNED_URL_TTL_SECS",
                        value: ttl.to_string(),
                        reason: format!(
                            "a presigned URL lives 1 to {MAX_PRESIGNED_TTL_SECS} seconds (7 days)"
                        ),
                    });
                }
                UrlMode::Presigned {
                    ttl: Duration::from_secs(ttl),
                }
            }
            Some(other) => {
                return Err(ConfigError {
                    name: "URL_MODE",
                    value: other.to_owned(),
                    reason: "expected `public` or `presigned`".to_owned(),
                });
            }
        };
        let server_side_encryption = env.get("SERVER_SIDE_ENCRYPTION");
        if let Some(sse) = &server_side_encryption
            && sse != "AES256"
            && sse != "aws:kms"
        {
            return Err(ConfigError {
                name: "SERVER_SIDE_ENCRYPTION",
                value: sse.clone(),
                reason: "expected `AES256` or `aws:kms`".to_owned(),
            });
        }
        let sse_kms_key_id = env.get("SSE_KMS_KEY_ID");
        if sse_kms_key_id.is_some() && server_side_encryption.as_deref() != Some("aws:kms") {
            return Err(ConfigError {
                name: "SSE_KMS_KEY_ID",
                value: String::new(),
                reason: "only used with SERVER_SIDE_ENCRYPTION=aws:kms".to_owned(),
            });
        }
        let metadata = match env.get("OBJECT_METADATA") {
            None => Vec::new(),
            Some(list) => parse_metadata(&list)?,
        };
        let object = ObjectOptions {
            cache_control: env.get("CACHE_CONTROL"),
            storage_class: env.get("STORAGE_CLASS").map(|c| c.to_ascii_uppercase()),
            server_side_encryption,
            sse_kms_key_id,
            metadata,
        };

        Ok(Self {
            host: env.parse("HOST", IpAddr::V4(Ipv4Addr::UNSPECIFIED))?,
            port: env.parse("PORT", 3000u16)?,
            store,
            public_base_url,
            upload: UploadConfig {
                field_name: "photos".to_owned(),
                max_file_size,
                max_files: env.parse("MAX_FILES", 10usize)?,
                max_fields: env.parse("MAX_FIELDS", 20usize)?,
                max_field_size: env.parse("MAX_FIELD_SIZE", 64 * 1024u64)?,
                max_parts: env.parse("MAX_PARTS", 50usize)?,
                key_strategy,
                key_prefix,
                acl: env.get("OBJECT_ACL"),
                part_size,
                parts_in_flight,
                memory_budget,
                body_read_timeout: Duration::from_secs(
                    env.parse("BODY_READ_TIMEOUT_SECS", 30u64)?.max(1),
                ),
                s3_timeout: Duration::from_secs(env.parse("S3_TIMEOUT_SECS", 120u64)?.max(1)),
                allowed_types: list(env.get("ALLOWED_TYPES"))
                    .into_iter()
                    .map(|t| t.to_ascii_lowercase())
                    .collect(),
                object,
            },
            shutdown_grace: Duration::from_secs(env.parse("SHUTDOWN_GRACE_SECS", 30u64)?),
            log_format,
            access: AccessConfig {
                upload_token: env.get("UPLOAD_TOKEN").map(Secret::new),
                cors_allowed_origins: list(env.get("CORS_ALLOWED_ORIGINS")),
            },
            url_mode,
        })
    }

    /// The bucket objects go to.
    pub fn bucket(&self) -> &str {
        match &self.store {
            StoreConfig::Embedded(embedded) => &embedded.bucket,
            StoreConfig::Remote(remote) => &remote.bucket,
        }
    }
}

struct Env<'a>(&'a dyn Fn(&str) -> Option<String>);

impl Env<'_> {
    fn get(&self, name: &str) -> Option<String> {
        (self.0)(name)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    }

    fn first(&self, names: &[&str]) -> Option<String> {
        names.iter().find_map(|name| self.get(name))
    }

    fn parse<T>(&self, name: &'static str, default: T) -> Result<T, ConfigError>
    where
        T: FromStr,
        T::Err: fmt::Display,
    {
        match self.get(name) {
            None => Ok(default),
            Some(value) => value.parse().map_err(|err: T::Err| ConfigError {
                name,
                reason: err.to_string(),
                value,
            }),
        }
    }
}

/// A comma-separated list, without empty items.
fn list(value: Option<String>) -> Vec<String> {
    value
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(str::to_owned)
        .collect()
}

/// `name=value,name2=value2`: names are lowercase ASCII letters, digits, `-` and `_` (they become HTTP headers).
fn parse_metadata(list: &str) -> Result<Vec<(String, String)>, ConfigError> {
    let mut pairs = Vec::new();
    for item in list.split(',').map(str::trim).filter(|i| !i.is_empty()) {
        let Some((name, value)) = item.split_once('=') else {
            return Err(ConfigError {
                name: "OBJECT_METADATA",
                value: item.to_owned(),
                reason: "expected name=value pairs separated by commas".to_owned(),
            });
        };
        let name = name.trim().to_ascii_lowercase();
        if name.is_empty()
            || !name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(ConfigError {
                name: "OBJECT_METADATA",
                value: item.to_owned(),
                reason: "a metadata name is ASCII letters, digits, `-` and `_`".to_owned(),
            });
        }
        pairs.push((name, value.trim().to_owned()));
    }
    Ok(pairs)
}

fn check_http_url(name: &'static str, url: &str) -> Result<(), ConfigError> {
    if url.starts_with("http://") || url.starts_with("https://") {
        Ok(())
    } else {
        Err(ConfigError {
            name,
            value: url.to_owned(),
            reason: "expected an http:// or https:// URL".to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Config::from_lookup(|name| map.get(name).cloned())
    }

    #[test]
    fn no_bucket_means_embedded_store_with_sample_region() {
        let config = config(&[]).unwrap();
        let StoreConfig::Embedded(embedded) = &config.store else {
            panic!("expected the embedded store");
        };
        assert_eq!(embedded.region, "ap-northeast-2");
        assert_eq!(config.port, 3000);
        assert_eq!(config.upload.field_name, "photos");
    }

    #[test]
    fn sample_variable_names_configure_a_remote_bucket() {
        let config = config(&[
            ("AWS_S3_BUCKET", "jscode-uploaded-files"),
            ("AWS_ACCESS_KEY", "AKIAEXAMPLE"),
            ("AWS_SECRET_ACCESS_KEY", "very-secret"),
        ])
        .unwrap();
        let StoreConfig::Remote(remote) = &config.store else {
            panic!("expected a remote bucket");
        };
        assert_eq!(remote.bucket, "jscode-uploaded-files");
        let credentials = remote.credentials.as_ref().unwrap();
        assert_eq!(credentials.access_key_id, "AKIAEXAMPLE");
        assert!(
            !format!("{config:?}").contains("very-secret"),
            "secrets must never print"
        );
    }

    #[test]
    fn standard_names_and_endpoint_are_read() {
        let config = config(&[
            ("AWS_S3_BUCKET", "b"),
            ("AWS_ACCESS_KEY_ID", "id"),
            ("AWS_SECRET_ACCESS_KEY", "s"),
            ("AWS_REGION", "us-east-1"),
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:9000/"),
        ])
        .unwrap();
        let StoreConfig::Remote(remote) = &config.store else {
            panic!("expected a remote bucket");
        };
        assert_eq!(remote.region, "us-east-1");
        assert_eq!(remote.endpoint.as_deref(), Some("http://127.0.0.1:9000"));
    }

    #[test]
    fn bucket_without_keys_uses_the_default_chain() {
        let config = config(&[("AWS_S3_BUCKET", "b")]).unwrap();
        let StoreConfig::Remote(remote) = &config.store else {
            panic!("expected a remote bucket");
        };
        assert!(remote.credentials.is_none());
    }

    #[test]
    fn production_settings_are_read() {
        let config = config(&[
            ("URL_MODE", "presigned"),
            ("PRESIGNED_URL_TTL_SECS", "600"),
            ("UPLOAD_TOKEN", "s3cr3t"),
            (
                "CORS_ALLOWED_ORIGINS",
                "https://a.example, https://b.example",
            ),
            ("ALLOWED_TYPES", "image/*, application/PDF"),
            ("CACHE_CONTROL", "max-age=60"),
            ("STORAGE_CLASS", "standard_ia"),
            ("SERVER_SIDE_ENCRYPTION", "aws:kms"),
            ("SSE_KMS_KEY_ID", "alias/uploads"),
            ("OBJECT_METADATA", "team=웹, Source=upload-server"),
        ])
        .unwrap();
        assert_eq!(
            config.url_mode,
            UrlMode::Presigned {
                ttl: Duration::from_secs(600)
            }
        );
        assert_eq!(
            config.access.cors_allowed_origins,
            ["https://a.example", "https://b.example"]
        );
        assert_eq!(config.upload.allowed_types, ["image/*", "application/pdf"]);
        assert_eq!(
            config.upload.object.storage_class.as_deref(),
            Some("STANDARD_IA")
        );
        assert_eq!(
            config.upload.object.metadata,
            [
                ("team".to_owned(), "웹".to_owned()),
                ("source".to_owned(), "upload-server".to_owned())
            ]
        );
        assert!(!format!("{config:?}").contains("s3cr3t"));
    }

    #[test]
    fn invalid_production_settings_name_themselves() {
        assert_eq!(
            config(&[("URL_MODE", "private")]).unwrap_err().name,
            "URL_MODE"
        );
        let too_long = [
            ("URL_MODE", "presigned"),
            ("PRESIGNED_URL_TTL_SECS", "604801"),
        ];
        assert_eq!(
            config(&too_long).unwrap_err().name,
            "PRESIGNED_URL_TTL_SECS"
        );
        assert_eq!(
            config(&[("SERVER_SIDE_ENCRYPTION", "DES")])
                .unwrap_err()
                .name,
            "SERVER_SIDE_ENCRYPTION"
        );
        assert_eq!(
            config(&[("SSE_KMS_KEY_ID", "k")]).unwrap_err().name,
            "SSE_KMS_KEY_ID"
        );
        assert_eq!(
            config(&[("OBJECT_METADATA", "a b=c")]).unwrap_err().name,
            "OBJECT_METADATA"
        );
    }

    #[test]
    fn half_a_key_pair_is_an_error() {
        let err = config(&[("AWS_S3_BUCKET", "b"), ("AWS_ACCESS_KEY", "id")]).unwrap_err();
        assert_eq!(err.name, "AWS_SECRET_ACCESS_KEY");
    }

    #[test]
    fn invalid_numbers_name_the_setting() {
        let err = config(&[("MAX_FILE_SIZE", "ten")]).unwrap_err();
        assert_eq!(err.name, "MAX_FILE_SIZE");
        let err = config(&[("UPLOAD_PART_SIZE", "1024")]).unwrap_err();
        assert_eq!(err.name, "UPLOAD_PART_SIZE");
        let err = config(&[("KEY_PREFIX", "../x")]).unwrap_err();
        assert_eq!(err.name, "KEY_PREFIX");
        let err = config(&[("MAX_FILE_SIZE", &(100 * 1024 * MIB).to_string())]).unwrap_err();
        assert_eq!(err.name, "MAX_FILE_SIZE");
        let err = config(&[("KEY_PREFIX", "../x")]).unwrap_err();
        assert_eq!(err.name, "KEY_PREFIX");
    }
}
