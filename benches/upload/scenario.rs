//! The scenarios, the sides that run them, and what each side measured.

use super::*;

#[derive(Clone, Debug)]
pub(crate) struct Scenario {
    pub(crate) id: &'static str,
    pub(crate) name: String,
    /// Files in one request (the direct side sends them one after the other).
    pub(crate) files_per_request: usize,
    pub(crate) file_size: u64,
    pub(crate) requests: usize,
    pub(crate) in_flight: usize,
    pub(crate) rounds: usize,
    /// The throughput target as a ratio to direct, if any.
    pub(crate) target_ratio: Option<f64>,
    /// How the server side sends its files.
    pub(crate) via: Via,
    /// A client slower than loopback: every side sends its bodies at this many bytes per second, in
    /// [`PACED_FRAME`] frames.
    pub(crate) pace: Option<u64>,
}

/// The frames of a paced scenario's bodies.
pub(crate) const PACED_FRAME: usize = 128 * 1024;

impl Scenario {
    pub(crate) fn bytes_per_round(&self) -> u64 {
        self.file_size * (self.files_per_request * self.requests) as u64
    }
}

/// Every scenario of a run; the tus ones unless `tus` is false, the direct-upload ones unless `s3` is false.
pub(crate) fn scenarios(quick: bool, rounds: Option<usize>, tus: bool, s3: bool) -> Vec<Scenario> {
    let r = |default: usize| rounds.unwrap_or(default);
    let s = |id, name: &str, files, size, requests, in_flight, rounds, target| Scenario {
        id,
        name: name.to_owned(),
        files_per_request: files,
        file_size: size,
        requests,
        in_flight,
        rounds,
        target_ratio: (target > 0.0).then_some(target),
        via: Via::Post,
        pace: None,
    };
    // A file that arrives at 32 MiB/s, as from a fast uplink: 32 ms for 1 MiB, whichever side receives it.
    let paced = |name: &str, requests, rounds| Scenario {
        pace: Some(32 * MIB),
        ..s("paced", name, 1, MIB, requests, 1, rounds, 0.0)
    };
    let mut all = if quick {
        vec![
            s("seq", "1 MiB x 5 sequential", 1, MIB, 5, 1, r(1), 0.0),
            paced("1 MiB x 5 sequential, sent at 32 MiB/s", 5, r(1)),
            s("large", "20 MiB + 1 B", 1, 20 * MIB + 1, 1, 1, r(1), 0.95),
            s("huge", "64 MiB", 1, 64 * MIB, 1, 1, r(1), 0.95),
            s("many", "50 x 1 MiB, 8 in flight", 1, MIB, 50, 8, r(1), 0.9),
            s(
                "multi",
                "1 request of 3 x (1 MiB + 1 B)",
                3,
                MIB + 1,
                1,
                1,
                r(1),
                0.9,
            ),
        ]
    } else {
        vec![
            s("seq", "1 MiB x 20 sequential", 1, MIB, 20, 1, r(3), 0.0),
            paced("1 MiB x 20 sequential, sent at 32 MiB/s", 20, r(3)),
            s("large", "100 MiB + 1 B", 1, 100 * MIB + 1, 1, 1, r(3), 0.95),
            s("huge", "1 GiB", 1, GIB, 1, 1, r(3), 0.95),
            s(
                "many",
                "500 x 1 MiB, 32 in flight",
                1,
                MIB,
                500,
                32,
                r(2),
                0.9,
            ),
            s(
                "multi",
                "1 request of 5 x (10 MiB + 1 B)",
                5,
                10 * MIB + 1,
                1,
                1,
                r(3),
                0.95,
            ),
        ]
    };
    if tus {
        let (size, label) = if quick {
            (64 * MIB, "64 MiB")
        } else {
            (GIB, "1 GiB")
        };
        all.extend(tus_scenarios(size, label, r(if quick { 1 } else { 3 })));
    }
    if s3 {
        all.extend(direct_upload_scenarios(quick, rounds));
    }
    all
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Side {
    Direct,
    DirectMultipart,
    /// The direct PUT through the byte relay: the floor of any proxy (`relay.rs`).
    Relay,
    /// One of the servers: 0 is the one under test, 1 the optional comparison (`BENCH_COMPARE_BIN`).
    Server(usize),
}

/// What one side measured over all rounds of one scenario.
#[derive(Debug, Default)]
pub(crate) struct Measured {
    pub(crate) bytes: u64,
    pub(crate) requests: usize,
    pub(crate) elapsed: Duration,
    pub(crate) latencies: Vec<Duration>,
    pub(crate) server_cpu: f64,
    pub(crate) store_cpu: f64,
    pub(crate) client_cpu: f64,
    pub(crate) server_peak_kib: u64,
    /// Direct multipart only: how long the store took to answer CompleteMultipartUpload.
    pub(crate) complete: Vec<Duration>,
    pub(crate) verified_size: usize,
    pub(crate) verified_content: usize,
}

impl Measured {
    pub(crate) fn mib_per_s(&self) -> f64 {
        self.bytes as f64 / MIB as f64 / self.elapsed.as_secs_f64()
    }

    pub(crate) fn requests_per_s(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64()
    }

    pub(crate) fn percentile(&self, p: f64) -> Duration {
        let mut sorted = self.latencies.clone();
        sorted.sort();
        if sorted.is_empty() {
            return Duration::ZERO;
        }
        let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
        sorted[rank - 1]
    }

    pub(crate) fn per_gib(&self, cpu: f64) -> f64 {
        cpu / (self.bytes as f64 / GIB as f64)
    }
}

/// One request's outcome: its latency, the store's CompleteMultipartUpload time (direct multipart only) and
/// the objects it stored.
pub(crate) type Outcome = (Duration, Option<Duration>, Vec<Stored>);

/// An object stored in one round, to check afterwards.
pub(crate) struct Stored {
    pub(crate) key: String,
    /// Where to GET it: the server's `location`, or none (GET through the SDK).
    pub(crate) location: Option<String>,
    pub(crate) data: Bytes,
    pub(crate) check_content: bool,
}

pub(crate) fn side_id(side: Side) -> &'static str {
    match side {
        Side::Direct => "direct",
        Side::DirectMultipart => "directmp",
        Side::Relay => "relay",
        Side::Server(0) => "server",
        Side::Server(_) => "serverb",
    }
}

/// `frames` as a body stream: at once, or each when its last byte is due at `pace` bytes per second from the
/// first poll (so a form's few bytes of headers and boundaries barely count, and every side ends its file at the
/// same time).
pub(crate) fn paced(
    frames: Vec<Bytes>,
    pace: Option<u64>,
) -> impl futures_util::Stream<Item = Result<Bytes, std::io::Error>> + Send + Sync + 'static {
    futures_util::stream::unfold(
        (frames.into_iter(), None::<tokio::time::Instant>, 0u64),
        move |(mut frames, start, sent)| async move {
            let frame = frames.next()?;
            let start = start.unwrap_or_else(tokio::time::Instant::now);
            let sent = sent + frame.len() as u64;
            if let Some(rate) = pace {
                let due = Duration::from_secs_f64(sent as f64 / rate as f64);
                tokio::time::sleep_until(start + due).await;
            }
            Some((Ok(frame), (frames, Some(start), sent)))
        },
    )
}
