//! Child processes (the store, the servers, perf) and what /proc says of them.

use super::*;
use crate::server::ServerChild;

/// A child process that names its URL in a JSON log line (tests/support/server.rs), killed when dropped.
pub(crate) struct Proc {
    pub(crate) name: &'static str,
    child: ServerChild,
}

impl Proc {
    /// Starts `command` and waits for its URL; keeps its last lines for error messages. Its stdin is a pipe,
    /// open until it is dropped (the store stops when it closes).
    pub(crate) fn start(name: &'static str, mut command: Command) -> anyhow::Result<Self> {
        command.stdin(Stdio::piped()).stderr(Stdio::inherit());
        let child = ServerChild::start(command, 40).with_context(|| format!("start the {name}"))?;
        Ok(Self { name, child })
    }

    /// Where it listens.
    pub(crate) fn url(&self) -> &str {
        &self.child.url
    }

    /// The store it logged it uses, if it logged one.
    pub(crate) fn endpoint(&self) -> Option<&str> {
        self.child.endpoint.as_deref()
    }

    pub(crate) fn pid(&self) -> u32 {
        self.child.pid()
    }

    /// CPU time so far, in seconds (see [`cpu_seconds`]).
    pub(crate) fn cpu_seconds(&self) -> f64 {
        cpu_seconds(&format!("/proc/{}", self.pid()))
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

/// The CPU time a process (`/proc/<pid>`) has used so far, in seconds: the sum of its threads' time on a CPU
/// from `task/*/schedstat`, in nanoseconds. `stat`'s utime + stime count whole clock ticks (10 ms), too coarse
/// for a round of 20 small uploads (about 40 ms of the server's CPU). Threads that ended are not counted: the
/// server's and the store's runtime threads live as long as they do. Without schedstat, utime + stime.
pub(crate) fn cpu_seconds(proc_dir: &str) -> f64 {
    let on_cpu = std::fs::read_dir(format!("{proc_dir}/task"))
        .ok()
        .map(|tasks| {
            tasks
                .flatten()
                .filter_map(|task| std::fs::read_to_string(task.path().join("schedstat")).ok())
                .filter_map(|line| line.split_whitespace().next()?.parse::<u64>().ok())
                .sum::<u64>()
        });
    match on_cpu {
        Some(nanos) if nanos > 0 => nanos as f64 / 1e9,
        _ => stat_cpu_seconds(&format!("{proc_dir}/stat")),
    }
}

/// utime + stime from `/proc/<pid>/stat`, in seconds.
fn stat_cpu_seconds(stat_path: &str) -> f64 {
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
    cpu_seconds("/proc/self")
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
