//! Settings that cannot work are refused at start, naming themselves; the start says who may upload.
//!
//! Found: `UPLOAD_TOKEN=" "` turned authentication off silently; a budget equal to an odd part size made every
//! upload wait forever; `KEY_PREFIX=./x/` and a 64-byte prefix gave 502s on the embedded store;
//! `EMBEDDED_S3_ADDR=0.0.0.0:…` put the store, and its published keys, on the network.

use std::process::Stdio;

use crate::process::{ServerProcess, server_command};

/// Runs the binary with `settings` in an empty folder; returns whether it started and what it printed.
fn start_with(settings: &[(&str, &str)]) -> (bool, String) {
    let dir = tempfile::tempdir().expect("temporary folder");
    let mut command = server_command(dir.path(), settings);
    command.stdout(Stdio::piped()).stderr(Stdio::piped());
    // A valid configuration would serve forever: `check` reads the same settings and exits.
    command.arg("check");
    let output = command.output().expect("run the binary");
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (!printed.contains("is invalid"), printed)
}

#[test]
fn settings_that_cannot_work_are_refused_naming_the_setting() {
    let long_prefix = format!("{}/", "p".repeat(63));
    let cases: [(&[(&str, &str)], &str); 5] = [
        (&[("UPLOAD_TOKEN", " ")], "UPLOAD_TOKEN"),
        (
            &[
                ("UPLOAD_PART_SIZE", "5242881"),
                ("UPLOAD_MEMORY_BUDGET", "5242881"),
            ],
            "UPLOAD_MEMORY_BUDGET",
        ),
        (&[("KEY_PREFIX", "./x/")], "KEY_PREFIX"),
        (&[("KEY_PREFIX", long_prefix.as_str())], "KEY_PREFIX"),
        (&[("EMBEDDED_S3_ADDR", "0.0.0.0:9400")], "EMBEDDED_S3_ADDR"),
    ];
    for (settings, name) in cases {
        let (started, printed) = start_with(settings);
        assert!(!started, "{settings:?} was accepted: {printed}");
        assert!(
            printed.contains(&format!("setting {name}=")),
            "{settings:?}: {printed}"
        );
    }
    // The same folder and port with valid settings gets past the configuration.
    let (started, printed) = start_with(&[("KEY_PREFIX", "uploads/")]);
    assert!(started, "{printed}");
}

#[tokio::test]
async fn the_start_says_who_may_upload() {
    let open = ServerProcess::start(&[("HOST", "0.0.0.0")]);
    let warned = open.logged("open to anyone who can reach this port");
    assert_eq!(warned.len(), 1, "{:?}", open.logged(""));
    assert!(warned[0].contains("WARN"), "{}", warned[0]);

    let local = ServerProcess::start(&[]);
    assert_eq!(local.logged("open to anyone on this machine").len(), 1);

    let guarded = ServerProcess::start(&[("UPLOAD_TOKEN", "s3cr3t")]);
    assert_eq!(guarded.logged("uploads need").len(), 1);
    assert!(
        guarded.logged("s3cr3t").is_empty(),
        "the token is never logged"
    );
}
