//! Reading [`Config`] from the environment: each setting parsed, checked, and named when it is wrong.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use super::checks::{
    budget_needed, check_http_url, check_key_prefix, direct_url_ttl, parse_metadata,
    resumable_expiry, resumable_threshold,
};
use super::*;

impl Config {
    /// Reads settings through `lookup`; an empty value counts as unset (except `UPLOAD_TOKEN`, where a blank
    /// value is refused: it would otherwise open uploads to anyone without a word).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let env = Env(&lookup);
        let mut store = store(&env)?;
        let public_base_url = env
            .get("PUBLIC_BASE_URL")
            .map(|url| url.trim_end_matches('/').to_owned());
        if let Some(url) = &public_base_url {
            check_http_url("PUBLIC_BASE_URL", url)?;
        }
        let limits = limits(&env)?;
        let upload = upload(&env, &store, &limits)?;
        if let StoreConfig::Embedded(embedded) = &mut store {
            embedded.form_file_limit = upload.max_file_size.min(MAX_PART_SIZE);
        }
        let threshold = match env.get("RESUMABLE_THRESHOLD") {
            None => None,
            Some(_) => Some(env.parse("RESUMABLE_THRESHOLD", 0u64)?),
        };
        let resumable_threshold = resumable_threshold(threshold, upload.max_file_size)?;
        let log_format = match env.get("LOG_FORMAT").as_deref() {
            None | Some("text") => LogFormat::Text,
            Some("json") => LogFormat::Json,
            Some(other) => return Err(invalid("LOG_FORMAT", other, "expected `text` or `json`")),
        };
        Ok(Self {
            host: env.parse("HOST", IpAddr::V4(Ipv4Addr::UNSPECIFIED))?,
            port: env.parse("PORT", 3000u16)?,
            store,
            public_base_url,
            upload,
            shutdown_grace: Duration::from_secs(env.parse("SHUTDOWN_GRACE_SECS", 30u64)?),
            shutdown_cleanup: Duration::from_secs(
                env.parse("SHUTDOWN_CLEANUP_SECS", 15u64)?.max(1),
            ),
            limits,
            log_format,
            access: access(&env)?,
            url_mode: url_mode(&env)?,
            resumable_expiry: resumable_expiry(env.parse("RESUMABLE_EXPIRY_SECS", 86_400u64)?)?,
            resumable_threshold,
            direct_url_ttl: direct_url_ttl(env.parse("DIRECT_URL_TTL_SECS", 900u64)?)?,
            page_upload_mode: page_upload_mode(&env)?,
        })
    }
}

fn store(env: &Env<'_>) -> Result<StoreConfig, ConfigError> {
    let region = env
        .first(&["AWS_REGION", "AWS_DEFAULT_REGION"])
        .unwrap_or_else(|| "ap-northeast-2".to_owned());
    let Some(bucket) = env.get("AWS_S3_BUCKET") else {
        let addr = env.parse("EMBEDDED_S3_ADDR", SocketAddr::from(([127, 0, 0, 1], 9400)))?;
        if !addr.ip().is_loopback() {
            return Err(invalid(
                "EMBEDDED_S3_ADDR",
                &addr.to_string(),
                "the embedded store's keys are printed in the log, so it only listens on loopback \
                 (127.0.0.1 or ::1); to store files for other machines, configure a real bucket (AWS_S3_BUCKET)",
            ));
        }
        return Ok(StoreConfig::Embedded(EmbeddedConfig {
            addr,
            data_dir: env
                .get("EMBEDDED_S3_DATA_DIR")
                .map_or_else(|| PathBuf::from("data"), PathBuf::from),
            bucket: "uploads".to_owned(),
            access_key: "embedded-access-key".to_owned(),
            secret_key: Secret::new("embedded-secret-key"),
            region,
            upload_keep: EMBEDDED_UPLOAD_KEEP,
            // Narrowed to `MAX_FILE_SIZE` once it is read.
            form_file_limit: MAX_PART_SIZE,
        }));
    };
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
            return Err(invalid(
                "AWS_SECRET_ACCESS_KEY",
                "",
                "an access key is set but its secret is not",
            ));
        }
        (None, Some(_)) => {
            return Err(invalid(
                "AWS_ACCESS_KEY",
                "",
                "a secret is set but no access key (AWS_ACCESS_KEY or AWS_ACCESS_KEY_ID)",
            ));
        }
    };
    let endpoint = env
        .first(&["AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"])
        .map(|url| url.trim_end_matches('/').to_owned());
    if let Some(url) = &endpoint {
        check_http_url("AWS_ENDPOINT_URL", url)?;
    }
    Ok(StoreConfig::Remote(RemoteConfig {
        bucket,
        region,
        endpoint,
        credentials,
    }))
}

fn limits(env: &Env<'_>) -> Result<ConnectionLimits, ConfigError> {
    Ok(ConnectionLimits {
        max_connections: at_least_one(env, "MAX_CONNECTIONS", 1024usize)?,
        max_uploads: at_least_one(env, "MAX_UPLOADS", 256usize)?,
        header_read_timeout: Duration::from_secs(at_least_one(
            env,
            "HEADER_READ_TIMEOUT_SECS",
            10u64,
        )?),
        http2_max_streams: at_least_one(env, "HTTP2_MAX_STREAMS", 32u32)?,
        server_threads: at_least_one(env, "SERVER_THREADS", default_server_threads())?,
    })
}

/// One serving thread per CPU the process may use.
pub(crate) fn default_server_threads() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
}

fn upload(
    env: &Env<'_>,
    store: &StoreConfig,
    limits: &ConnectionLimits,
) -> Result<UploadConfig, ConfigError> {
    let part_size = env.parse("UPLOAD_PART_SIZE", 8 * MIB)?;
    if !(MIN_PART_SIZE..=MAX_PART_SIZE).contains(&part_size) {
        return Err(invalid(
            "UPLOAD_PART_SIZE",
            &part_size.to_string(),
            &format!("S3 parts are {MIN_PART_SIZE} to {MAX_PART_SIZE} bytes"),
        ));
    }
    let memory_budget = env.parse("UPLOAD_MEMORY_BUDGET", 256 * MIB)?;
    let needed = budget_needed(part_size, limits.max_uploads);
    if memory_budget < needed {
        return Err(invalid(
            "UPLOAD_MEMORY_BUDGET",
            &memory_budget.to_string(),
            &format!(
                "must hold one part (UPLOAD_PART_SIZE = {part_size}, rounded up to whole MiB) and the first \
                 {} KiB of each of MAX_UPLOADS = {} uploads: at least {needed}",
                FIRST_READ_BYTES / 1024,
                limits.max_uploads
            ),
        ));
    }
    let max_file_size = env.parse("MAX_FILE_SIZE", 100 * MIB)?;
    if max_file_size > part_size.saturating_mul(MAX_PARTS) {
        return Err(invalid(
            "MAX_FILE_SIZE",
            &max_file_size.to_string(),
            &format!(
                "a multipart upload has at most {MAX_PARTS} parts: raise UPLOAD_PART_SIZE to at least {}",
                max_file_size.div_ceil(MAX_PARTS)
            ),
        ));
    }
    let key_strategy = match env.get("KEY_STRATEGY").as_deref() {
        None | Some("unique") => KeyStrategy::Unique,
        Some("original") => KeyStrategy::Original,
        Some(other) => {
            return Err(invalid(
                "KEY_STRATEGY",
                other,
                "expected `unique` or `original`",
            ));
        }
    };
    let key_prefix = env.get("KEY_PREFIX").unwrap_or_default();
    check_key_prefix(&key_prefix, key_strategy, store)?;
    Ok(UploadConfig {
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
        parts_in_flight: env.parse("UPLOAD_PARTS_IN_FLIGHT", 3usize)?.max(1),
        memory_budget,
        memory_wait: Duration::from_secs(at_least_one(env, "UPLOAD_MEMORY_WAIT_SECS", 30u64)?),
        body_read_timeout: Duration::from_secs(env.parse("BODY_READ_TIMEOUT_SECS", 30u64)?.max(1)),
        body_min_rate: env.parse("BODY_MIN_BYTES_PER_SEC", 1024u64)?,
        s3_timeout: Duration::from_secs(env.parse("S3_TIMEOUT_SECS", 120u64)?.max(1)),
        allowed_types: list(env.get("ALLOWED_TYPES"))
            .into_iter()
            .map(|t| t.to_ascii_lowercase())
            .collect(),
        object: object_options(env)?,
    })
}

fn object_options(env: &Env<'_>) -> Result<ObjectOptions, ConfigError> {
    let server_side_encryption = env.get("SERVER_SIDE_ENCRYPTION");
    if let Some(sse) = &server_side_encryption
        && sse != "AES256"
        && sse != "aws:kms"
    {
        return Err(invalid(
            "SERVER_SIDE_ENCRYPTION",
            sse,
            "expected `AES256` or `aws:kms`",
        ));
    }
    let sse_kms_key_id = env.get("SSE_KMS_KEY_ID");
    if sse_kms_key_id.is_some() && server_side_encryption.as_deref() != Some("aws:kms") {
        return Err(invalid(
            "SSE_KMS_KEY_ID",
            "",
            "only used with SERVER_SIDE_ENCRYPTION=aws:kms",
        ));
    }
    let metadata = match env.get("OBJECT_METADATA") {
        None => Vec::new(),
        Some(list) => parse_metadata(&list)?,
    };
    Ok(ObjectOptions {
        cache_control: env.get("CACHE_CONTROL"),
        storage_class: env.get("STORAGE_CLASS").map(|c| c.to_ascii_uppercase()),
        server_side_encryption,
        sse_kms_key_id,
        metadata,
    })
}

fn page_upload_mode(env: &Env<'_>) -> Result<PageUploadMode, ConfigError> {
    match env.get("PAGE_UPLOAD_MODE").as_deref() {
        None | Some("server") => Ok(PageUploadMode::Server),
        Some("direct") => Ok(PageUploadMode::Direct),
        Some(other) => Err(invalid(
            "PAGE_UPLOAD_MODE",
            other,
            "expected `server` (through this server) or `direct` (straight to the store)",
        )),
    }
}

fn url_mode(env: &Env<'_>) -> Result<UrlMode, ConfigError> {
    match env.get("URL_MODE").as_deref() {
        None | Some("public") => Ok(UrlMode::Public),
        Some("presigned") => {
            let ttl = env.parse("PRESIGNED_URL_TTL_SECS", 3600u64)?;
            if !(1..=MAX_PRESIGNED_TTL_SECS).contains(&ttl) {
                return Err(invalid(
                    "PRESIGNED_URL_TTL_SECS",
                    &ttl.to_string(),
                    &format!(
                        "a presigned URL lives 1 to {MAX_PRESIGNED_TTL_SECS} seconds (7 days)"
                    ),
                ));
            }
            Ok(UrlMode::Presigned {
                ttl: Duration::from_secs(ttl),
            })
        }
        Some(other) => Err(invalid(
            "URL_MODE",
            other,
            "expected `public` or `presigned`",
        )),
    }
}

fn access(env: &Env<'_>) -> Result<AccessConfig, ConfigError> {
    // A blank token is not "no token": someone meant to require one. Refuse it rather than open uploads.
    let upload_token = match (env.0)("UPLOAD_TOKEN") {
        None => None,
        Some(raw) if raw.trim().is_empty() => {
            return Err(invalid(
                "UPLOAD_TOKEN",
                "",
                "is set but blank: set a token (uploads then need `Authorization: Bearer <token>`), or remove \
                 the setting to let anyone who reaches the port upload",
            ));
        }
        Some(raw) => Some(Secret::new(raw.trim())),
    };
    Ok(AccessConfig {
        upload_token,
        cors_allowed_origins: list(env.get("CORS_ALLOWED_ORIGINS")),
    })
}

pub(super) fn invalid(name: &'static str, value: &str, reason: &str) -> ConfigError {
    ConfigError {
        name,
        value: value.to_owned(),
        reason: reason.to_owned(),
    }
}

/// A number that must be at least 1 (a limit of 0 would refuse everything).
fn at_least_one<T>(env: &Env<'_>, name: &'static str, default: T) -> Result<T, ConfigError>
where
    T: FromStr + PartialOrd + From<u8> + fmt::Display + Copy,
    T::Err: fmt::Display,
{
    let value = env.parse(name, default)?;
    if value < T::from(1) {
        return Err(invalid(name, &value.to_string(), "must be at least 1"));
    }
    Ok(value)
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
