//! The S3 side: the client, public object URLs, streaming uploads, and the embedded store.
//!
//! One code path serves AWS S3, S3-compatible endpoints and the embedded default: each is an aws-sdk-s3 client
//! pointed at the right endpoint.

pub mod body;
pub mod embedded;
pub mod upload;

use std::time::Duration;

use aws_sdk_s3::Client;
use aws_sdk_s3::config::retry::RetryConfig;
use aws_sdk_s3::config::timeout::TimeoutConfig;
use aws_sdk_s3::config::{
    BehaviorVersion, Credentials, Region, RequestChecksumCalculation, ResponseChecksumValidation,
    SharedCredentialsProvider,
};

use crate::config::{Config, RemoteConfig, StoreConfig};
use crate::error::AppError;
use crate::naming::encode_key;

/// Where the client sends requests, and with which identity.
pub struct ClientSettings {
    pub region: String,
    /// A custom endpoint (MinIO, R2, the embedded store): path-style, checksums only when required.
    pub endpoint: Option<String>,
    pub credentials: Option<Credentials>,
    pub timeout: Duration,
}

/// Builds the S3 client. With static credentials (or the embedded store) aws-config is never asked anything,
/// so nothing contacts the EC2 metadata address; without them, the standard chain is used (an instance role).
pub async fn build_client(settings: ClientSettings) -> Client {
    let region = Region::new(settings.region);
    let mut builder = match &settings.credentials {
        Some(credentials) => aws_sdk_s3::config::Builder::new()
            .behavior_version(BehaviorVersion::latest())
            .region(region)
            .credentials_provider(SharedCredentialsProvider::new(credentials.clone())),
        None => {
            let shared = aws_config::defaults(BehaviorVersion::latest())
                .region(region)
                .load()
                .await;
            aws_sdk_s3::config::Builder::from(&shared)
        }
    };
    builder = builder
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(5))
                .operation_attempt_timeout(settings.timeout)
                .build(),
        )
        .retry_config(RetryConfig::standard().with_max_attempts(3));
    if let Some(endpoint) = settings.endpoint {
        builder = builder
            .endpoint_url(endpoint)
            .force_path_style(true)
            // R2, MinIO and Garage reject or mishandle the SDK's newer default checksums.
            .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
            .response_checksum_validation(ResponseChecksumValidation::WhenRequired);
    }
    Client::from_conf(builder.build())
}

/// Client settings for a real bucket.
pub fn remote_settings(remote: &RemoteConfig, timeout: Duration) -> ClientSettings {
    ClientSettings {
        region: remote.region.clone(),
        endpoint: remote.endpoint.clone(),
        credentials: remote.credentials.as_ref().map(|c| {
            Credentials::new(
                c.access_key_id.clone(),
                c.secret_access_key.expose().to_owned(),
                c.session_token.as_ref().map(|t| t.expose().to_owned()),
                None,
                "environment",
            )
        }),
        timeout,
    }
}

/// Builds the public URL of an object.
#[derive(Clone, Debug)]
pub struct UrlBuilder {
    /// Everything before the encoded key, ending in `/`.
    prefix: String,
}

impl UrlBuilder {
    /// `PUBLIC_BASE_URL` wins; then a custom endpoint, path style (port kept); then AWS's virtual-hosted URL.
    pub fn new(config: &Config, endpoint: Option<&str>) -> Self {
        let bucket = config.bucket();
        let prefix = if let Some(base) = &config.public_base_url {
            format!("{base}/")
        } else if let Some(endpoint) = endpoint {
            format!("{endpoint}/{bucket}/")
        } else {
            let region = match &config.store {
                StoreConfig::Remote(remote) => remote.region.as_str(),
                StoreConfig::Embedded(embedded) => embedded.region.as_str(),
            };
            if bucket.contains('.') {
                // A dotted bucket name does not match S3's wildcard TLS certificate: use path style.
                format!("https://s3.{region}.amazonaws.com/{bucket}/")
            } else {
                format!("https://{bucket}.s3.{region}.amazonaws.com/")
            }
        };
        Self { prefix }
    }

    /// The URL of `key`, percent-encoded byte by byte except unreserved characters and `/`.
    pub fn url(&self, key: &str) -> String {
        format!("{}{}", self.prefix, encode_key(key))
    }
}

/// A presigned GET URL for `key`, valid for `ttl` (at most 7 days): `location` in `URL_MODE=presigned`.
pub async fn presigned_get(
    client: &Client,
    bucket: &str,
    key: &str,
    ttl: Duration,
) -> Result<String, AppError> {
    let config = aws_sdk_s3::presigning::PresigningConfig::expires_in(ttl).map_err(|err| {
        AppError::Internal(anyhow::Error::new(err).context("presigning configuration"))
    })?;
    let request = client
        .get_object()
        .bucket(bucket)
        .key(key)
        .presigned(config)
        .await
        .map_err(|err| AppError::from_sdk("presign GetObject", err))?;
    Ok(request.uri().to_owned())
}

/// Checks that the bucket answers: the readiness probe.
pub async fn check_bucket(client: &Client, bucket: &str) -> Result<(), AppError> {
    client
        .head_bucket()
        .bucket(bucket)
        .send()
        .await
        .map(drop)
        .map_err(|err| AppError::from_sdk("HeadBucket", err))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(pairs: &[(&str, &str)]) -> Config {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Config::from_lookup(|name| map.get(name).cloned()).unwrap()
    }

    #[test]
    fn aws_urls_are_virtual_hosted() {
        let config = config(&[("AWS_S3_BUCKET", "jscode-uploaded-files")]);
        let urls = UrlBuilder::new(&config, None);
        assert_eq!(
            urls.url("0190/스크린샷 1.png"),
            "https://jscode-uploaded-files.s3.ap-northeast-2.amazonaws.com/0190/%EC%8A%A4%ED%81%AC%EB%A6%B0%EC%83%B7%201.png"
        );
    }

    #[test]
    fn custom_endpoints_are_path_style_with_port() {
        let config = config(&[
            ("AWS_S3_BUCKET", "b"),
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:9000"),
        ]);
        let urls = UrlBuilder::new(&config, Some("http://127.0.0.1:9000"));
        assert_eq!(urls.url("a b.png"), "http://127.0.0.1:9000/b/a%20b.png");
    }

    #[test]
    fn public_base_url_replaces_the_origin() {
        let config = config(&[
            ("AWS_S3_BUCKET", "b"),
            ("PUBLIC_BASE_URL", "https://cdn.example.com/"),
        ]);
        let urls = UrlBuilder::new(&config, None);
        assert_eq!(urls.url("k/x+y.png"), "https://cdn.example.com/k/x%2By.png");
    }
}
