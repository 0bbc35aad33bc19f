//! The application assembled: the port bound, the store opened for the pages served there
//! ([`Storage::open_for_pages`]), the shared [`AppState`], each feature's router merged under the middleware every
//! route shares. Tests build the same thing on port 0.

use std::net::SocketAddr;

use anyhow::Context as _;
use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath};
use axum::http::{HeaderName, Request};
use axum::response::{IntoResponse, Response};
use tokio::net::TcpListener;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use crate::config::Config;
use crate::embedded::PageOrigins;
use crate::error::AppError;
use crate::lanes::Lanes;
use crate::metrics;
use crate::routes;
use crate::state::AppState;
use crate::storage::Storage;
use crate::storage::direct::record::DirectRecords;
use crate::storage::direct::sweep::spawn_direct_sweeper;
use crate::storage::resumable::cas::InfoStore;
use crate::storage::resumable::sweep::spawn_sweeper;

/// A built application, bound to its port and ready to serve.
pub struct Application {
    listener: TcpListener,
    lanes: Lanes,
    router: Router,
    state: AppState,
    storage: Storage,
}

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

impl Application {
    /// Opens the store (starting the embedded one when no bucket is configured), builds the state and the
    /// router, and binds the HTTP port. A remote bucket that does not answer yet is not fatal: `/ready` tells
    /// when it does.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        // Bound first, so that the embedded store knows the page's origin even with `PORT=0`.
        let addr = SocketAddr::new(config.host, config.port);
        let listener = TcpListener::bind(addr)
            .await
            .with_context(|| format!("bind the HTTP server to {addr} (set HOST and PORT)"))?;
        let port = listener.local_addr().context("HTTP server address")?.port();
        let pages = PageOrigins::for_server(config.host, port, &config.access.cors_allowed_origins);
        let storage = Storage::open_for_pages(&config, pages).await?;
        let lanes = Lanes::start(config.limits.server_threads)?;
        let state = AppState::new(config, storage.bucket().clone());
        Ok(Self {
            listener,
            lanes,
            router: router(state.clone()),
            state,
            storage,
        })
    }

    /// The HTTP port (useful with `PORT=0`).
    pub fn port(&self) -> u16 {
        self.listener.local_addr().map_or(0, |a| a.port())
    }

    /// The store in use.
    pub fn storage(&self) -> &Storage {
        &self.storage
    }

    /// The shared state (tests read the client and bucket from it).
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `shutdown` completes (sweeping expired resumable uploads meanwhile), then lets in-flight requests finish for up to `SHUTDOWN_GRACE_SECS`,
    /// cancels those still running and waits up to `SHUTDOWN_CLEANUP_SECS` for their clean-up (see
    /// [`crate::server`]). New connections are refused from the moment `shutdown` completes.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let Self {
            listener,
            lanes,
            router,
            state,
            storage,
        } = self;
        // Expired resumable uploads are removed by this copy too (several copies sweeping is harmless).
        let records = InfoStore::new(
            state.bucket.client().clone(),
            state.bucket.name(),
            state.config.upload.key_prefix.clone(),
        );
        spawn_sweeper(records, state.config.resumable_expiry, &state.lifecycle);
        let direct = DirectRecords::new(
            state.bucket.client().clone(),
            state.bucket.name(),
            state.config.upload.key_prefix.clone(),
        );
        spawn_direct_sweeper(direct, state.config.direct_url_ttl, &state.lifecycle);
        crate::server::serve(
            listener,
            lanes,
            router,
            &state.config,
            &state.lifecycle,
            shutdown,
        )
        .await;
        // The embedded store stops after the server, once the clean-ups that needed it are done.
        drop(storage);
        Ok(())
    }
}

/// Every feature's routes, and the middleware they share.
pub fn router(state: AppState) -> Router {
    let cors = routes::auth::cors_layer(&state.config.access);
    let recorder = state.metrics.clone();
    Router::new()
        .merge(routes::meta::router(state.clone()))
        .merge(routes::upload::router(state.clone()))
        .merge(routes::tus::router(state.clone()))
        .merge(routes::direct::router(state.clone()))
        .merge(routes::metrics::router(state.metrics.clone()))
        .merge(routes::openapi::router())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        // Uploads are bounded by this server's own limits (MAX_FILE_SIZE, MAX_FILES, ...), not axum's 2 MB.
        .layer(DefaultBodyLimit::disable())
        .layer(CatchPanicLayer::custom(|_| {
            AppError::Internal(anyhow::anyhow!("a request handler panicked")).into_response()
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

async fn not_found() -> Response {
    AppError::NotFound.into_response()
}

async fn method_not_allowed() -> Response {
    AppError::MethodNotAllowed.into_response()
}
