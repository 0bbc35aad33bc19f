//! The request body as the multipart parser reads it, with what a hostile client must not be able to do to it:
//! stall it (`BODY_READ_TIMEOUT_SECS` between bytes), trickle it (`BODY_MIN_BYTES_PER_SEC`), or make the parser
//! buffer an endless part header ([`MAX_PART_HEADER_BYTES`]); and, at shutdown, a body still arriving ends the
//! request.

use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::BodyDataStream;
use bytes::Bytes;
use futures_util::Stream;
use tokio::time::{Instant, timeout};

use crate::error::AppError;
use crate::lifecycle::Lifecycle;

/// The most bytes one part's headers may take (busboy's limit; nginx's header buffers are of the same order).
/// The parser buffers a part's headers whole until their blank line, so this bounds what it holds.
pub(super) const MAX_PART_HEADER_BYTES: u64 = 16 * 1024;

/// What the body may do, from the settings.
#[derive(Clone, Debug)]
pub(crate) struct BodyLimits {
    /// The longest wait for the next bytes.
    pub(crate) idle: Duration,
    /// The slowest average rate over each `idle` of waiting, in bytes per second; 0: no minimum.
    pub(crate) min_rate: u64,
}

/// The request body, shared between its reader (multer, or a tus PATCH) and the clean-up that drains what is
/// left after an error. Only one of them reads at a time: the lock is never held across an await.
#[derive(Clone)]
pub(crate) struct SharedBody {
    stream: Arc<Mutex<BodyDataStream>>,
    counts: Arc<Counts>,
}

/// How the body's bytes were used, to tell part-header bytes from file bytes.
#[derive(Debug, Default)]
pub(super) struct Counts {
    /// Bytes read from the connection.
    read: AtomicU64,
    /// Bytes handed out as field data: `read - delivered` is what boundaries and part headers took, plus what
    /// the parser holds and has not handed out yet.
    delivered: AtomicU64,
    /// `read - delivered` when the current part's headers began (its lowest value since the last field
    /// started): what came before does not count against this part's headers.
    base: AtomicU64,
}

impl Counts {
    /// Field data handed out.
    pub(super) fn delivered(&self, bytes: usize) {
        self.delivered.fetch_add(bytes as u64, Ordering::Relaxed);
    }

    /// Field data handed out so far, in all.
    pub(super) fn delivered_total(&self) -> u64 {
        self.delivered.load(Ordering::Relaxed)
    }

    /// A new field began: the headers of the next part are counted from here.
    pub(super) fn field_started(&self) {
        self.base.store(self.undelivered(), Ordering::Relaxed);
    }

    fn undelivered(&self) -> u64 {
        self.read
            .load(Ordering::Relaxed)
            .saturating_sub(self.delivered.load(Ordering::Relaxed))
    }
}

impl SharedBody {
    pub(crate) fn new(stream: BodyDataStream) -> Self {
        Self {
            stream: Arc::new(Mutex::new(stream)),
            counts: Arc::default(),
        }
    }

    pub(super) fn counts(&self) -> Arc<Counts> {
        Arc::clone(&self.counts)
    }

    /// The body as multer wants it, ending with an error when a limit is crossed or the server shuts down.
    pub(super) fn limited(
        self,
        limits: BodyLimits,
        lifecycle: Lifecycle,
    ) -> impl Stream<Item = Result<Bytes, AppError>> + Send + 'static {
        self.read(limits, lifecycle, true)
    }

    /// The body as one file's bytes (a tus PATCH): bounded in time and rate, and by shutdown, as
    /// [`Self::limited`], but with no part headers to bound.
    pub(crate) fn octets(
        self,
        limits: BodyLimits,
        lifecycle: Lifecycle,
    ) -> impl Stream<Item = Result<Bytes, AppError>> + Send + 'static {
        self.read(limits, lifecycle, false)
    }

    fn read(
        self,
        limits: BodyLimits,
        lifecycle: Lifecycle,
        part_headers: bool,
    ) -> impl Stream<Item = Result<Bytes, AppError>> + Send + 'static {
        let reading = Reading {
            body: self,
            limits,
            lifecycle,
            part_headers,
            started: false,
            waited: Duration::ZERO,
            arrived: 0,
            last_len: 0,
        };
        futures_util::stream::unfold(Some(reading), |state| async move {
            let mut reading = state?;
            match reading.next().await {
                Ok(Some(chunk)) => Some((Ok(chunk), Some(reading))),
                Ok(None) => None,
                Err(err) => Some((Err(err), None)),
            }
        })
    }

    fn poll_chunk(&self, cx: &mut Context<'_>) -> Poll<Option<Result<Bytes, axum::Error>>> {
        let mut stream = self.stream.lock().unwrap_or_else(PoisonError::into_inner);
        Pin::new(&mut *stream).poll_next(cx)
    }

    /// Reads and discards what is left of the body, for at most `max_time` and `max_bytes`.
    pub(crate) async fn drain(&self, max_time: Duration, max_bytes: u64) {
        let deadline = Instant::now() + max_time;
        let mut drained = 0u64;
        while drained < max_bytes {
            match tokio::time::timeout_at(
                deadline,
                futures_util::future::poll_fn(|cx| self.poll_chunk(cx)),
            )
            .await
            {
                Ok(Some(Ok(chunk))) => drained += chunk.len() as u64,
                _ => break,
            }
        }
    }
}

/// The state of one body being read.
struct Reading {
    body: SharedBody,
    limits: BodyLimits,
    lifecycle: Lifecycle,
    /// Whether the body is multipart, whose part headers are bounded.
    part_headers: bool,
    started: bool,
    /// Time spent waiting for the client in the current window, and the bytes that arrived in it. Only time
    /// spent waiting for the body counts: while the server itself waits (for the store, for memory), a client
    /// is not slow.
    waited: Duration,
    arrived: u64,
    /// The length of the chunk read before this one.
    last_len: u64,
}

impl Reading {
    async fn next(&mut self) -> Result<Option<Bytes>, AppError> {
        if self.started {
            // Hand multer one chunk per poll: its reader otherwise keeps pulling every chunk that is ready
            // (another thread may keep it supplied), which would both grow its buffer and make file bytes look
            // like part-header bytes to the bound below.
            tokio::task::yield_now().await;
        }
        self.started = true;
        let asked = Instant::now();
        let body = &self.body;
        let chunk = tokio::select! {
            biased;
            () = self.lifecycle.cancelled() => return Err(AppError::ShuttingDown),
            chunk = timeout(self.limits.idle, futures_util::future::poll_fn(|cx| body.poll_chunk(cx))) => chunk,
        };
        let chunk = match chunk {
            Ok(Some(Ok(chunk))) => chunk,
            Ok(Some(Err(err))) => {
                tracing::debug!(error = %err, "request body ended early");
                return Err(AppError::BodyRead);
            }
            Ok(None) => return Ok(None),
            Err(_) => {
                return Err(AppError::BodyTimeout {
                    seconds: self.limits.idle.as_secs(),
                });
            }
        };
        self.check_rate(asked.elapsed(), chunk.len())?;
        if self.part_headers {
            self.check_part_headers(chunk.len())?;
        }
        Ok(Some(chunk))
    }

    /// Ends a body that arrives slower than the minimum rate over a whole window of waiting for it.
    fn check_rate(&mut self, waited: Duration, len: usize) -> Result<(), AppError> {
        if self.limits.min_rate == 0 {
            return Ok(());
        }
        self.waited += waited;
        self.arrived += len as u64;
        if self.waited < self.limits.idle {
            return Ok(());
        }
        let expected = self.waited.as_secs_f64() * self.limits.min_rate as f64;
        if (self.arrived as f64) < expected {
            return Err(AppError::BodyTooSlow {
                min_rate: self.limits.min_rate,
            });
        }
        self.waited = Duration::ZERO;
        self.arrived = 0;
        Ok(())
    }

    /// What the parser holds beyond field data, before this chunk, is the current part's headers (and a
    /// boundary), plus at most the previous chunk not parsed yet (the parser may ask for the next chunk before it
    /// parses the one it holds, which can end a file, carry the next part's headers and the start of its data):
    /// past [`MAX_PART_HEADER_BYTES`] more than that, the part header is endless. The parser then holds at most
    /// that bound and two chunks (of at most 64 KiB each).
    fn check_part_headers(&mut self, len: usize) -> Result<(), AppError> {
        let counts = &self.body.counts;
        let before = counts.undelivered();
        // Field data handed out since the field began lowers the base: it was buffered, not header.
        let base = counts.base.fetch_min(before, Ordering::Relaxed).min(before);
        counts.read.fetch_add(len as u64, Ordering::Relaxed);
        let unparsed = std::mem::replace(&mut self.last_len, len as u64);
        if (before - base).saturating_sub(unparsed) > MAX_PART_HEADER_BYTES {
            return Err(AppError::PartHeadersTooLarge {
                limit: MAX_PART_HEADER_BYTES,
            });
        }
        Ok(())
    }
}
