//! A request body made of the chunks one part was assembled from, so bytes go from the multipart stream to the
//! S3 request without being copied into one contiguous buffer.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use aws_sdk_s3::primitives::{ByteStream, SdkBody};
use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};

/// Chunks of one part, shared cheaply (each `Bytes` is reference-counted) so a retry can replay them.
#[derive(Clone, Debug, Default)]
pub struct Chunks {
    chunks: Vec<Bytes>,
    len: u64,
}

impl Chunks {
    pub fn push(&mut self, chunk: Bytes) {
        self.len += chunk.len() as u64;
        self.chunks.push(chunk);
    }

    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The first bytes, up to `max`, for content sniffing (copied only when they span chunks).
    pub fn head(&self, max: usize) -> Bytes {
        match self.chunks.first() {
            Some(first) if first.len() >= max || self.chunks.len() == 1 => {
                first.slice(..first.len().min(max))
            }
            Some(_) => {
                let mut head = Vec::with_capacity(max);
                for chunk in &self.chunks {
                    let take = (max - head.len()).min(chunk.len());
                    head.extend_from_slice(&chunk[..take]);
                    if head.len() == max {
                        break;
                    }
                }
                Bytes::from(head)
            }
            None => Bytes::new(),
        }
    }

    /// An SDK body that replays these chunks on every attempt.
    pub fn into_byte_stream(self) -> ByteStream {
        let shared = Arc::new(self);
        ByteStream::new(SdkBody::retryable(move || {
            SdkBody::from_body_1_x(ChunksBody {
                chunks: Arc::clone(&shared),
                next: 0,
            })
        }))
    }
}

struct ChunksBody {
    chunks: Arc<Chunks>,
    next: usize,
}

impl Body for ChunksBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let next = self.next;
        match self.chunks.chunks.get(next).cloned() {
            Some(chunk) => {
                self.next += 1;
                Poll::Ready(Some(Ok(Frame::data(chunk))))
            }
            None => Poll::Ready(None),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.next >= self.chunks.chunks.len()
    }

    fn size_hint(&self) -> SizeHint {
        let remaining: u64 = self.chunks.chunks[self.next.min(self.chunks.chunks.len())..]
            .iter()
            .map(|c| c.len() as u64)
            .sum();
        SizeHint::with_exact(remaining)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn head_spans_chunks() {
        let mut chunks = Chunks::default();
        chunks.push(Bytes::from_static(b"ab"));
        chunks.push(Bytes::from_static(b"cdef"));
        assert_eq!(chunks.head(3), Bytes::from_static(b"abc"));
        assert_eq!(chunks.head(100), Bytes::from_static(b"abcdef"));
        assert_eq!(chunks.len(), 6);
    }

    #[tokio::test]
    async fn byte_stream_replays_all_chunks() {
        let mut chunks = Chunks::default();
        chunks.push(Bytes::from_static(b"hello "));
        chunks.push(Bytes::from_static(b"world"));
        let collected = chunks
            .into_byte_stream()
            .collect()
            .await
            .unwrap()
            .into_bytes();
        assert_eq!(collected, Bytes::from_static(b"hello world"));
    }
}
