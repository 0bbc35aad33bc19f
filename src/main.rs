//! The server binary: reads `.env` and the environment, sets up logging, and serves until Ctrl-C or SIGTERM.

use anyhow::Context as _;
use s3_upload_server::app::Store;
use s3_upload_server::config::StoreConfig;
use s3_upload_server::{Application, Config, telemetry};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // A missing .env is normal (settings may come from the environment); a broken one is not.
    if let Err(err) = dotenvy::dotenv()
        && !err.not_found()
    {
        return Err(err).context("read .env");
    }
    let config = Config::from_env()?;
    telemetry::init(config.log_format);

    let app = Application::build(config.clone()).await?;
    let url = format!("http://127.0.0.1:{}", app.port());
    match (app.store(), &config.store) {
        (Store::Embedded(store), StoreConfig::Embedded(embedded)) => tracing::info!(
            mode = "embedded",
            bucket = embedded.bucket,
            endpoint = store.endpoint(),
            access_key = embedded.access_key,
            secret_key = embedded.secret_key.expose(),
            region = embedded.region,
            data_dir = %embedded.data_dir.display(),
            "no AWS_S3_BUCKET set: using the embedded S3 store on loopback (look inside with: \
             AWS_ACCESS_KEY_ID={} AWS_SECRET_ACCESS_KEY={} aws --endpoint-url {} s3 ls s3://{})",
            embedded.access_key,
            embedded.secret_key.expose(),
            store.endpoint(),
            embedded.bucket,
        ),
        (_, StoreConfig::Remote(remote)) => tracing::info!(
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
        _ => {}
    }
    match app.check_bucket().await {
        Ok(()) => tracing::info!("the bucket answers"),
        Err(err) => {
            err.log();
            tracing::warn!(
                "the bucket does not answer yet: uploads fail with 503 until it does (see GET /ready)"
            );
        }
    }
    tracing::info!(
        "upload server listening: open {url}/ or POST files in the field `photos` to {url}/upload"
    );
    app.run_until_stopped(shutdown_signal()).await
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
