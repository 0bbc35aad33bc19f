//! What an append reads, in order: the upload's segments (read back exactly as recorded), then the request's
//! body, counted, hashed and bounded on its way.
//!
//! The body's own error ends the stream instead of passing through: the part reader drops the part it is
//! filling on an error, and those bytes arrived and are to be kept. The error waits in [`Body`] for the caller.

use std::pin::Pin;
use std::task::{Context, Poll};

use aws_sdk_s3::Client;
use bytes::Bytes;
use futures_util::stream::{self, BoxStream};
use futures_util::{Stream, StreamExt, TryStreamExt};

use super::checksum::Hasher;
use super::info::Segment;
use crate::storage::StoreError;

const READ_SEGMENT: &str = "read a segment of a resumable upload";

/// A request's body as the part reader sees it.
pub(super) struct Body<S, E> {
    stream: S,
    /// Body bytes passed on.
    pub(super) received: u64,
    /// The most the upload can still take, when its length is known.
    limit: Option<u64>,
    pub(super) hasher: Option<Hasher>,
    /// The body's error, which ended it.
    pub(super) error: Option<E>,
    /// The body went past `limit` (the chunk that did was not passed on).
    pub(super) too_long: bool,
    ended: bool,
}

// Nothing is pinned through `Body`: the error is only stored and moved out after the stream ended.
impl<S: Unpin, E> Unpin for Body<S, E> {}

impl<S, E> Body<S, E> {
    pub(super) fn new(stream: S, limit: Option<u64>, hasher: Option<Hasher>) -> Self {
        Self {
            stream,
            received: 0,
            limit,
            hasher,
            error: None,
            too_long: false,
            ended: false,
        }
    }
}

impl<S, E> Stream for Body<S, E>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
{
    type Item = Result<Bytes, StoreError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.ended {
            return Poll::Ready(None);
        }
        let chunk = match this.stream.poll_next_unpin(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(Some(Ok(chunk))) => chunk,
            Poll::Ready(Some(Err(err))) => {
                this.error = Some(err);
                this.ended = true;
                return Poll::Ready(None);
            }
            Poll::Ready(None) => {
                this.ended = true;
                return Poll::Ready(None);
            }
        };
        let received = this.received + chunk.len() as u64;
        if this.limit.is_some_and(|limit| received > limit) {
            this.too_long = true;
            this.ended = true;
            return Poll::Ready(None);
        }
        this.received = received;
        if let Some(hasher) = &mut this.hasher {
            hasher.update(&chunk);
        }
        Poll::Ready(Some(Ok(chunk)))
    }
}

/// The bytes of `segments`, in order, each read with `If-Match` on its recorded ETag, so that they are exactly
/// what the record references. Read only as the part reader asks for bytes, into its budgeted buffers.
pub(super) fn segments(
    client: Client,
    bucket: String,
    segments: Vec<Segment>,
) -> BoxStream<'static, Result<Bytes, StoreError>> {
    stream::iter(segments)
        .then(move |segment| open(client.clone(), bucket.clone(), segment))
        .try_flatten()
        .boxed()
}

async fn open(
    client: Client,
    bucket: String,
    segment: Segment,
) -> Result<BoxStream<'static, Result<Bytes, StoreError>>, StoreError> {
    let object = client
        .get_object()
        .bucket(&bucket)
        .key(&segment.key)
        .if_match(&segment.etag)
        .send()
        .await
        .map_err(|err| StoreError::from_sdk(READ_SEGMENT, err))?;
    let size = object.content_length();
    if size != i64::try_from(segment.size).ok() {
        return Err(StoreError::Internal(anyhow::anyhow!(
            "segment {} holds {size:?} bytes, not the {} recorded",
            segment.key,
            segment.size
        )));
    }
    let chunks = stream::unfold(object.body, |mut body| async move {
        let chunk = body.next().await?.map_err(|err| StoreError::Unavailable {
            operation: READ_SEGMENT,
            detail: err.to_string(),
        });
        Some((chunk, body))
    });
    Ok(chunks.boxed())
}
