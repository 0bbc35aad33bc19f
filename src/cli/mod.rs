//! The binary's commands besides the server: `check` verifies that the configured bucket is set up the way the
//! seed course sets it up (and that the server's own client can use it), `clean` is the course's last step.
//!
//! Both use the server's configuration and open the store the one way the server does
//! ([`Storage::open`](crate::storage::Storage::open): the embedded store when no bucket is configured, the same S3
//! client and URL builder otherwise; no HTTP port is bound), and print to a writer they are given, so tests read
//! what a person would see.
//!
//! # Layout
//! - this file: the command line (clap), [`run`], and how steps are reported and printed.
//! - `target`: the store the commands act on, opened as the server opens it, and the one way a step makes a
//!   request of it (within the step timeout, its failure diagnosed).
//! - `check`: the `check` command; `multipart` and `lifecycle`: its incomplete-upload and lifecycle steps
//!   (`clean` aborts incomplete uploads too).
//! - `clean`: the `clean` command; `objects`: the objects under a prefix, counted and deleted.
//! - `resumable`: resumable uploads: `check`'s listing, `clean --expired-uploads`, and the aborts before `clean`.
//! - `diagnose`: what a store's error means and what to change; `public_url`: the anonymous GET of a returned
//!   URL and why it failed.

mod check;
mod clean;
mod conditional;
mod cors;
mod diagnose;
mod direct;
mod lifecycle;
mod multipart;
mod objects;
mod public_url;
mod resumable;
mod target;

use std::io::Write;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::config::Config;

pub use check::check;
pub use clean::clean;
pub use diagnose::{Diagnosis, diagnose_sdk, diagnose_store_error};
pub use lifecycle::{merged_lifecycle, rule_days};
pub use public_url::{HttpAnswer, diagnose_anonymous_get, public_read_policy};
pub use target::Setup;

use diagnose::unreachable_hint;

/// Where `check` writes its test object (after `KEY_PREFIX`).
pub const CHECK_PREFIX: &str = ".upload-server-check/";
/// The id of the lifecycle rule `check --add-lifecycle-rule` adds.
pub const LIFECYCLE_RULE_ID: &str = "abort-incomplete-multipart-uploads";
/// The longest any one step may take (the client's own retries included).
const STEP_TIMEOUT: Duration = Duration::from_secs(30);

/// `s3-upload-server [COMMAND]`: with no command, the server runs.
#[derive(Debug, Parser)]
#[command(name = "s3-upload-server", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// What the binary does.
#[derive(Debug, Clone, Subcommand)]
pub enum Command {
    /// Run the upload server (the default).
    Serve,
    /// Check the configured bucket: keys, region, a test upload, its public URL, incomplete multipart uploads.
    /// Exits 0 when every check passes, 1 otherwise.
    Check(CheckArgs),
    /// Delete every object under KEY_PREFIX (the whole bucket when it is empty, or with --all) and abort the
    /// incomplete multipart uploads there, after confirmation; with --delete-bucket, then the bucket (which
    /// needs --all when KEY_PREFIX is set).
    Clean(CleanArgs),
}

/// Options of `check`.
#[derive(Debug, Clone, Args)]
pub struct CheckArgs {
    /// Abort the incomplete multipart uploads found (those older than --older-than-mins).
    #[arg(long)]
    pub abort_incomplete: bool,
    /// With --abort-incomplete: only abort uploads started at least this many minutes ago, so that uploads a
    /// running server is still writing are left alone.
    #[arg(long, value_name = "MINUTES", default_value_t = 60)]
    pub older_than_mins: u64,
    /// Add a lifecycle rule that aborts incomplete multipart uploads after 1 day plus RESUMABLE_EXPIRY_SECS in days (existing rules are kept).
    #[arg(long)]
    pub add_lifecycle_rule: bool,
    /// List (and with --abort-incomplete abort) incomplete multipart uploads in the whole bucket, not only under
    /// KEY_PREFIX: on a bucket shared with other data, theirs too.
    #[arg(long)]
    pub all: bool,
    /// Add a bucket CORS rule that lets this page origin PUT and POST and read ETag (direct uploads), keeping
    /// the bucket's other rules.
    #[arg(long, value_name = "ORIGIN")]
    pub add_cors: Option<String>,
}

impl Default for CheckArgs {
    fn default() -> Self {
        Self {
            abort_incomplete: false,
            older_than_mins: 60,
            add_cors: None,
            add_lifecycle_rule: false,
            all: false,
        }
    }
}

/// Options of `clean`.
#[derive(Debug, Clone, Default, Args)]
pub struct CleanArgs {
    /// Also delete the bucket once it is empty. With a KEY_PREFIX, this needs --all: the bucket holds more
    /// than the prefix.
    #[arg(long)]
    pub delete_bucket: bool,
    /// Clean the whole bucket, not only KEY_PREFIX: on a bucket shared with other data, that data too.
    #[arg(long)]
    pub all: bool,
    /// Confirm without asking, for scripts: must be the configured bucket's name.
    #[arg(long, value_name = "BUCKET")]
    pub yes: Option<String>,
    /// Only remove the expired resumable (tus) uploads and abort the abandoned direct uploads, as the server's
    /// sweepers do, and print them; nothing else is deleted, so it asks no confirmation.
    #[arg(long, conflicts_with_all = ["delete_bucket", "all", "yes"])]
    pub expired_uploads: bool,
}

/// Runs `check` or `clean` on stdin and stdout; `serve` is the binary's business. Returns the exit code.
pub async fn run(command: Command, config: Config) -> anyhow::Result<u8> {
    let mut out = std::io::stdout().lock();
    let passed = match command {
        Command::Serve => anyhow::bail!("`serve` is run by the binary itself"),
        Command::Check(args) => check(config, &args, &mut out).await?.passed(),
        Command::Clean(args) => {
            let mut input = std::io::stdin().lock();
            clean(config, &args, &mut input, &mut out).await?
        }
    };
    Ok(if passed { 0 } else { 1 })
}

/// How one step went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// ✓
    Pass,
    /// ✗: the set-up needs fixing; the exit code is 1.
    Fail,
    /// !: worth knowing (incomplete uploads, no lifecycle rule), not a failure.
    Warn,
    /// –: not run, because an earlier step failed.
    Skipped,
    /// –: the store does not implement the call (the embedded store lacks some).
    Unsupported,
}

impl Status {
    fn mark(self) -> &'static str {
        match self {
            Self::Pass => "✓",
            Self::Fail => "✗",
            Self::Warn => "!",
            Self::Skipped | Self::Unsupported => "–",
        }
    }
}

/// One printed step of `check`.
#[derive(Clone, Debug)]
pub struct Step {
    pub name: &'static str,
    pub status: Status,
    pub detail: String,
    pub hint: Option<String>,
}

/// Every step `check` ran, in order.
#[derive(Clone, Debug, Default)]
pub struct Report {
    pub steps: Vec<Step>,
}

impl Report {
    /// No step failed.
    pub fn passed(&self) -> bool {
        self.steps.iter().all(|s| s.status != Status::Fail)
    }

    /// The step called `name`, if it ran.
    pub fn step(&self, name: &str) -> Option<&Step> {
        self.steps.iter().find(|s| s.name == name)
    }
}

/// Step names, as printed.
pub mod steps {
    pub const STORE: &str = "store";
    pub const BUCKET: &str = "credentials and bucket";
    pub const UPLOAD: &str = "test upload";
    pub const PUBLIC_URL: &str = "public URL";
    pub const REMOVE: &str = "test object removed";
    pub const MULTIPART: &str = "incomplete multipart uploads";
    pub const LIFECYCLE: &str = "lifecycle rule";
    pub const CONDITIONAL: &str = "conditional writes";
    pub const RESUMABLE: &str = "resumable uploads";
    pub const DIRECT: &str = "direct uploads";
    pub const BUCKET_CORS: &str = "bucket CORS";
    pub const EXPIRED: &str = "expired uploads removed";
}

struct Printer<'a> {
    out: &'a mut dyn Write,
    report: Report,
}

impl Printer<'_> {
    fn step(
        &mut self,
        name: &'static str,
        status: Status,
        detail: impl Into<String>,
        hint: Option<String>,
    ) -> std::io::Result<()> {
        let detail = detail.into();
        writeln!(self.out, "{} {name}: {detail}", status.mark())?;
        if let Some(hint) = &hint {
            for line in hint.lines() {
                writeln!(self.out, "    {line}")?;
            }
        }
        self.report.steps.push(Step {
            name,
            status,
            detail,
            hint,
        });
        Ok(())
    }

    fn failed(&mut self, name: &'static str, diagnosis: Diagnosis) -> std::io::Result<()> {
        self.step(name, Status::Fail, diagnosis.detail, Some(diagnosis.hint))
    }

    fn line(&mut self, text: impl std::fmt::Display) -> std::io::Result<()> {
        writeln!(self.out, "{text}")
    }
}

/// A step that took longer than [`STEP_TIMEOUT`].
struct TimedOut;

impl TimedOut {
    fn diagnosis(&self, cx: Setup<'_>) -> Diagnosis {
        Diagnosis {
            detail: format!("no answer within {} seconds", STEP_TIMEOUT.as_secs()),
            hint: unreachable_hint(cx),
        }
    }
}

async fn timed<T>(future: impl Future<Output = T>) -> Result<T, TimedOut> {
    tokio::time::timeout(STEP_TIMEOUT, future)
        .await
        .map_err(|_| TimedOut)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_command_means_serve_and_flags_parse() {
        let cli = Cli::try_parse_from(["s3-upload-server"]).unwrap();
        assert!(cli.command.is_none());
        let cli = Cli::try_parse_from([
            "s3-upload-server",
            "check",
            "--abort-incomplete",
            "--add-lifecycle-rule",
        ])
        .unwrap();
        let Some(Command::Check(args)) = cli.command else {
            panic!("expected check");
        };
        assert!(args.abort_incomplete && args.add_lifecycle_rule && !args.all);
        assert_eq!(args.older_than_mins, 60);
        let cli =
            Cli::try_parse_from(["s3-upload-server", "clean", "--delete-bucket", "--yes", "b"])
                .unwrap();
        let Some(Command::Clean(args)) = cli.command else {
            panic!("expected clean");
        };
        assert!(args.delete_bucket && !args.all);
        assert_eq!(args.yes.as_deref(), Some("b"));
        assert!(Cli::try_parse_from(["s3-upload-server", "clean", "--yes"]).is_err());
        // --all widens both commands from KEY_PREFIX to the whole bucket.
        let cli =
            Cli::try_parse_from(["s3-upload-server", "clean", "--all", "--delete-bucket"]).unwrap();
        assert!(matches!(
            cli.command,
            Some(Command::Clean(CleanArgs { all: true, .. }))
        ));
        let cli = Cli::try_parse_from(["s3-upload-server", "check", "--abort-incomplete", "--all"])
            .unwrap();
        assert!(matches!(
            cli.command,
            Some(Command::Check(CheckArgs { all: true, .. }))
        ));
        // --expired-uploads removes only what the server would: nothing to confirm, nothing wider.
        let cli = Cli::try_parse_from(["s3-upload-server", "clean", "--expired-uploads"]).unwrap();
        let Some(Command::Clean(args)) = cli.command else {
            panic!("expected clean");
        };
        assert!(args.expired_uploads && !args.delete_bucket && !args.all && args.yes.is_none());
        for other in [&["--all"][..], &["--delete-bucket"], &["--yes", "b"]] {
            let mut line = vec!["s3-upload-server", "clean", "--expired-uploads"];
            line.extend_from_slice(other);
            assert!(Cli::try_parse_from(&line).is_err(), "{line:?}");
        }
    }
}
