//! The early PUT's request body: the batches the tap sends, which must add up to the length the PUT announced.

use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use tokio::sync::mpsc;

/// The PUT's body: the chunks as the tap sends them, in batches, `left` bytes in all.
pub(super) struct ChannelBody {
    pub(super) receiver: mpsc::Receiver<Vec<Bytes>>,
    /// What is left of the last batch.
    pub(super) batch: VecDeque<Bytes>,
    pub(super) left: u64,
}

/// A body that ended before its length: the request must fail, not end short.
#[derive(Debug, thiserror::Error)]
#[error("the file did not end at its expected length")]
pub(super) struct EndedShort;

impl Body for ChannelBody {
    type Data = Bytes;
    type Error = EndedShort;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, EndedShort>>> {
        if self.batch.is_empty() {
            match ready!(self.receiver.poll_recv(cx)) {
                Some(batch) => self.batch = batch.into(),
                None if self.left == 0 => return Poll::Ready(None),
                None => return Poll::Ready(Some(Err(EndedShort))),
            }
        }
        match self.batch.pop_front() {
            Some(chunk) => {
                self.left = self.left.saturating_sub(chunk.len() as u64);
                Poll::Ready(Some(Ok(Frame::data(chunk))))
            }
            // An empty batch is never sent; should one come, the next poll reads on.
            None => {
                cx.waker().wake_by_ref();
                Poll::Pending
            }
        }
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.left)
    }
}
