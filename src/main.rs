//! The server binary: reads `.env` and the environment, sets up logging, and serves until Ctrl-C or SIGTERM; `check`
//! and `clean` run the set-up commands of [`s3_upload_server::cli`].

use std::process::ExitCode;

use anyhow::Context as _;
use clap::Parser as _;
use s3_upload_server::cli::{self, Cli, Command};
use s3_upload_server::config::StoreConfig;
use s3_upload_server::{Application, Config, telemetry};

fn main() -> anyhow::Result<ExitCode> {
    let cli = Cli::parse();
    keep_large_buffers_out_of_the_heap();
    s3_upload_server::storage::body::on_idle(return_free_memory);
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("start the async runtime")?
        .block_on(run(cli.command))
}

/// glibc's allocator raises its mmap threshold each time a large buffer is freed, after which part buffers come
/// from the heap, fragment it, and are never returned: after a burst of uploads the process stayed at ~5x its
/// idle size (135 MiB against 25 MiB in the soak test). A fixed threshold keeps buffers of 128 KiB and more in
/// their own mappings, which go back to the system when freed (41 MiB after the same soak).
/// `MALLOC_MMAP_THRESHOLD_`, if set, wins.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
fn keep_large_buffers_out_of_the_heap() {
    if std::env::var_os("MALLOC_MMAP_THRESHOLD_").is_none() {
        // SAFETY: mallopt only changes a tuning parameter of glibc's allocator, and runs before any other thread.
        unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024);
        }
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn keep_large_buffers_out_of_the_heap() {}

/// Runs when uploads have stopped for a moment: the connections' and parsers' buffers (64 KiB and less, from the
/// heap) were freed into the allocator's free lists; this gives their pages back to the system.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
fn return_free_memory() {
    // SAFETY: malloc_trim only releases free memory held by glibc's allocator; it is thread-safe.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn return_free_memory() {}

async fn run(command: Option<Command>) -> anyhow::Result<ExitCode> {
    // A missing .env is normal (settings may come from the environment); a broken one is not.
    if let Err(err) = dotenvy::dotenv()
        && !err.not_found()
    {
        return Err(err).context("read .env");
    }
    let config = Config::from_env()?;
    if let Some(command) = command.filter(|c| !matches!(c, Command::Serve)) {
        return cli::run(command, config).await.map(ExitCode::from);
    }
    telemetry::init(config.log_format);

    let app = Application::build(config.clone()).await?;
    let url = format!("http://127.0.0.1:{}", app.port());
    let endpoint = app.storage().bucket().endpoint().unwrap_or_default();
    match &config.store {
        StoreConfig::Embedded(embedded) => tracing::info!(
            mode = "embedded",
            bucket = embedded.bucket,
            endpoint,
            access_key = embedded.access_key,
            secret_key = embedded.secret_key.expose(),
            region = embedded.region,
            data_dir = %embedded.data_dir.display(),
            "no AWS_S3_BUCKET set: using the embedded S3 store on loopback (look inside with: \
             AWS_ACCESS_KEY_ID={} AWS_SECRET_ACCESS_KEY={} aws --endpoint-url {} s3 ls s3://{})",
            embedded.access_key,
            embedded.secret_key.expose(),
            endpoint,
            embedded.bucket,
        ),
        StoreConfig::Remote(remote) => tracing::info!(
            mode = if remote.endpoint.is_some() {
                "s3-compatible"
            } else {
                "aws"
            },
            bucket = remote.bucket,
            region = remote.region,
            endpoint = remote.endpoint.as_deref().unwrap_or("AWS S3"),
            credentials = if remote.credentials.is_some() {
                "static keys from the environment"
            } else {
                "AWS default chain"
            },
            "using a real bucket"
        ),
    }
    match app.state().bucket.probe().await {
        Ok(()) => tracing::info!("the bucket answers"),
        Err(err) => {
            err.log();
            tracing::warn!(
                "the bucket does not answer yet: uploads fail with 503 until it does (see GET /ready)"
            );
        }
    }
    log_who_may_upload(&config);
    // `url` is a field of its own so that programs starting the binary (the tests, the benchmark) read the port
    // from the JSON log line instead of from its text.
    tracing::info!(
        url,
        "upload server listening: open {url}/ or POST files in the field `photos` to {url}/upload"
    );
    app.run_until_stopped(shutdown_signal())
        .await
        .map(|()| ExitCode::SUCCESS)
}

/// Says at start who may upload, and warns when anyone on the network may.
fn log_who_may_upload(config: &Config) {
    let (host, port) = (config.host, config.port);
    if config.access.upload_token.is_some() {
        tracing::info!(
            "uploads need `Authorization: Bearer <UPLOAD_TOKEN>`; the page asks for the token"
        );
    } else if host.is_loopback() {
        tracing::info!(
            "uploads are open to anyone on this machine (no UPLOAD_TOKEN; listening on loopback only)"
        );
    } else {
        tracing::warn!(
            %host,
            port,
            "uploads are open to anyone who can reach this port: no UPLOAD_TOKEN is set and HOST is not \
             loopback; set UPLOAD_TOKEN (and CORS_ALLOWED_ORIGINS) before exposing it, or HOST=127.0.0.1"
        );
    }
}

/// Completes on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(err) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %err, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(err) => {
                tracing::error!(error = %err, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
