//! Reading a file's bytes into parts, within the memory budget shared by every upload.
//!
//! The budget is taken as bytes arrive, never ahead of them: a part takes its first small buffer when its first
//! bytes arrive, and the rest of the part (what the request's length says it can need, at most one part) only
//! once that buffer is full. A client that trickles bytes therefore holds at most the first buffer, however
//! large a body it announced, while a part that is filling holds all it needs, so parts in progress never wait
//! on one another half full. A wait for room is bounded (`UPLOAD_MEMORY_WAIT_SECS`, then 503 `SERVER_BUSY`) and
//! ends at once when the server shuts down.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::UploadError;
use crate::lifecycle::Lifecycle;
use crate::storage::body::{BlockPool, Chunks, PartBuffer, ReaderGuard};

/// The budget counts KiB, so that a part of up to 5 GiB fits a `u32` permit count.
const BUDGET_UNIT: u64 = 1024;

/// The bytes buffered by all uploads at once (`UPLOAD_MEMORY_BUDGET`).
#[derive(Clone, Debug)]
pub(crate) struct Budget {
    permits: Arc<Semaphore>,
    wait: Duration,
    lifecycle: Lifecycle,
}

impl Budget {
    pub(crate) fn new(bytes: u64, wait: Duration, lifecycle: Lifecycle) -> Self {
        let units = (bytes / BUDGET_UNIT).clamp(1, Semaphore::MAX_PERMITS as u64) as usize;
        Self {
            permits: Arc::new(Semaphore::new(units)),
            wait,
            lifecycle,
        }
    }

    /// Bytes not in use right now.
    pub(crate) fn available(&self) -> u64 {
        self.permits.available_permits() as u64 * BUDGET_UNIT
    }

    /// Takes `units` of the budget: at once when there is room, else after waiting for it, for at most
    /// `UPLOAD_MEMORY_WAIT_SECS`. The wait is first come, first served, and ends when the server shuts down.
    async fn take<E>(&self, units: u32) -> Result<OwnedSemaphorePermit, UploadError<E>> {
        if let Ok(permit) = Arc::clone(&self.permits).try_acquire_many_owned(units) {
            return Ok(permit);
        }
        let acquire = Arc::clone(&self.permits).acquire_many_owned(units);
        tokio::select! {
            biased;
            () = self.lifecycle.cancelled() => Err(UploadError::Cancelled),
            acquired = tokio::time::timeout(self.wait, acquire) => match acquired {
                Ok(Ok(permit)) => Ok(permit),
                Ok(Err(closed)) => Err(UploadError::internal(
                    anyhow::Error::new(closed).context("memory budget closed"),
                )),
                Err(_) => Err(UploadError::Busy),
            },
        }
    }
}

fn units(bytes: u64) -> u32 {
    u32::try_from(bytes.div_ceil(BUDGET_UNIT)).unwrap_or(u32::MAX)
}

/// One part's bytes, with the share of the memory budget they hold.
#[derive(Debug)]
pub struct Part {
    pub chunks: Chunks,
    /// The stream ended with this part.
    pub eof: bool,
    pub(crate) permit: Option<OwnedSemaphorePermit>,
}

/// The parts a request may have in flight at once (`UPLOAD_PARTS_IN_FLIGHT`), shared by its files: while one
/// file's last parts are being stored, the next file is read, but no more parts are in flight than for a single
/// file.
#[derive(Clone, Debug)]
pub struct PartSlots(pub(crate) Arc<Semaphore>);

/// Cuts a stream of chunks into parts of `part_size` bytes (the last one shorter), copied into recycled blocks.
pub struct PartReader<S> {
    pub(crate) stream: S,
    pub(crate) carry: Option<Bytes>,
    pub(crate) part_size: u64,
    /// What is left of the request's length (an upper bound on what is left of the file), if known.
    pub(crate) remaining_hint: Option<u64>,
    pub(crate) budget: Budget,
    pub(crate) blocks: BlockPool,
    pub(crate) _reading: ReaderGuard,
    /// Parts in flight for the request this file belongs to (shared by its files).
    pub(crate) slots: PartSlots,
}

impl<S, E> PartReader<S>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
{
    /// Waits for room for one more part in flight in this file's request. The wait does not borrow the reader:
    /// a reader whose stream is `Send` but not `Sync` (a resumable upload's segments) can still be read from a
    /// spawned task.
    pub(crate) fn slot(
        &self,
    ) -> impl Future<Output = Result<OwnedSemaphorePermit, UploadError<E>>> + use<S, E> {
        let slots = Arc::clone(&self.slots.0);
        async move {
            slots.acquire_owned().await.map_err(|err| {
                UploadError::internal(anyhow::Error::new(err).context("part slots closed"))
            })
        }
    }

    /// Reads the next part: up to `part_size` bytes, taking the budget for them as they arrive.
    pub async fn next_part(&mut self) -> Result<Part, UploadError<E>> {
        // The most this part can need: a whole part, or less when the request's length says so.
        let expected = self
            .remaining_hint
            .map_or(self.part_size, |left| left.min(self.part_size));
        let mut part = PartBuffer::new(&self.blocks, expected);
        let mut held = Held::default();
        let mut eof = false;
        while part.len() < self.part_size {
            let chunk = match self.carry.take() {
                Some(chunk) => chunk,
                None => match self.stream.next().await {
                    Some(chunk) => chunk.map_err(UploadError::Source)?,
                    None => {
                        eof = true;
                        break;
                    }
                },
            };
            let room = usize::try_from(self.part_size - part.len()).unwrap_or(usize::MAX);
            let mut data = &chunk[..chunk.len().min(room)];
            if chunk.len() > room {
                self.carry = Some(chunk.slice(room..));
            }
            while !data.is_empty() {
                if part.is_full() {
                    let needed = part.allocated() + part.next_capacity() as u64;
                    if units(needed) > held.units {
                        // The first buffer alone while the client shows it is sending; then the rest at once.
                        let want = if part.allocated() == 0 {
                            needed
                        } else {
                            needed.max(PartBuffer::planned(expected))
                        };
                        held.add(self.budget.take(units(want) - held.units).await?);
                    }
                    part.add_buffer();
                }
                let n = part.fill(data);
                data = &data[n..];
            }
        }
        if !eof && self.carry.is_none() {
            // A full part: look one chunk ahead, so a file of exactly one part still goes as one PutObject.
            match self.stream.next().await {
                Some(chunk) => self.carry = Some(chunk.map_err(UploadError::Source)?),
                None => eof = true,
            }
        }
        if let Some(left) = &mut self.remaining_hint {
            *left = left.saturating_sub(part.len());
        }
        // Keep the share of the budget the part's buffers take, give the rest back.
        held.keep(units(part.allocated()));
        Ok(Part {
            chunks: part.finish(),
            eof,
            permit: held.permit,
        })
    }
}

/// The budget a part holds.
#[derive(Default)]
struct Held {
    permit: Option<OwnedSemaphorePermit>,
    units: u32,
}

impl Held {
    fn add(&mut self, permit: OwnedSemaphorePermit) {
        self.units += u32::try_from(permit.num_permits()).unwrap_or(u32::MAX);
        match &mut self.permit {
            Some(held) => held.merge(permit),
            None => self.permit = Some(permit),
        }
    }

    fn keep(&mut self, units: u32) {
        if let Some(permit) = &mut self.permit {
            let surplus = permit.num_permits().saturating_sub(units as usize);
            drop(permit.split(surplus));
            self.units = self.units.min(units);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::convert::Infallible;

    fn reader(
        budget: &Budget,
        chunks: Vec<Result<Bytes, Infallible>>,
        hint: Option<u64>,
    ) -> PartReader<impl Stream<Item = Result<Bytes, Infallible>> + Unpin> {
        let blocks = BlockPool::new(64 << 20);
        PartReader {
            stream: futures_util::stream::iter(chunks),
            carry: None,
            part_size: 8 << 20,
            remaining_hint: hint,
            budget: budget.clone(),
            _reading: blocks.reader(),
            blocks,
            slots: PartSlots(Arc::new(Semaphore::new(1))),
        }
    }

    #[tokio::test]
    async fn a_part_takes_the_budget_as_its_bytes_arrive() {
        let budget = Budget::new(64 << 20, Duration::from_secs(1), Lifecycle::new());
        // A client that announced 100 MiB and sent 10 bytes holds one small first buffer, not a part.
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<Result<Bytes, Infallible>>();
        let stream = futures_util::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|chunk| (chunk, rx))
        });
        let blocks = BlockPool::new(64 << 20);
        let mut trickle = PartReader {
            stream: Box::pin(stream),
            carry: None,
            part_size: 8 << 20,
            remaining_hint: Some(100 << 20),
            budget: budget.clone(),
            _reading: blocks.reader(),
            blocks,
            slots: PartSlots(Arc::new(Semaphore::new(1))),
        };
        tx.send(Ok(Bytes::from_static(b"0123456789")))
            .expect("send");
        let reading = tokio::spawn(async move { trickle.next_part().await.map(|p| p.eof) });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(
            (64 << 20) - budget.available(),
            crate::config::FIRST_READ_BYTES,
            "a trickling client holds its first buffer only"
        );
        drop(tx);
        assert!(
            reading.await.expect("join").expect("part"),
            "the part ends the file"
        );
        assert_eq!(budget.available(), 64 << 20, "all given back");

        // A part that fills takes the rest at once, and keeps only what its buffers hold.
        let data = vec![7u8; (3 << 20) + 5];
        let mut full = reader(&budget, vec![Ok(Bytes::from(data))], Some((3 << 20) + 5));
        let part = full.next_part().await.expect("part");
        assert_eq!(part.chunks.len(), (3 << 20) + 5);
        assert_eq!(
            (64 << 20) - budget.available(),
            PartBuffer::planned((3 << 20) + 5).div_ceil(1024) * 1024
        );
        drop(part);
        assert_eq!(budget.available(), 64 << 20);
    }

    #[tokio::test]
    async fn a_wait_for_room_is_bounded_and_ends_at_shutdown() {
        let lifecycle = Lifecycle::new();
        let budget = Budget::new(1 << 20, Duration::from_millis(200), lifecycle.clone());
        let hog = budget
            .take::<Infallible>(1024)
            .await
            .expect("the whole budget");
        let started = std::time::Instant::now();
        let err = budget.take::<Infallible>(1).await.expect_err("no room");
        assert!(matches!(err, UploadError::Busy), "{err:?}");
        assert!(started.elapsed() < Duration::from_secs(2));

        let waiting = tokio::spawn({
            let budget = budget.clone();
            async move { budget.take::<Infallible>(1).await.map(drop) }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        lifecycle.cancel();
        let err = waiting.await.expect("join").expect_err("cancelled");
        assert!(matches!(err, UploadError::Cancelled), "{err:?}");
        drop(hog);
    }
}
