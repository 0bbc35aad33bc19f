//! The first bytes of an upload judged (design 4, simplified): with `ALLOWED_TYPES` set, a type not allowed is
//! refused (415 `LIMIT_FILE_TYPE`) and the upload terminated; otherwise the stored type and disposition are
//! decided as `POST /upload` decides them and recorded before the first part or PutObject of the object.
//!
//! Simplification: the design keeps a "sniff head" in the record until `SNIFF_LEN` bytes are known. Here the
//! first append that brings bytes decides from what it brought: a first PATCH shorter than `SNIFF_LEN` (of a
//! longer upload) is judged on its bytes alone.

use bytes::Bytes;
use futures_util::stream::{self, BoxStream};
use futures_util::{Stream, StreamExt as _};

use super::info_store;
use crate::content_type::{self, SNIFF_LEN};
use crate::error::AppError;
use crate::naming;
use crate::state::AppState;
use crate::storage::resumable::info::{State, UploadId};

/// The body, its first bytes judged when it starts the upload. The bytes read to judge are handed on first.
pub(super) async fn judge<S>(
    state: &AppState,
    id: &UploadId,
    offset: u64,
    body: S,
) -> Result<BoxStream<'static, Result<Bytes, AppError>>, AppError>
where
    S: Stream<Item = Result<Bytes, AppError>> + Send + Unpin + 'static,
{
    // Only a body at offset 0 can start the upload (and the record is not read for the others).
    if offset != 0 {
        return Ok(body.boxed());
    }
    let infos = info_store(state);
    // Anything else (unknown id, other offset, not receiving) is the append's to answer.
    let Ok((info, _)) = infos.read(id).await else {
        return Ok(body.boxed());
    };
    if info.offset != 0 || info.state != State::Receiving || info.content_type.is_some() {
        return Ok(body.boxed());
    }
    let wanted = info
        .length
        .map_or(SNIFF_LEN, |length| length.min(SNIFF_LEN as u64) as usize);
    // Fused: a body read to its end here is not polled again.
    let mut body = body.fuse();
    let (mut head, mut len, mut error) = (Vec::new(), 0, None);
    while len < wanted {
        match body.next().await {
            Some(Ok(chunk)) => {
                len += chunk.len();
                head.push(chunk);
            }
            Some(Err(err)) => {
                error = Some(err);
                break;
            }
            None => break,
        }
    }
    if len > 0 {
        let bytes: Vec<u8> = head.iter().flatten().copied().take(SNIFF_LEN).collect();
        let name = &info.originalname;
        let limits = &state.config.upload;
        if !limits.allowed_types.is_empty() {
            let judged = content_type::judge(&bytes, name);
            if !content_type::is_allowed(&judged, &limits.allowed_types) {
                infos.terminate(id).await?;
                tracing::info!(%id, "resumable upload terminated: its type is not allowed");
                return Err(AppError::FileTypeNotAllowed {
                    field: limits.field_name.clone(),
                    file: name.clone(),
                    content_type: judged,
                    allowed: limits.allowed_types.join(", "),
                });
            }
        }
        let stored = content_type::detect(&bytes, name);
        let disposition = naming::content_disposition(content_type::disposition_for(&stored), name);
        infos.record_type(id, &stored, &disposition).await?;
    }
    let head = stream::iter(head.into_iter().map(Ok));
    Ok(match error {
        // The body broke while judged: what arrived is kept, then its error (nothing after it is read).
        Some(err) => head.chain(stream::once(async { Err(err) })).boxed(),
        None => head.chain(body).boxed(),
    })
}
