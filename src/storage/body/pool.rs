//! The pool of recycled buffers parts are copied into: whole blocks, and parts' first buffers.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use super::FIRST_BUFFER;

/// The size of a recycled block: a part of 8 MiB is 8 of them.
pub const BLOCK_SIZE: usize = 1024 * 1024;

/// How long free blocks are kept once no upload is running. Without this delay, sequential 1 MiB uploads
/// faulted in a fresh block each (4.15 server CPU s/GiB, 41% of it in page faults).
pub const IDLE_RELEASE: Duration = Duration::from_millis(250);

/// Run after the pool has gone idle and freed its blocks: the binary gives the allocator's free memory back to
/// the system there (see `main.rs`), so an idle server shrinks back after a burst of uploads.
static ON_IDLE: OnceLock<fn()> = OnceLock::new();

/// Sets what runs when uploads have stopped for [`IDLE_RELEASE`] (once per process; later calls are ignored).
pub fn on_idle(hook: fn()) {
    let _ = ON_IDLE.set(hook);
}

/// Blocks kept for reuse while uploads are running. The free list is emptied [`IDLE_RELEASE`] after the last
/// reader ends (at once outside a runtime), so an idle server holds none, while back-to-back uploads keep
/// reusing the same warm blocks.
#[derive(Clone, Debug)]
pub struct BlockPool(pub(super) Arc<PoolInner>);

#[derive(Debug)]
pub(super) struct PoolInner {
    free: Mutex<Free>,
    /// At most this many free blocks are kept (the memory budget's worth).
    max_free: usize,
    /// Readers alive ([`ReaderGuard`]s).
    readers: AtomicUsize,
}

#[derive(Debug, Default)]
pub(super) struct Free {
    pub(super) blocks: Vec<Vec<u8>>,
    /// Free first buffers ([`FIRST_BUFFER`] bytes), recycled like blocks: every part starts with one, and fresh
    /// ones from the heap cost page faults each time the allocator gave its top back (measured with
    /// `cargo bench --bench upload`, a request of five 10 MiB files: +0.25 server CPU s/GiB without this).
    pub(super) firsts: Vec<Vec<u8>>,
    /// When the last reader ended.
    idle_since: Option<Instant>,
}

/// Marks a reader as alive: while any is, returned blocks are kept for the next parts.
#[derive(Debug)]
pub struct ReaderGuard(Arc<PoolInner>);

impl BlockPool {
    /// A pool that keeps at most `max_bytes` of free blocks.
    pub fn new(max_bytes: u64) -> Self {
        Self(Arc::new(PoolInner {
            free: Mutex::new(Free::default()),
            max_free: usize::try_from(max_bytes / BLOCK_SIZE as u64).unwrap_or(usize::MAX),
            readers: AtomicUsize::new(0),
        }))
    }

    /// Registers a reader; the pool keeps its free blocks until the last registered reader is dropped.
    pub fn reader(&self) -> ReaderGuard {
        self.0.readers.fetch_add(1, Ordering::AcqRel);
        ReaderGuard(Arc::clone(&self.0))
    }

    /// Free blocks held right now.
    pub fn free_blocks(&self) -> usize {
        self.0.lock().blocks.len()
    }

    /// A buffer for `capacity` bytes: a recycled block when `capacity` is a whole block, else its own
    /// allocation (the tail of a small file).
    pub(super) fn take(&self, capacity: usize) -> Vec<u8> {
        let recycled = match capacity {
            BLOCK_SIZE => self.0.lock().blocks.pop(),
            FIRST_BUFFER => self.0.lock().firsts.pop(),
            _ => None,
        };
        recycled.unwrap_or_else(|| Vec::with_capacity(capacity))
    }
}

impl PoolInner {
    pub(super) fn lock(&self) -> std::sync::MutexGuard<'_, Free> {
        self.free.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Frees the blocks if no reader has run for [`IDLE_RELEASE`].
    fn release_if_idle(&self) {
        let mut free = self.lock();
        if self.readers.load(Ordering::Acquire) == 0
            && free.idle_since.is_some_and(|t| t.elapsed() >= IDLE_RELEASE)
        {
            let blocks = (
                std::mem::take(&mut free.blocks),
                std::mem::take(&mut free.firsts),
            );
            drop(free);
            // Back to the allocator, and so, being large, to the system.
            drop(blocks);
            if let Some(hook) = ON_IDLE.get() {
                hook();
            }
        }
    }

    fn give_back(&self, mut block: Vec<u8>) {
        let capacity = block.capacity();
        if capacity != BLOCK_SIZE && capacity != FIRST_BUFFER {
            return;
        }
        block.clear();
        // Under the lock, so that a block cannot slip in after the last reader emptied the list.
        let mut free = self.lock();
        if self.readers.load(Ordering::Acquire) == 0 {
            return;
        }
        // As many first buffers as blocks: a sixteenth of their memory.
        let list = if capacity == BLOCK_SIZE {
            &mut free.blocks
        } else {
            &mut free.firsts
        };
        if list.len() < self.max_free {
            list.push(block);
        }
    }
}

impl Drop for ReaderGuard {
    fn drop(&mut self) {
        let mut free = self.0.lock();
        if self.0.readers.fetch_sub(1, Ordering::AcqRel) != 1 {
            return;
        }
        // The last reader: free the blocks unless another upload starts soon.
        free.idle_since = Some(Instant::now());
        drop(free);
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                let pool = Arc::clone(&self.0);
                runtime.spawn(async move {
                    tokio::time::sleep(IDLE_RELEASE).await;
                    pool.release_if_idle();
                });
            }
            Err(_) => {
                let mut free = self.0.lock();
                let blocks = (
                    std::mem::take(&mut free.blocks),
                    std::mem::take(&mut free.firsts),
                );
                drop(free);
                drop(blocks);
            }
        }
    }
}

/// A filled block, shared by the `Bytes` that point into it; it goes back to its pool when the last is dropped.
pub(super) struct Block {
    pub(super) bytes: Vec<u8>,
    pub(super) pool: Arc<PoolInner>,
}

impl AsRef<[u8]> for Block {
    fn as_ref(&self) -> &[u8] {
        &self.bytes
    }
}

impl Drop for Block {
    fn drop(&mut self) {
        self.pool.give_back(std::mem::take(&mut self.bytes));
    }
}
