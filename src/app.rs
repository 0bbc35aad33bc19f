//! The application: state, router and middleware, built from a [`Config`], and a server that runs until told
//! to stop. Tests build the same thing on port 0.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use aws_sdk_s3::Client;
use axum::extract::{DefaultBodyLimit, MatchedPath};
use axum::http::{HeaderName, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use crate::config::{Config, StoreConfig};
use crate::lifecycle::Lifecycle;
use crate::metrics::{self, Metrics};
use crate::routes::{auth, meta, openapi, upload};
use crate::storage::embedded::EmbeddedStore;
use crate::storage::upload::Uploader;
use crate::storage::{self, ClientSettings, UrlBuilder};

/// What every request handler shares: cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub uploader: Uploader,
    pub urls: UrlBuilder,
    /// This application's metrics (one registry per app: tests run many apps in one process).
    pub metrics: Metrics,
    /// Upload requests that may be received at once (`MAX_UPLOADS`).
    pub uploads: Arc<Semaphore>,
    /// Tracks upload tasks and what they stored, and cancels them at shutdown.
    pub lifecycle: Lifecycle,
}

/// A built application, bound to its port and ready to serve.
pub struct Application {
    listener: TcpListener,
    router: Router,
    state: AppState,
    store: Store,
}

/// Which store the application writes to, and how to reach it.
#[derive(Debug)]
pub enum Store {
    Embedded(EmbeddedStore),
    Remote { endpoint: Option<String> },
}

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

impl Application {
    /// Starts the embedded store when no bucket is configured, builds the S3 client and the router, and binds
    /// the HTTP port. A remote bucket that does not answer yet is reported, not fatal: `/ready` tells when it
    /// does.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let timeout = config.upload.s3_timeout;
        let (client, store) = match &config.store {
            StoreConfig::Embedded(embedded) => {
                let store = EmbeddedStore::start(embedded).await?;
                let client = storage::build_client(ClientSettings {
                    region: embedded.region.clone(),
                    endpoint: Some(store.endpoint()),
                    credentials: Some(aws_sdk_s3::config::Credentials::new(
                        embedded.access_key.clone(),
                        embedded.secret_key.expose().to_owned(),
                        None,
                        None,
                        "embedded",
                    )),
                    timeout,
                })
                .await;
                create_bucket(&client, &embedded.bucket).await?;
                (client, Store::Embedded(store))
            }
            StoreConfig::Remote(remote) => {
                let client = storage::build_client(storage::remote_settings(remote, timeout)).await;
                (
                    client,
                    Store::Remote {
                        endpoint: remote.endpoint.clone(),
                    },
                )
            }
        };
        let urls = UrlBuilder::new(&config, store.endpoint().as_deref());
        let lifecycle = Lifecycle::new();
        let uploader = Uploader::new(
            client,
            config.bucket().to_owned(),
            &config.upload,
            lifecycle.clone(),
        );
        let addr = SocketAddr::new(config.host, config.port);
        let listener = TcpListener::bind(addr)
            .await
            .with_context(|| format!("bind the HTTP server to {addr} (set HOST and PORT)"))?;
        let state = AppState {
            uploads: Arc::new(Semaphore::new(config.limits.max_uploads)),
            config: Arc::new(config),
            uploader,
            urls,
            metrics: Metrics::new(),
            lifecycle,
        };
        Ok(Self {
            listener,
            router: router(state.clone()),
            state,
            store,
        })
    }

    /// The HTTP port (useful with `PORT=0`).
    pub fn port(&self) -> u16 {
        self.listener.local_addr().map_or(0, |a| a.port())
    }

    /// The store in use.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The shared state (tests read the client and bucket from it).
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Checks that the bucket answers, for the start-up message.
    pub async fn check_bucket(&self) -> Result<(), crate::error::AppError> {
        let check =
            storage::check_bucket(self.state.uploader.client(), self.state.uploader.bucket());
        match tokio::time::timeout(Duration::from_secs(5), check).await {
            Ok(result) => result,
            Err(_) => Err(crate::error::AppError::StoreUnavailable {
                operation: "HeadBucket",
                detail: "no answer within 5 seconds".to_owned(),
            }),
        }
    }

    /// Serves until `shutdown` completes, then lets in-flight requests finish for up to `SHUTDOWN_GRACE_SECS`,
    /// cancels those still running and waits up to `SHUTDOWN_CLEANUP_SECS` for their clean-up (see
    /// [`crate::server`]). New connections are refused from the moment `shutdown` completes.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let Self {
            listener,
            router,
            state,
            store,
        } = self;
        crate::server::serve(listener, router, &state.config, &state.lifecycle, shutdown).await;
        // The embedded store stops after the server, once the clean-ups that needed it are done.
        drop(store);
        Ok(())
    }
}

impl Store {
    /// The custom endpoint, if any (the embedded store's, or `AWS_ENDPOINT_URL`).
    pub fn endpoint(&self) -> Option<String> {
        match self {
            Self::Embedded(store) => Some(store.endpoint()),
            Self::Remote { endpoint } => endpoint.clone(),
        }
    }
}

async fn create_bucket(client: &Client, bucket: &str) -> anyhow::Result<()> {
    match client.create_bucket().bucket(bucket).send().await {
        Ok(_) => Ok(()),
        Err(err) => {
            use aws_sdk_s3::error::ProvideErrorMetadata;
            match err.code() {
                Some("BucketAlreadyOwnedByYou" | "BucketAlreadyExists") => Ok(()),
                _ => Err(anyhow::Error::new(err)
                    .context(format!("create the embedded bucket `{bucket}`"))),
            }
        }
    }
}

/// The routes and middleware.
pub fn router(state: AppState) -> Router {
    let cors = auth::cors_layer(&state.config.access);
    let upload_route = post(upload::upload).route_layer(axum::middleware::from_fn_with_state(
        state.clone(),
        auth::require_upload_token,
    ));
    let recorder = state.metrics.clone();
    Router::new()
        .route("/", get(meta::index))
        .route("/app.js", get(meta::app_js))
        .route("/app.css", get(meta::app_css))
        .route("/upload", upload_route)
        .route("/health", get(meta::health))
        .route("/ready", get(meta::ready))
        .route("/config", get(meta::public_config))
        .route("/metrics", get(metrics::export))
        .route("/openapi.json", get(openapi::document))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
        // Uploads are bounded by this server's own limits (MAX_FILE_SIZE, MAX_FILES, ...), not axum's 2 MB.
        .layer(DefaultBodyLimit::disable())
        .layer(CatchPanicLayer::custom(|_| {
            tracing::error!("a request handler panicked");
            error_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                "INTERNAL_ERROR",
                "something went wrong on the server",
            )
        }))
        .layer(axum::middleware::from_fn_with_state(
            recorder,
            metrics::record,
        ))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(
            TraceLayer::new_for_http().make_span_with(|request: &Request<_>| {
                let path = request
                    .extensions()
                    .get::<MatchedPath>()
                    .map_or_else(|| request.uri().path(), MatchedPath::as_str);
                let request_id = request
                    .headers()
                    .get(REQUEST_ID)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default();
                tracing::info_span!("request", method = %request.method(), path, request_id)
            }),
        )
        .layer(tower::util::option_layer(cors))
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
}

fn error_response(status: StatusCode, code: &'static str, message: &str) -> Response {
    let mut response = (
        status,
        Json(json!({ "error": { "code": code, "message": message, "field": null } })),
    )
        .into_response();
    response
        .extensions_mut()
        .insert(crate::error::ErrorCode(code));
    response
}

async fn not_found() -> Response {
    error_response(
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
        "no such endpoint: see GET / and POST /upload",
    )
}

async fn method_not_allowed() -> Response {
    error_response(
        StatusCode::METHOD_NOT_ALLOWED,
        "METHOD_NOT_ALLOWED",
        "this endpoint does not take that method",
    )
}
