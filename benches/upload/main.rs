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

mod bench;
mod direct;
mod process;
mod report;
mod scenario;
#[path = "../../tests/support/server.rs"]
mod server;

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, ensure};
use aws_sdk_s3::Client;
use aws_sdk_s3::config::Credentials;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use bytes::Bytes;
use futures_util::{StreamExt, TryStreamExt};
use s3_upload_server::config::{Config, EmbeddedConfig, Secret};
use s3_upload_server::embedded::EmbeddedStore;
use s3_upload_server::storage::{ClientSettings, build_client};

use bench::*;
use process::*;
use report::*;
use scenario::*;

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

/// Serves `dir` on a free loopback port, prints its endpoint as a JSON line's `url` (as the server names its own,
/// for [`Proc::start`]), and stops when stdin closes.
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
        println!(
            "{}",
            serde_json::json!({ "message": "bench store listening", "url": store.endpoint() })
        );
        tokio::task::spawn_blocking(|| {
            let mut sink = Vec::new();
            let _ = std::io::stdin().read_to_end(&mut sink);
        })
        .await?;
        drop(store);
        Ok(())
    })
}

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
    let store = Proc::start("store", store_cmd)?;
    let endpoint = store.url().to_owned();
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
            &endpoint,
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
                &endpoint,
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
