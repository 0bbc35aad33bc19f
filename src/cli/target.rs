//! The store the commands act on, opened the way the server opens it ([`Storage::open`]), and the one way the
//! commands make a request of it ([`Target::call`]).

use aws_sdk_s3::Client;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};

use crate::config::{Config, StoreConfig, UrlMode};
use crate::storage::{Bucket, Storage};

use super::diagnose::{Diagnosis, diagnose_sdk};
use super::timed;

/// The store the server would use, opened the way the server opens it.
pub(super) struct Target {
    pub(super) storage: Storage,
    pub(super) config: Config,
}

impl Target {
    /// [`Storage::open`]: starts the embedded store (and creates its bucket) when no bucket is configured;
    /// builds the server's S3 client and URL builder either way. No HTTP port is bound.
    pub(super) async fn open(config: &Config) -> Result<Self, Diagnosis> {
        match Storage::open(config).await {
            Ok(storage) => Ok(Self {
                storage,
                config: config.clone(),
            }),
            Err(err) => Err(Diagnosis {
                detail: format!("{err:#}"),
                hint: match &config.store {
                    StoreConfig::Embedded(embedded) => format!(
                        "is the server already running (on {}, with its folder {})? The embedded store locks \
                         EMBEDDED_S3_DATA_DIR while it runs: stop the server first, or point \
                         EMBEDDED_S3_DATA_DIR at another folder",
                        embedded.addr,
                        embedded.data_dir.display()
                    ),
                    StoreConfig::Remote(_) => "check the settings named above".to_owned(),
                },
            }),
        }
    }

    pub(super) fn store(&self) -> &Bucket {
        self.storage.bucket()
    }

    pub(super) fn client(&self) -> &Client {
        self.store().client()
    }

    /// The next page of a paginator's listing (`None` after the last), within the step timeout.
    pub(super) async fn next_page<T, E>(
        &self,
        operation: &'static str,
        page: impl Future<Output = Option<Result<T, SdkError<E>>>>,
    ) -> Result<Option<T>, Diagnosis>
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        self.call(operation, async { page.await.transpose() }).await
    }

    /// Makes one request of the store, within the step timeout: its output, or what went wrong explained.
    pub(super) async fn call<T, E>(
        &self,
        operation: &'static str,
        request: impl Future<Output = Result<T, SdkError<E>>>,
    ) -> Result<T, Diagnosis>
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        match timed(request).await {
            Ok(Ok(output)) => Ok(output),
            Ok(Err(err)) => Err(diagnose_sdk(operation, err, self.context())),
            Err(timeout) => Err(timeout.diagnosis(self.context())),
        }
    }

    pub(super) fn bucket(&self) -> &str {
        self.config.bucket()
    }

    /// `KEY_PREFIX`: where the server's objects are, and all that `clean` and `check` touch unless told `--all`.
    pub(super) fn key_prefix(&self) -> &str {
        &self.config.upload.key_prefix
    }

    /// `uploads on the embedded store at http://127.0.0.1:9400 (data in ./data)`, or the remote equivalent.
    pub(super) fn describe(&self) -> String {
        let bucket = self.bucket();
        match &self.config.store {
            StoreConfig::Embedded(embedded) => format!(
                "bucket `{bucket}` on the embedded store at {} (files in `{}`, region {})",
                self.store().endpoint().unwrap_or_default(),
                embedded.data_dir.display(),
                embedded.region
            ),
            StoreConfig::Remote(remote) => format!(
                "bucket `{bucket}` on {} (region {}, {})",
                remote.endpoint.as_deref().unwrap_or("AWS S3"),
                remote.region,
                if remote.credentials.is_some() {
                    "keys from the environment"
                } else {
                    "the AWS default credential chain"
                }
            ),
        }
    }

    pub(super) fn context(&self) -> Setup<'_> {
        let (region, endpoint) = match &self.config.store {
            StoreConfig::Embedded(embedded) => (embedded.region.as_str(), None),
            StoreConfig::Remote(remote) => (remote.region.as_str(), remote.endpoint.as_deref()),
        };
        Setup {
            bucket: self.bucket(),
            region,
            endpoint,
            embedded: matches!(self.config.store, StoreConfig::Embedded(_)),
            public_base_url: self.config.public_base_url.as_deref(),
            presigned: matches!(self.config.url_mode, UrlMode::Presigned { .. }),
        }
    }
}

/// What a diagnosis needs to know about the set-up.
#[derive(Clone, Copy, Debug)]
pub struct Setup<'a> {
    pub bucket: &'a str,
    pub region: &'a str,
    /// `AWS_ENDPOINT_URL`, when not AWS.
    pub endpoint: Option<&'a str>,
    pub embedded: bool,
    pub public_base_url: Option<&'a str>,
    /// `URL_MODE=presigned`: returned URLs are presigned, the bucket may stay private.
    pub presigned: bool,
}
