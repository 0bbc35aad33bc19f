//! The tus scenarios: the same bytes as a resumable upload (`POST /files`, then PATCHes), one PATCH of the whole
//! file or sequential PATCHes of a fixed size, each at the offset the previous one answered; and what they are
//! compared with in the report.

use super::*;

/// How the server side of a scenario sends its files.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Via {
    /// `POST /upload`, `multipart/form-data`.
    Post,
    /// tus 1.0.0 at `/files`: a creation, then PATCHes of `patch_size` bytes (the whole file if none).
    Tus { patch_size: Option<u64> },
    /// Straight to the store through `/s3/multipart`'s signed part URLs (`direct_uploads.rs`).
    S3Multipart,
    /// Straight to the store with `/s3/params`'s presigned POST form (`direct_uploads.rs`).
    S3Form,
}

/// The size of the chunked tus scenario's PATCHes.
pub(crate) const TUS_PATCH: u64 = 8 * MIB;

/// The tus scenarios of a run: one PATCH, and PATCHes of [`TUS_PATCH`], of a file of `size`.
pub(crate) fn tus_scenarios(size: u64, label: &str, rounds: usize) -> Vec<Scenario> {
    let s = |id, name: String, patch_size| Scenario {
        id,
        name,
        files_per_request: 1,
        file_size: size,
        requests: 1,
        in_flight: 1,
        rounds,
        target_ratio: None,
        pace: None,
        via: Via::Tus { patch_size },
    };
    vec![
        s("tus", format!("tus {label}, one PATCH"), None),
        s(
            "tus8",
            format!("tus {label}, {} MiB PATCHes", TUS_PATCH / MIB),
            Some(TUS_PATCH),
        ),
    ]
}

impl Bench {
    /// One file sent to `server` over tus: created, then PATCHed; every answer checked. Returns the object as
    /// stored, with its latency (creation to the last PATCH's answer).
    pub(crate) async fn tus_upload(
        &self,
        server: usize,
        name: &str,
        data: Bytes,
        patch_size: Option<u64>,
    ) -> anyhow::Result<(Duration, Stored)> {
        let base = &self.servers[server].url;
        let length = data.len() as u64;
        let started = Instant::now();
        let created = self
            .http
            .post(format!("{base}/files"))
            .header("tus-resumable", "1.0.0")
            .header("upload-length", length)
            .header(
                "upload-metadata",
                format!(
                    "filename {},filetype {}",
                    STANDARD.encode(name),
                    STANDARD.encode("application/octet-stream")
                ),
            )
            .send()
            .await
            .context("POST /files")?;
        let status = created.status();
        ensure!(
            status == reqwest::StatusCode::CREATED,
            "POST /files answered {status}: {}",
            created.text().await.unwrap_or_default()
        );
        let location =
            header(&created, "location").context("no Location in the creation's answer")?;
        let upload = if location.starts_with("http") {
            location
        } else {
            format!("{base}{location}")
        };

        let step = patch_size.unwrap_or(length).max(1);
        let mut offset = 0u64;
        let mut object_location = None;
        while offset < length {
            let end = (offset + step).min(length);
            let answer = self
                .patch(&upload, offset, data.slice(offset as usize..end as usize))
                .await?;
            let answered: Option<u64> =
                header(&answer, "upload-offset").and_then(|v| v.parse().ok());
            ensure!(
                answer.status() == reqwest::StatusCode::NO_CONTENT && answered == Some(end),
                "PATCH at {offset} of {} bytes answered {} with Upload-Offset {answered:?}: {}",
                end - offset,
                answer.status(),
                answer.text().await.unwrap_or_default()
            );
            object_location = header(&answer, "x-object-location");
            ensure!(
                object_location.is_some() == (end == length),
                "PATCH up to {end} of {length}: X-Object-Location {object_location:?}"
            );
            offset = end;
        }
        let latency = started.elapsed();
        let object_location = object_location.context("no PATCH completed the upload")?;

        // The upload's description names the object's key (a small GET, ~1 ms of the round).
        let described: serde_json::Value = self
            .http
            .get(&upload)
            .header("tus-resumable", "1.0.0")
            .send()
            .await
            .context("GET the upload")?
            .error_for_status()
            .context("GET the upload")?
            .json()
            .await
            .context("the upload's description")?;
        ensure!(
            described["size"].as_u64() == Some(length),
            "the completed upload describes {described}"
        );
        ensure!(
            described["location"].as_str() == Some(object_location.as_str()),
            "X-Object-Location {object_location}, described {described}"
        );
        let stored = Stored {
            key: described["key"].as_str().context("key")?.to_owned(),
            location: Some(object_location),
            data,
            check_content: true,
        };
        Ok((latency, stored))
    }

    /// One PATCH of `bytes` at `offset`, streamed in zero-copy frames as `POST /upload`'s body is.
    async fn patch(
        &self,
        upload: &str,
        offset: u64,
        bytes: Bytes,
    ) -> anyhow::Result<reqwest::Response> {
        let length = bytes.len();
        let frames: Vec<Bytes> = (0..length)
            .step_by(FRAME)
            .map(|at| bytes.slice(at..(at + FRAME).min(length)))
            .collect();
        let body = reqwest::Body::wrap_stream(futures_util::stream::iter(
            frames.into_iter().map(Ok::<_, std::io::Error>),
        ));
        self.http
            .patch(upload)
            .header("tus-resumable", "1.0.0")
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/offset+octet-stream",
            )
            .header("upload-offset", offset)
            .header(reqwest::header::CONTENT_LENGTH, length)
            .body(body)
            .send()
            .await
            .with_context(|| format!("PATCH at {offset}"))
    }
}

fn header(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// Whether the chunked scenario's PATCHes fill whole parts; if not, what each leaves to a segment.
pub(crate) fn alignment_note(part_size: u64) -> String {
    if TUS_PATCH.is_multiple_of(part_size) {
        format!(
            "tus: {} MiB PATCHes are whole parts ({} MiB): no segments",
            TUS_PATCH / MIB,
            part_size as f64 / MIB as f64
        )
    } else {
        format!(
            "tus: {} MiB PATCHes are not a multiple of the part size ({:.2} MiB): each PATCH's tail is kept as a \
             segment and read back by the next PATCH",
            TUS_PATCH / MIB,
            part_size as f64 / MIB as f64
        )
    }
}

fn under_test(sides: &[(Side, Measured)]) -> Option<&Measured> {
    sides
        .iter()
        .find(|(s, _)| *s == Side::Server(0))
        .map(|(_, m)| m)
}

/// The tus scenarios against `POST /upload` of a file of the same size in the same run (the server under test).
pub(crate) fn tus_notes(results: &[(Scenario, Vec<(Side, Measured)>)]) -> Vec<String> {
    let mut notes = Vec::new();
    let tus = results
        .iter()
        .filter(|(s, _)| matches!(s.via, Via::Tus { .. }));
    for (tus, tus_sides) in tus {
        let post = results.iter().find(|(s, _)| {
            s.via == Via::Post && s.file_size == tus.file_size && s.files_per_request == 1
        });
        let Some((post, post_sides)) = post else {
            continue;
        };
        let (Some(t), Some(p)) = (under_test(tus_sides), under_test(post_sides)) else {
            continue;
        };
        notes.push(format!(
            "{}: {:.2}x the MiB/s of POST /upload ({}, same run); server CPU {:.2} against {:.2} s/GiB, peak RSS \
             {:.1} against {:.1} MiB",
            tus.name,
            t.mib_per_s() / p.mib_per_s(),
            post.name,
            t.per_gib(t.server_cpu),
            p.per_gib(p.server_cpu),
            t.server_peak_kib as f64 / 1024.0,
            p.server_peak_kib as f64 / 1024.0,
        ));
    }
    notes
}
