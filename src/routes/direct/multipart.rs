//! Companion's multipart routes: create, sign a part URL, list parts, complete (with the object checked), abort.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use super::uploads;
use crate::content_type;
use crate::error::{AppError, FileError, direct_error};
use crate::routes::upload::{describe, object_key};
use crate::state::AppState;
use crate::storage::direct::multipart::{ClientPart, Limits, MAX_PART_NUMBER, provisional_spec};

/// S3's smallest part but the last.
const MIN_PART_SIZE: u64 = 5 * 1024 * 1024;

/// `POST /s3/multipart`'s body, as `@uppy/aws-s3` sends it.
#[derive(Deserialize)]
pub(super) struct Create {
    filename: String,
    #[serde(rename = "type", default)]
    claimed_type: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct UploadPath {
    upload_id: String,
}

#[derive(Deserialize)]
pub(super) struct PartPath {
    upload_id: String,
    part: String,
}

#[derive(Deserialize)]
pub(super) struct KeyQuery {
    key: String,
}

#[derive(Deserialize)]
pub(super) struct Complete {
    parts: Vec<CompletePart>,
}

#[derive(Deserialize)]
pub(super) struct CompletePart {
    #[serde(rename = "PartNumber")]
    number: u32,
    #[serde(rename = "ETag")]
    etag: String,
}

/// `POST /s3/multipart`: the upload created with the server's key, type and options: `{key, uploadId, bucket}`.
/// With `ALLOWED_TYPES`, a name whose type is known and not allowed is refused at once (415); the bytes are
/// judged again at completion.
pub(super) async fn create(
    State(state): State<AppState>,
    Json(request): Json<Create>,
) -> Result<Response, FileError> {
    let limits = &state.config.upload;
    let spec = provisional_spec(object_key(limits, &request.filename), &request.filename);
    let named_type = spec.content_type != "application/octet-stream";
    if !limits.allowed_types.is_empty()
        && named_type
        && !content_type::is_allowed(&spec.content_type, &limits.allowed_types)
    {
        return Err(FileError::named(AppError::FileTypeNotAllowed {
            field: limits.field_name.clone(),
            file: request.filename,
            content_type: spec.content_type,
            allowed: limits.allowed_types.join(", "),
        }));
    }
    let mimetype = request
        .claimed_type
        .unwrap_or_else(|| "application/octet-stream".to_owned());
    let upload = uploads(&state)
        .create(spec, request.filename, mimetype)
        .await
        .map_err(|err| FileError::named(direct_error(err, limits)))?;
    tracing::info!(key = %crate::telemetry::Escaped(&upload.key), "direct multipart upload created");
    Ok(Json(json!({
        "key": upload.key,
        "uploadId": upload.upload_id,
        "bucket": state.bucket.name(),
    }))
    .into_response())
}

/// `GET /s3/multipart/{uploadId}/{partNumber}?key=`: `{url}`, a presigned UploadPart PUT.
pub(super) async fn part_url(
    State(state): State<AppState>,
    Path(path): Path<PartPath>,
    Query(query): Query<KeyQuery>,
) -> Result<Response, FileError> {
    let number = path
        .part
        .parse::<u32>()
        .map_err(|_| AppError::InvalidParts {
            reason: format!("`{}` is not a part number", path.part),
        })?;
    // Every part but the last holds at least 5 MiB: a part number that far in means a file over the limit,
    // refused before it gets a URL.
    let limits = &state.config.upload;
    if !(1..=MAX_PART_NUMBER).contains(&number) {
        return Err(AppError::InvalidParts {
            reason: format!("part numbers go from 1 to {MAX_PART_NUMBER}, not {number}"),
        }
        .into());
    }
    if u64::from(number - 1) * MIN_PART_SIZE >= limits.max_file_size.max(1) {
        let upload = uploads(&state)
            .find(&path.upload_id, &query.key)
            .await
            .map_err(|err| FileError::named(direct_error(err, limits)))?;
        return Err(FileError::named(AppError::FileTooLarge {
            field: limits.field_name.clone(),
            file: upload.originalname,
            limit: limits.max_file_size,
        }));
    }
    let url = uploads(&state)
        .part_url(&path.upload_id, &query.key, number)
        .await
        .map_err(|err| FileError::named(direct_error(err, &state.config.upload)))?;
    Ok(Json(json!({ "url": url })).into_response())
}

/// `GET /s3/multipart/{uploadId}?key=`: the parts stored, `[{PartNumber, ETag, Size}]` (the plugin resumes
/// from them).
pub(super) async fn list_parts(
    State(state): State<AppState>,
    Path(path): Path<UploadPath>,
    Query(query): Query<KeyQuery>,
) -> Result<Response, FileError> {
    let parts = uploads(&state)
        .list_parts(&path.upload_id, &query.key)
        .await
        .map_err(|err| FileError::named(direct_error(err, &state.config.upload)))?;
    let listed: Vec<_> = parts
        .iter()
        .map(|p| json!({ "PartNumber": p.number, "ETag": p.etag, "Size": p.size }))
        .collect();
    Ok(Json(listed).into_response())
}

/// `POST /s3/multipart/{uploadId}/complete?key=`: completed and checked, answered with `POST /upload`'s object
/// for the file; an object over `MAX_FILE_SIZE` or of a type not allowed is deleted and answered as
/// `POST /upload` answers it (413, 415).
pub(super) async fn complete(
    State(state): State<AppState>,
    Path(path): Path<UploadPath>,
    Query(query): Query<KeyQuery>,
    Json(request): Json<Complete>,
) -> Result<Response, FileError> {
    let config = &state.config.upload;
    let parts: Vec<ClientPart> = request
        .parts
        .into_iter()
        .map(|p| ClientPart {
            number: p.number,
            etag: p.etag,
        })
        .collect();
    let limits = Limits {
        max_size: config.max_file_size,
        allowed_types: config.allowed_types.clone(),
    };
    let (spec, upload, object) = uploads(&state)
        .complete(&path.upload_id, &query.key, &parts, &limits)
        .await
        .map_err(|err| FileError::named(direct_error(err, config)))?;
    state.metrics.files_stored([object.size]);
    tracing::info!(key = %crate::telemetry::Escaped(&upload.key), size = object.size, "direct upload completed");
    let file = describe(
        &state,
        spec,
        object,
        config.field_name.clone(),
        upload.originalname,
        upload.mimetype,
    )
    .await?;
    Ok(Json(file).into_response())
}

/// `DELETE /s3/multipart/{uploadId}?key=`: aborted and forgotten; 204.
pub(super) async fn abort(
    State(state): State<AppState>,
    Path(path): Path<UploadPath>,
    Query(query): Query<KeyQuery>,
) -> Result<Response, FileError> {
    uploads(&state)
        .abort(&path.upload_id, &query.key)
        .await
        .map_err(|err| FileError::named(direct_error(err, &state.config.upload)))?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
