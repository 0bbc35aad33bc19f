//! Slow and stalled clients cannot starve others of the memory budget.
//!
//! Found: each file reserved min(Content-Length, part size) of the shared budget before any byte was read and
//! kept it while its client sent a byte every few seconds; 33 such connections made a normal 1 KB upload wait
//! past 25 s. Now the budget is taken as bytes arrive, a wait for it is bounded (503 `SERVER_BUSY`), and a
//! body slower than `BODY_MIN_BYTES_PER_SEC` is ended.

use std::time::{Duration, Instant};

use reqwest::multipart::Form;

use super::{start_upload, trickle};
use crate::helpers::{error_answer, file_part, pattern, spawn_app, spawn_app_with};

const MIB: u64 = 1024 * 1024;

#[tokio::test]
async fn forty_trickling_clients_do_not_delay_a_normal_upload() {
    let app = spawn_app().await;
    // 40 clients each announce a 100 MiB file and send it a byte every 2 s. Before, each held a whole part of
    // the budget (8 MiB): 40 of them held more than the 256 MiB there is.
    let mut tricklers = Vec::new();
    for i in 0..40 {
        let socket = start_upload(&app.addr, 100 * MIB, &format!("slow-{i}.bin")).await;
        tricklers.push(tokio::spawn(trickle(
            socket,
            Duration::from_secs(2),
            3,
            Duration::from_millis(10),
        )));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;

    let started = Instant::now();
    let response = app
        .upload(Form::new().part(
            "photos",
            file_part(pattern(1024), "normal.bin", "application/octet-stream"),
        ))
        .await;
    let took = started.elapsed();

    assert_eq!(response.status(), 200);
    eprintln!("a 1 KiB upload beside 40 trickling clients took {took:?}");
    assert!(
        took < Duration::from_secs(2),
        "a 1 KiB upload took {took:?} beside 40 trickling clients"
    );
    for trickler in tricklers {
        trickler.abort();
    }
}

#[tokio::test]
async fn a_body_slower_than_the_minimum_rate_is_ended_with_408() {
    let app = spawn_app_with(&[
        ("BODY_READ_TIMEOUT_SECS", "2"),
        ("BODY_MIN_BYTES_PER_SEC", "1024"),
    ])
    .await;
    let socket = start_upload(&app.addr, 10 * MIB, "slow.bin").await;

    // A byte every 400 ms never trips the 2 s read timeout, but is far below 1 KiB/s.
    let started = Instant::now();
    let answer = trickle(
        socket,
        Duration::from_millis(400),
        30,
        Duration::from_secs(10),
    )
    .await;

    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("REQUEST_TIMEOUT"), "{answer}");
    assert!(answer.contains("too slowly"), "{answer}");
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "ended after {:?}",
        started.elapsed()
    );
    app.assert_bucket_holds(0).await;
}

#[tokio::test]
async fn a_fast_client_that_waited_for_the_server_is_not_called_slow() {
    // The minimum rate counts only time spent waiting for the client: a 20 MiB upload whose parts wait for a
    // small budget is still received whole.
    let app = spawn_app_with(&[
        ("BODY_READ_TIMEOUT_SECS", "1"),
        ("BODY_MIN_BYTES_PER_SEC", "1048576"),
        ("UPLOAD_PART_SIZE", "5242880"),
        ("MAX_UPLOADS", "4"),
        ("UPLOAD_MEMORY_BUDGET", "6291456"),
    ])
    .await;
    let response = app
        .upload(Form::new().part(
            "photos",
            file_part(
                pattern(20 * MIB as usize + 1),
                "big.bin",
                "application/octet-stream",
            ),
        ))
        .await;
    assert_eq!(response.status(), 200);
    app.assert_bucket_holds(1).await;
}

#[tokio::test]
async fn a_wait_for_memory_is_bounded_and_answered_503_with_retry_after() {
    // Room for one part (5 MiB) and the first 64 KiB of three uploads, and a one-second wait.
    let app = spawn_app_with(&[
        ("UPLOAD_PART_SIZE", "5242880"),
        ("MAX_UPLOADS", "2"),
        ("UPLOAD_MEMORY_BUDGET", "5439488"),
        ("UPLOAD_MEMORY_WAIT_SECS", "1"),
    ])
    .await;
    // A client sends 100 KiB of a large file, which makes its part take the rest of a part, and stalls.
    let mut holder = start_upload(&app.addr, 50 * MIB, "holder.bin").await;
    tokio::io::AsyncWriteExt::write_all(&mut holder, &pattern(100 * 1024))
        .await
        .expect("write");
    tokio::time::sleep(Duration::from_millis(300)).await;

    let started = Instant::now();
    let response = app
        .upload(Form::new().part(
            "photos",
            file_part(
                pattern(MIB as usize),
                "waits.bin",
                "application/octet-stream",
            ),
        ))
        .await;
    let retry_after = response.headers().get("retry-after").cloned();
    let (status, body) = error_answer(response).await;

    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"]["code"], "SERVER_BUSY");
    assert_eq!(body["error"]["file"], "waits.bin");
    assert_eq!(
        retry_after.as_ref().and_then(|v| v.to_str().ok()),
        Some("5")
    );
    assert!(started.elapsed() < Duration::from_secs(5));

    // Once the holder goes, uploads get through again, and nothing of either is left.
    drop(holder);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let response = app
        .upload(Form::new().part(
            "photos",
            file_part(
                pattern(MIB as usize),
                "later.bin",
                "application/octet-stream",
            ),
        ))
        .await;
    assert_eq!(response.status(), 200);
    app.assert_bucket_holds(1).await;
}
