//! Attacks that cheap, hostile clients can mount, each reproduced through HTTP on loopback with bounded loops,
//! so that they stay fixed (issue 10). One file per kind of attack; raw connections shared here.

mod clean;
mod connections;
mod names;
mod overwrite;
mod script;
mod settings;
mod shutdown;
mod slow;
mod store;

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// `http://127.0.0.1:port` without the scheme.
pub(crate) fn host(url: &str) -> &str {
    url.trim_start_matches("http://")
}

/// Opens a connection and sends an upload's request head and the head of one file part, announcing
/// `declared_len` bytes of body: what a client sends before the file's bytes.
async fn start_upload(url: &str, declared_len: u64, file_name: &str) -> TcpStream {
    let addr = host(url);
    let mut socket = TcpStream::connect(addr).await.expect("connect");
    let head = format!(
        "POST /upload HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
         Content-Type: multipart/form-data; boundary=XyZ\r\nContent-Length: {declared_len}\r\n\r\n\
         --XyZ\r\nContent-Disposition: form-data; name=\"photos\"; filename=\"{file_name}\"\r\n\
         Content-Type: application/octet-stream\r\n\r\n"
    );
    socket.write_all(head.as_bytes()).await.expect("write head");
    socket
}

/// Sends one byte every `every`, `count` times, or until the server closes the connection; returns the
/// answer read after (empty if none came within `answer_within`).
async fn trickle(
    mut socket: TcpStream,
    every: Duration,
    count: usize,
    answer_within: Duration,
) -> String {
    for _ in 0..count {
        if socket.write_all(b"x").await.is_err() {
            break;
        }
        tokio::time::sleep(every).await;
    }
    read_answer(&mut socket, answer_within).await
}

/// What the server sends until it closes the connection, for at most `limit`.
async fn read_answer(socket: &mut TcpStream, limit: Duration) -> String {
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(limit, socket.read_to_end(&mut answer)).await;
    String::from_utf8_lossy(&answer).into_owned()
}

/// Whether the server closes `socket` (end of stream or reset) within `limit`, reading what it sends.
async fn closed_within(socket: &mut TcpStream, limit: Duration) -> bool {
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        match tokio::time::timeout_at(deadline, socket.read(&mut buf)).await {
            Ok(Ok(0) | Err(_)) => return true,
            Ok(Ok(_)) => {}
            Err(_) => return false,
        }
    }
}
