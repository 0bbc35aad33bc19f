//! Lanes: the threads that serve connections, each a single-threaded runtime of its own.
//!
//! A connection is handed to one lane when it is accepted and stays there: its requests, their upload tasks and
//! the store connections they open (one pool per thread, `storage/http.rs`) all run on that lane's thread. A
//! file's bytes then pass from the client's socket to the store's without waking another thread. On a shared
//! multi-threaded runtime each hand-off of a chunk between tasks could wake the other worker: 13 to 15 context
//! switches and 2.15 to 2.3 ms of server CPU per 1 MiB upload, against 4 and 1.5 to 1.85 ms on lanes (benches/
//! RESULTS.md, issue 14). Connections go to the lane with the fewest open.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::Context as _;
use tokio::runtime::Handle;
use tokio_util::sync::CancellationToken;

/// The lanes of one server; dropping it stops them (their tasks are dropped).
pub(crate) struct Lanes {
    lanes: Vec<Lane>,
    next: AtomicUsize,
    stop: CancellationToken,
}

struct Lane {
    handle: Handle,
    open: Arc<AtomicUsize>,
}

/// A connection's place on a lane, held until the connection ends.
pub(crate) struct LaneSlot(Arc<AtomicUsize>);

impl Drop for LaneSlot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Lanes {
    /// Starts `count` lanes (at least one).
    pub(crate) fn start(count: usize) -> anyhow::Result<Self> {
        // Built first, so that a lane that cannot start stops those started before it (on drop).
        let mut started = Self {
            lanes: Vec::with_capacity(count.max(1)),
            next: AtomicUsize::new(0),
            stop: CancellationToken::new(),
        };
        for n in 0..count.max(1) {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .context("start a lane's runtime")?;
            let handle = runtime.handle().clone();
            let stopped = started.stop.clone();
            std::thread::Builder::new()
                .name(format!("lane-{n}"))
                .spawn(move || {
                    runtime.block_on(stopped.cancelled());
                    runtime.shutdown_background();
                })
                .context("start a lane's thread")?;
            started.lanes.push(Lane {
                handle,
                open: Arc::default(),
            });
        }
        Ok(started)
    }

    /// The lane for a new connection: the one with the fewest open, the next in turn among equals.
    pub(crate) fn pick(&self) -> (&Handle, LaneSlot) {
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        let count = self.lanes.len();
        let lane = (0..count)
            .map(|i| &self.lanes[(start + i) % count])
            .min_by_key(|lane| lane.open.load(Ordering::Relaxed))
            .unwrap_or(&self.lanes[0]);
        lane.open.fetch_add(1, Ordering::Relaxed);
        (&lane.handle, LaneSlot(Arc::clone(&lane.open)))
    }
}

impl Drop for Lanes {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn connections_go_to_the_lane_with_the_fewest_open() {
        let lanes = Lanes::start(2).expect("lanes");
        let (first, a) = lanes.pick();
        let first = first.id();
        let (second, b) = lanes.pick();
        assert_ne!(
            first,
            second.id(),
            "the second connection goes to the idle lane"
        );
        drop(a);
        let (third, _c) = lanes.pick();
        assert_eq!(
            third.id(),
            first,
            "the lane whose connection closed is the least loaded"
        );
        drop(b);
        assert_eq!(
            Lanes::start(0).expect("lanes").lanes.len(),
            1,
            "at least one lane"
        );
    }

    #[test]
    fn a_connection_and_the_tasks_it_spawns_run_on_its_lane_until_the_lanes_stop() {
        let lanes = Lanes::start(2).expect("lanes");
        let (lane, _slot) = lanes.pick();
        let (tx, rx) = std::sync::mpsc::channel();
        lane.spawn(async move {
            let own = std::thread::current().id();
            let name = std::thread::current().name().map(str::to_owned);
            let spawned = tokio::spawn(async { std::thread::current().id() })
                .await
                .expect("join");
            let _ = tx.send((name, own == spawned));
        });
        let (name, same) = rx.recv_timeout(Duration::from_secs(5)).expect("ran");
        assert!(
            name.is_some_and(|n| n.starts_with("lane-")),
            "on a lane's thread"
        );
        assert!(same, "what the connection spawns stays on its thread");

        // Dropping the lanes stops them: a task still waiting there is dropped.
        let (dropped_tx, dropped_rx) = std::sync::mpsc::channel::<()>();
        lane.spawn(async move {
            let _dropped = dropped_tx;
            std::future::pending::<()>().await;
        });
        drop(lanes);
        assert!(
            matches!(
                dropped_rx.recv_timeout(Duration::from_secs(5)),
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected)
            ),
            "the waiting task was dropped"
        );
    }
}
