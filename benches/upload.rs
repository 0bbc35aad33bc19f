//! Upload benchmark: the release server against the same bytes sent straight to the store.
//!
//! `cargo bench --bench upload` (quick smoke run: `BENCH_QUICK=1 cargo bench --bench upload`).
//!
//! What runs, all on 127.0.0.1:
//! - **the store**: s3s-fs behind s3s (the server's embedded store, `EmbeddedStore`) on tmpfs (`/dev/shm`), in a
//!   child process (this same executable, re-run in its store role), so its CPU time is counted apart;
//! - **the server**: the release binary `s3-upload-server` (built by `cargo bench`), a child process pointed at
//!   that store with `AWS_S3_BUCKET` / `AWS_ENDPOINT_URL` / static keys;
//! - **the client**: this process. It pre-generates its data once and streams it as zero-copy `Bytes` slices:
//!   to the server as a `multipart/form-data` body in 256 KiB frames (reqwest, HTTP/1.1, with Content-Length),
//!   and directly to the store with aws-sdk-s3 `PutObject` with `disable_payload_signing()` (SigV4-signed
//!   headers, `UNSIGNED-PAYLOAD`), the same client settings the server uses, to keys of the shape the server
//!   gives (`<uuid>/<name>`, so the store does the same work per object). That direct upload is the no-proxy
//!   limit. Files larger than one part are also sent directly as a multipart upload (same part size
//!   and parts in flight as the server), to tell what the store's multipart path costs from what the proxy
//!   costs.
//!
//! Each scenario runs `rounds` times, alternating which side goes first. Afterwards every object's size is
//! checked (HEAD), and the content of all the large ones and of one small object in 25 is fetched (GET, through
//! the `location` URL the server returned) and compared byte for byte with what was sent. Then the objects
//! are deleted so tmpfs does not fill.
//!
//! Reported per scenario and side: MiB/s, requests/s, p50 and p99 latency, and CPU seconds of the server, the
//! store and the client over the timed section (utime+stime from `/proc/<pid>/stat`), and the server's peak RSS
//! (VmHWM, reset through `/proc/<pid>/clear_refs` before each round).
//!
//! Settings (environment): `BENCH_QUICK=1` smaller sizes; `BENCH_ROUNDS=n` rounds for every scenario;
//! `BENCH_ONLY=seq,large,huge,many,multi` a subset; `BENCH_DATA_DIR` the store's folder (default under
//! `/dev/shm`); `BENCH_NO_DIRECT_MULTIPART=1` skips the direct multipart reference; `BENCH_REPORT=path` also
//! writes the report to a file. `UPLOAD_PART_SIZE`, `UPLOAD_PARTS_IN_FLIGHT`, `UPLOAD_MEMORY_BUDGET` and
//! `RUST_LOG` pass through to the server.
//!
//! A/B in one run: `BENCH_COMPARE_BIN=/path/to/another/build` and/or
//! `BENCH_COMPARE_ENV="UPLOAD_PART_SIZE=16777216 UPLOAD_PARTS_IN_FLIGHT=2"` start a second server (named by
//! `BENCH_COMPARE_LABEL`) that runs every round beside the first. Profiling: `BENCH_PERF_OUT=/tmp/server.perf`
//! attaches `perf record -e cpu-clock` to the server under test (`BENCH_PERF_CALL_GRAPH=dwarf` adds call graphs).

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Read as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail, ensure};
use aws_sdk_s3::Client;
use aws_sdk_s3::config::Credentials;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use bytes::Bytes;
use futures_util::{StreamExt, TryStreamExt};
use s3_upload_server::config::{Config, EmbeddedConfig, Secret};
use s3_upload_server::storage::embedded::EmbeddedStore;
use s3_upload_server::storage::{ClientSettings, build_client};

const KIB: u64 = 1024;
const MIB: u64 = 1024 * KIB;
const GIB: u64 = 1024 * MIB;

/// Set in the store child: the folder it serves.
const STORE_ROLE: &str = "UPLOAD_BENCH_STORE_DIR";
const BUCKET: &str = "bench";
const ACCESS_KEY: &str = "bench-access-key";
const SECRET_KEY: &str = "bench-secret-key";
const REGION: &str = "us-east-1";
/// How the client cuts a file into body frames.
const FRAME: usize = 256 * 1024;
const BOUNDARY: &str = "----upload-bench-boundary-7MA4YWxkTrZu0gW";
/// Linux's USER_HZ: the unit of utime and stime in `/proc/<pid>/stat`.
const CLOCK_TICKS: f64 = 100.0;

fn main() -> anyhow::Result<()> {
    if let Some(dir) = std::env::var_os(STORE_ROLE) {
        return run_store(PathBuf::from(dir));
    }
    // Under `cargo bench`, libtest-style arguments may be passed: `--bench` only, ignore them.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(run())
}

// ---------------------------------------------------------------------------------------------------------
// The store child
// ---------------------------------------------------------------------------------------------------------

/// Serves `dir` on a free loopback port, prints `STORE <endpoint>`, and stops when stdin closes.
fn run_store(dir: PathBuf) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let config = EmbeddedConfig {
            addr: ([127, 0, 0, 1], 0).into(),
            data_dir: dir,
            bucket: BUCKET.to_owned(),
            access_key: ACCESS_KEY.to_owned(),
            secret_key: Secret::new(SECRET_KEY),
            region: REGION.to_owned(),
        };
        let store = EmbeddedStore::start(&config).await?;
        println!("STORE {}", store.endpoint());
        tokio::task::spawn_blocking(|| {
            let mut sink = Vec::new();
            let _ = std::io::stdin().read_to_end(&mut sink);
        })
        .await?;
        drop(store);
        Ok(())
    })
}

// ---------------------------------------------------------------------------------------------------------
// Child processes and /proc
// ---------------------------------------------------------------------------------------------------------

/// A child process, killed when dropped.
struct Proc {
    child: Child,
    name: &'static str,
    /// The last lines it printed, for error messages.
    log: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Proc {
    /// Starts `command` and waits for the first stdout line for which `ready` returns a value.
    fn start<T: Send + 'static>(
        name: &'static str,
        mut command: Command,
        ready: impl Fn(&str) -> Option<T> + Send + 'static,
    ) -> anyhow::Result<(Self, T)> {
        command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let mut child = command
            .spawn()
            .with_context(|| format!("start the {name}"))?;
        let stdout = child.stdout.take().context("child stdout")?;
        let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let (tx, rx) = mpsc::channel();
        let lines = std::sync::Arc::clone(&log);
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(found) = tx.as_ref().and_then(|_| ready(&line))
                    && let Some(tx) = tx.take()
                {
                    let _ = tx.send(found);
                }
                let mut lines = lines.lock().unwrap_or_else(|e| e.into_inner());
                lines.push(line);
                if lines.len() > 40 {
                    lines.remove(0);
                }
            }
        });
        let mut proc = Self { child, name, log };
        match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(found) => Ok((proc, found)),
            Err(_) => {
                let status = proc.child.try_wait().ok().flatten();
                bail!(
                    "the {name} did not start (exit: {status:?}); it printed:\n{}",
                    proc.recent_output()
                )
            }
        }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn recent_output(&self) -> String {
        self.log
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .join("\n")
    }

    /// utime + stime so far, in seconds.
    fn cpu_seconds(&self) -> f64 {
        cpu_seconds(&format!("/proc/{}/stat", self.pid()))
    }

    /// A line of `/proc/<pid>/status` in KiB, e.g. `VmHWM`.
    fn status_kib(&self, field: &str) -> u64 {
        status_kib(&format!("/proc/{}/status", self.pid()), field)
    }

    /// Resets the peak RSS (VmHWM) to the current RSS.
    fn reset_peak_rss(&self) -> anyhow::Result<()> {
        std::fs::write(format!("/proc/{}/clear_refs", self.pid()), "5")
            .with_context(|| format!("reset the {}'s VmHWM", self.name))
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `perf record` attached to a process; stopped with SIGINT (so it writes its file) when dropped.
struct Perf(Child);

impl Perf {
    fn attach(pid: u32, out: &str) -> anyhow::Result<Self> {
        let mut command = Command::new("perf");
        command.args(["record", "-e", "cpu-clock", "-F", "1999", "-o", out, "-p"]);
        command.arg(pid.to_string());
        if let Ok(call_graph) = std::env::var("BENCH_PERF_CALL_GRAPH") {
            command.args(["--call-graph", &call_graph]);
        }
        let child = command
            .stdout(Stdio::null())
            .spawn()
            .context("start perf record")?;
        std::thread::sleep(Duration::from_millis(500));
        Ok(Self(child))
    }
}

impl Drop for Perf {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-INT", &self.0.id().to_string()])
            .status();
        let _ = self.0.wait();
    }
}

fn cpu_seconds(stat_path: &str) -> f64 {
    let Ok(stat) = std::fs::read_to_string(stat_path) else {
        return f64::NAN;
    };
    // Fields after the command name (which may contain spaces), counted from field 3 (state).
    let Some(rest) = stat.rsplit_once(')').map(|(_, rest)| rest) else {
        return f64::NAN;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // utime is field 14, stime field 15: indices 11 and 12 after the state (field 3).
    (ticks(11) + ticks(12)) as f64 / CLOCK_TICKS
}

fn status_kib(status_path: &str, field: &str) -> u64 {
    std::fs::read_to_string(status_path)
        .ok()
        .and_then(|status| {
            status.lines().find_map(|line| {
                let value = line.strip_prefix(field)?.strip_prefix(':')?;
                value.trim().trim_end_matches("kB").trim().parse().ok()
            })
        })
        .unwrap_or(0)
}

fn client_cpu_seconds() -> f64 {
    cpu_seconds("/proc/self/stat")
}

// ---------------------------------------------------------------------------------------------------------
// Scenarios
// ---------------------------------------------------------------------------------------------------------

#[derive(Clone, Debug)]
struct Scenario {
    id: &'static str,
    name: String,
    /// Files in one request (the direct side sends them one after the other).
    files_per_request: usize,
    file_size: u64,
    requests: usize,
    in_flight: usize,
    rounds: usize,
    /// The throughput target as a ratio to direct, if any.
    target_ratio: Option<f64>,
}

impl Scenario {
    fn bytes_per_round(&self) -> u64 {
        self.file_size * (self.files_per_request * self.requests) as u64
    }
}

fn scenarios(quick: bool, rounds: Option<usize>) -> Vec<Scenario> {
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
    };
    if quick {
        vec![
            s("seq", "1 MiB x 5 sequential", 1, MIB, 5, 1, r(1), 0.0),
            s("large", "20 MiB + 1 B", 1, 20 * MIB + 1, 1, 1, r(1), 0.9),
            s("huge", "64 MiB", 1, 64 * MIB, 1, 1, r(1), 0.9),
            s("many", "50 x 1 MiB, 8 in flight", 1, MIB, 50, 8, r(1), 0.8),
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
            s("large", "100 MiB + 1 B", 1, 100 * MIB + 1, 1, 1, r(3), 0.9),
            s("huge", "1 GiB", 1, GIB, 1, 1, r(3), 0.9),
            s(
                "many",
                "500 x 1 MiB, 32 in flight",
                1,
                MIB,
                500,
                32,
                r(2),
                0.8,
            ),
            s(
                "multi",
                "1 request of 5 x (10 MiB + 1 B)",
                5,
                10 * MIB + 1,
                1,
                1,
                r(3),
                0.9,
            ),
        ]
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Side {
    Direct,
    DirectMultipart,
    /// One of the servers: 0 is the one under test, 1 the optional comparison (`BENCH_COMPARE_BIN`).
    Server(usize),
}

/// What one side measured over all rounds of one scenario.
#[derive(Debug, Default)]
struct Measured {
    bytes: u64,
    requests: usize,
    elapsed: Duration,
    latencies: Vec<Duration>,
    server_cpu: f64,
    store_cpu: f64,
    client_cpu: f64,
    server_peak_kib: u64,
    /// Direct multipart only: how long the store took to answer CompleteMultipartUpload.
    complete: Vec<Duration>,
    verified_size: usize,
    verified_content: usize,
}

impl Measured {
    fn mib_per_s(&self) -> f64 {
        self.bytes as f64 / MIB as f64 / self.elapsed.as_secs_f64()
    }

    fn requests_per_s(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64()
    }

    fn percentile(&self, p: f64) -> Duration {
        let mut sorted = self.latencies.clone();
        sorted.sort();
        if sorted.is_empty() {
            return Duration::ZERO;
        }
        let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
        sorted[rank - 1]
    }

    fn per_gib(&self, cpu: f64) -> f64 {
        cpu / (self.bytes as f64 / GIB as f64)
    }
}

/// One request's outcome: its latency, the store's CompleteMultipartUpload time (direct multipart only) and
/// the objects it stored.
type Outcome = (Duration, Option<Duration>, Vec<Stored>);

/// An object stored in one round, to check afterwards.
struct Stored {
    key: String,
    /// Where to GET it: the server's `location`, or none (GET through the SDK).
    location: Option<String>,
    data: Bytes,
    check_content: bool,
}

// ---------------------------------------------------------------------------------------------------------
// The bench
// ---------------------------------------------------------------------------------------------------------

struct Bench {
    quick: bool,
    data: Bytes,
    http: reqwest::Client,
    s3: Client,
    store: Proc,
    servers: Vec<Server>,
    part_size: u64,
    parts_in_flight: usize,
}

/// A running server binary.
struct Server {
    proc: Proc,
    url: String,
    label: String,
    idle_rss_kib: u64,
}

/// Starts `binary` pointed at the store, with `env` on top of the bench's settings.
async fn start_server(
    binary: &Path,
    label: String,
    base_env: &[(&str, String)],
    extra_env: &[(String, String)],
    work_dir: &Path,
    http: &reqwest::Client,
) -> anyhow::Result<Server> {
    let mut command = Command::new(binary);
    command
        .current_dir(work_dir)
        .envs(base_env.iter().map(|(k, v)| (k, v)))
        .envs(extra_env.iter().map(|(k, v)| (k, v)));
    let (proc, port) = Proc::start("server", command, |line| {
        let at = line.find(LISTENING)?;
        let rest = &line[at + LISTENING.len()..];
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        digits.parse::<u16>().ok()
    })
    .with_context(|| format!("start {}", binary.display()))?;
    let url = format!("http://127.0.0.1:{port}");
    let health = http.get(format!("{url}/health")).send().await?;
    ensure!(
        health.status().is_success(),
        "GET /health: {}",
        health.status()
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    let idle_rss_kib = proc.status_kib("VmRSS");
    Ok(Server {
        proc,
        url,
        label,
        idle_rss_kib,
    })
}

const LISTENING: &str = "upload server listening: open http://127.0.0.1:";

async fn run() -> anyhow::Result<()> {
    let quick = std::env::var_os("BENCH_QUICK").is_some_and(|v| v != "0");
    let rounds = std::env::var("BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok());
    let only: Option<Vec<String>> = std::env::var("BENCH_ONLY")
        .ok()
        .map(|v| v.split(',').map(|s| s.trim().to_owned()).collect());
    let direct_multipart = std::env::var_os("BENCH_NO_DIRECT_MULTIPART").is_none();
    let scenarios: Vec<Scenario> = scenarios(quick, rounds)
        .into_iter()
        .filter(|s| {
            only.as_ref()
                .is_none_or(|only| only.iter().any(|o| o == s.id))
        })
        .collect();
    ensure!(!scenarios.is_empty(), "BENCH_ONLY selects no scenario");

    // The data: one pseudo-random buffer; each object is a slice at its own offset.
    let largest = scenarios.iter().map(|s| s.file_size).max().unwrap_or(MIB);
    let started = Instant::now();
    let data = pseudo_random(largest as usize + 64 * KIB as usize);
    eprintln!(
        "generated {} MiB of test data in {:.1} s",
        data.len() as u64 / MIB,
        started.elapsed().as_secs_f64()
    );

    // The store, on tmpfs.
    let data_dir = std::env::var_os("BENCH_DATA_DIR")
        .map_or_else(|| PathBuf::from("/dev/shm"), PathBuf::from)
        .join(format!("upload-bench-{}", std::process::id()));
    let _cleanup = RemoveOnDrop(data_dir.clone());
    let mut store_cmd = Command::new(std::env::current_exe()?);
    store_cmd.env(STORE_ROLE, &data_dir);
    let (store, endpoint) = Proc::start("store", store_cmd, |line| {
        line.strip_prefix("STORE ").map(str::to_owned)
    })?;
    let s3 = build_client(ClientSettings {
        region: REGION.to_owned(),
        endpoint: Some(endpoint.clone()),
        credentials: Some(Credentials::new(
            ACCESS_KEY, SECRET_KEY, None, None, "bench",
        )),
        timeout: Duration::from_secs(600),
    })
    .await;
    s3.create_bucket()
        .bucket(BUCKET)
        .send()
        .await
        .context("create the bench bucket")?;

    // The server, with the same settings it will read (to run the direct multipart reference alike).
    let binary = PathBuf::from(env!("CARGO_BIN_EXE_s3-upload-server"));
    let work_dir = tempfile::tempdir()?; // no stray .env is read from here
    let server_env: Vec<(&str, String)> = vec![
        ("HOST", "127.0.0.1".to_owned()),
        ("PORT", "0".to_owned()),
        ("AWS_S3_BUCKET", BUCKET.to_owned()),
        ("AWS_ACCESS_KEY_ID", ACCESS_KEY.to_owned()),
        ("AWS_SECRET_ACCESS_KEY", SECRET_KEY.to_owned()),
        ("AWS_REGION", REGION.to_owned()),
        ("AWS_ENDPOINT_URL", endpoint.clone()),
        ("AWS_EC2_METADATA_DISABLED", "true".to_owned()),
        ("MAX_FILE_SIZE", (2 * GIB).to_string()),
        ("MAX_FILES", "10".to_owned()),
        ("NO_COLOR", "1".to_owned()),
    ];
    let mut seen: HashMap<String, String> = std::env::vars().collect();
    for (name, value) in &server_env {
        seen.insert((*name).to_owned(), value.clone());
    }
    let config = Config::from_lookup(|name| seen.get(name).cloned())
        .context("the server's configuration")?;
    let http = reqwest::Client::builder()
        .tcp_nodelay(true)
        .pool_max_idle_per_host(64)
        .timeout(Duration::from_secs(600))
        .build()?;
    let mut servers = vec![
        start_server(
            &binary,
            "server".to_owned(),
            &server_env,
            &[],
            work_dir.path(),
            &http,
        )
        .await?,
    ];
    // A/B in one run: `BENCH_COMPARE_BIN=/path/to/other/build` and/or `BENCH_COMPARE_ENV="K=V K=V"`.
    let compare_bin = std::env::var_os("BENCH_COMPARE_BIN").map(PathBuf::from);
    let compare_env: Vec<(String, String)> = std::env::var("BENCH_COMPARE_ENV")
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    if compare_bin.is_some() || !compare_env.is_empty() {
        let label = std::env::var("BENCH_COMPARE_LABEL").unwrap_or_else(|_| "server B".to_owned());
        let compare_bin = compare_bin.unwrap_or_else(|| binary.clone());
        servers.push(
            start_server(
                &compare_bin,
                label,
                &server_env,
                &compare_env,
                work_dir.path(),
                &http,
            )
            .await?,
        );
    }
    // Profiling hook: `BENCH_PERF_OUT=/tmp/server.perf` records the server with `perf record` (cpu-clock).
    let perf = match std::env::var("BENCH_PERF_OUT") {
        Ok(out) => Some(Perf::attach(servers[0].proc.pid(), &out)?),
        Err(_) => None,
    };

    let bench = Bench {
        quick,
        data,
        http,
        s3,
        store,
        servers,
        part_size: config.upload.part_size,
        parts_in_flight: config.upload.parts_in_flight,
    };
    let mut header = format!(
        "upload bench{}: server {} (release), store s3s-fs {} on {}; part size {} MiB, {} parts in flight, \
         memory budget {} MiB; {} cores",
        if quick { " (BENCH_QUICK)" } else { "" },
        binary.display(),
        endpoint,
        data_dir.display(),
        bench.part_size / MIB,
        bench.parts_in_flight,
        config.upload.memory_budget / MIB,
        std::thread::available_parallelism().map_or(0, |n| n.get()),
    );
    if let Some(b) = bench.servers.get(1) {
        let _ = write!(
            header,
            "\ncompared with `{}`: {} {}",
            b.label,
            std::env::var("BENCH_COMPARE_BIN").unwrap_or_else(|_| "the same binary".to_owned()),
            std::env::var("BENCH_COMPARE_ENV").unwrap_or_default()
        );
    }
    eprintln!("{header}");

    let mut results = Vec::new();
    for scenario in &scenarios {
        let mut sides = vec![Side::Direct];
        sides.extend((0..bench.servers.len()).map(Side::Server));
        if direct_multipart && scenario.file_size > bench.part_size {
            sides.insert(1, Side::DirectMultipart);
        }
        let mut measured: Vec<(Side, Measured)> =
            sides.iter().map(|s| (*s, Measured::default())).collect();
        for round in 0..scenario.rounds {
            // Alternate the order, so neither side always runs on a warmer (or noisier) machine.
            let mut order: Vec<usize> = (0..sides.len()).collect();
            if round % 2 == 1 {
                order.reverse();
            }
            for i in order {
                let side = sides[i];
                let label = bench.label(side);
                eprintln!("  {} / {label} / round {}", scenario.name, round + 1);
                bench
                    .run_round(scenario, side, round, &mut measured[i].1)
                    .await
                    .with_context(|| format!("{} / {label}", scenario.name))?;
            }
        }
        results.push((scenario.clone(), measured));
    }
    drop(perf);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let idle: Vec<(String, u64, u64)> = bench
        .servers
        .iter()
        .map(|s| (s.label.clone(), s.idle_rss_kib, s.proc.status_kib("VmRSS")))
        .collect();
    let labels: Vec<String> = bench.servers.iter().map(|s| s.label.clone()).collect();

    let report = report(&header, &results, &labels, &idle);
    println!("{report}");
    if let Ok(path) = std::env::var("BENCH_REPORT") {
        std::fs::write(&path, &report).with_context(|| format!("write {path}"))?;
    }
    Ok(())
}

impl Bench {
    fn label(&self, side: Side) -> String {
        match side {
            Side::Direct => "direct PUT".to_owned(),
            Side::DirectMultipart => "direct multipart".to_owned(),
            Side::Server(i) => self.servers[i].label.clone(),
        }
    }

    async fn run_round(
        &self,
        scenario: &Scenario,
        side: Side,
        round: usize,
        into: &mut Measured,
    ) -> anyhow::Result<()> {
        let prefix = format!("{}-{}-r{round}", scenario.id, side_id(side));
        // The server measured: the one this side uploads through, or the one under test for direct sides.
        let server = match side {
            Side::Server(i) => &self.servers[i].proc,
            _ => &self.servers[0].proc,
        };
        server.reset_peak_rss()?;
        let (server_cpu, store_cpu, client_cpu) = (
            server.cpu_seconds(),
            self.store.cpu_seconds(),
            client_cpu_seconds(),
        );
        let started = Instant::now();
        let outcomes: Vec<anyhow::Result<Outcome>> =
            futures_util::stream::iter(0..scenario.requests)
                .map(|i| self.one_request(scenario, side, &prefix, i))
                .buffer_unordered(scenario.in_flight)
                .collect()
                .await;
        let elapsed = started.elapsed();
        into.server_cpu += server.cpu_seconds() - server_cpu;
        into.store_cpu += self.store.cpu_seconds() - store_cpu;
        into.client_cpu += client_cpu_seconds() - client_cpu;
        into.server_peak_kib = into.server_peak_kib.max(server.status_kib("VmHWM"));
        into.elapsed += elapsed;
        into.bytes += scenario.bytes_per_round();
        into.requests += scenario.requests;

        let mut stored = Vec::new();
        for outcome in outcomes {
            let (latency, complete, objects) = outcome?;
            into.latencies.push(latency);
            into.complete.extend(complete);
            stored.extend(objects);
        }
        ensure!(
            stored.len() == scenario.requests * scenario.files_per_request,
            "{} objects stored, expected {}",
            stored.len(),
            scenario.requests * scenario.files_per_request
        );
        let (sizes, contents) = self.verify(&stored).await?;
        into.verified_size += sizes;
        into.verified_content += contents;
        self.delete(&stored).await?;
        Ok(())
    }

    /// The file `j` of request `i`: its own slice of the data, so two objects never hold the same bytes.
    fn file_data(&self, scenario: &Scenario, i: usize, j: usize) -> Bytes {
        let n = i * scenario.files_per_request + j;
        let offset = (n * 4099) % (64 * KIB as usize);
        self.data
            .slice(offset..offset + scenario.file_size as usize)
    }

    async fn one_request(
        &self,
        scenario: &Scenario,
        side: Side,
        prefix: &str,
        i: usize,
    ) -> anyhow::Result<Outcome> {
        let files: Vec<Bytes> = (0..scenario.files_per_request)
            .map(|j| self.file_data(scenario, i, j))
            .collect();
        // Contents are compared for every large object and for one small object in 25.
        let check = |n: usize| scenario.file_size > 4 * MIB || n.is_multiple_of(25) || self.quick;
        let started = Instant::now();
        let mut complete = None;
        let stored = match side {
            Side::Server(server) => {
                let names: Vec<String> = (0..files.len())
                    .map(|j| format!("{prefix}-{i}-{j}.bin"))
                    .collect();
                let answer = self.post(server, &names, &files).await?;
                let latency = started.elapsed();
                let mut stored = Vec::new();
                for (j, (data, file)) in files.into_iter().zip(&answer).enumerate() {
                    let size = file["size"].as_u64().unwrap_or(0);
                    ensure!(
                        size == data.len() as u64,
                        "the server answered size {size} for a file of {}",
                        data.len()
                    );
                    ensure!(file["etag"].is_string(), "no etag in {file}");
                    stored.push(Stored {
                        key: file["key"].as_str().context("key")?.to_owned(),
                        location: Some(file["location"].as_str().context("location")?.to_owned()),
                        data,
                        check_content: check(i * scenario.files_per_request + j),
                    });
                }
                return Ok((latency, None, stored));
            }
            Side::Direct | Side::DirectMultipart => {
                let mut stored = Vec::new();
                for (j, data) in files.into_iter().enumerate() {
                    let key = direct_key(&format!("{prefix}-{i}-{j}.bin"));
                    if side == Side::Direct {
                        self.put(&key, &data).await?;
                    } else {
                        complete = Some(self.put_multipart(&key, &data).await?);
                    }
                    stored.push(Stored {
                        key,
                        location: None,
                        data,
                        check_content: check(i * scenario.files_per_request + j),
                    });
                }
                stored
            }
        };
        Ok((started.elapsed(), complete, stored))
    }

    /// `POST /upload` with `files` in the field `photos`, streamed in zero-copy frames.
    async fn post(
        &self,
        server: usize,
        names: &[String],
        files: &[Bytes],
    ) -> anyhow::Result<Vec<serde_json::Value>> {
        let mut frames: Vec<Bytes> = Vec::new();
        for (name, data) in names.iter().zip(files) {
            frames.push(Bytes::from(format!(
                "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"photos\"; filename=\"{name}\"\r\n\
                 Content-Type: application/octet-stream\r\n\r\n"
            )));
            let mut at = 0;
            while at < data.len() {
                let end = (at + FRAME).min(data.len());
                frames.push(data.slice(at..end));
                at = end;
            }
            frames.push(Bytes::from_static(b"\r\n"));
        }
        frames.push(Bytes::from(format!("--{BOUNDARY}--\r\n")));
        let length: usize = frames.iter().map(Bytes::len).sum();
        let body = reqwest::Body::wrap_stream(futures_util::stream::iter(
            frames.into_iter().map(Ok::<_, std::io::Error>),
        ));
        let response = self
            .http
            .post(format!("{}/upload", self.servers[server].url))
            .header(
                reqwest::header::CONTENT_TYPE,
                format!("multipart/form-data; boundary={BOUNDARY}"),
            )
            .header(reqwest::header::CONTENT_LENGTH, length)
            .body(body)
            .send()
            .await
            .context("POST /upload")?;
        let status = response.status();
        let text = response.text().await.context("read the answer")?;
        ensure!(
            status.is_success(),
            "POST /upload answered {status}: {text}"
        );
        let answer: Vec<serde_json::Value> =
            serde_json::from_str(&text).with_context(|| format!("not a JSON array: {text}"))?;
        ensure!(
            answer.len() == files.len(),
            "{} files in the answer, {} sent",
            answer.len(),
            files.len()
        );
        Ok(answer)
    }

    /// The direct reference: one PutObject with the server's client settings.
    async fn put(&self, key: &str, data: &Bytes) -> anyhow::Result<()> {
        self.s3
            .put_object()
            .bucket(BUCKET)
            .key(key)
            .content_length(data.len() as i64)
            .content_type("application/octet-stream")
            .body(ByteStream::from(data.clone()))
            .customize()
            .disable_payload_signing()
            .send()
            .await
            .context("PutObject")?;
        Ok(())
    }

    /// The direct multipart reference: the server's part size and parts in flight, no proxy.
    /// Returns how long CompleteMultipartUpload took.
    async fn put_multipart(&self, key: &str, data: &Bytes) -> anyhow::Result<Duration> {
        let upload_id = self
            .s3
            .create_multipart_upload()
            .bucket(BUCKET)
            .key(key)
            .content_type("application/octet-stream")
            .send()
            .await
            .context("CreateMultipartUpload")?
            .upload_id
            .context("no upload id")?;
        let part_size = self.part_size as usize;
        let count = data.len().div_ceil(part_size);
        let mut parts: Vec<CompletedPart> = futures_util::stream::iter(0..count)
            .map(|n| {
                let body = data.slice(n * part_size..((n + 1) * part_size).min(data.len()));
                let upload_id = upload_id.clone();
                async move {
                    let output = self
                        .s3
                        .upload_part()
                        .bucket(BUCKET)
                        .key(key)
                        .upload_id(upload_id)
                        .part_number(n as i32 + 1)
                        .content_length(body.len() as i64)
                        .body(ByteStream::from(body))
                        .customize()
                        .disable_payload_signing()
                        .send()
                        .await
                        .context("UploadPart")?;
                    Ok::<_, anyhow::Error>(
                        CompletedPart::builder()
                            .part_number(n as i32 + 1)
                            .set_e_tag(output.e_tag)
                            .build(),
                    )
                }
            })
            .buffer_unordered(self.parts_in_flight)
            .try_collect()
            .await?;
        parts.sort_by_key(|p| p.part_number);
        let t_complete = Instant::now();
        self.s3
            .complete_multipart_upload()
            .bucket(BUCKET)
            .key(key)
            .upload_id(upload_id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(parts))
                    .build(),
            )
            .send()
            .await
            .context("CompleteMultipartUpload")?;
        Ok(t_complete.elapsed())
    }

    /// HEAD every object; GET and compare the ones marked. Returns (sizes checked, contents checked).
    async fn verify(&self, stored: &[Stored]) -> anyhow::Result<(usize, usize)> {
        let checks: Vec<anyhow::Result<bool>> = futures_util::stream::iter(stored)
            .map(|object| async move {
                let head = self
                    .s3
                    .head_object()
                    .bucket(BUCKET)
                    .key(&object.key)
                    .send()
                    .await
                    .with_context(|| format!("HEAD {}", object.key))?;
                ensure!(
                    head.content_length == Some(object.data.len() as i64),
                    "{}: stored {:?} bytes, sent {}",
                    object.key,
                    head.content_length,
                    object.data.len()
                );
                if !object.check_content {
                    return Ok(false);
                }
                let mut at = 0usize;
                let mut compare = |chunk: &[u8]| {
                    ensure!(
                        at + chunk.len() <= object.data.len()
                            && object.data[at..at + chunk.len()] == *chunk,
                        "{}: the bytes stored differ from those sent (at offset {at})",
                        object.key
                    );
                    at += chunk.len();
                    Ok(())
                };
                match &object.location {
                    Some(url) => {
                        // The URL the server returned: anonymous read, as a browser would open it.
                        let response = self.http.get(url).send().await?;
                        ensure!(
                            response.status().is_success(),
                            "GET {url}: {}",
                            response.status()
                        );
                        let mut body = response.bytes_stream();
                        while let Some(chunk) = body.next().await {
                            compare(&chunk?)?;
                        }
                    }
                    None => {
                        let mut body = self
                            .s3
                            .get_object()
                            .bucket(BUCKET)
                            .key(&object.key)
                            .send()
                            .await
                            .with_context(|| format!("GET {}", object.key))?
                            .body;
                        while let Some(chunk) = body.next().await {
                            compare(&chunk?)?;
                        }
                    }
                }
                ensure!(
                    at == object.data.len(),
                    "{}: GET returned {at} bytes",
                    object.key
                );
                Ok(true)
            })
            .buffer_unordered(8)
            .collect()
            .await;
        let mut contents = 0;
        for check in checks {
            contents += usize::from(check?);
        }
        Ok((stored.len(), contents))
    }

    async fn delete(&self, stored: &[Stored]) -> anyhow::Result<()> {
        let deleted: Vec<anyhow::Result<()>> = futures_util::stream::iter(stored)
            .map(|object| async move {
                self.s3
                    .delete_object()
                    .bucket(BUCKET)
                    .key(&object.key)
                    .send()
                    .await
                    .with_context(|| format!("DELETE {}", object.key))?;
                Ok(())
            })
            .buffer_unordered(16)
            .collect()
            .await;
        deleted.into_iter().collect()
    }
}

/// A key of the shape the server gives its objects (`<uuid>/<name>`), so that the store does the same work per
/// object (a folder per object, for s3s-fs) whichever side uploads.
fn direct_key(name: &str) -> String {
    format!("{}/{name}", uuid::Uuid::now_v7().simple())
}

fn side_id(side: Side) -> &'static str {
    match side {
        Side::Direct => "direct",
        Side::DirectMultipart => "directmp",
        Side::Server(0) => "server",
        Side::Server(_) => "serverb",
    }
}

/// `len` pseudo-random bytes (xorshift64*): incompressible, cheap to make, the same in every run.
fn pseudo_random(len: usize) -> Bytes {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        out.extend_from_slice(&state.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes());
    }
    out.truncate(len);
    Bytes::from(out)
}

struct RemoveOnDrop(PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        remove_dir(&self.0);
    }
}

fn remove_dir(path: &Path) {
    let _ = std::fs::remove_dir_all(path);
}

// ---------------------------------------------------------------------------------------------------------
// The report
// ---------------------------------------------------------------------------------------------------------

fn report(
    header: &str,
    results: &[(Scenario, Vec<(Side, Measured)>)],
    labels: &[String],
    idle: &[(String, u64, u64)],
) -> String {
    let mib = |kib: u64| kib as f64 / 1024.0;
    let mut out = String::new();
    let _ = writeln!(out, "{header}");
    let _ = writeln!(
        out,
        "x direct = this side / direct PUT, measured in the same run. CPU counts utime+stime over the timed \
         section only. Peak RSS is the server's VmHWM, reset before each round."
    );
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "| scenario | side | MiB/s | req/s | p50 ms | p99 ms | x direct MiB/s | x direct p99 | \
         server peak RSS MiB | server CPU s/GiB | store CPU s/GiB | client CPU s/GiB | client CPU % | \
         checked size/bytes |"
    );
    let _ = writeln!(
        out,
        "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|"
    );
    let mut checks: Vec<(String, bool)> = Vec::new();
    let mut notes: Vec<String> = Vec::new();
    for (scenario, sides) in results {
        let direct = sides
            .iter()
            .find(|(s, _)| *s == Side::Direct)
            .map(|(_, m)| m);
        let direct_mp = sides
            .iter()
            .find(|(s, _)| *s == Side::DirectMultipart)
            .map(|(_, m)| m);
        for (side, m) in sides {
            let label = match side {
                Side::Direct => "direct PUT".to_owned(),
                Side::DirectMultipart => "direct multipart".to_owned(),
                Side::Server(i) => labels[*i].clone(),
            };
            let (ratio, p99_ratio) = match (side, direct) {
                (Side::Direct, _) | (_, None) => (String::new(), String::new()),
                (_, Some(d)) => (
                    format!("{:.2}", m.mib_per_s() / d.mib_per_s()),
                    format!(
                        "{:.2}",
                        m.percentile(0.99).as_secs_f64() / d.percentile(0.99).as_secs_f64()
                    ),
                ),
            };
            let (peak, server_cpu) = match side {
                Side::Server(_) => (
                    format!("{:.1}", mib(m.server_peak_kib)),
                    format!("{:.2}", m.per_gib(m.server_cpu)),
                ),
                _ => (String::new(), String::new()),
            };
            let _ = writeln!(
                out,
                "| {} (x{}) | {label} | {:.0} | {:.1} | {:.1} | {:.1} | {ratio} | {p99_ratio} | {peak} | \
                 {server_cpu} | {:.2} | {:.2} | {:.0}% | {}/{} |",
                scenario.name,
                scenario.rounds,
                m.mib_per_s(),
                m.requests_per_s(),
                m.percentile(0.5).as_secs_f64() * 1e3,
                m.percentile(0.99).as_secs_f64() * 1e3,
                m.per_gib(m.store_cpu),
                m.per_gib(m.client_cpu),
                100.0 * m.client_cpu / m.elapsed.as_secs_f64(),
                m.verified_size,
                m.verified_content,
            );
            if *side == Side::DirectMultipart && !m.complete.is_empty() {
                let mut complete = m.complete.clone();
                complete.sort();
                notes.push(format!(
                    "{}: the store's CompleteMultipartUpload (of a request's last file) alone took {:.0} ms \
                     (median) of the direct multipart request's {:.0} ms",
                    scenario.name,
                    complete[complete.len() / 2].as_secs_f64() * 1e3,
                    m.percentile(0.5).as_secs_f64() * 1e3,
                ));
            }
            let (Side::Server(0), Some(d)) = (side, direct) else {
                continue;
            };
            let ratio = m.mib_per_s() / d.mib_per_s();
            if let Some(target) = scenario.target_ratio {
                let mut line = format!(
                    "{}: throughput {ratio:.2}x direct PUT (target >= {target:.1}x)",
                    scenario.name
                );
                if let Some(mp) = direct_mp {
                    let _ = write!(
                        line,
                        "; {:.2}x direct multipart",
                        m.mib_per_s() / mp.mib_per_s()
                    );
                }
                checks.push((line, ratio >= target));
            }
            let p99 = m.percentile(0.99).as_secs_f64() / d.percentile(0.99).as_secs_f64();
            let mut line = format!(
                "{}: p99 {p99:.2}x direct PUT (target <= 1.5x)",
                scenario.name
            );
            if let Some(mp) = direct_mp {
                let _ = write!(
                    line,
                    "; {:.2}x direct multipart",
                    m.percentile(0.99).as_secs_f64() / mp.percentile(0.99).as_secs_f64()
                );
            }
            checks.push((line, p99 <= 1.5));
            let per_gib = m.per_gib(m.server_cpu);
            checks.push((
                format!(
                    "{}: server {per_gib:.2} CPU s/GiB (target <= 1.5)",
                    scenario.name
                ),
                per_gib <= 1.5,
            ));
            if scenario.id == "huge" {
                let peak = mib(m.server_peak_kib);
                checks.push((
                    format!(
                        "{}: server peak RSS {peak:.1} MiB (target <= 48 MiB)",
                        scenario.name
                    ),
                    peak <= 48.0,
                ));
            }
        }
    }
    let _ = writeln!(out);
    for (label, start, after) in idle {
        let _ = writeln!(
            out,
            "{label} idle RSS: {:.1} MiB after start, {:.1} MiB after the run",
            mib(*start),
            mib(*after)
        );
    }
    if let Some((_, start, _)) = idle.first() {
        checks.push((
            format!(
                "server idle RSS {:.1} MiB after start (target <= 20 MiB)",
                mib(*start)
            ),
            mib(*start) <= 20.0,
        ));
    }
    for note in notes {
        let _ = writeln!(out, "{note}");
    }
    let _ = writeln!(out);
    let _ = writeln!(out, "targets (server under test):");
    for (what, met) in &checks {
        let _ = writeln!(out, "- [{}] {what}", if *met { "met" } else { "NOT met" });
    }
    out
}
