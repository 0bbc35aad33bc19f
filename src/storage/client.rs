//! The aws-sdk-s3 client: one code path for AWS S3, S3-compatible endpoints and the embedded store.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use aws_sdk_s3::Client;
use aws_sdk_s3::config::retry::RetryConfig;
use aws_sdk_s3::config::timeout::TimeoutConfig;
use aws_sdk_s3::config::{
    BehaviorVersion, Credentials, ProvideCredentials as _, Region, RequestChecksumCalculation,
    ResponseChecksumValidation, SharedCredentialsProvider,
};
use aws_smithy_types::error::display::DisplayErrorContext;

use super::StoreError;
use crate::config::RemoteConfig;

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
    build_client_and_credentials(settings).await.0
}

/// Builds the S3 client ([`build_client`]), and gives back the credentials provider it signs with: what
/// this server signs itself (presigned POST policies) is signed with the same credentials, and the client's
/// config does not give them back (`Config::credentials_provider` always answers `None`).
pub async fn build_client_and_credentials(
    settings: ClientSettings,
) -> (Client, Option<SharedCredentialsProvider>) {
    let region = Region::new(settings.region);
    let (mut builder, credentials) = match &settings.credentials {
        Some(credentials) => {
            let provider = SharedCredentialsProvider::new(credentials.clone());
            let builder = aws_sdk_s3::config::Builder::new()
                .behavior_version(BehaviorVersion::latest())
                .region(region)
                .credentials_provider(provider.clone());
            (builder, Some(provider))
        }
        None => {
            let shared = aws_config::defaults(BehaviorVersion::latest())
                .region(region)
                .load()
                .await;
            (
                aws_sdk_s3::config::Builder::from(&shared),
                shared.credentials_provider(),
            )
        }
    };
    builder = builder
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(5))
                .operation_attempt_timeout(settings.timeout)
                .build(),
        )
        .retry_config(RetryConfig::standard().with_max_attempts(3))
        .http_client(super::http::PerThreadClient);
    if let Some(endpoint) = settings.endpoint {
        builder = builder
            .endpoint_url(endpoint)
            .force_path_style(true)
            // R2, MinIO and Garage reject or mishandle the SDK's newer default checksums.
            .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
            .response_checksum_validation(ResponseChecksumValidation::WhenRequired);
    }
    (Client::from_conf(builder.build()), credentials)
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

/// The credentials the client signs with, for what this server signs itself (presigned POST forms), kept until
/// shortly before they expire: the SDK caches them for its own requests only, and asking the provider chain each
/// time would be a metadata-service or STS request per form.
#[derive(Clone, Debug)]
pub(crate) struct SigningCredentials {
    provider: SharedCredentialsProvider,
    cached: Arc<tokio::sync::Mutex<Option<Credentials>>>,
}

impl SigningCredentials {
    /// Credentials this close to their expiry are asked for again.
    const REFRESH_BEFORE: Duration = Duration::from_secs(300);

    pub(crate) fn new(provider: SharedCredentialsProvider) -> Self {
        Self {
            provider,
            cached: Arc::default(),
        }
    }

    /// The current credentials: the kept ones, or the provider's if they are about to expire.
    pub(crate) async fn get(&self) -> Result<Credentials, StoreError> {
        let mut cached = self.cached.lock().await;
        let fresh_until = SystemTime::now() + Self::REFRESH_BEFORE;
        if let Some(credentials) = cached.as_ref()
            && credentials
                .expiry()
                .is_none_or(|expiry| expiry > fresh_until)
        {
            return Ok(credentials.clone());
        }
        let credentials =
            self.provider
                .provide_credentials()
                .await
                .map_err(|err| StoreError::Unavailable {
                    operation: "resolve credentials",
                    detail: DisplayErrorContext(&err).to_string(),
                })?;
        *cached = Some(credentials.clone());
        Ok(credentials)
    }
}
