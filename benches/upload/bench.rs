//! The bench's state, the servers it starts, and one round: requests through the server.

use super::*;

pub(crate) struct Bench {
    pub(crate) quick: bool,
    pub(crate) data: Bytes,
    /// The form scenario's data (the same pseudo-random bytes, CR bytes included).
    pub(crate) form_data: Bytes,
    pub(crate) http: reqwest::Client,
    pub(crate) s3: Client,
    pub(crate) store: Proc,
    /// The byte relay in front of the store, and a client that sends through it (unless `BENCH_RELAY=0`).
    pub(crate) relay: Option<(Proc, Client)>,
    pub(crate) servers: Vec<Server>,
    pub(crate) part_size: u64,
    pub(crate) parts_in_flight: usize,
}

/// A running server binary.
pub(crate) struct Server {
    pub(crate) proc: Proc,
    pub(crate) url: String,
    pub(crate) label: String,
    pub(crate) idle_rss_kib: u64,
}

/// Starts `binary` pointed at the store at `store`, with `extra_env` on top of the bench's settings.
pub(crate) async fn start_server(
    binary: &Path,
    label: String,
    base_env: &[(&str, String)],
    extra_env: &[(String, String)],
    store: &str,
    work_dir: &Path,
    http: &reqwest::Client,
) -> anyhow::Result<Server> {
    let mut command = Command::new(binary);
    command
        .current_dir(work_dir)
        .envs(base_env.iter().map(|(k, v)| (k, v)))
        .envs(extra_env.iter().map(|(k, v)| (k, v)));
    let proc =
        Proc::start("server", command).with_context(|| format!("start {}", binary.display()))?;
    // The store's CPU time and the checks of each round are the bench's store: the server must use it.
    ensure!(
        proc.endpoint() == Some(store),
        "`{label}` uses the store {}, not the bench's {store}",
        proc.endpoint().unwrap_or("it did not log")
    );
    let url = proc.url().to_owned();
    let health = http.get(format!("{url}/health")).send().await?;
    ensure!(
        health.status().is_success(),
        "GET /health: {}",
        health.status()
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    let idle_rss_kib = proc.status_kib("VmRSS");
    Ok(Server {
        proc,
        url,
        label,
        idle_rss_kib,
    })
}

impl Bench {
    pub(crate) fn label(&self, side: Side) -> String {
        match side {
            Side::Direct => "direct PUT".to_owned(),
            Side::DirectMultipart => "direct multipart".to_owned(),
            Side::Relay => "direct PUT via a byte relay".to_owned(),
            Side::Server(i) => self.servers[i].label.clone(),
        }
    }

    pub(crate) async fn run_round(
        &self,
        scenario: &Scenario,
        side: Side,
        round: usize,
        into: &mut Measured,
    ) -> anyhow::Result<()> {
        let prefix = format!("{}-{}-r{round}", scenario.id, side_id(side));
        // The server measured: the one this side uploads through (the relay for its side), or the one under
        // test for direct sides.
        let server = match (side, &self.relay) {
            (Side::Server(i), _) => &self.servers[i].proc,
            (Side::Relay, Some((relay, _))) => relay,
            _ => &self.servers[0].proc,
        };
        server.reset_peak_rss()?;
        let (server_cpu, store_cpu, client_cpu) = (
            server.cpu_seconds(),
            self.store.cpu_seconds(),
            client_cpu_seconds(),
        );
        let started = Instant::now();
        let outcomes: Vec<anyhow::Result<Outcome>> =
            futures_util::stream::iter(0..scenario.requests)
                .map(|i| self.one_request(scenario, side, &prefix, i))
                .buffer_unordered(scenario.in_flight)
                .collect()
                .await;
        let elapsed = started.elapsed();
        into.server_cpu += server.cpu_seconds() - server_cpu;
        into.store_cpu += self.store.cpu_seconds() - store_cpu;
        into.client_cpu += client_cpu_seconds() - client_cpu;
        into.server_peak_kib = into.server_peak_kib.max(server.status_kib("VmHWM"));
        into.elapsed += elapsed;
        into.bytes += scenario.bytes_per_round();
        into.requests += scenario.requests;

        let mut stored = Vec::new();
        for outcome in outcomes {
            let (latency, complete, objects) = outcome?;
            into.latencies.push(latency);
            into.complete.extend(complete);
            stored.extend(objects);
        }
        ensure!(
            stored.len() == scenario.requests * scenario.files_per_request,
            "{} objects stored, expected {}",
            stored.len(),
            scenario.requests * scenario.files_per_request
        );
        let (sizes, contents) = self.verify(&stored).await?;
        into.verified_size += sizes;
        into.verified_content += contents;
        self.delete(&stored).await?;
        Ok(())
    }

    /// The file `j` of request `i`: its own slice of the data, so two objects never hold the same bytes.
    pub(crate) fn file_data(&self, scenario: &Scenario, i: usize, j: usize) -> Bytes {
        let n = i * scenario.files_per_request + j;
        let offset = (n * 4099) % (64 * KIB as usize);
        let data = if scenario.via == Via::S3Form {
            &self.form_data
        } else {
            &self.data
        };
        data.slice(offset..offset + scenario.file_size as usize)
    }

    pub(crate) async fn one_request(
        &self,
        scenario: &Scenario,
        side: Side,
        prefix: &str,
        i: usize,
    ) -> anyhow::Result<Outcome> {
        let files: Vec<Bytes> = (0..scenario.files_per_request)
            .map(|j| self.file_data(scenario, i, j))
            .collect();
        // Contents are compared for every large object and for one small object in 25.
        let check = |n: usize| scenario.file_size > 4 * MIB || n.is_multiple_of(25) || self.quick;
        let started = Instant::now();
        let mut complete = None;
        let stored = match side {
            Side::Server(server) => {
                if scenario.via != Via::Post {
                    let name = format!("{prefix}-{i}-0.bin");
                    let data = files.into_iter().next().context("no file")?;
                    let (latency, stored) = match scenario.via {
                        Via::Tus { patch_size } => {
                            self.tus_upload(server, &name, data, patch_size).await?
                        }
                        via => {
                            self.direct_upload(server, via, &name, data, check(i))
                                .await?
                        }
                    };
                    return Ok((latency, None, vec![stored]));
                }
                let names: Vec<String> = (0..files.len())
                    .map(|j| format!("{prefix}-{i}-{j}.bin"))
                    .collect();
                let answer = self.post(server, &names, &files, scenario.pace).await?;
                let latency = started.elapsed();
                let mut stored = Vec::new();
                for (j, (data, file)) in files.into_iter().zip(&answer).enumerate() {
                    let size = file["size"].as_u64().unwrap_or(0);
                    ensure!(
                        size == data.len() as u64,
                        "the server answered size {size} for a file of {}",
                        data.len()
                    );
                    ensure!(file["etag"].is_string(), "no etag in {file}");
                    stored.push(Stored {
                        key: file["key"].as_str().context("key")?.to_owned(),
                        location: Some(file["location"].as_str().context("location")?.to_owned()),
                        data,
                        check_content: check(i * scenario.files_per_request + j),
                    });
                }
                return Ok((latency, None, stored));
            }
            Side::Direct | Side::DirectMultipart | Side::Relay => {
                let mut stored = Vec::new();
                for (j, data) in files.into_iter().enumerate() {
                    let key = direct_key(&format!("{prefix}-{i}-{j}.bin"));
                    match (side, &self.relay) {
                        (Side::DirectMultipart, _) => {
                            complete = Some(self.put_multipart(&key, &data).await?);
                        }
                        (Side::Relay, Some((_, through))) => {
                            self.put(through, &key, &data, scenario.pace).await?;
                        }
                        _ => self.put(&self.s3, &key, &data, scenario.pace).await?,
                    }
                    stored.push(Stored {
                        key,
                        location: None,
                        data,
                        check_content: check(i * scenario.files_per_request + j),
                    });
                }
                stored
            }
        };
        Ok((started.elapsed(), complete, stored))
    }

    /// `POST /upload` with `files` in the field `photos`, streamed in zero-copy frames.
    pub(crate) async fn post(
        &self,
        server: usize,
        names: &[String],
        files: &[Bytes],
        pace: Option<u64>,
    ) -> anyhow::Result<Vec<serde_json::Value>> {
        let frame = if pace.is_some() { PACED_FRAME } else { FRAME };
        let mut frames: Vec<Bytes> = Vec::new();
        for (name, data) in names.iter().zip(files) {
            frames.push(Bytes::from(format!(
                "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"photos\"; filename=\"{name}\"\r\n\
                 Content-Type: application/octet-stream\r\n\r\n"
            )));
            let mut at = 0;
            while at < data.len() {
                let end = (at + frame).min(data.len());
                frames.push(data.slice(at..end));
                at = end;
            }
            frames.push(Bytes::from_static(b"\r\n"));
        }
        frames.push(Bytes::from(format!("--{BOUNDARY}--\r\n")));
        let length: usize = frames.iter().map(Bytes::len).sum();
        let body = reqwest::Body::wrap_stream(paced(frames, pace));
        let response = self
            .http
            .post(format!("{}/upload", self.servers[server].url))
            .header(
                reqwest::header::CONTENT_TYPE,
                format!("multipart/form-data; boundary={BOUNDARY}"),
            )
            .header(reqwest::header::CONTENT_LENGTH, length)
            .body(body)
            .send()
            .await
            .context("POST /upload")?;
        let status = response.status();
        let text = response.text().await.context("read the answer")?;
        ensure!(
            status.is_success(),
            "POST /upload answered {status}: {text}"
        );
        let answer: Vec<serde_json::Value> =
            serde_json::from_str(&text).with_context(|| format!("not a JSON array: {text}"))?;
        ensure!(
            answer.len() == files.len(),
            "{} files in the answer, {} sent",
            answer.len(),
            files.len()
        );
        Ok(answer)
    }
}

/// A key of the shape the server gives its objects (`<uuid>/<name>`), so that the store does the same work per
/// object (a folder per object, for s3s-fs) whichever side uploads.
pub(crate) fn direct_key(name: &str) -> String {
    format!("{}/{name}", uuid::Uuid::now_v7().simple())
}

/// `len` pseudo-random bytes (xorshift64*): incompressible, cheap to make, the same in every run.
pub(crate) fn pseudo_random(len: usize) -> Bytes {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        out.extend_from_slice(&state.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes());
    }
    out.truncate(len);
    Bytes::from(out)
}
