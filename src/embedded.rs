//! The embedded S3-compatible store: s3s-fs served on a loopback port, so `cargo run` works with no AWS account.
//!
//! Like the seed's bucket policy, anonymous GetObject and HeadObject are allowed (returned URLs open in a
//! browser) and every other anonymous request is refused. The server talks to it with the same aws-sdk-s3 client
//! it uses for AWS, over HTTP. Whoever reaches its port is treated as hostile:
//!
//! # Layout
//! - `keys.rs`: bucket names and keys are checked before anything touches the disk (no `..`, nothing XML cannot
//!   carry, no key whose side files' names exceed 255 bytes: [`max_key_len`]).
//! - `store.rs`: the S3 implementation, s3s-fs behind a wrapper that checks every operation's input.
//! - `tree.rs`: where S3's flat keys and s3s-fs's folders differ. `deletes.rs`: deletes that remove side files.
//! - `conditional.rs`: writes and deletes of one key one at a time, so `If-None-Match: *` and `If-Match` hold.
//! - `multipart.rs` and `completion.rs`: multipart parts written in place, completed without reading them back
//!   (part numbers with gaps, as S3 allows, are concatenated).
//! - `records.rs`: what the store knows of each upload's parts, in memory and in a file per upload, so that an
//!   upload outlives a restart.
//! - `folder.rs`: one store per folder (a lock), and a start-up sweep of what earlier runs left: uploads idle
//!   beyond the keep-age, side files of deleted objects.
//! - `serve.rs`: the accept loop; panics become 500s; answers forbid sniffing and scripts.
//! - `cors.rs`: CORS for the server's pages ([`PageOrigins`]), which upload straight to the store.
//! - `layout.rs`: where s3s-fs =0.14.1 keeps each file.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context as _;
use s3s::access::{S3Access, S3AccessContext};
use s3s::auth::SimpleAuth;
use s3s::config::{S3Config, StaticConfigProvider};
use s3s::service::S3ServiceBuilder;
use s3s::{S3Result, s3_error};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::config::{EmbeddedConfig, MAX_DIRECT_URL_TTL_SECS};

mod completion;
mod conditional;
mod cors;
mod deletes;
mod folder;
mod keys;
mod layout;
mod multipart;
mod parts_list;
mod rechunk;
mod records;
mod serve;
mod store;
#[cfg(test)]
mod tests;
mod tree;

pub use cors::PageOrigins;
pub use keys::max_key_len;
use store::CheckedFs;

/// s3s's settings, its defaults but one. s3s 0.14.1 holds a POST form's `x-amz-date` to the 15 minutes of clock
/// skew it allows a signed request, where S3 lets a form be used until its policy's expiration: so that a form
/// works as long as the server signed it for (`DIRECT_URL_TTL_SECS`, at most 12 hours), the allowed skew is 12
/// hours. The same setting lets a captured signed request be replayed for longer; the store only listens on
/// loopback.
fn s3s_config() -> S3Config {
    let mut config = S3Config::default();
    config.presigned_url_max_skew_time_secs =
        u32::try_from(MAX_DIRECT_URL_TTL_SECS).unwrap_or(u32::MAX);
    config
}

/// A running embedded store. Dropping it stops accepting connections and ends the open ones.
#[derive(Debug)]
pub struct EmbeddedStore {
    addr: SocketAddr,
    task: JoinHandle<()>,
    /// Held while the store runs; released after `task` is aborted (fields drop after `Drop::drop`).
    _lock: folder::FolderLock,
}

impl EmbeddedStore {
    /// Creates the data folder, takes its lock (a second store on the folder fails here), removes what earlier
    /// runs left (`folder.rs`: uploads idle for longer than `config.upload_keep`), reads the records of the
    /// uploads it keeps (`records.rs`) and starts serving on `config.addr`, with CORS for the pages of `origins`.
    pub async fn start(config: &EmbeddedConfig, origins: PageOrigins) -> anyhow::Result<Self> {
        tokio::fs::create_dir_all(&config.data_dir)
            .await
            .with_context(|| {
                format!(
                    "create the embedded store's folder {}",
                    config.data_dir.display()
                )
            })?;
        let lock = folder::lock(&config.data_dir)?;
        let root = config.data_dir.clone();
        let keep = config.upload_keep;
        let swept = tokio::task::spawn_blocking(move || {
            folder::sweep(&root, keep, std::time::SystemTime::now())
        })
        .await
        .context("sweep the embedded store's folder")?
        .with_context(|| {
            format!(
                "sweep the embedded store's folder {}",
                config.data_dir.display()
            )
        })?;
        if swept.upload_files + swept.orphaned_side_files + swept.empty_folders > 0 {
            tracing::info!(
                uploads = swept.uploads,
                upload_files = swept.upload_files,
                orphaned_side_files = swept.orphaned_side_files,
                empty_folders = swept.empty_folders,
                bytes = swept.bytes,
                "embedded store: removed what earlier runs left (multipart uploads idle beyond the keep-age or no longer complete-able, side files of deleted objects)"
            );
        }
        if swept.kept_uploads > 0 {
            tracing::info!(
                uploads = swept.kept_uploads,
                keep_secs = config.upload_keep.as_secs(),
                "embedded store: multipart uploads from earlier runs kept; they can be continued and completed"
            );
        }
        let store = CheckedFs::new(&config.data_dir)?;
        let service = {
            let mut builder = S3ServiceBuilder::new(store);
            builder.set_auth(SimpleAuth::from_single(
                config.access_key.clone(),
                config.secret_key.expose().to_owned(),
            ));
            builder.set_access(PublicRead);
            let mut limits = s3s_config();
            limits.post_object_max_file_size = config.form_file_limit;
            builder.set_config(Arc::new(StaticConfigProvider::new(Arc::new(limits))));
            builder.build()
        };
        let listener = TcpListener::bind(config.addr).await.with_context(|| {
            format!(
                "bind the embedded store to {} (set EMBEDDED_S3_ADDR)",
                config.addr
            )
        })?;
        let addr = listener.local_addr().context("embedded store address")?;
        let service = rechunk::Rechunked(service);
        let task = tokio::spawn(serve::serve(listener, service, origins));
        Ok(Self {
            addr,
            task,
            _lock: lock,
        })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Its endpoint URL, e.g. `http://127.0.0.1:9400`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for EmbeddedStore {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The seed's bucket policy: anyone may read objects; everything else needs the store's key.
struct PublicRead;

#[async_trait::async_trait]
impl S3Access for PublicRead {
    async fn check(&self, cx: &mut S3AccessContext<'_>) -> S3Result<()> {
        // Before anything else, anonymous or not: a key beside the bucket never reaches s3s-fs.
        keys::check_path(cx.s3_path())?;
        if cx.credentials().is_some() {
            return Ok(());
        }
        match cx.s3_op().name() {
            "GetObject" | "HeadObject" => Ok(()),
            _ => Err(s3_error!(
                AccessDenied,
                "anonymous access is limited to reading objects"
            )),
        }
    }
}
