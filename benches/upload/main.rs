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
//! - **the relay** (`relay.rs`): the direct PUT again, through a process that only copies bytes between two
//!   sockets. It is the floor of any proxy on this machine, so each small-file scenario shows what the server
//!   reaches against what any server in between could.
//! - **tus**: the same bytes as a resumable upload (`POST /files`, then PATCHes with
//!   `application/offset+octet-stream` bodies streamed like the multipart ones): one PATCH of the whole file, or
//!   sequential PATCHes of 8 MiB, each at the offset the previous one answered (`tus.rs`). Every answer is
//!   checked (204, the `Upload-Offset` expected, `X-Object-Location` on the last one only) before the object is.
//!
//! - **direct uploads** (`direct_uploads.rs`): the same bytes straight to the store with URLs the server signs,
//!   1 GiB through `/s3/multipart` (8 MiB parts, 3 PUT at once) and 500 x 1 MiB through `/s3/params` forms,
//!   so that the server's CPU and peak RSS when it only signs and checks stand beside `POST /upload`'s.
//!
//! Each scenario runs `rounds` times, alternating which side goes first. Afterwards every object's size is
//! checked (HEAD), and the content of all the large ones and of one small object in 25 is fetched (GET, through
//! the `location` URL the server returned) and compared byte for byte with what was sent. Then the objects
//! are deleted so tmpfs does not fill.
//!
//! Reported per scenario and side: MiB/s, requests/s, p50 and p99 latency, and CPU seconds of the server, the
//! store and the client over the timed section (each thread's time on a CPU, from
//! `/proc/<pid>/task/*/schedstat`), and the server's peak RSS (VmHWM, reset through `/proc/<pid>/clear_refs`
//! before each round).
//!
//! Settings (environment): `BENCH_QUICK=1` smaller sizes; `BENCH_ROUNDS=n` rounds for every scenario;
//! `BENCH_ONLY=seq,paced,large,huge,many,multi,tus,tus8,s3huge,s3many` a subset (`paced`: 1 MiB files sent at
//! 32 MiB/s by every side, a client slower than loopback); `BENCH_NO_TUS=1` skips the tus scenarios;
//! `BENCH_NO_S3=1` the direct-upload ones; `BENCH_DATA_DIR` the store's folder (default under
//! `/dev/shm`); `BENCH_NO_DIRECT_MULTIPART=1` skips the direct multipart reference; `BENCH_RELAY=0|small|all`
//! where the relay side runs (default `small`: the `POST /upload` scenarios of files no larger than a part);
//! `BENCH_REPORT=path` also writes the report to a file. `UPLOAD_PART_SIZE`, `UPLOAD_PARTS_IN_FLIGHT`,
//! `UPLOAD_MEMORY_BUDGET` and `RUST_LOG` pass through to the server.
//!
//! A/B in one run: `BENCH_COMPARE_BIN=/path/to/another/build` and/or
//! `BENCH_COMPARE_ENV="UPLOAD_PART_SIZE=16777216 UPLOAD_PARTS_IN_FLIGHT=2"` start a second server (named by
//! `BENCH_COMPARE_LABEL`) that runs every round beside the first (a build from 68c63b8 on, which logs its `url` as
//! a field of its own; for older builds use the bench of their own commit). Profiling: `BENCH_PERF_OUT=/tmp/server.perf`
//! attaches `perf record -e cpu-clock` to the server under test (`BENCH_PERF_CALL_GRAPH=dwarf` adds call graphs).

mod bench;
mod direct;
mod direct_uploads;
mod options;
mod process;
mod relay;
mod report;
mod scenario;
#[path = "../../tests/support/server.rs"]
mod server;
mod store;
mod tus;

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
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use futures_util::{StreamExt, TryStreamExt};
use s3_upload_server::config::{Config, EMBEDDED_UPLOAD_KEEP, EmbeddedConfig, Secret};
use s3_upload_server::embedded::{EmbeddedStore, PageOrigins};
use s3_upload_server::storage::{ClientSettings, build_client};

use bench::*;
use direct_uploads::*;
use options::*;
use process::*;
use relay::*;
use report::*;
use scenario::*;
use store::*;
use tus::*;

const KIB: u64 = 1024;
const MIB: u64 = 1024 * KIB;
const GIB: u64 = 1024 * MIB;

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
    if let Ok(store) = std::env::var(RELAY_ROLE) {
        return run_relay(store);
    }
    // Under `cargo bench`, libtest-style arguments may be passed: `--bench` only, ignore them.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(run())
}

/// One run: the data, the store, the servers, every scenario's rounds, the report.
async fn run() -> anyhow::Result<()> {
    let options = Options::from_env();
    let scenarios = options.scenarios()?;

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
    let _cleanup = RemoveOnDrop(options.data_dir.clone());
    let (store, s3) = start_store(&options.data_dir).await?;
    let endpoint = store.url().to_owned();
    let relay = match options.relay {
        Relay::Off => None,
        _ => Some(start_relay(&endpoint).await?),
    };

    // The servers, with the settings they will read (to run the direct multipart reference alike).
    let binary = PathBuf::from(env!("CARGO_BIN_EXE_s3-upload-server"));
    let work_dir = tempfile::tempdir()?; // no stray .env is read from here
    let server_env = server_settings(&endpoint);
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
    let start = |binary: PathBuf, label: String, extra: Vec<(String, String)>| {
        let (server_env, endpoint, http, dir) = (&server_env, &endpoint, &http, work_dir.path());
        async move { start_server(&binary, label, server_env, &extra, endpoint, dir, http).await }
    };
    let mut servers = vec![start(binary.clone(), "server".to_owned(), Vec::new()).await?];
    if let Some(compare) = &options.compare {
        let other = compare.binary.clone().unwrap_or_else(|| binary.clone());
        servers.push(start(other, compare.label.clone(), compare.env.clone()).await?);
    }
    let perf = match &options.perf_out {
        Some(out) => Some(Perf::attach(servers[0].proc.pid(), out)?),
        None => None,
    };

    let form_size = scenarios
        .iter()
        .filter(|s| s.via == Via::S3Form)
        .map(|s| s.file_size)
        .max();
    let form_data = form_size.map_or_else(Bytes::new, |size| {
        data.slice(..size as usize + 64 * KIB as usize)
    });
    let bench = Bench {
        quick: options.quick,
        data,
        form_data,
        http,
        s3,
        store,
        relay,
        servers,
        part_size: config.upload.part_size,
        parts_in_flight: config.upload.parts_in_flight,
    };
    let mut header = header(&options, &bench, &binary, &config);
    if scenarios.iter().any(|s| matches!(s.via, Via::Tus { .. })) {
        header = format!("{header}\n{}", alignment_note(bench.part_size));
    }
    eprintln!("{header}");
    let results = measure(&bench, &scenarios, &options).await?;
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
    if let Some(path) = &options.report_path {
        std::fs::write(path, &report).with_context(|| format!("write {path}"))?;
    }
    Ok(())
}

/// The server's settings: the bench's store, bucket and keys, and limits that let the largest file through.
fn server_settings(endpoint: &str) -> Vec<(&'static str, String)> {
    vec![
        ("HOST", "127.0.0.1".to_owned()),
        ("PORT", "0".to_owned()),
        ("AWS_S3_BUCKET", BUCKET.to_owned()),
        ("AWS_ACCESS_KEY_ID", ACCESS_KEY.to_owned()),
        ("AWS_SECRET_ACCESS_KEY", SECRET_KEY.to_owned()),
        ("AWS_REGION", REGION.to_owned()),
        ("AWS_ENDPOINT_URL", endpoint.to_owned()),
        ("AWS_EC2_METADATA_DISABLED", "true".to_owned()),
        ("MAX_FILE_SIZE", (2 * GIB).to_string()),
        ("MAX_FILES", "10".to_owned()),
    ]
}

/// The report's first lines: what ran against what.
fn header(options: &Options, bench: &Bench, binary: &Path, config: &Config) -> String {
    let mut header = format!(
        "upload bench{}: server {} (release), store s3s-fs {} on {}; part size {} MiB, {} parts in flight, \
         memory budget {} MiB; {} cores",
        if options.quick { " (BENCH_QUICK)" } else { "" },
        binary.display(),
        bench.store.url(),
        options.data_dir.display(),
        bench.part_size / MIB,
        bench.parts_in_flight,
        config.upload.memory_budget / MIB,
        std::thread::available_parallelism().map_or(0, |n| n.get()),
    );
    if let (Some(b), Some(compare)) = (bench.servers.get(1), &options.compare) {
        let _ = write!(
            header,
            "\ncompared with `{}`: {} {}",
            b.label,
            compare
                .binary
                .as_ref()
                .map_or_else(|| "the same binary".to_owned(), |p| p.display().to_string()),
            std::env::var("BENCH_COMPARE_ENV").unwrap_or_default()
        );
    }
    header
}

/// Every scenario's rounds on every side, alternating the order so neither side always runs on a warmer (or
/// noisier) machine.
async fn measure(
    bench: &Bench,
    scenarios: &[Scenario],
    options: &Options,
) -> anyhow::Result<Vec<(Scenario, Vec<(Side, Measured)>)>> {
    let mut results = Vec::new();
    for scenario in scenarios {
        let mut sides = vec![Side::Direct];
        sides.extend((0..bench.servers.len()).map(Side::Server));
        // The tus scenarios are compared with a direct PUT; the direct multipart reference of a file that size
        // is the POST /upload scenario's.
        if options.direct_multipart
            && scenario.file_size > bench.part_size
            && scenario.via == Via::Post
        {
            sides.insert(1, Side::DirectMultipart);
        }
        // The floor of any proxy, beside the POST /upload scenarios (by default those of small files).
        let relayed = match options.relay {
            Relay::Off => false,
            Relay::Small => scenario.file_size <= bench.part_size,
            Relay::All => true,
        };
        if bench.relay.is_some() && relayed && scenario.via == Via::Post {
            sides.insert(1, Side::Relay);
        }
        let mut measured: Vec<(Side, Measured)> =
            sides.iter().map(|s| (*s, Measured::default())).collect();
        for round in 0..scenario.rounds {
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
    Ok(results)
}
