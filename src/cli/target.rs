//! The store the commands act on: the server's own [`Application`], built from the same configuration.

use aws_sdk_s3::Client;

use crate::app::Application;
use crate::config::{Config, StoreConfig, UrlMode};

use super::diagnose::Diagnosis;

/// The store the server would use, built the way the server builds it.
pub(super) struct Target {
    pub(super) app: Application,
    pub(super) config: Config,
}

impl Target {
    /// [`Application::build`] on a loopback port of its own: starts the embedded store (and creates its
    /// bucket) when no bucket is configured; builds the server's S3 client and URL builder either way.
    pub(super) async fn open(config: &Config) -> Result<Self, Diagnosis> {
        let mut own = config.clone();
        own.host = std::net::Ipv4Addr::LOCALHOST.into();
        own.port = 0;
        match Application::build(own).await {
            Ok(app) => Ok(Self {
                app,
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

    pub(super) fn client(&self) -> &Client {
        self.app.state().uploader.client()
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
                self.app.store().endpoint().unwrap_or_default(),
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

    pub(super) fn context(&self) -> Context<'_> {
        let (region, endpoint) = match &self.config.store {
            StoreConfig::Embedded(embedded) => (embedded.region.as_str(), None),
            StoreConfig::Remote(remote) => (remote.region.as_str(), remote.endpoint.as_deref()),
        };
        Context {
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
pub struct Context<'a> {
    pub bucket: &'a str,
    pub region: &'a str,
    /// `AWS_ENDPOINT_URL`, when not AWS.
    pub endpoint: Option<&'a str>,
    pub embedded: bool,
    pub public_base_url: Option<&'a str>,
    /// `URL_MODE=presigned`: returned URLs are presigned, the bucket may stay private.
    pub presigned: bool,
}
