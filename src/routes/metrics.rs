//! `GET /metrics`: this application's metrics ([`crate::metrics`]), for a Prometheus scrape.

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::metrics::{CONTENT_TYPE, Metrics};

/// This feature's path.
const ROUTE: &str = "/metrics";
pub const PATHS: &[&str] = &[ROUTE];

/// The scrape endpoint of `metrics`.
pub fn router(metrics: Metrics) -> Router {
    Router::new().route(ROUTE, get(export)).with_state(metrics)
}

/// `GET /metrics`: every metric of this application, in the text exposition format 0.0.4.
pub async fn export(State(metrics): State<Metrics>) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE))],
        metrics.render(),
    )
        .into_response()
}
