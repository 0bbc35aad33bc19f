//! The one way to reach the store, for the server and the CLI alike: [`Storage::open`] starts the embedded store
//! when no bucket is configured (and creates its bucket), builds the S3 client and the URL builder, and gives a
//! [`Bucket`] to work with.

use std::time::Duration;

use aws_sdk_s3::Client;
use aws_sdk_s3::config::Credentials;
use aws_sdk_s3::error::ProvideErrorMetadata as _;

use super::client::SigningCredentials;
use super::upload::Uploader;
use super::urls::bucket_url;
use super::{
    ClientSettings, StoreError, UrlBuilder, build_client_and_credentials, remote_settings,
};
use crate::config::{Config, StoreConfig, UploadConfig};
use crate::embedded::{EmbeddedStore, PageOrigins};
use crate::lifecycle::Lifecycle;

/// How long the bucket probe ([`Bucket::probe`]) waits for an answer.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// The opened store: the bucket, and the embedded store serving it when there is one (it stops when this is
/// dropped, so keep it until the last request that needs the bucket is done).
#[derive(Debug)]
pub struct Storage {
    bucket: Bucket,
    embedded: Option<EmbeddedStore>,
}

/// The configured bucket, reachable: the client, the bucket's name and how its objects' URLs are built. Cheap to
/// clone.
#[derive(Clone, Debug)]
pub struct Bucket {
    client: Client,
    name: String,
    urls: UrlBuilder,
    /// The bucket's own URL, as the store is addressed ([`super::urls::bucket_url`]).
    url: String,
    /// The custom endpoint, if any (the embedded store's, or `AWS_ENDPOINT_URL`).
    endpoint: Option<String>,
    /// The credentials the client signs with, for what this server signs itself (`None`: the standard chain
    /// found no provider).
    credentials: Option<SigningCredentials>,
}

impl Storage {
    /// Opens the store `config` names. A remote bucket is not contacted here (see [`Bucket::probe`]); the
    /// embedded store is started and its bucket created, for no browser page (the CLI's way).
    pub async fn open(config: &Config) -> anyhow::Result<Self> {
        Self::open_for_pages(config, PageOrigins::none()).await
    }

    /// [`Storage::open`], with an embedded store that answers CORS for the pages of `origins`, which upload
    /// straight to it (the server's way). A remote bucket's CORS is its own configuration.
    pub async fn open_for_pages(config: &Config, origins: PageOrigins) -> anyhow::Result<Self> {
        let timeout = config.upload.s3_timeout;
        let ((client, credentials), endpoint, embedded) = match &config.store {
            StoreConfig::Embedded(settings) => {
                let store = EmbeddedStore::start(settings, origins).await?;
                let (client, credentials) = build_client_and_credentials(ClientSettings {
                    region: settings.region.clone(),
                    endpoint: Some(store.endpoint()),
                    credentials: Some(Credentials::new(
                        settings.access_key.clone(),
                        settings.secret_key.expose().to_owned(),
                        None,
                        None,
                        "embedded",
                    )),
                    timeout,
                })
                .await;
                create_bucket(&client, &settings.bucket).await?;
                ((client, credentials), Some(store.endpoint()), Some(store))
            }
            StoreConfig::Remote(remote) => {
                let connected =
                    build_client_and_credentials(remote_settings(remote, timeout)).await;
                (connected, remote.endpoint.clone(), None)
            }
        };
        let bucket = Bucket {
            client,
            name: config.bucket().to_owned(),
            urls: UrlBuilder::new(config, endpoint.as_deref()),
            url: bucket_url(config.bucket(), config.region(), endpoint.as_deref()),
            endpoint,
            credentials: credentials.map(SigningCredentials::new),
        };
        Ok(Self { bucket, embedded })
    }

    pub fn bucket(&self) -> &Bucket {
        &self.bucket
    }

    /// The embedded store, when no bucket is configured.
    pub fn embedded(&self) -> Option<&EmbeddedStore> {
        self.embedded.as_ref()
    }
}

impl Bucket {
    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn urls(&self) -> &UrlBuilder {
        &self.urls
    }

    /// The bucket's own URL as the store is addressed, ending in `/` (never `PUBLIC_BASE_URL`: see
    /// [`Self::urls`] for the public URLs of objects).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The custom endpoint, if any (the embedded store's, or `AWS_ENDPOINT_URL`).
    pub fn endpoint(&self) -> Option<&str> {
        self.endpoint.as_deref()
    }

    /// The credentials the client signs with.
    pub(crate) fn credentials(&self) -> Option<&SigningCredentials> {
        self.credentials.as_ref()
    }

    /// The uploader that writes files into this bucket with `config`'s settings.
    pub fn uploader(&self, config: &UploadConfig, lifecycle: Lifecycle) -> Uploader {
        Uploader::new(self.client.clone(), self.name.clone(), config, lifecycle)
    }

    /// Checks that the bucket answers (HeadBucket), within [`PROBE_TIMEOUT`]: the readiness probe and the
    /// start-up message.
    pub async fn probe(&self) -> Result<(), StoreError> {
        let head = self.client.head_bucket().bucket(&self.name).send();
        match tokio::time::timeout(PROBE_TIMEOUT, head).await {
            Ok(answer) => answer
                .map(drop)
                .map_err(|err| StoreError::from_sdk("HeadBucket", err)),
            Err(_) => Err(StoreError::TimedOut {
                operation: "HeadBucket",
                seconds: PROBE_TIMEOUT.as_secs(),
            }),
        }
    }
}

async fn create_bucket(client: &Client, bucket: &str) -> anyhow::Result<()> {
    match client.create_bucket().bucket(bucket).send().await {
        Ok(_) => Ok(()),
        Err(err) => {
            match err.code() {
                Some("BucketAlreadyOwnedByYou" | "BucketAlreadyExists") => Ok(()),
                _ => Err(anyhow::Error::new(err)
                    .context(format!("create the embedded bucket `{bucket}`"))),
            }
        }
    }
}
