//! What every request handler shares, built once per application ([`crate::app`]) and cheap to clone.

use std::sync::Arc;

use tokio::sync::Semaphore;

use crate::config::Config;
use crate::lifecycle::Lifecycle;
use crate::metrics::Metrics;
use crate::storage::Bucket;
use crate::storage::upload::Uploader;

/// The state of one application.
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    /// The bucket: its client, name and object URLs.
    pub bucket: Bucket,
    pub uploader: Uploader,
    /// This application's metrics (one registry per app: tests run many apps in one process).
    pub metrics: Metrics,
    /// Upload requests that may be received at once (`MAX_UPLOADS`).
    pub uploads: Arc<Semaphore>,
    /// Tracks upload tasks and what they stored, and cancels them at shutdown.
    pub lifecycle: Lifecycle,
}

impl AppState {
    /// The state for `config`, writing into `bucket`.
    pub fn new(config: Config, bucket: Bucket) -> Self {
        let lifecycle = Lifecycle::new();
        Self {
            uploader: bucket.uploader(&config.upload, lifecycle.clone()),
            uploads: Arc::new(Semaphore::new(config.limits.max_uploads)),
            config: Arc::new(config),
            bucket,
            metrics: Metrics::new(),
            lifecycle,
        }
    }
}
