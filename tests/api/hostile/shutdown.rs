//! Shutdown keeps all-or-nothing: cancelled requests clean up before the process exits.
//!
//! Found: when `SHUTDOWN_GRACE_SECS` ran out the runtime was dropped: files a request had already stored
//! stayed, its multipart upload's abort was spawned on a stopping runtime and never ran, and the embedded store
//! kept `.upload-<id>.json` and an 8 MiB `.staging` file. Now the grace period's end cancels the uploads still
//! running, and the process exits only after their clean-up (bounded by `SHUTDOWN_CLEANUP_SECS`), logged.

use std::path::Path;
use std::time::Duration;

use tokio::io::AsyncWriteExt;

use super::{host, read_answer};
use crate::helpers::{embedded_uploads, pattern};
use crate::process::ServerProcess;

const MIB: usize = 1024 * 1024;

/// Every file under `dir`, recursively.
fn files_under(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return found;
    };
    for entry in entries.filter_map(Result::ok) {
        let path = entry.path();
        if path.is_dir() {
            found.extend(files_under(&path));
        } else {
            found.push(path.display().to_string());
        }
    }
    found
}

#[tokio::test]
async fn uploads_still_running_when_the_grace_ends_are_cancelled_and_leave_nothing() {
    let mut server = ServerProcess::start(&[
        ("SHUTDOWN_GRACE_SECS", "1"),
        ("SHUTDOWN_CLEANUP_SECS", "20"),
    ]);
    let store = server.dir.path().join("store");
    // One request: a small file (stored at once), then a large one whose client stalls after 12 MiB (a
    // multipart upload open, a part stored).
    let addr = host(&server.url).to_owned();
    let mut socket = tokio::net::TcpStream::connect(&addr)
        .await
        .expect("connect");
    let head = format!(
        "POST /upload HTTP/1.1\r\nHost: {addr}\r\nContent-Type: multipart/form-data; boundary=XyZ\r\n\
         Content-Length: {}\r\n\r\n\
         --XyZ\r\nContent-Disposition: form-data; name=\"photos\"; filename=\"small.txt\"\r\n\r\nhello\r\n\
         --XyZ\r\nContent-Disposition: form-data; name=\"photos\"; filename=\"large.bin\"\r\n\r\n",
        64 * MIB
    );
    socket.write_all(head.as_bytes()).await.expect("write head");
    socket.write_all(&pattern(12 * MIB)).await.expect("write");
    let mut started = false;
    for _ in 0..100 {
        let objects = files_under(&store.join("uploads"));
        if !embedded_uploads(&store).is_empty() && !objects.is_empty() {
            started = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        started,
        "the first file and the multipart upload never appeared"
    );

    server.terminate();
    let answer =
        tokio::spawn(async move { read_answer(&mut socket, Duration::from_secs(15)).await });
    let took = server.exited_within(Duration::from_secs(15)).await;

    let answer = answer.await.expect("join");
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.contains("SHUTTING_DOWN"), "{answer}");
    assert!(
        answer.to_ascii_lowercase().contains("retry-after: 5"),
        "{answer}"
    );
    assert_eq!(files_under(&store.join("uploads")), Vec::<String>::new());
    assert_eq!(embedded_uploads(&store), Vec::<String>::new());
    assert!(
        !server.logged("cancelling them").is_empty(),
        "the cancellation is logged"
    );
    assert!(
        !server
            .logged("cancelled uploads were cleaned up")
            .is_empty(),
        "the finished clean-up is logged"
    );
    eprintln!("exited {took:?} after SIGTERM");
}

#[tokio::test]
async fn a_client_gone_before_shutdown_is_cleaned_up_before_exit() {
    // A client that disconnects leaves its clean-up running in the server; shutdown waits for it.
    let mut server = ServerProcess::start(&[("SHUTDOWN_GRACE_SECS", "10")]);
    let store = server.dir.path().join("store");
    let mut socket = super::start_upload(&server.url, 64 * MIB as u64, "gone.bin").await;
    socket.write_all(&pattern(12 * MIB)).await.expect("write");
    for _ in 0..100 {
        if !embedded_uploads(&store).is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        !embedded_uploads(&store).is_empty(),
        "no multipart upload was opened"
    );

    drop(socket);
    server.terminate();
    server.exited_within(Duration::from_secs(15)).await;

    assert_eq!(embedded_uploads(&store), Vec::<String>::new());
    assert_eq!(files_under(&store.join("uploads")), Vec::<String>::new());
}
