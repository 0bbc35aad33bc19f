//! Child processes (the store, the servers, perf) and what /proc says of them.

use super::*;

/// A child process, killed when dropped.
pub(crate) struct Proc {
    pub(crate) child: Child,
    pub(crate) name: &'static str,
    /// The last lines it printed, for error messages.
    pub(crate) log: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Proc {
    /// Starts `command` and waits for the first stdout line for which `ready` returns a value.
    pub(crate) fn start<T: Send + 'static>(
        name: &'static str,
        mut command: Command,
        ready: impl Fn(&str) -> Option<T> + Send + 'static,
    ) -> anyhow::Result<(Self, T)> {
        command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let mut child = command
            .spawn()
            .with_context(|| format!("start the {name}"))?;
        let stdout = child.stdout.take().context("child stdout")?;
        let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let (tx, rx) = mpsc::channel();
        let lines = std::sync::Arc::clone(&log);
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(found) = tx.as_ref().and_then(|_| ready(&line))
                    && let Some(tx) = tx.take()
                {
                    let _ = tx.send(found);
                }
                let mut lines = lines.lock().unwrap_or_else(|e| e.into_inner());
                lines.push(line);
                if lines.len() > 40 {
                    lines.remove(0);
                }
            }
        });
        let mut proc = Self { child, name, log };
        match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(found) => Ok((proc, found)),
            Err(_) => {
                let status = proc.child.try_wait().ok().flatten();
                bail!(
                    "the {name} did not start (exit: {status:?}); it printed:\n{}",
                    proc.recent_output()
                )
            }
        }
    }

    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    pub(crate) fn recent_output(&self) -> String {
        self.log
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .join("\n")
    }

    /// utime + stime so far, in seconds.
    pub(crate) fn cpu_seconds(&self) -> f64 {
        cpu_seconds(&format!("/proc/{}/stat", self.pid()))
    }

    /// A line of `/proc/<pid>/status` in KiB, e.g. `VmHWM`.
    pub(crate) fn status_kib(&self, field: &str) -> u64 {
        status_kib(&format!("/proc/{}/status", self.pid()), field)
    }

    /// Resets the peak RSS (VmHWM) to the current RSS.
    pub(crate) fn reset_peak_rss(&self) -> anyhow::Result<()> {
        std::fs::write(format!("/proc/{}/clear_refs", self.pid()), "5")
            .with_context(|| format!("reset the {}'s VmHWM", self.name))
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `perf record` attached to a process; stopped with SIGINT (so it writes its file) when dropped.
pub(crate) struct Perf(Child);

impl Perf {
    pub(crate) fn attach(pid: u32, out: &str) -> anyhow::Result<Self> {
        let mut command = Command::new("perf");
        command.args(["record", "-e", "cpu-clock", "-F", "1999", "-o", out, "-p"]);
        command.arg(pid.to_string());
        if let Ok(call_graph) = std::env::var("BENCH_PERF_CALL_GRAPH") {
            command.args(["--call-graph", &call_graph]);
        }
        let child = command
            .stdout(Stdio::null())
            .spawn()
            .context("start perf record")?;
        std::thread::sleep(Duration::from_millis(500));
        Ok(Self(child))
    }
}

impl Drop for Perf {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-INT", &self.0.id().to_string()])
            .status();
        let _ = self.0.wait();
    }
}

pub(crate) fn cpu_seconds(stat_path: &str) -> f64 {
    let Ok(stat) = std::fs::read_to_string(stat_path) else {
        return f64::NAN;
    };
    // Fields after the command name (which may contain spaces), counted from field 3 (state).
    let Some(rest) = stat.rsplit_once(')').map(|(_, rest)| rest) else {
        return f64::NAN;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // utime is field 14, stime field 15: indices 11 and 12 after the state (field 3).
    (ticks(11) + ticks(12)) as f64 / CLOCK_TICKS
}

pub(crate) fn status_kib(status_path: &str, field: &str) -> u64 {
    std::fs::read_to_string(status_path)
        .ok()
        .and_then(|status| {
            status.lines().find_map(|line| {
                let value = line.strip_prefix(field)?.strip_prefix(':')?;
                value.trim().trim_end_matches("kB").trim().parse().ok()
            })
        })
        .unwrap_or(0)
}

pub(crate) fn client_cpu_seconds() -> f64 {
    cpu_seconds("/proc/self/stat")
}

pub(crate) struct RemoveOnDrop(pub(crate) PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        remove_dir(&self.0);
    }
}

pub(crate) fn remove_dir(path: &Path) {
    let _ = std::fs::remove_dir_all(path);
}
