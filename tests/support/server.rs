//! A server as a child process, and where it listens: the one way the API tests (`tests/api/process.rs`), the tus
//! client test (`tests/tus_client.rs`) and the benchmark (`benches/upload/process.rs`) start the binary. Each
//! includes this file with `#[path]`.
//!
//! The child logs JSON (`LOG_FORMAT=json`), one object per line, and names its addresses in fields of their own:
//! `url` on the line that says it is listening, and `endpoint` on the store's line before it (the embedded
//! store's URL, or `AWS_ENDPOINT_URL`). Nothing is read from a message's text. A thread reads every line the
//! child prints for as long as it runs, so the child never blocks on a full pipe, and keeps them for the caller.

use std::collections::VecDeque;
use std::io::{BufRead as _, BufReader};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use serde_json::Value;

/// How long a child may take to say where it listens.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// A running child, killed when dropped.
pub(crate) struct ServerChild {
    pub(crate) child: Child,
    /// Where it listens: its `url` field (`http://127.0.0.1:<port>`).
    pub(crate) url: String,
    /// The store it uses: the `endpoint` field logged before `url`, if any (none with text logs).
    pub(crate) endpoint: Option<String>,
    pub(crate) log: Log,
}

/// The lines a child printed on stdout: all of them, or the last few.
#[derive(Clone)]
pub(crate) struct Log {
    lines: Arc<Mutex<VecDeque<String>>>,
    keep: usize,
}

impl Log {
    fn new(keep: usize) -> Self {
        Self {
            lines: Arc::default(),
            keep,
        }
    }

    fn push(&self, line: String) {
        let mut lines = self.lines.lock().unwrap_or_else(|e| e.into_inner());
        if lines.len() == self.keep {
            lines.pop_front();
        }
        lines.push_back(line);
    }

    /// The lines kept so far, oldest first.
    pub(crate) fn lines(&self) -> Vec<String> {
        let lines = self.lines.lock().unwrap_or_else(|e| e.into_inner());
        lines.iter().cloned().collect()
    }
}

impl ServerChild {
    /// Starts `command` with JSON logs and waits (at most a minute) for the line that carries its `url`. Only the
    /// last `keep` lines of its output are kept. Stdout is read here; stdin and stderr are as `command` says.
    ///
    /// A test about the text log itself sets `LOG_FORMAT=text` on `command`: text is not parsed, so the port is
    /// chosen here instead (a free one, released just before the child binds it again: another program could
    /// take it in between, then the start fails) and the child is ready once that port accepts a connection.
    pub(crate) fn start(mut command: Command, keep: usize) -> anyhow::Result<Self> {
        let text_logs = command.get_envs().any(|(name, value)| {
            name == "LOG_FORMAT" && value.is_some_and(|v| !v.eq_ignore_ascii_case("json"))
        });
        let port = if text_logs {
            let port = free_port()?;
            command.env("PORT", port.to_string());
            Some(port)
        } else {
            command.env("LOG_FORMAT", "json");
            None
        };
        let program = command.get_program().to_string_lossy().into_owned();
        let mut child = command
            .stdout(Stdio::piped())
            .spawn()
            .with_context(|| format!("start {program}"))?;
        let stdout = child.stdout.take().context("the child's stdout")?;
        let log = Log::new(keep.max(1));
        let (found, addresses) = mpsc::channel();
        let kept = log.clone();
        std::thread::spawn(move || {
            let mut found = (!text_logs).then_some(found);
            let mut endpoint = None;
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(sender) = &found {
                    let fields: Value = serde_json::from_str(&line).unwrap_or_default();
                    let field = |name: &str| fields.get(name)?.as_str().map(str::to_owned);
                    endpoint = endpoint.or_else(|| field("endpoint"));
                    if let Some(url) = field("url") {
                        let _ = sender.send((url, endpoint.take()));
                        found = None;
                    }
                }
                kept.push(line);
            }
        });
        let mut started = Self {
            child,
            url: String::new(),
            endpoint: None,
            log,
        };
        let ready = match port {
            Some(port) => started.accepts(port),
            None => addresses.recv_timeout(START_TIMEOUT).ok(),
        };
        if let Some((url, endpoint)) = ready {
            started.url = url;
            started.endpoint = endpoint;
            return Ok(started);
        }
        let mut printed = started.log.lines().join("\n");
        if printed.is_empty() {
            printed = "nothing on stdout".to_owned();
        }
        match started.exit_status() {
            Some(status) => {
                bail!("{program} exited ({status}) before it listened; it printed:\n{printed}")
            }
            None => bail!(
                "{program} logged no `url` field within {START_TIMEOUT:?} (the line is logged at info level: \
                 check RUST_LOG); it printed:\n{printed}"
            ),
        }
    }

    /// The child's exit status, if it has exited or does within a second (its output may end a moment before).
    fn exit_status(&mut self) -> Option<std::process::ExitStatus> {
        for _ in 0..20 {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }

    /// Waits for `port` to accept a connection, while the child runs.
    fn accepts(&mut self, port: u16) -> Option<(String, Option<String>)> {
        let deadline = Instant::now() + START_TIMEOUT;
        while Instant::now() < deadline && matches!(self.child.try_wait(), Ok(None)) {
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Some((format!("http://127.0.0.1:{port}"), None));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }

    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for ServerChild {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> anyhow::Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").context("find a free port")?;
    Ok(listener.local_addr()?.port())
}
