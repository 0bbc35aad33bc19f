//! Serving connections, with what each client may hold bounded, and stopping without leaving uploads half done.
//!
//! - Connections are accepted here and each is served wholly on one of `SERVER_THREADS` lanes (`lanes.rs`).
//! - At most `MAX_CONNECTIONS` connections are open: at the limit the server stops accepting, and new
//!   connections wait in the listen queue until one closes.
//! - A request's headers must arrive within `HEADER_READ_TIMEOUT_SECS`, and a connection that has had no
//!   request in flight for that long is closed (HTTP/1.1 keep-alive and HTTP/2 alike; pings do not count).
//! - HTTP/1 headers and read buffers are capped at 64 KiB; HTTP/2 (with prior knowledge) has at most
//!   `HTTP2_MAX_STREAMS` streams per connection and small flow-control windows, so what a connection can make
//!   the server buffer stays small.
//! - Shutdown: stop accepting, let requests finish for `SHUTDOWN_GRACE_SECS`, then cancel the uploads still
//!   running and wait up to `SHUTDOWN_CLEANUP_SECS` for their clean-up; what it could not remove is logged.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::Request;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder as ConnBuilder;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt as _;

use crate::config::Config;
use crate::lanes::Lanes;
use crate::lifecycle::Lifecycle;

/// The largest read buffer of an HTTP/1 connection, which also caps a request's headers. hyper's default grows
/// it to about 400 KiB on a fast upload, and each such buffer is a fresh memory mapping (main.rs keeps
/// allocations over 128 KiB out of the heap so that memory goes back to the system): mapping, zeroing and
/// unmapping those pages was the largest cost of small uploads. 64 KiB buffers come from the heap and are
/// reused, and multer's buffer stays as small. Measured with `cargo bench --bench upload`; see
/// benches/RESULTS.md.
const READ_BUFFER_MAX: usize = 64 * 1024;

/// HTTP/2 flow-control windows: what one stream, and one connection, may send before the server reads it.
const HTTP2_STREAM_WINDOW: u32 = 256 * 1024;
const HTTP2_CONNECTION_WINDOW: u32 = 512 * 1024;
/// HTTP/2 request headers, at most (hyper's default, stated here because it bounds memory).
const HTTP2_MAX_HEADER_LIST: u32 = 16 * 1024;
/// HTTP/2 pings find peers that went away while a request is in flight.
const HTTP2_PING_INTERVAL: Duration = Duration::from_secs(30);
const HTTP2_PING_TIMEOUT: Duration = Duration::from_secs(20);

/// How long, after the clean-up, the cancelled requests' answers may take to be written.
const ANSWERS_SENT: Duration = Duration::from_secs(2);

/// Serves `router` on `listener` until `shutdown` completes, then shuts down as the module says.
pub(crate) async fn serve(
    listener: TcpListener,
    lanes: Lanes,
    router: Router,
    config: &Config,
    lifecycle: &Lifecycle,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let limits = &config.limits;
    let mut connections = ConnBuilder::new(TokioExecutor::new());
    connections
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_buf_size(READ_BUFFER_MAX);
    connections
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(limits.http2_max_streams)
        .initial_stream_window_size(HTTP2_STREAM_WINDOW)
        .initial_connection_window_size(HTTP2_CONNECTION_WINDOW)
        .max_header_list_size(HTTP2_MAX_HEADER_LIST)
        .keep_alive_interval(Some(HTTP2_PING_INTERVAL))
        .keep_alive_timeout(HTTP2_PING_TIMEOUT);
    let open = Arc::new(Semaphore::new(limits.max_connections));
    let (stopping, open_connections) = (CancellationToken::new(), TaskTracker::new());
    let clock = Instant::now();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        // A free connection slot first: at the limit, connections wait in the listen queue.
        let slot = tokio::select! {
            slot = Arc::clone(&open).acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        let (tcp, _) = match accepted {
            Ok(accepted) => accepted,
            Err(err) => {
                // As axum::serve: a connection that failed while queued is nothing; anything else (out of file
                // descriptors, ...) is logged and retried after a pause rather than spinning.
                if !matches!(
                    err.kind(),
                    std::io::ErrorKind::ConnectionRefused
                        | std::io::ErrorKind::ConnectionAborted
                        | std::io::ErrorKind::ConnectionReset
                ) {
                    tracing::error!(error = %err, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
                continue;
            }
        };
        let _ = tcp.set_nodelay(true);
        // The connection is served on its lane, registered with that lane's reactor.
        let tcp = match tcp.into_std() {
            Ok(tcp) => tcp,
            Err(err) => {
                tracing::debug!(error = %err, "could not hand a connection to a lane");
                continue;
            }
        };
        let (lane, lane_slot) = lanes.pick();
        let activity = Arc::new(Activity::new(clock));
        let service = {
            let (router, activity) = (router.clone(), Arc::clone(&activity));
            hyper::service::service_fn(move |request: Request<Incoming>| {
                let guard = activity.request_started();
                let router = router.clone();
                async move {
                    let response = router.oneshot(request.map(axum::body::Body::new)).await;
                    drop(guard);
                    response
                }
            })
        };
        let connections = connections.clone();
        let (idle, stopping) = (limits.header_read_timeout, stopping.clone());
        open_connections.spawn_on(async move {
            let tcp = match tokio::net::TcpStream::from_std(tcp) {
                Ok(tcp) => tcp,
                Err(err) => {
                    tracing::debug!(error = %err, "could not register a connection on its lane");
                    return;
                }
            };
            let connection = connections
                .serve_connection_with_upgrades(TokioIo::new(tcp), service)
                .into_owned();
            let mut connection = std::pin::pin!(connection);
            let mut closing = false;
            // An idle connection asked to close that does not (an HTTP/2 peer that never answers the GOAWAY's
            // ping) is dropped after another `idle`.
            let mut give_up: Option<tokio::time::Instant> = None;
            loop {
                tokio::select! {
                    ended = connection.as_mut() => {
                        if let Err(err) = ended {
                            tracing::debug!(error = %err, "connection ended with an error");
                        }
                        break;
                    }
                    // Shutdown, or no request for `idle`: close it once what is under way is answered.
                    () = stopping.cancelled(), if !closing => {
                        connection.as_mut().graceful_shutdown();
                        closing = true;
                    }
                    () = activity.idle_for(idle), if !closing => {
                        tracing::debug!("closing an idle connection");
                        connection.as_mut().graceful_shutdown();
                        closing = true;
                        give_up = Some(tokio::time::Instant::now() + idle);
                    }
                    () = sleep_until_some(give_up) => {
                        if activity.in_flight.load(Ordering::Acquire) == 0 {
                            break;
                        }
                        give_up = None;
                    }
                }
            }
            drop((slot, lane_slot));
        }, lane);
    }
    // No new connections from here on; idle keep-alive connections are closed, requests in flight go on.
    drop(listener);
    stopping.cancel();
    lifecycle.begin_stopping();
    open_connections.close();
    stop(config, lifecycle, open_connections).await;
}

/// Lets requests finish for the grace period, then cancels the uploads still running and waits for their
/// clean-up.
async fn stop(config: &Config, lifecycle: &Lifecycle, connections: TaskTracker) {
    let (grace, cleanup) = (config.shutdown_grace, config.shutdown_cleanup);
    tracing::info!(
        grace_secs = grace.as_secs(),
        "shutting down: finishing in-flight uploads"
    );
    // Connections end when their requests are answered; upload tasks may outlive them (a client that went
    // away leaves its clean-up running), so both are waited for.
    let drained = async {
        connections.wait().await;
        lifecycle.finished().await;
    };
    if tokio::time::timeout(grace, drained).await.is_ok() {
        tracing::info!("shutdown complete: every upload finished");
        return;
    }
    let running = lifecycle.running();
    tracing::warn!(
        grace_secs = grace.as_secs(),
        running,
        "uploads did not finish within SHUTDOWN_GRACE_SECS: cancelling them and removing what they stored"
    );
    lifecycle.cancel();
    let started = Instant::now();
    let cleaned = tokio::time::timeout(cleanup, lifecycle.finished()).await;
    // The cancelled requests' answers (503 SHUTTING_DOWN) are on their way to their clients: let them go.
    let _ = tokio::time::timeout(ANSWERS_SENT, connections.wait()).await;
    if cleaned.is_ok() {
        tracing::info!(
            cancelled = running,
            cleanup_ms = started.elapsed().as_millis() as u64,
            "shutdown complete: cancelled uploads were cleaned up, nothing of them is left in the bucket"
        );
        return;
    }
    let leftovers = lifecycle.ledger().leftovers();
    for leftover in &leftovers {
        tracing::error!(%leftover, "left in the bucket by an upload cancelled at shutdown");
    }
    tracing::error!(
        cleanup_secs = cleanup.as_secs(),
        left = leftovers.len(),
        "shutdown: the clean-up did not finish within SHUTDOWN_CLEANUP_SECS; remove what is listed above \
         (`s3-upload-server check --abort-incomplete` aborts old multipart uploads, a lifecycle rule does it \
         by itself)"
    );
}

/// Sleeps until `at`, or forever when there is none.
async fn sleep_until_some(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// When a connection's last request started or ended, and how many are in flight. Bytes alone do not count
/// (HTTP/2 pings would keep a connection open for nothing).
struct Activity {
    clock: Instant,
    /// Milliseconds since `clock` of the last request's start or end.
    last_ms: AtomicU64,
    in_flight: AtomicUsize,
}

/// Marks a request as in flight until dropped.
struct InFlightGuard(Arc<Activity>);

impl Activity {
    fn new(clock: Instant) -> Self {
        let activity = Self {
            clock,
            last_ms: AtomicU64::new(0),
            in_flight: AtomicUsize::new(0),
        };
        activity.touch();
        activity
    }

    fn touch(&self) {
        let now = u64::try_from(self.clock.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_ms.store(now, Ordering::Relaxed);
    }

    fn request_started(self: &Arc<Self>) -> InFlightGuard {
        self.touch();
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        InFlightGuard(Arc::clone(self))
    }

    /// Completes once the connection has had no request in flight for `idle`.
    async fn idle_for(&self, idle: Duration) {
        loop {
            let last = self.clock + Duration::from_millis(self.last_ms.load(Ordering::Relaxed));
            let deadline = last + idle;
            if Instant::now() >= deadline && self.in_flight.load(Ordering::Acquire) == 0 {
                return;
            }
            let wake = deadline.max(Instant::now() + idle / 4);
            tokio::time::sleep_until(wake.into()).await;
        }
    }
}

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        self.0.touch();
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}
