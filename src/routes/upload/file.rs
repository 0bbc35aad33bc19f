//! One file of a form: read while it is streamed to the store, then finished in a task of its own.

use std::sync::Arc;

use futures_util::StreamExt;
use tokio::task::JoinHandle;
use tracing::Instrument as _;

use super::{RequestContext, UploadedFile, describe, map_multer, object_key};
use crate::config::UploadConfig;
use crate::content_type;
use crate::error::AppError;
use crate::naming;
use crate::storage::upload::{EarlyOutcome, EarlyPut, ObjectSpec, Tapped, tap};

/// Reads one file while streaming it to the store; returns once it has been read, with the task that finishes
/// storing it and answers its description. `length_if_last`: the file's length if it is the form's last part
/// (a guess, see `layout.rs`), with which a file smaller than a part is sent while it arrives.
pub(super) async fn start_file(
    request: &RequestContext<'_>,
    field: multer::Field<'static>,
    fieldname: String,
    originalname: String,
    length_if_last: Option<u64>,
) -> Result<JoinHandle<Result<UploadedFile, AppError>>, AppError> {
    let state = request.state;
    let limits = &state.config.upload;
    let counts = Arc::clone(&request.counts);
    let mimetype = field.content_type().map_or_else(
        || "application/octet-stream".to_owned(),
        ToString::to_string,
    );
    let limit = limits.max_file_size;
    let (limit_field, limit_file) = (fieldname.clone(), originalname.clone());
    let mut seen = 0u64;
    let chunks = field.map(move |chunk| {
        let chunk = chunk.map_err(map_multer)?;
        counts.delivered(chunk.len());
        seen += chunk.len() as u64;
        if seen > limit {
            return Err(AppError::FileTooLarge {
                field: limit_field.clone(),
                file: limit_file.clone(),
                limit,
            });
        }
        Ok(chunk)
    });
    let key = object_key(limits, &originalname);
    // Early only where it gains: more than the type sniff reads, and one PutObject (not a multipart upload).
    let early_length = length_if_last.filter(|&length| {
        length > content_type::SNIFF_LEN as u64
            && length <= limits.part_size
            && length <= limits.max_file_size
    });
    let (chunks, early) = match early_length {
        Some(length) => {
            let config = Arc::clone(&state.config);
            let (key, fieldname, originalname) =
                (key.clone(), fieldname.clone(), originalname.clone());
            let decide = Box::new(move |head: &[u8]| {
                object_spec(&config.upload, key, fieldname, originalname, head).ok()
            });
            let (chunks, early) = tap(&request.state.uploader, chunks, length, decide);
            (chunks, Some(early))
        }
        None => (Tapped::plain(chunks), None),
    };
    let mut reader = state
        .uploader
        .reader(chunks, request.length_hint, &request.slots);
    let first = reader.next_part().await?;

    let head = first.chunks.head(content_type::SNIFF_LEN);
    let spec = object_spec(limits, key, fieldname.clone(), originalname.clone(), &head)?;
    let finishing = state
        .uploader
        .start(&spec, first, &mut reader, early.as_ref())
        .await?;
    let early = early.as_ref().map(EarlyPut::outcome);
    let lifecycle = state.lifecycle.clone();
    let state = state.clone();
    let finish = async move {
        let object = finishing.await?;
        match early {
            Some(EarlyOutcome::Sent) if object.sent_while_received => {
                state.metrics.early_put("stored");
            }
            Some(EarlyOutcome::Sent) => state.metrics.early_put("resent"),
            Some(EarlyOutcome::Abandoned) => state.metrics.early_put("abandoned"),
            Some(EarlyOutcome::NotBegun) | None => {}
        }
        tracing::info!(
            key = spec.key,
            size = object.size,
            content_type = spec.content_type,
            "stored"
        );
        let key = spec.key.clone();
        let described = describe(&state, spec, object, fieldname, originalname, mimetype).await;
        if described.is_err() {
            // Stored but not answerable (its presigned URL could not be made): the request fails, so the
            // object must not stay behind.
            state.uploader.delete_all(&[key]).await;
        }
        described
    };
    Ok(lifecycle.spawn(finish.in_current_span()))
}

/// What a file is stored as, judged from its first bytes: refused (415) when `ALLOWED_TYPES` does not allow
/// them.
fn object_spec(
    limits: &UploadConfig,
    key: String,
    fieldname: String,
    originalname: String,
    head: &[u8],
) -> Result<ObjectSpec, AppError> {
    if !limits.allowed_types.is_empty() {
        let judged = content_type::judge(head, &originalname);
        if !content_type::is_allowed(&judged, &limits.allowed_types) {
            return Err(AppError::FileTypeNotAllowed {
                field: fieldname,
                file: originalname,
                content_type: judged,
                allowed: limits.allowed_types.join(", "),
            });
        }
    }
    let content_type = content_type::detect(head, &originalname);
    let content_disposition =
        naming::content_disposition(content_type::disposition_for(&content_type), &originalname);
    Ok(ObjectSpec {
        key,
        content_type,
        content_disposition,
    })
}
