//! The bytes of one part, and the request body the SDK sends them from.
//!
//! A part's bytes are copied out of the multipart parser's chunks into blocks of [`BLOCK_SIZE`] bytes that are
//! recycled across parts and uploads while uploads run. Keeping the parser's chunks instead (zero copy) pinned
//! its buffers for as long as a part was in flight, so every new chunk needed a fresh buffer from the allocator;
//! with glibc (large buffers in their own mappings, see `main.rs`) each of those pages was mapped, zeroed,
//! faulted in and unmapped again: about half of the server's CPU time per byte. One `memcpy` into a warm block
//! is much cheaper than that, and the parser then reuses its own buffer in place. The blocks go to the SDK's
//! request body as they are (no further copy), and the body replays them on a retry.

mod pool;

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use aws_sdk_s3::primitives::{ByteStream, SdkBody};
use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};

use pool::Block;
pub use pool::{BLOCK_SIZE, BlockPool, IDLE_RELEASE, ReaderGuard, on_idle};

/// The first buffer of a part: what a part holds, and takes from the memory budget, until its client has sent
/// this much of it (a client trickling bytes holds no more). From the heap, where freed buffers are reused.
pub const FIRST_BUFFER: usize = crate::config::FIRST_READ_BYTES as usize;

/// The end of a part shorter than this gets a buffer of its own size from the heap instead of a whole block
/// (buffers of 128 KiB and more are mappings of their own, see `main.rs`; those are the blocks, recycled).
pub const SMALL_TAIL: usize = 128 * 1024;

/// Fills one part: copies incoming bytes into a first small buffer, then into recycled blocks. The caller
/// takes each buffer ([`Self::add_buffer`]) when the last one is full, so that it can account for the memory
/// first; [`Self::planned`] says what the part will take if it holds `expected` bytes.
#[derive(Debug)]
pub struct PartBuffer {
    pool: BlockPool,
    chunks: Chunks,
    current: Vec<u8>,
    /// The bytes this part is expected to hold at most (buffers are sized to not exceed it).
    expected: u64,
    /// Capacity of the buffers taken so far.
    allocated: u64,
}

impl PartBuffer {
    /// An empty part expected to hold at most `expected` bytes (more still fits, in more blocks).
    pub fn new(pool: &BlockPool, expected: u64) -> Self {
        Self {
            pool: pool.clone(),
            chunks: Chunks::default(),
            current: Vec::new(),
            expected,
            allocated: 0,
        }
    }

    /// Bytes written so far.
    pub fn len(&self) -> u64 {
        self.chunks.len() + self.current.len() as u64
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes of memory the part holds (the capacity of its buffers).
    pub fn allocated(&self) -> u64 {
        self.allocated
    }

    /// Whether the next bytes need a new buffer.
    pub fn is_full(&self) -> bool {
        self.current.len() == self.current.capacity()
    }

    /// The capacity of the next buffer: the first one small, then whole blocks, and a small end from the heap.
    pub fn next_capacity(&self) -> usize {
        if self.allocated == 0 {
            return first_capacity(self.expected);
        }
        match usize::try_from(self.expected.saturating_sub(self.len())) {
            Ok(left) if left > 0 && left <= SMALL_TAIL => left,
            _ => BLOCK_SIZE,
        }
    }

    /// The memory a part expected to hold `expected` bytes takes when it does: the sum of the capacities
    /// [`Self::next_capacity`] gives while it fills.
    pub fn planned(expected: u64) -> u64 {
        let first = first_capacity(expected) as u64;
        let rest = expected.saturating_sub(first);
        let (blocks, end) = (rest / BLOCK_SIZE as u64, rest % BLOCK_SIZE as u64);
        let end = match end {
            0 => 0,
            end if end <= SMALL_TAIL as u64 => end,
            _ => BLOCK_SIZE as u64,
        };
        first + blocks * BLOCK_SIZE as u64 + end
    }

    /// Takes the next buffer, of [`Self::next_capacity`] bytes (the one before it is sealed).
    pub fn add_buffer(&mut self) {
        let capacity = self.next_capacity();
        self.seal();
        self.current = self.pool.take(capacity);
        self.allocated += self.current.capacity() as u64;
    }

    /// Copies as much of `data` as the current buffer has room for; returns how much.
    pub fn fill(&mut self, data: &[u8]) -> usize {
        let n = (self.current.capacity() - self.current.len()).min(data.len());
        self.current.extend_from_slice(&data[..n]);
        n
    }

    /// Copies `data` in, taking buffers as needed (for callers that account for memory otherwise).
    pub fn extend(&mut self, mut data: &[u8]) {
        while !data.is_empty() {
            if self.is_full() {
                self.add_buffer();
            }
            let n = self.fill(data);
            data = &data[n..];
        }
    }

    /// The finished part.
    pub fn finish(mut self) -> Chunks {
        self.seal();
        self.chunks
    }

    fn seal(&mut self) {
        let bytes = std::mem::take(&mut self.current);
        if bytes.is_empty() {
            return;
        }
        self.chunks.push(Bytes::from_owner(Block {
            bytes,
            pool: Arc::clone(&self.pool.0),
        }));
    }
}

fn first_capacity(expected: u64) -> usize {
    match usize::try_from(expected) {
        Ok(expected) if expected > 0 => expected.min(FIRST_BUFFER),
        _ => FIRST_BUFFER,
    }
}

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

    /// The bytes after the first `skip` (sharing the same buffers).
    pub fn after(&self, skip: u64) -> Chunks {
        let mut rest = Chunks::default();
        let mut skip = skip;
        for chunk in &self.chunks {
            let len = chunk.len() as u64;
            if skip >= len {
                skip -= len;
                continue;
            }
            rest.push(chunk.slice(usize::try_from(skip).unwrap_or(usize::MAX)..));
            skip = 0;
        }
        rest
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
mod tests;
