//! `GET /s3/params`: a presigned POST form for one file (what `@uppy/aws-s3` asks for files under its multipart
//! threshold). A form never comes back to this server, so its bytes cannot be checked: it is signed only when
//! nothing would need checking (no `ALLOWED_TYPES`) and it cannot replace another file (`KEY_STRATEGY=unique`);
//! otherwise 403 `MULTIPART_REQUIRED`, and the client sends the file as a multipart upload, checked at completion.

use std::time::UNIX_EPOCH;

use axum::Json;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::error::{AppError, FileError};
use crate::routes::upload::object_key;
use crate::state::AppState;
use crate::storage::direct::multipart::provisional_spec;
use crate::storage::direct::{PostPolicy, presign_post};

/// The query `@uppy/aws-s3` sends (`metadata[...]` pairs are ignored: the object's metadata is the server's).
#[derive(Deserialize)]
pub(super) struct ParamsQuery {
    filename: String,
}

/// `{method: "POST", url, fields, expires}`: the bucket's URL and the form's fields; the file goes last.
pub(super) async fn params(
    State(state): State<AppState>,
    Query(query): Query<ParamsQuery>,
) -> Result<Response, FileError> {
    let limits = &state.config.upload;
    if !limits.allowed_types.is_empty() || state.uploader.options().create_only() {
        return Err(AppError::MultipartRequired.into());
    }
    let key = object_key(limits, &query.filename);
    let policy = PostPolicy {
        object: provisional_spec(key, &query.filename),
        max_size: limits.max_file_size,
        ttl: state.config.direct_url_ttl,
        options: state.uploader.options().clone(),
    };
    let form = presign_post(&state.bucket, &policy)
        .await
        .map_err(AppError::from)?;
    let fields: Map<String, Value> = form
        .fields
        .into_iter()
        .map(|(name, value)| (name, Value::String(value)))
        .collect();
    let expires = form
        .expires_at
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    tracing::info!(key = %crate::telemetry::Escaped(&policy.object.key), "direct POST form signed");
    Ok(Json(json!({
        "method": "POST",
        "url": form.url,
        "fields": fields,
        "expires": expires,
    }))
    .into_response())
}
