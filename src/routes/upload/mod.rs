//! `POST /upload`: multipart files in the field `photos`, each streamed to S3 as it arrives.
//!
//! The answer is the sample's: a JSON array with one object per file, in multer-s3's field names and order.
//! A request is all or nothing: if any file fails, the files it already stored are deleted and the answer names
//! the file that failed. The request is processed in its own task, so a client that disconnects cannot stop
//! the clean-up half way: the task sees the body end early, aborts the upload and deletes what it stored. At
//! shutdown, a request still running when the grace period ends is cancelled the same way, and the server waits
//! for its clean-up.
//!
//! - `body`: the request body, bounded in time, rate and part-header size.
//! - `file`: one file, read while it is streamed to the store.
//! - `layout`: where a form's parts lie in the body (the last file's length, guessed early).
//! - `task`: a file read whole, finishing in its own task.
//! - `answer`: the answer's fields and the object keys.

mod answer;
pub(crate) mod body;
mod file;
mod layout;
mod task;

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use tokio::sync::OwnedSemaphorePermit;
use tracing::Instrument as _;

use super::auth;
use crate::error::{AppError, FileError};
use crate::naming::{self, Disposition};
use crate::state::AppState;
use crate::storage::upload::PartSlots;

pub use answer::{UploadedFile, object_key};
pub(crate) use answer::{describe, location};
use body::{BodyLimits, Counts, MAX_PART_HEADER_BYTES, SharedBody};
use layout::Layout;
use task::{FileState, FileTask};

/// The longest field name accepted (multer's `LIMIT_FIELD_KEY` default).
const MAX_FIELD_NAME_BYTES: usize = 100;

/// How long, and how much, the rest of a rejected body is read, so that the client gets the error answer
/// instead of a reset connection.
pub(crate) const DRAIN_TIME: Duration = Duration::from_secs(5);
pub(crate) const DRAIN_BYTES: u64 = 256 * 1024 * 1024;

/// This feature's path.
const ROUTE: &str = "/upload";
pub const PATHS: &[&str] = &[ROUTE];

/// `POST /upload`, behind the upload token when one is set.
pub fn router(state: AppState) -> Router {
    let token = axum::middleware::from_fn_with_state(state.clone(), auth::require_upload_token);
    Router::new()
        .route(ROUTE, post(upload).route_layer(token))
        .with_state(state)
}

/// A slot among the `MAX_UPLOADS` uploads received at once, taken before any of a body is read; none left is
/// 503 `SERVER_BUSY`.
pub(crate) fn upload_slot(state: &AppState) -> Result<OwnedSemaphorePermit, AppError> {
    Arc::clone(&state.uploads)
        .try_acquire_owned()
        .map_err(|_| AppError::ServerBusy {
            reason: "MAX_UPLOADS uploads are being received",
        })
}

/// Receives the files of one request.
#[tracing::instrument(name = "upload", skip_all)]
pub async fn upload(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    // At most MAX_UPLOADS at once: a client beyond it is told to come back, before any of its body is read.
    let slot = match upload_slot(&state) {
        Ok(slot) => slot,
        Err(err) => return err.into_response(),
    };
    let lifecycle = state.lifecycle.clone();
    let task = lifecycle.spawn(
        async move {
            let body = SharedBody::new(body.into_data_stream());
            let result = receive(&state, &headers, body.clone()).await;
            if let Ok(files) = &result {
                state.metrics.files_stored(files.iter().map(|f| f.size));
            }
            if result.is_err() && !state.lifecycle.is_cancelled() {
                body.drain(DRAIN_TIME, DRAIN_BYTES).await;
            }
            drop(slot);
            result
        }
        .in_current_span(),
    );
    match task.await {
        Ok(Ok(files)) => Json(files).into_response(),
        Ok(Err(err)) => err.into_response(),
        Err(err) => {
            AppError::Internal(anyhow::Error::new(err).context("upload task")).into_response()
        }
    }
}

async fn receive(
    state: &AppState,
    headers: &HeaderMap,
    body: SharedBody,
) -> Result<Vec<UploadedFile>, FileError> {
    let limits = &state.config.upload;
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let boundary = multer::parse_boundary(content_type).map_err(|err| match err {
        multer::Error::NoBoundary => AppError::MalformedMultipart {
            detail: "the Content-Type has no boundary".to_owned(),
        },
        _ => AppError::NotMultipart {
            expected: limits.field_name.clone(),
        },
    })?;
    let length_hint = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());

    let counts = body.counts();
    let body_limits = BodyLimits {
        idle: limits.body_read_timeout,
        min_rate: limits.body_min_rate,
    };
    let stream = body.limited(body_limits, state.lifecycle.clone());
    let mut layout = Layout::new(&boundary, length_hint);
    let mut multipart = multer::Multipart::new(stream, boundary);

    let request = RequestContext {
        state,
        counts,
        length_hint,
        slots: state.uploader.part_slots(),
    };
    let mut files: Vec<FileTask> = Vec::new();
    let read = read_parts(&request, &mut multipart, &mut layout, &mut files).await;
    // Every file started is finished (stored, or failed and cleaned up) before the answer.
    let mut stored: Vec<UploadedFile> = Vec::with_capacity(files.len());
    let mut failed: Option<FileError> = None;
    for file in files {
        match file.finish().await {
            Ok(file) => stored.push(file),
            // The earliest file's error is the one to report: the request stops there.
            Err(err) => {
                failed.get_or_insert(err);
            }
        }
    }
    match failed.map_or(read, Err) {
        Ok(()) if stored.is_empty() => Err(AppError::NoFile {
            expected: limits.field_name.clone(),
        }
        .into()),
        Ok(()) => {
            let keys: Vec<String> = stored.iter().map(|f| f.key.clone()).collect();
            state.uploader.keep(&keys);
            Ok(stored)
        }
        Err(err) => {
            let keys: Vec<String> = stored.into_iter().map(|f| f.key).collect();
            if !keys.is_empty() {
                tracing::info!(
                    count = keys.len(),
                    "deleting the files this failed request stored"
                );
                state.uploader.delete_all(&keys).await;
            }
            Err(err)
        }
    }
}

/// What the files of one request share while it is read.
struct RequestContext<'a> {
    state: &'a AppState,
    /// How the body's bytes were used (file data, or part headers).
    counts: Arc<Counts>,
    /// The request's Content-Length.
    length_hint: Option<u64>,
    /// The parts the request may have in flight, across its files.
    slots: PartSlots,
}

async fn read_parts(
    request: &RequestContext<'_>,
    multipart: &mut multer::Multipart<'static>,
    layout: &mut Layout,
    files: &mut Vec<FileTask>,
) -> Result<(), FileError> {
    let (limits, counts) = (&request.state.config.upload, &request.counts);
    let (mut parts, mut fields) = (0usize, 0usize);
    while let Some(mut field) = multipart.next_field().await.map_err(map_multer)? {
        counts.field_started();
        let data_start = layout.data_start(field.headers());
        let delivered_before = counts.delivered_total();
        // Headers that arrived whole in one read never crossed the streaming bound: measure them too.
        let header_bytes: usize = field
            .headers()
            .iter()
            .map(|(name, value)| name.as_str().len() + value.len() + 4)
            .sum();
        if header_bytes as u64 > MAX_PART_HEADER_BYTES {
            return Err(AppError::PartHeadersTooLarge {
                limit: MAX_PART_HEADER_BYTES,
            }
            .into());
        }
        parts += 1;
        if parts > limits.max_parts {
            return Err(AppError::TooManyParts {
                limit: limits.max_parts,
            }
            .into());
        }
        let Disposition { name, filename } = field
            .headers()
            .get(header::CONTENT_DISPOSITION)
            .map(|v| naming::parse_disposition(v.as_bytes()))
            .unwrap_or_default();
        let Some(name) = name.filter(|n| !n.is_empty()) else {
            return Err(AppError::MissingFieldName.into());
        };
        if name.len() > MAX_FIELD_NAME_BYTES {
            return Err(AppError::FieldNameTooLong {
                field: name.chars().take(32).collect(),
                limit: MAX_FIELD_NAME_BYTES,
            }
            .into());
        }
        let Some(filename) = filename else {
            // A text field: the sample (multer) accepts them beside the files; they are bounded and dropped.
            fields += 1;
            if fields > limits.max_fields {
                return Err(AppError::TooManyFields {
                    field: name,
                    limit: limits.max_fields,
                }
                .into());
            }
            let mut size = 0u64;
            while let Some(chunk) = field.chunk().await.map_err(map_multer)? {
                counts.delivered(chunk.len());
                size += chunk.len() as u64;
                if size > limits.max_field_size {
                    return Err(AppError::FieldValueTooLong {
                        field: name,
                        limit: limits.max_field_size,
                    }
                    .into());
                }
            }
            layout.part_ended(data_start, size);
            continue;
        };
        if name != limits.field_name {
            return Err(AppError::UnexpectedFile {
                field: name,
                expected: limits.field_name.clone(),
            }
            .into());
        }
        // A file that already failed ends the request (its error is the answer): nothing after it is read.
        if files.iter_mut().any(FileTask::has_failed) {
            return Ok(());
        }
        if files.len() >= limits.max_files {
            return Err(AppError::TooManyFiles {
                field: name,
                limit: limits.max_files,
            }
            .into());
        }
        let length_if_last = layout.length_if_last(data_start);
        let finishing = file::start_file(request, field, name, filename.clone(), length_if_last)
            .await
            .map_err(|error| FileError {
                file: Some(filename.clone()),
                error,
            })?;
        layout.part_ended(data_start, counts.delivered_total() - delivered_before);
        files.push(FileTask {
            filename,
            state: FileState::Finishing(finishing),
        });
    }
    Ok(())
}

pub(super) fn map_multer(err: multer::Error) -> AppError {
    match err {
        multer::Error::StreamReadFailed(source) => match source.downcast::<AppError>() {
            Ok(app) => *app,
            Err(_) => AppError::BodyRead,
        },
        other => AppError::MalformedMultipart {
            detail: other.to_string(),
        },
    }
}
