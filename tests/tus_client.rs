//! The reference tus client against the real binary: starts the server (tests/support/server.rs) on a free
//! loopback port with its embedded store and 5 MiB parts (the smallest `UPLOAD_PART_SIZE`), and runs
//! `node tests/tus-client/run.mjs <url>`, which drives tus-js-client (pinned in tests/tus-client/package.json)
//! through its numbered steps. The test fails when any step does.
//!
//! Needs Node.js 20 or later and the Node packages: `scripts/test` installs the packages when they are missing
//! (`npm ci --prefix tests/tus-client`). Without them this test fails (it never skips), saying so.

#[allow(dead_code)] // Shared with tests/api and the benchmark; this test needs only part of it.
#[path = "support/server.rs"]
mod server;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use server::ServerChild;

/// 5 MiB: the smallest part size, so that a 12 MiB upload spans three parts.
const PART_SIZE: &str = "5242880";

/// Fails, with what to do, when Node or the client's packages are not installed.
fn require_tools(client_dir: &Path) {
    let mut missing = Vec::new();
    if !client_dir.join("node_modules/tus-js-client").is_dir() {
        missing.push(format!(
            "{}/node_modules (npm ci --prefix tests/tus-client)",
            client_dir.display()
        ));
    }
    let node = Command::new("node").arg("--version").output();
    if !node.is_ok_and(|out| out.status.success()) {
        missing.push("node (Node.js 20 or later)".to_owned());
    }
    assert!(
        missing.is_empty(),
        "the tus client test needs: {}. Run scripts/test, which installs the Node packages when missing.",
        missing.join("; ")
    );
}

/// The server binary in `dir` (an empty folder, so no `.env` is read), with its embedded store in `dir/store`.
fn server_command(dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_s3-upload-server"));
    command
        .current_dir(dir)
        .env("HOST", "127.0.0.1")
        .env("PORT", "0")
        .env("EMBEDDED_S3_ADDR", "127.0.0.1:0")
        .env("EMBEDDED_S3_DATA_DIR", dir.join("store"))
        .env("UPLOAD_PART_SIZE", PART_SIZE)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("RUST_LOG", "s3_upload_server=info,warn")
        .env_remove("AWS_S3_BUCKET")
        // The client sends no token: a token set in the developer's shell must not reach the server.
        .env_remove("UPLOAD_TOKEN")
        .stderr(Stdio::inherit());
    command
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tus_js_client_uploads_resumes_terminates_and_sees_checksum_errors() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let client_dir = root.join("tests/tus-client");
    require_tools(&client_dir);

    let dir = tempfile::tempdir().expect("temporary folder");
    let server = ServerChild::start(server_command(dir.path()), 200)
        .unwrap_or_else(|err| panic!("the server binary did not start: {err:#}"));

    let started = Instant::now();
    let child = tokio::process::Command::new("node")
        .arg(client_dir.join("run.mjs"))
        .arg(&server.url)
        .current_dir(&root)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start node");
    let output = tokio::time::timeout(Duration::from_secs(300), child.wait_with_output())
        .await
        .expect("the tus client finishes within 5 minutes")
        .expect("node runs");

    println!("{}", String::from_utf8_lossy(&output.stdout));
    eprintln!("{}", String::from_utf8_lossy(&output.stderr));
    println!(
        "tus client test took {:.1} s",
        started.elapsed().as_secs_f64()
    );
    if !output.status.success() {
        println!(
            "the server's last log lines:\n{}",
            server.log.lines().join("\n")
        );
    }
    assert!(
        output.status.success(),
        "node tests/tus-client/run.mjs failed ({}): see its output above",
        output.status
    );
}
