//! Files sent to the store while they arrive (`storage::upload::tap`). The last file of a form, smaller than a
//! part, goes to the store as its bytes come in, at the length the form's Content-Length gives. A form laid out
//! otherwise than that length said is stored whole, the usual way, and nothing of the early PUT stays.

use std::time::Duration;

use bytes::Bytes;
use reqwest::multipart::{Form, Part};
use serde_json::Value;
use tokio::io::AsyncWriteExt as _;

use futures_util::StreamExt as _;

use crate::helpers::{TestApp, pattern, png, spawn_app, spawn_app_with};

const BOUNDARY: &str = "early-boundary-7MA4YWxk";

/// `upload_early_puts_total` by outcome: (stored, resent, abandoned).
async fn early_puts(app: &TestApp) -> (u64, u64, u64) {
    let text = reqwest::get(app.url("/metrics"))
        .await
        .expect("GET /metrics")
        .text()
        .await
        .expect("metrics");
    let value = |outcome: &str| {
        let series = format!("upload_early_puts_total{{outcome=\"{outcome}\"}} ");
        text.lines()
            .find_map(|line| line.strip_prefix(&series)?.parse::<u64>().ok())
            .unwrap_or_else(|| panic!("no series {series} in {text}"))
    };
    (value("stored"), value("resent"), value("abandoned"))
}

/// How far into a file the clients below pause first, as a client on a real network does: the early PUT then
/// has bytes to send before the rest of the file arrives.
const FIRST_PAUSE_AT: usize = 40_000;

/// `body` cut at `cuts` (offsets into it, ascending).
fn cut(body: &[u8], cuts: &[usize]) -> Vec<Vec<u8>> {
    let mut pieces = Vec::new();
    let mut from = 0;
    for &to in cuts.iter().chain([body.len()].iter()) {
        pieces.push(body[from..to].to_vec());
        from = to;
    }
    pieces
}

/// Sends `pieces` as one request body with its Content-Length, pausing `pause` between pieces.
async fn post_pieces(app: &TestApp, pieces: Vec<Vec<u8>>, pause: Duration) -> reqwest::Response {
    let total: usize = pieces.iter().map(Vec::len).sum();
    let stream = futures_util::stream::unfold(
        (pieces.into_iter(), true),
        move |(mut pieces, first)| async move {
            let piece = pieces.next()?;
            if !first {
                tokio::time::sleep(pause).await;
            }
            Some((Ok::<_, std::io::Error>(Bytes::from(piece)), (pieces, false)))
        },
    );
    reqwest::Client::new()
        .post(app.url("/upload"))
        .header(
            "content-type",
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .header("content-length", total.to_string())
        .body(reqwest::Body::wrap_stream(stream))
        .send()
        .await
        .expect("upload request")
}

/// The one file an answer describes: its key and size.
async fn stored_file(response: reqwest::Response) -> (String, u64) {
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.expect("JSON answer");
    let file = &body.as_array().expect("an array")[0];
    (
        file["key"].as_str().expect("key").to_owned(),
        file["size"].as_u64().expect("size"),
    )
}

/// The head of the file part of the forms below, with `colon` between each header's name and value.
fn file_head(colon: &str) -> String {
    format!(
        "Content-Disposition{colon}form-data; name=\"photos\"; filename=\"early.bin\"\r\n\
         Content-Type{colon}application/octet-stream\r\n\r\n"
    )
}

/// A part whose bytes come in two pieces, `FIRST_PAUSE_AT` bytes and the rest, 100 ms apart, with its length.
fn slow_part(bytes: &[u8], name: &str, mime: &str) -> Part {
    let pieces = cut(bytes, &[FIRST_PAUSE_AT]);
    let stream = futures_util::stream::iter(pieces).then(|piece| async move {
        if piece.len() != FIRST_PAUSE_AT {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Ok::<_, std::io::Error>(Bytes::from(piece))
    });
    Part::stream_with_length(reqwest::Body::wrap_stream(stream), bytes.len() as u64)
        .file_name(name.to_owned())
        .mime_str(mime)
        .expect("mime")
}

#[tokio::test]
async fn the_last_file_of_a_form_is_stored_while_it_arrives() {
    let app = spawn_app().await;
    let bytes = pattern(1024 * 1024 + 17);
    let form = Form::new().text("title", "사진").part(
        "photos",
        slow_part(&bytes, "고양이.bin", "application/octet-stream"),
    );
    let (key, size) = stored_file(app.upload(form).await).await;
    assert_eq!(size, bytes.len() as u64);
    assert_eq!(app.object_bytes(&key).await, bytes);
    assert_eq!(early_puts(&app).await, (1, 0, 0), "sent while it arrived");
    app.assert_bucket_holds(1).await;

    // A PNG under ALLOWED_TYPES: judged from its first bytes, then sent early with the type they say.
    let app = spawn_app_with(&[("ALLOWED_TYPES", "image/png")]).await;
    let mut image = png();
    image.extend_from_slice(&pattern(300_000));
    let form = Form::new().part("photos", slow_part(&image, "a.png", "image/png"));
    let (key, _) = stored_file(app.upload(form).await).await;
    assert_eq!(app.object_bytes(&key).await, image);
    assert_eq!(early_puts(&app).await, (1, 0, 0));
    app.assert_bucket_holds(1).await;
}

#[tokio::test]
async fn a_file_whose_closing_boundary_comes_later_is_still_sent_while_it_arrives() {
    // The parser hands over the file's last bytes, then, once the boundary's read arrives, an empty chunk
    // that ends the file: the early PUT waits for that end instead of taking it for more bytes.
    let app = spawn_app().await;
    let file = pattern(700_000);
    for cut_before_crlf in [true, false] {
        let mut first = format!("--{BOUNDARY}\r\n{}", file_head(": ")).into_bytes();
        first.extend_from_slice(&file);
        let closing = format!("--{BOUNDARY}--\r\n");
        let rest = if cut_before_crlf {
            format!("\r\n{closing}")
        } else {
            first.extend_from_slice(b"\r\n");
            closing
        };
        let file_at = first.len() - file.len() - usize::from(!cut_before_crlf) * 2;
        let mut pieces = cut(&first, &[file_at + FIRST_PAUSE_AT]);
        pieces.push(rest.into_bytes());
        let response = post_pieces(&app, pieces, Duration::from_millis(200)).await;
        let (key, _) = stored_file(response).await;
        assert_eq!(app.object_bytes(&key).await, file);
    }
    assert_eq!(
        early_puts(&app).await,
        (2, 0, 0),
        "both sent while they arrived"
    );
    app.assert_bucket_holds(2).await;
}

#[tokio::test]
async fn forms_laid_out_otherwise_are_stored_whole_the_usual_way() {
    let app = spawn_app().await;
    let file = pattern(200_000);
    let delimiter = format!("--{BOUNDARY}\r\n");
    let closing = format!("\r\n--{BOUNDARY}--\r\n");
    let after_file = format!(
        "\r\n--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nafter{closing}"
    );
    // (what differs, before the file's bytes, after them): each makes the guessed length wrong.
    let cases = [
        (
            "a text field after the file",
            delimiter.clone() + &file_head(": "),
            after_file,
        ),
        (
            "an epilogue after the closing boundary",
            delimiter.clone() + &file_head(": "),
            closing.clone() + "epilogue\r\n",
        ),
        (
            "a preamble before the first boundary",
            format!("preamble\r\n{delimiter}{}", file_head(": ")),
            closing.clone(),
        ),
        (
            "no space after the colons (the file is longer than guessed)",
            delimiter.clone() + &file_head(":"),
            closing.clone(),
        ),
        (
            "two spaces after the colons (the file is shorter than guessed)",
            delimiter.clone() + &file_head(":  "),
            closing.clone(),
        ),
    ];
    for (n, (case, before, after)) in cases.iter().enumerate() {
        let mut body = before.as_bytes().to_vec();
        body.extend_from_slice(&file);
        body.extend_from_slice(after.as_bytes());
        let pieces = cut(&body, &[before.len() + FIRST_PAUSE_AT]);
        let response = post_pieces(&app, pieces, Duration::from_millis(100)).await;
        let (key, size) = stored_file(response).await;
        assert_eq!(size, file.len() as u64, "{case}");
        assert_eq!(app.object_bytes(&key).await, file, "{case}");
        assert_eq!(
            early_puts(&app).await,
            (0, 0, n as u64 + 1),
            "{case}: abandoned"
        );
    }
    app.assert_bucket_holds(cases.len()).await;
}

#[tokio::test]
async fn a_file_that_goes_on_past_its_guessed_end_is_never_stored_cut_there() {
    // With no space after the colons the layout guesses the file one byte shorter per header than it is. The
    // client sends exactly the guessed length of file, waits, then the rest: the early PUT holds its last bytes
    // until the file ends, sees it go on, and drops the PUT; the file is stored whole.
    let app = spawn_app().await;
    let file = vec![b'A'; 300_000]; // no CR: the parser hands over every byte it has
    let head = format!("--{BOUNDARY}\r\n{}", file_head(":"));
    let closing = format!("\r\n--{BOUNDARY}--\r\n");
    let guessed = file.len() - 2; // two headers, one byte each
    let mut body = head.clone().into_bytes();
    body.extend_from_slice(&file);
    body.extend_from_slice(closing.as_bytes());
    let pieces = cut(&body, &[head.len() + FIRST_PAUSE_AT, head.len() + guessed]);
    let response = post_pieces(&app, pieces, Duration::from_millis(300)).await;
    let (key, size) = stored_file(response).await;
    assert_eq!(size, file.len() as u64);
    assert_eq!(app.object_bytes(&key).await, file);
    assert_eq!(early_puts(&app).await, (0, 0, 1));
    app.assert_bucket_holds(1).await;
}

#[tokio::test]
async fn a_client_gone_mid_file_leaves_nothing_of_the_early_put() {
    let app = spawn_app().await;
    let file = pattern(600_000);
    let head = format!("--{BOUNDARY}\r\n{}", file_head(": "));
    let closing = format!("\r\n--{BOUNDARY}--\r\n");
    let declared = head.len() + file.len() + closing.len();
    let addr = app.url("").trim_start_matches("http://").to_owned();
    let mut socket = tokio::net::TcpStream::connect(&addr)
        .await
        .expect("connect");
    let request = format!(
        "POST /upload HTTP/1.1\r\nHost: {addr}\r\nContent-Type: multipart/form-data; boundary={BOUNDARY}\r\n\
         Content-Length: {declared}\r\n\r\n{head}"
    );
    socket.write_all(request.as_bytes()).await.expect("head");
    socket
        .write_all(&file[..FIRST_PAUSE_AT])
        .await
        .expect("the file's first bytes");
    tokio::time::sleep(Duration::from_millis(200)).await;
    socket
        .write_all(&file[FIRST_PAUSE_AT..400_000])
        .await
        .expect("most of the file");
    tokio::time::sleep(Duration::from_millis(300)).await;
    drop(socket);
    // The server sees the body end early and drops the PUT: within a bounded wait the store holds nothing of
    // it (no object, no file it was writing).
    let mut leftovers = Vec::new();
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        leftovers = app.data_dir().map(walk).unwrap_or_default();
        leftovers.retain(|path| {
            let name = path.rsplit('/').next().unwrap_or_default();
            name.starts_with(".tmp.") || name.ends_with(".part")
        });
        if leftovers.is_empty() {
            break;
        }
    }
    assert!(leftovers.is_empty(), "store files left: {leftovers:?}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    app.assert_bucket_holds(0).await;
    assert_eq!(early_puts(&app).await, (0, 0, 0), "no file: no outcome");
}

#[tokio::test]
async fn a_name_already_stored_is_refused_and_its_file_kept_with_original_keys() {
    let app = spawn_app_with(&[("KEY_STRATEGY", "original")]).await;
    let first = pattern(100_000);
    let form = Form::new().part("photos", Part::bytes(first.clone()).file_name("same.bin"));
    let (key, _) = stored_file(app.upload(form).await).await;
    let form = Form::new().part(
        "photos",
        Part::bytes(pattern(120_000)).file_name("same.bin"),
    );
    let response = app.upload(form).await;
    assert_eq!(response.status(), 409);
    let body: Value = response.json().await.expect("JSON");
    assert_eq!(body["error"]["code"], "FILE_EXISTS");
    assert_eq!(
        app.object_bytes(&key).await,
        first,
        "the first file is kept"
    );
    app.assert_bucket_holds(1).await;
}

/// Every file name under `dir`, at any depth.
fn walk(dir: &std::path::Path) -> Vec<String> {
    let mut names = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return names;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            names.extend(walk(&path));
        } else {
            names.push(path.display().to_string());
        }
    }
    names
}
