//! The page, liveness and readiness probes, and the public configuration the page reads.

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::json;

use crate::app::AppState;
use crate::storage;

/// The upload page, compiled into the binary so it is served from any working directory.
const INDEX_HTML: &str = include_str!("../../static/index.html");

/// `GET /`: the upload page.
pub async fn index() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        INDEX_HTML,
    )
        .into_response()
}

/// `GET /health`: the process is alive.
pub async fn health() -> Json<serde_json::Value> {
    Json(json!({ "status": "ok" }))
}

/// `GET /ready`: the bucket answers. 503 with the error's code when it does not.
pub async fn ready(State(state): State<AppState>) -> Response {
    let check = storage::check_bucket(state.uploader.client(), state.uploader.bucket());
    match tokio::time::timeout(Duration::from_secs(5), check).await {
        Ok(Ok(())) => Json(json!({ "status": "ready", "bucket": state.uploader.bucket() })).into_response(),
        Ok(Err(err)) => {
            err.log();
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({ "status": "not ready", "code": err.code(), "message": err.to_string() })),
            )
                .into_response()
        }
        Err(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "not ready", "code": "STORE_UNAVAILABLE", "message": "the bucket did not answer within 5 seconds" })),
        )
            .into_response(),
    }
}

/// What a client may know before uploading.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PublicConfig {
    pub field_name: String,
    pub max_file_size: u64,
    pub max_files: usize,
}

/// `GET /config`: the field name and limits, so the page can warn before uploading.
pub async fn public_config(State(state): State<AppState>) -> Json<PublicConfig> {
    let upload = &state.config.upload;
    Json(PublicConfig {
        field_name: upload.field_name.clone(),
        max_file_size: upload.max_file_size,
        max_files: upload.max_files,
    })
}
