//! What a run is asked to do: the `BENCH_*` settings from the environment (see main.rs for each).

use super::*;

pub(crate) struct Options {
    /// `BENCH_QUICK=1`: smaller sizes.
    pub(crate) quick: bool,
    /// `BENCH_ROUNDS=n`: rounds for every scenario.
    pub(crate) rounds: Option<usize>,
    /// `BENCH_ONLY=seq,large,...`: a subset of the scenarios.
    pub(crate) only: Option<Vec<String>>,
    /// Unless `BENCH_NO_TUS=1`: the tus scenarios run too.
    pub(crate) tus: bool,
    /// Unless `BENCH_NO_S3=1`: the direct-upload scenarios (`/s3` routes) run too.
    pub(crate) s3: bool,
    /// Unless `BENCH_NO_DIRECT_MULTIPART=1`: files larger than a part are also sent straight as multipart.
    pub(crate) direct_multipart: bool,
    /// `BENCH_RELAY=0|small|all` (default `small`): where the direct PUT through a byte relay runs too.
    pub(crate) relay: Relay,
    /// `BENCH_DATA_DIR` (default `/dev/shm`): where the store's folder goes.
    pub(crate) data_dir: PathBuf,
    /// `BENCH_COMPARE_BIN`, `BENCH_COMPARE_ENV`, `BENCH_COMPARE_LABEL`: a second server in the same rounds.
    pub(crate) compare: Option<Compare>,
    /// `BENCH_PERF_OUT`: record the server under test with `perf record`.
    pub(crate) perf_out: Option<String>,
    /// `BENCH_REPORT`: also write the report to this file.
    pub(crate) report_path: Option<String>,
}

/// Which `POST /upload` scenarios also send the direct PUT through the byte relay ([`super::relay`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Relay {
    Off,
    /// Files no larger than a part: the scenarios where the proxy's cost per request shows.
    Small,
    All,
}

/// The second server of an A/B run.
pub(crate) struct Compare {
    /// Another build, or this one.
    pub(crate) binary: Option<PathBuf>,
    pub(crate) env: Vec<(String, String)>,
    pub(crate) label: String,
}

impl Options {
    pub(crate) fn from_env() -> Self {
        let var = |name: &str| std::env::var(name).ok();
        let compare_env: Vec<(String, String)> = var("BENCH_COMPARE_ENV")
            .unwrap_or_default()
            .split_whitespace()
            .filter_map(|pair| pair.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        let compare_bin = std::env::var_os("BENCH_COMPARE_BIN").map(PathBuf::from);
        let compare = (compare_bin.is_some() || !compare_env.is_empty()).then(|| Compare {
            binary: compare_bin,
            env: compare_env,
            label: var("BENCH_COMPARE_LABEL").unwrap_or_else(|| "server B".to_owned()),
        });
        Self {
            quick: std::env::var_os("BENCH_QUICK").is_some_and(|v| v != "0"),
            rounds: var("BENCH_ROUNDS").and_then(|v| v.parse().ok()),
            only: var("BENCH_ONLY").map(|v| v.split(',').map(|s| s.trim().to_owned()).collect()),
            tus: std::env::var_os("BENCH_NO_TUS").is_none_or(|v| v == "0"),
            s3: std::env::var_os("BENCH_NO_S3").is_none_or(|v| v == "0"),
            direct_multipart: std::env::var_os("BENCH_NO_DIRECT_MULTIPART").is_none(),
            relay: match var("BENCH_RELAY").as_deref() {
                Some("0" | "off") => Relay::Off,
                Some("all") => Relay::All,
                _ => Relay::Small,
            },
            data_dir: std::env::var_os("BENCH_DATA_DIR")
                .map_or_else(|| PathBuf::from("/dev/shm"), PathBuf::from)
                .join(format!("upload-bench-{}", std::process::id())),
            compare,
            perf_out: var("BENCH_PERF_OUT"),
            report_path: var("BENCH_REPORT"),
        }
    }

    /// The scenarios this run measures.
    pub(crate) fn scenarios(&self) -> anyhow::Result<Vec<Scenario>> {
        let selected: Vec<Scenario> = scenarios(self.quick, self.rounds, self.tus, self.s3)
            .into_iter()
            .filter(|s| {
                self.only
                    .as_ref()
                    .is_none_or(|only| only.iter().any(|o| o == s.id))
            })
            .collect();
        ensure!(!selected.is_empty(), "BENCH_ONLY selects no scenario");
        Ok(selected)
    }
}
