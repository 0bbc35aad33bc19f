//! The direct-upload scenarios: the same bytes sent straight to the store with URLs the server signs (its `/s3`
//! routes, called as `@uppy/aws-s3` calls them), to measure what the server still spends when it only signs and
//! checks, beside `POST /upload` of the same files in the same run.
//!
//! - `s3huge`: one file through `/s3/multipart`: created, then [`S3_PART`] parts, each one's URL asked for and the
//!   part PUT to it ([`S3_PARTS_IN_FLIGHT`] at once), then completed; the answer's key and size are checked.
//! - `s3many`: each file through `GET /s3/params`, then the presigned POST form sent to the store (the fields,
//!   then the file as `file`); each answer is checked (204 with an ETag).
//!
//! The bodies sent to the store are streamed in the same zero-copy frames as `POST /upload`'s, with the bench's
//! HTTP client. The objects are then checked as every side's are (HEAD for the size, GET and compare).

use serde_json::{Value, json};

use super::*;

/// The parts a direct multipart upload sends: the server's default part size.
pub(crate) const S3_PART: u64 = 8 * MIB;
/// Parts PUT at once, as many as the server sends to the store for one `POST /upload`.
pub(crate) const S3_PARTS_IN_FLIGHT: usize = 3;

/// The direct-upload scenarios, each the size and concurrency of a `POST /upload` one (`huge`, `many`).
pub(crate) fn direct_upload_scenarios(quick: bool, rounds: Option<usize>) -> Vec<Scenario> {
    let s = |id, name: String, size, requests, in_flight, default_rounds, via| Scenario {
        id,
        name,
        files_per_request: 1,
        file_size: size,
        requests,
        in_flight,
        rounds: rounds.unwrap_or(default_rounds),
        target_ratio: None,
        pace: None,
        via,
    };
    let (huge, huge_label, many, many_in_flight) = if quick {
        (64 * MIB, "64 MiB", 50, 8)
    } else {
        (GIB, "1 GiB", 500, 32)
    };
    vec![
        s(
            "s3huge",
            format!("{huge_label} via /s3/multipart"),
            huge,
            1,
            1,
            if quick { 1 } else { 3 },
            Via::S3Multipart,
        ),
        s(
            "s3many",
            format!("{many} x 1 MiB via /s3/params forms, {many_in_flight} in flight"),
            MIB,
            many,
            many_in_flight,
            if quick { 1 } else { 2 },
            Via::S3Form,
        ),
    ]
}

impl Bench {
    /// One file sent straight to the store with URLs `server` signs, `via` its multipart routes or a POST form.
    /// Returns the object as stored, with its latency (the first request to the server to the last answer).
    pub(crate) async fn direct_upload(
        &self,
        server: usize,
        via: Via,
        name: &str,
        data: Bytes,
        check_content: bool,
    ) -> anyhow::Result<(Duration, Stored)> {
        let started = Instant::now();
        let (key, location) = match via {
            Via::S3Multipart => self.s3_multipart(server, name, &data).await?,
            Via::S3Form => (self.s3_form(server, name, &data).await?, None),
            other => anyhow::bail!("{other:?} is not a direct upload"),
        };
        let stored = Stored {
            key,
            location,
            data,
            check_content,
        };
        Ok((started.elapsed(), stored))
    }

    /// Create, part URLs and PUTs, complete. Returns the key and the location the completion answered.
    async fn s3_multipart(
        &self,
        server: usize,
        name: &str,
        data: &Bytes,
    ) -> anyhow::Result<(String, Option<String>)> {
        let base = &self.servers[server].url;
        let body = json!({ "filename": name, "type": "application/octet-stream", "metadata": {} });
        let created = answer(
            self.http.post(format!("{base}/s3/multipart")).json(&body),
            "POST /s3/multipart",
        )
        .await?;
        let upload_id = created["uploadId"].as_str().context("no uploadId")?;
        let key = created["key"].as_str().context("no key")?;
        let upload = format!("{base}/s3/multipart/{}", path_segment(upload_id));

        let part_size = S3_PART as usize;
        let count = data.len().div_ceil(part_size);
        let mut parts: Vec<(usize, String)> = futures_util::stream::iter(1..=count)
            .map(|n| {
                let bytes = data.slice((n - 1) * part_size..(n * part_size).min(data.len()));
                let upload = &upload;
                async move {
                    let what = format!("GET the URL of part {n}");
                    let signed = answer(
                        self.http
                            .get(format!("{upload}/{n}"))
                            .query(&[("key", key)]),
                        &what,
                    )
                    .await?;
                    let url = signed["url"].as_str().context("no url")?;
                    let length = bytes.len();
                    let put = self
                        .http
                        .put(url)
                        .header(reqwest::header::CONTENT_LENGTH, length)
                        .body(streamed(bytes))
                        .send()
                        .await
                        .with_context(|| format!("PUT part {n}"))?;
                    let status = put.status();
                    let etag = put.headers().get("etag").and_then(|v| v.to_str().ok());
                    ensure!(
                        status == reqwest::StatusCode::OK && etag.is_some(),
                        "PUT part {n} of {length} bytes answered {status}, ETag {etag:?}"
                    );
                    Ok::<_, anyhow::Error>((n, etag.unwrap_or_default().to_owned()))
                }
            })
            .buffer_unordered(S3_PARTS_IN_FLIGHT)
            .try_collect()
            .await?;
        parts.sort();
        let parts: Vec<Value> = parts
            .into_iter()
            .map(|(n, etag)| json!({ "PartNumber": n, "ETag": etag }))
            .collect();
        let file = answer(
            self.http
                .post(format!("{upload}/complete"))
                .query(&[("key", key)])
                .json(&json!({ "parts": parts })),
            "complete",
        )
        .await?;
        ensure!(
            file["size"].as_u64() == Some(data.len() as u64) && file["key"].as_str() == Some(key),
            "the completion of {} bytes at {key} answered {file}",
            data.len()
        );
        let location = file["location"].as_str().context("no location")?;
        Ok((key.to_owned(), Some(location.to_owned())))
    }

    /// `GET /s3/params`, then the form to the store. Returns the key the form named.
    async fn s3_form(&self, server: usize, name: &str, data: &Bytes) -> anyhow::Result<String> {
        let base = &self.servers[server].url;
        let signed = answer(
            self.http
                .get(format!("{base}/s3/params"))
                .query(&[("filename", name), ("type", "application/octet-stream")]),
            "GET /s3/params",
        )
        .await?;
        let url = signed["url"].as_str().context("no url")?;
        let fields = signed["fields"].as_object().context("no fields")?;
        let key = fields
            .get("key")
            .and_then(Value::as_str)
            .context("no key field")?;

        // The fields, then the file last (the store reads no field after it), in zero-copy frames.
        let mut frames: Vec<Bytes> = Vec::new();
        for (field, value) in fields {
            let value = value.as_str().context("a field that is not text")?;
            frames.push(Bytes::from(format!(
                "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{field}\"\r\n\r\n{value}\r\n"
            )));
        }
        frames.push(Bytes::from(format!(
            "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n\
             Content-Type: application/octet-stream\r\n\r\n"
        )));
        frames.extend(frames_of(data.clone()));
        frames.push(Bytes::from(format!("\r\n--{BOUNDARY}--\r\n")));
        let length: usize = frames.iter().map(Bytes::len).sum();
        let posted = self
            .http
            .post(url)
            .header(
                reqwest::header::CONTENT_TYPE,
                format!("multipart/form-data; boundary={BOUNDARY}"),
            )
            .header(reqwest::header::CONTENT_LENGTH, length)
            .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
                frames.into_iter().map(Ok::<_, std::io::Error>),
            )))
            .send()
            .await
            .context("POST the form to the store")?;
        let status = posted.status();
        let has_etag = posted.headers().contains_key("etag");
        ensure!(
            status == reqwest::StatusCode::NO_CONTENT && has_etag,
            "the store answered the form for {key} with {status} (ETag: {has_etag}): {}",
            posted.text().await.unwrap_or_default()
        );
        Ok(key.to_owned())
    }
}

/// A request to the server that must answer 2xx with JSON.
async fn answer(request: reqwest::RequestBuilder, what: &str) -> anyhow::Result<Value> {
    let response = request.send().await.with_context(|| what.to_owned())?;
    let status = response.status();
    let text = response.text().await.context("read the answer")?;
    ensure!(status.is_success(), "{what} answered {status}: {text}");
    serde_json::from_str(&text).with_context(|| format!("{what}: not JSON: {text}"))
}

/// `bytes` in [`FRAME`]-sized zero-copy slices.
fn frames_of(bytes: Bytes) -> impl Iterator<Item = Bytes> {
    (0..bytes.len())
        .step_by(FRAME)
        .map(move |at| bytes.slice(at..(at + FRAME).min(bytes.len())))
}

/// A body streamed in zero-copy frames, as `POST /upload`'s is.
fn streamed(bytes: Bytes) -> reqwest::Body {
    let frames: Vec<Bytes> = frames_of(bytes).collect();
    reqwest::Body::wrap_stream(futures_util::stream::iter(
        frames.into_iter().map(Ok::<_, std::io::Error>),
    ))
}

/// `s` percent-encoded for one path segment (unreserved characters kept).
fn path_segment(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Each direct-upload scenario against `POST /upload` of the same files in the same run (the server under test):
/// what the server spent (CPU, peak RSS), what the store spent, and the throughput.
pub(crate) fn direct_upload_notes(results: &[(Scenario, Vec<(Side, Measured)>)]) -> Vec<String> {
    let mut notes = Vec::new();
    let direct = results
        .iter()
        .filter(|(s, _)| matches!(s.via, Via::S3Multipart | Via::S3Form));
    for (scenario, sides) in direct {
        let post = results.iter().find(|(s, _)| {
            s.via == Via::Post
                && s.file_size == scenario.file_size
                && s.files_per_request == 1
                && s.requests == scenario.requests
                && s.in_flight == scenario.in_flight
        });
        let Some((post, post_sides)) = post else {
            continue;
        };
        let (Some(d), Some(p)) = (
            find(sides, Side::Server(0)),
            find(post_sides, Side::Server(0)),
        ) else {
            continue;
        };
        let gib = |m: &Measured| m.bytes as f64 / GIB as f64;
        notes.push(format!(
            "{}: server CPU {:.2} s for {:.2} GiB ({:.3} s/GiB) against {:.2} s for {:.2} GiB ({:.2} s/GiB) \
             through POST /upload ({}, same run), {:.1}% of it per GiB; server peak RSS {:.1} against {:.1} MiB; \
             store CPU {:.2} against {:.2} s/GiB; {:.2}x the MiB/s of POST /upload",
            scenario.name,
            d.server_cpu,
            gib(d),
            d.per_gib(d.server_cpu),
            p.server_cpu,
            gib(p),
            p.per_gib(p.server_cpu),
            post.name,
            100.0 * d.per_gib(d.server_cpu) / p.per_gib(p.server_cpu),
            d.server_peak_kib as f64 / 1024.0,
            p.server_peak_kib as f64 / 1024.0,
            d.per_gib(d.store_cpu),
            p.per_gib(p.store_cpu),
            d.mib_per_s() / p.mib_per_s(),
        ));
    }
    notes
}
