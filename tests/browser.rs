//! The upload page in a real browser: starts the application four times in-process (default limits;
//! `MAX_FILE_SIZE=1000`, `MAX_FILES=2`; `RESUMABLE_THRESHOLD=1048576` with 5 MiB parts, so that the page
//! sends files from 1 MiB on through tus; and `UPLOAD_TOKEN` with `PAGE_UPLOAD_MODE=direct` and 128 MiB files,
//! for Uppy's file over 100 MiB), each on port 0
//! with its own embedded store, and runs
//! `node tests/browser/e2e.mjs <url> <small-limits-url> <resumable-url> <token-url>`, which drives the system's
//! headless Chromium (`/usr/bin/chromium`) with playwright-core, the page's own client and Uppy's
//! (`@uppy/aws-s3`, from the pinned `uppy` bundle). Screenshots land in `test-artifacts/`.
//!
//! Needs Chromium and the Node packages: `scripts/test` installs both when they are missing. Without them this
//! test fails (it never skips), saying so.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use s3_upload_server::{Application, Config};
use tokio::sync::oneshot;

const CHROMIUM: &str = "/usr/bin/chromium";
/// The token of the fourth server, handed to the script in `E2E_UPLOAD_TOKEN`.
const TOKEN: &str = "e2e-direct-token";

/// One running application, stopped when dropped.
struct RunningApp {
    url: String,
    _dir: tempfile::TempDir,
    _stop: oneshot::Sender<()>,
}

async fn start_app(settings: &[(&str, &str)]) -> RunningApp {
    let dir = tempfile::tempdir().expect("temporary folder");
    let mut env: HashMap<String, String> = HashMap::from([
        ("HOST".to_owned(), "127.0.0.1".to_owned()),
        ("PORT".to_owned(), "0".to_owned()),
        ("EMBEDDED_S3_ADDR".to_owned(), "127.0.0.1:0".to_owned()),
        (
            "EMBEDDED_S3_DATA_DIR".to_owned(),
            dir.path().join("store").display().to_string(),
        ),
    ]);
    for (name, value) in settings {
        env.insert((*name).to_owned(), (*value).to_owned());
    }
    let config =
        Config::from_lookup(|name| env.get(name).cloned()).expect("valid test configuration");
    let app = Application::build(config)
        .await
        .expect("application starts");
    let url = format!("http://127.0.0.1:{}", app.port());
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(app.run_until_stopped(async {
        let _ = stopped.await;
    }));
    RunningApp {
        url,
        _dir: dir,
        _stop: stop,
    }
}

/// Fails, with what to do, when the browser or the Node packages are not installed.
fn require_tools(browser_dir: &Path) {
    let mut missing = Vec::new();
    if !Path::new(CHROMIUM).exists() {
        missing.push(format!(
            "{CHROMIUM} (Debian packages chromium and chromium-driver)"
        ));
    }
    if !browser_dir.join("node_modules/playwright-core").is_dir()
        || !browser_dir
            .join("node_modules/uppy/dist/uppy.min.js")
            .is_file()
    {
        missing.push(format!(
            "{}/node_modules (npm ci --prefix tests/browser)",
            browser_dir.display()
        ));
    }
    let node = std::process::Command::new("node").arg("--version").output();
    if !node.is_ok_and(|out| out.status.success()) {
        missing.push("node (Node.js 20 or later)".to_owned());
    }
    assert!(
        missing.is_empty(),
        "the browser test needs: {}. Run scripts/test, which installs them when missing.",
        missing.join("; ")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_uploads_shows_progress_and_renders_in_chromium() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let browser_dir = root.join("tests/browser");
    require_tools(&browser_dir);

    let app = start_app(&[]).await;
    let limited = start_app(&[("MAX_FILE_SIZE", "1000"), ("MAX_FILES", "2")]).await;
    let resumable = start_app(&[
        ("RESUMABLE_THRESHOLD", "1048576"),
        ("UPLOAD_PART_SIZE", "5242880"),
    ])
    .await;
    let token = start_app(&[
        ("UPLOAD_TOKEN", TOKEN),
        ("PAGE_UPLOAD_MODE", "direct"),
        ("MAX_FILE_SIZE", "134217728"),
    ])
    .await;

    let started = Instant::now();
    let child = tokio::process::Command::new("node")
        .arg(browser_dir.join("e2e.mjs"))
        .arg(&app.url)
        .arg(&limited.url)
        .arg(&resumable.url)
        .arg(&token.url)
        .env("E2E_UPLOAD_TOKEN", TOKEN)
        .env("E2E_ARTIFACTS", root.join("test-artifacts"))
        .current_dir(&root)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start node");
    let output = tokio::time::timeout(Duration::from_secs(420), child.wait_with_output())
        .await
        .expect("the browser test finishes within 7 minutes")
        .expect("node runs");

    println!("{}", String::from_utf8_lossy(&output.stdout));
    eprintln!("{}", String::from_utf8_lossy(&output.stderr));
    println!("browser test took {:.1} s", started.elapsed().as_secs_f64());
    assert!(
        output.status.success(),
        "node tests/browser/e2e.mjs failed ({}): see its output above",
        output.status
    );
}
