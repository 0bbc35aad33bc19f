//! The binary's commands besides the server: `check` verifies that the configured bucket is set up the way the
//! seed course sets it up (and that the server's own client can use it), `clean` is the course's last step.
//!
//! Both use the server's configuration and build the store exactly as the server does ([`Application::build`]:
//! the embedded store when no bucket is configured, the same S3 client and URL builder otherwise), and print to a
//! writer they are given, so tests read what a person would see.

use std::io::{BufRead, Write};
use std::time::{Duration, SystemTime};

use aws_sdk_s3::Client;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::types::{
    AbortIncompleteMultipartUpload, BucketLifecycleConfiguration, Delete, ExpirationStatus,
    LifecycleRule, LifecycleRuleFilter, ObjectIdentifier,
};
use bytes::Bytes;
use clap::{Args, Parser, Subcommand};
use http_body_util::{BodyExt as _, Empty, Limited};
use hyper_util::client::legacy::Client as HttpClient;
use hyper_util::client::legacy::connect::{Connect, HttpConnector};
use hyper_util::rt::TokioExecutor;

use crate::app::Application;
use crate::config::{Config, StoreConfig, UrlMode};
use crate::error::AppError;
use crate::storage::{self, upload::ObjectSpec};

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
    /// Delete every object of the configured bucket (and with --delete-bucket the bucket itself), after
    /// confirmation.
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
    /// Add a lifecycle rule that aborts incomplete multipart uploads after 1 day (existing rules are kept).
    #[arg(long)]
    pub add_lifecycle_rule: bool,
}

impl Default for CheckArgs {
    fn default() -> Self {
        Self {
            abort_incomplete: false,
            older_than_mins: 60,
            add_lifecycle_rule: false,
        }
    }
}

/// Options of `clean`.
#[derive(Debug, Clone, Default, Args)]
pub struct CleanArgs {
    /// Also delete the bucket once it is empty.
    #[arg(long)]
    pub delete_bucket: bool,
    /// Confirm without asking, for scripts: must be the configured bucket's name.
    #[arg(long, value_name = "BUCKET")]
    pub yes: Option<String>,
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
}

/// A failed step's explanation: what happened, and what to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnosis {
    pub detail: String,
    pub hint: String,
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

/// The store the server would use, built the way the server builds it.
struct Target {
    app: Application,
    config: Config,
}

impl Target {
    /// [`Application::build`] on a loopback port of its own: starts the embedded store (and creates its
    /// bucket) when no bucket is configured; builds the server's S3 client and URL builder either way.
    async fn open(config: &Config) -> Result<Self, Diagnosis> {
        let mut own = config.clone();
        own.host = std::net::Ipv4Addr::LOCALHOST.into();
        own.port = 0;
        match Application::build(own).await {
            Ok(app) => Ok(Self {
                app,
                config: config.clone(),
            }),
            Err(err) => Err(Diagnosis {
                detail: format!("{err:#}"),
                hint: match &config.store {
                    StoreConfig::Embedded(embedded) => format!(
                        "is the server already running on {}? Stop it first, or run with \
                         EMBEDDED_S3_ADDR=127.0.0.1:0 to start a store of its own on the same folder",
                        embedded.addr
                    ),
                    StoreConfig::Remote(_) => "check the settings named above".to_owned(),
                },
            }),
        }
    }

    fn client(&self) -> &Client {
        self.app.state().uploader.client()
    }

    fn bucket(&self) -> &str {
        self.config.bucket()
    }

    /// `uploads on the embedded store at http://127.0.0.1:9400 (data in ./data)`, or the remote equivalent.
    fn describe(&self) -> String {
        let bucket = self.bucket();
        match &self.config.store {
            StoreConfig::Embedded(embedded) => format!(
                "bucket `{bucket}` on the embedded store at {} (files in `{}`, region {})",
                self.app.store().endpoint().unwrap_or_default(),
                embedded.data_dir.display(),
                embedded.region
            ),
            StoreConfig::Remote(remote) => format!(
                "bucket `{bucket}` on {} (region {}, {})",
                remote.endpoint.as_deref().unwrap_or("AWS S3"),
                remote.region,
                if remote.credentials.is_some() {
                    "keys from the environment"
                } else {
                    "the AWS default credential chain"
                }
            ),
        }
    }

    fn context(&self) -> Context<'_> {
        let (region, endpoint) = match &self.config.store {
            StoreConfig::Embedded(embedded) => (embedded.region.as_str(), None),
            StoreConfig::Remote(remote) => (remote.region.as_str(), remote.endpoint.as_deref()),
        };
        Context {
            bucket: self.bucket(),
            region,
            endpoint,
            embedded: matches!(self.config.store, StoreConfig::Embedded(_)),
            public_base_url: self.config.public_base_url.as_deref(),
            presigned: matches!(self.config.url_mode, UrlMode::Presigned { .. }),
        }
    }
}

/// What a diagnosis needs to know about the set-up.
#[derive(Clone, Copy, Debug)]
pub struct Context<'a> {
    pub bucket: &'a str,
    pub region: &'a str,
    /// `AWS_ENDPOINT_URL`, when not AWS.
    pub endpoint: Option<&'a str>,
    pub embedded: bool,
    pub public_base_url: Option<&'a str>,
    /// `URL_MODE=presigned`: returned URLs are presigned, the bucket may stay private.
    pub presigned: bool,
}

/// `check`: prints one line per step and returns them all. Only a broken writer is an `Err`.
pub async fn check(
    config: Config,
    args: &CheckArgs,
    out: &mut dyn Write,
) -> anyhow::Result<Report> {
    let mut p = Printer {
        out,
        report: Report::default(),
    };
    let target = match Target::open(&config).await {
        Ok(target) => target,
        Err(diagnosis) => {
            p.failed(steps::STORE, diagnosis)?;
            return Ok(p.report);
        }
    };
    p.line(format_args!("Checking {}", target.describe()))?;
    if target.context().embedded {
        p.step(
            steps::STORE,
            Status::Pass,
            "the embedded store started and its bucket exists",
            None,
        )?;
    }

    // 1. Keys, region and bucket: HeadBucket is the cheapest signed request that proves all three.
    let head = timed(target.client().head_bucket().bucket(target.bucket()).send()).await;
    match head {
        Ok(Ok(_)) => p.step(
            steps::BUCKET,
            Status::Pass,
            "the keys are valid and the bucket answers in this region (HeadBucket)",
            None,
        )?,
        Ok(Err(err)) => {
            p.failed(
                steps::BUCKET,
                diagnose_sdk("HeadBucket", err, target.context()),
            )?;
            return skip_rest(p);
        }
        Err(timeout) => {
            p.failed(steps::BUCKET, timeout.diagnosis(target.context()))?;
            return skip_rest(p);
        }
    }

    // 2. A test object, stored the way the server stores uploads (its ACL, storage class, encryption options).
    let key = format!(
        "{}{CHECK_PREFIX}{}.txt",
        config.upload.key_prefix,
        uuid::Uuid::new_v4().simple()
    );
    let content = Bytes::from(format!(
        "s3-upload-server check: this object is removed right after the check ({key})\n"
    ));
    match timed(put_test_object(&target, &key, content.clone())).await {
        Ok(Ok(())) => p.step(
            steps::UPLOAD,
            Status::Pass,
            format!("stored `{key}` ({} bytes)", content.len()),
            None,
        )?,
        Ok(Err(err)) => {
            let diagnosis = diagnose_app_error(&err, "PutObject", target.context());
            p.failed(steps::UPLOAD, diagnosis)?;
            // A failed PutObject stores nothing; the multipart checks still make sense.
            p.step(
                steps::PUBLIC_URL,
                Status::Skipped,
                "not checked: no test object",
                None,
            )?;
            multipart_steps(&mut p, &target, args).await?;
            return Ok(p.report);
        }
        Err(timeout) => {
            p.failed(steps::UPLOAD, timeout.diagnosis(target.context()))?;
            // The object may have been written after all: remove it.
            remove_test_object(&mut p, &target, &key).await?;
            multipart_steps(&mut p, &target, args).await?;
            return Ok(p.report);
        }
    }

    // 3. The URL the server hands out (`location`: public or presigned, built as the server builds it) must open
    // with no other credentials, as in a browser. The object is removed afterwards whatever this step found.
    let url = match target.config.url_mode {
        UrlMode::Public => Ok(target.app.state().urls.url(&key)),
        UrlMode::Presigned { ttl } => {
            storage::presigned_get(target.client(), target.bucket(), &key, ttl).await
        }
    };
    let outcome = match url {
        Ok(url) => match anonymous_get(&url).await {
            Ok(answer) => match diagnose_anonymous_get(&url, &answer, &content, target.context()) {
                None => Ok(url),
                Some(diagnosis) => Err(diagnosis),
            },
            Err(err) => Err(unreachable_url(&url, &err, target.context())),
        },
        Err(err) => Err(diagnose_app_error(
            &err,
            "presign GetObject",
            target.context(),
        )),
    };
    match outcome {
        Ok(url) => p.step(
            steps::PUBLIC_URL,
            Status::Pass,
            format!("{url} answers an anonymous GET with the test object"),
            None,
        )?,
        Err(mut diagnosis) => {
            if !target.context().presigned
                && let Some(cause) = explain_forbidden(&target).await
            {
                diagnosis.detail = format!("{}; {cause}", diagnosis.detail);
            }
            p.failed(steps::PUBLIC_URL, diagnosis)?;
        }
    }

    // 4. Always remove the test object.
    remove_test_object(&mut p, &target, &key).await?;

    // 5. Incomplete multipart uploads, and the lifecycle rule that cleans them up.
    multipart_steps(&mut p, &target, args).await?;
    Ok(p.report)
}

fn unreachable_url(url: &str, err: &str, cx: Context<'_>) -> Diagnosis {
    Diagnosis {
        detail: format!("GET {url} failed: {err}"),
        hint: match cx.public_base_url {
            Some(base) => format!("check PUBLIC_BASE_URL ({base}): browsers must reach it"),
            None => "the store's URL must be reachable by the clients that open returned URLs"
                .to_owned(),
        },
    }
}

fn skip_rest(mut p: Printer<'_>) -> anyhow::Result<Report> {
    for name in [
        steps::UPLOAD,
        steps::PUBLIC_URL,
        steps::MULTIPART,
        steps::LIFECYCLE,
    ] {
        p.step(
            name,
            Status::Skipped,
            "not checked: the bucket does not answer",
            None,
        )?;
    }
    Ok(p.report)
}

/// Stores `content` at `key` through the server's own uploader.
async fn put_test_object(target: &Target, key: &str, content: Bytes) -> Result<(), AppError> {
    let uploader = &target.app.state().uploader;
    let length = content.len() as u64;
    let mut reader = uploader.reader(
        futures_util::stream::iter([Ok::<_, AppError>(content)]),
        Some(length),
        &uploader.in_flight(),
    );
    let first = reader.next_part().await?;
    let spec = ObjectSpec {
        key: key.to_owned(),
        content_type: "text/plain; charset=utf-8".to_owned(),
        content_disposition: "inline".to_owned(),
    };
    uploader.upload(&spec, first, &mut reader).await.map(drop)
}

async fn remove_test_object(
    p: &mut Printer<'_>,
    target: &Target,
    key: &str,
) -> std::io::Result<()> {
    let deleted = timed(
        target
            .client()
            .delete_object()
            .bucket(target.bucket())
            .key(key)
            .send(),
    )
    .await;
    let failure = match deleted {
        Ok(Ok(_)) => None,
        Ok(Err(err)) => Some(diagnose_sdk("DeleteObject", err, target.context())),
        Err(timeout) => Some(timeout.diagnosis(target.context())),
    };
    match failure {
        None => p.step(
            steps::REMOVE,
            Status::Pass,
            format!("deleted `{key}`"),
            None,
        ),
        Some(mut diagnosis) => {
            diagnosis.hint = format!("{}\nthen delete `{key}` by hand", diagnosis.hint);
            p.failed(steps::REMOVE, diagnosis)
        }
    }
}

async fn multipart_steps(
    p: &mut Printer<'_>,
    target: &Target,
    args: &CheckArgs,
) -> std::io::Result<()> {
    match list_incomplete_uploads(target).await {
        Listing::Unsupported => p.step(
            steps::MULTIPART,
            Status::Unsupported,
            "not supported by this store (ListMultipartUploads)",
            None,
        )?,
        Listing::Failed(diagnosis) => p.step(
            steps::MULTIPART,
            Status::Warn,
            format!("cannot list them: {}", diagnosis.detail),
            Some(diagnosis.hint),
        )?,
        Listing::Found(uploads) if uploads.is_empty() => {
            p.step(steps::MULTIPART, Status::Pass, "none", None)?;
        }
        Listing::Found(uploads) => {
            let now = SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            let min_age = args.older_than_mins.saturating_mul(60);
            let old_enough = |u: &Incomplete| {
                u.initiated_secs
                    .is_some_and(|t| now.saturating_sub(u64::try_from(t).unwrap_or(0)) >= min_age)
            };
            let mut lines = vec!["key  upload id  initiated".to_owned()];
            lines.extend(
                uploads
                    .iter()
                    .map(|u| format!("{}  {}  {}", u.key, u.upload_id, u.initiated)),
            );
            if args.abort_incomplete {
                let chosen: Vec<&Incomplete> = uploads.iter().filter(|u| old_enough(u)).collect();
                let (aborted, failures) = abort_uploads(target, &chosen).await;
                let kept = uploads.len() - chosen.len();
                let detail = format!(
                    "{} found, {aborted} aborted{}",
                    uploads.len(),
                    if kept > 0 {
                        format!(
                            ", {kept} younger than {} minutes left alone",
                            args.older_than_mins
                        )
                    } else {
                        String::new()
                    }
                );
                match failures.into_iter().next() {
                    None => p.step(
                        steps::MULTIPART,
                        Status::Pass,
                        detail,
                        Some(lines.join("\n")),
                    )?,
                    Some(diagnosis) => p.step(
                        steps::MULTIPART,
                        Status::Fail,
                        format!("{detail}; aborting failed: {}", diagnosis.detail),
                        Some(format!("{}\n{}", lines.join("\n"), diagnosis.hint)),
                    )?,
                }
            } else {
                lines.push(format!(
                    "their parts are billed until aborted: `check --abort-incomplete` aborts those older than \
                     {} minutes; `check --add-lifecycle-rule` makes S3 do it after 1 day",
                    args.older_than_mins
                ));
                p.step(
                    steps::MULTIPART,
                    Status::Warn,
                    format!("{} found", uploads.len()),
                    Some(lines.join("\n")),
                )?;
            }
        }
    }
    lifecycle_step(p, target, args.add_lifecycle_rule).await
}

/// An open multipart upload.
#[derive(Clone, Debug)]
struct Incomplete {
    key: String,
    upload_id: String,
    initiated: String,
    initiated_secs: Option<i64>,
}

enum Listing {
    Found(Vec<Incomplete>),
    Unsupported,
    Failed(Diagnosis),
}

async fn list_incomplete_uploads(target: &Target) -> Listing {
    let mut uploads = Vec::new();
    let (mut key_marker, mut upload_id_marker) = (None::<String>, None::<String>);
    loop {
        let page = timed(
            target
                .client()
                .list_multipart_uploads()
                .bucket(target.bucket())
                .set_key_marker(key_marker.take())
                .set_upload_id_marker(upload_id_marker.take())
                .send(),
        )
        .await;
        let page = match page {
            Ok(Ok(page)) => page,
            Ok(Err(err)) if is_unsupported(&err) => return Listing::Unsupported,
            Ok(Err(err)) => {
                let mut diagnosis = diagnose_sdk("ListMultipartUploads", err, target.context());
                diagnosis.hint = format!(
                    "{}\n(listing them needs s3:ListBucketMultipartUploads; a lifecycle rule aborts them anyway)",
                    diagnosis.hint
                );
                return Listing::Failed(diagnosis);
            }
            Err(timeout) => return Listing::Failed(timeout.diagnosis(target.context())),
        };
        uploads.extend(page.uploads().iter().map(|u| {
            Incomplete {
                key: u.key().unwrap_or_default().to_owned(),
                upload_id: u.upload_id().unwrap_or_default().to_owned(),
                initiated: u
                    .initiated()
                    .and_then(|t| t.fmt(aws_smithy_types::date_time::Format::DateTime).ok())
                    .unwrap_or_else(|| "unknown".to_owned()),
                initiated_secs: u.initiated().map(|t| t.secs()),
            }
        }));
        if page.is_truncated() != Some(true) {
            return Listing::Found(uploads);
        }
        key_marker = page.next_key_marker().map(str::to_owned);
        upload_id_marker = page.next_upload_id_marker().map(str::to_owned);
        if key_marker.is_none() && upload_id_marker.is_none() {
            return Listing::Found(uploads);
        }
    }
}

/// Aborts `uploads`; returns how many were aborted and why the others were not.
async fn abort_uploads(target: &Target, uploads: &[&Incomplete]) -> (usize, Vec<Diagnosis>) {
    let mut aborted = 0;
    let mut failures = Vec::new();
    for upload in uploads {
        let result = timed(
            target
                .client()
                .abort_multipart_upload()
                .bucket(target.bucket())
                .key(&upload.key)
                .upload_id(&upload.upload_id)
                .send(),
        )
        .await;
        match result {
            Ok(Ok(_)) => aborted += 1,
            // Already gone (completed or aborted meanwhile): nothing left to do.
            Ok(Err(err)) if err.code() == Some("NoSuchUpload") => aborted += 1,
            Ok(Err(err)) => {
                failures.push(diagnose_sdk("AbortMultipartUpload", err, target.context()))
            }
            Err(timeout) => failures.push(timeout.diagnosis(target.context())),
        }
    }
    (aborted, failures)
}

async fn lifecycle_step(p: &mut Printer<'_>, target: &Target, add: bool) -> std::io::Result<()> {
    let current = timed(
        target
            .client()
            .get_bucket_lifecycle_configuration()
            .bucket(target.bucket())
            .send(),
    )
    .await;
    let (rules, min_size) = match current {
        Ok(Ok(output)) => (
            output.rules().to_vec(),
            output.transition_default_minimum_object_size().cloned(),
        ),
        Ok(Err(err)) if err.code() == Some("NoSuchLifecycleConfiguration") => (Vec::new(), None),
        Ok(Err(err)) if is_unsupported(&err) => {
            return p.step(
                steps::LIFECYCLE,
                Status::Unsupported,
                "not supported by this store (bucket lifecycle configuration)",
                None,
            );
        }
        Ok(Err(err)) => {
            let diagnosis = diagnose_sdk("GetBucketLifecycleConfiguration", err, target.context());
            return p.step(
                steps::LIFECYCLE,
                Status::Warn,
                format!("cannot read the lifecycle rules: {}", diagnosis.detail),
                Some(diagnosis.hint),
            );
        }
        Err(timeout) => return p.failed(steps::LIFECYCLE, timeout.diagnosis(target.context())),
    };
    if let Some((id, days)) = rules.iter().find_map(abort_days) {
        return p.step(
            steps::LIFECYCLE,
            Status::Pass,
            format!("rule `{id}` aborts incomplete multipart uploads after {days} day(s)"),
            None,
        );
    }
    if !add {
        return p.step(
            steps::LIFECYCLE,
            Status::Warn,
            "no rule aborts incomplete multipart uploads",
            Some(
                "`check --add-lifecycle-rule` adds one (after 1 day), keeping the bucket's other rules"
                    .to_owned(),
            ),
        );
    }
    let kept = rules.len();
    let put = match merged_lifecycle(rules) {
        Ok(configuration) => {
            timed(
                target
                    .client()
                    .put_bucket_lifecycle_configuration()
                    .bucket(target.bucket())
                    .lifecycle_configuration(configuration)
                    .set_transition_default_minimum_object_size(min_size)
                    .send(),
            )
            .await
        }
        Err(err) => {
            return p.failed(
                steps::LIFECYCLE,
                Diagnosis {
                    detail: format!("cannot build the rule: {err}"),
                    hint: "this is a bug; please report it".to_owned(),
                },
            );
        }
    };
    match put {
        Ok(Ok(_)) => p.step(
            steps::LIFECYCLE,
            Status::Pass,
            format!(
                "added rule `{LIFECYCLE_RULE_ID}`: incomplete multipart uploads are aborted after 1 day \
                 ({kept} existing rule(s) kept)"
            ),
            None,
        ),
        Ok(Err(err)) if is_unsupported(&err) => p.step(
            steps::LIFECYCLE,
            Status::Unsupported,
            "not supported by this store (bucket lifecycle configuration)",
            None,
        ),
        Ok(Err(err)) => p.failed(
            steps::LIFECYCLE,
            diagnose_sdk("PutBucketLifecycleConfiguration", err, target.context()),
        ),
        Err(timeout) => p.failed(steps::LIFECYCLE, timeout.diagnosis(target.context())),
    }
}

/// The id and days of an enabled rule that aborts incomplete multipart uploads.
fn abort_days(rule: &LifecycleRule) -> Option<(String, i32)> {
    if rule.status() != &ExpirationStatus::Enabled {
        return None;
    }
    let days = rule
        .abort_incomplete_multipart_upload()?
        .days_after_initiation()?;
    Some((rule.id().unwrap_or("(no id)").to_owned(), days))
}

/// The bucket's rules plus one that aborts incomplete multipart uploads after a day, bucket-wide.
pub fn merged_lifecycle(
    mut rules: Vec<LifecycleRule>,
) -> Result<BucketLifecycleConfiguration, aws_smithy_types::error::operation::BuildError> {
    rules.push(
        LifecycleRule::builder()
            .id(LIFECYCLE_RULE_ID)
            .status(ExpirationStatus::Enabled)
            .filter(LifecycleRuleFilter::builder().prefix("").build())
            .abort_incomplete_multipart_upload(
                AbortIncompleteMultipartUpload::builder()
                    .days_after_initiation(1)
                    .build(),
            )
            .build()?,
    );
    BucketLifecycleConfiguration::builder()
        .set_rules(Some(rules))
        .build()
}

/// `clean`: shows what would be deleted, asks for the bucket's name (or takes `--yes <bucket>`), then deletes
/// every object, aborts incomplete multipart uploads and, with `--delete-bucket`, deletes the bucket. Returns
/// whether everything asked for was done; only a broken writer is an `Err`.
pub async fn clean(
    config: Config,
    args: &CleanArgs,
    input: &mut dyn BufRead,
    out: &mut dyn Write,
) -> anyhow::Result<bool> {
    let mut p = Printer {
        out,
        report: Report::default(),
    };
    let target = match Target::open(&config).await {
        Ok(target) => target,
        Err(diagnosis) => {
            p.failed(steps::STORE, diagnosis)?;
            return Ok(false);
        }
    };
    let bucket = target.bucket().to_owned();
    match timed(target.client().head_bucket().bucket(&bucket).send()).await {
        Ok(Ok(_)) => {}
        Ok(Err(err)) => {
            p.failed(
                steps::BUCKET,
                diagnose_sdk("HeadBucket", err, target.context()),
            )?;
            return Ok(false);
        }
        Err(timeout) => {
            p.failed(steps::BUCKET, timeout.diagnosis(target.context()))?;
            return Ok(false);
        }
    }
    let (count, bytes) = match count_objects(&target).await {
        Ok(counted) => counted,
        Err(diagnosis) => {
            p.failed("list objects", diagnosis)?;
            return Ok(false);
        }
    };
    let incomplete = list_incomplete_uploads(&target).await;

    p.line(format_args!("Bucket:  {bucket}"))?;
    p.line(format_args!("Where:   {}", target.describe()))?;
    p.line(format_args!("Objects: {count} ({bytes} bytes)"))?;
    p.line(format_args!(
        "Incomplete multipart uploads: {}",
        match &incomplete {
            Listing::Found(uploads) => uploads.len().to_string(),
            Listing::Unsupported => "not supported by this store".to_owned(),
            Listing::Failed(diagnosis) => format!("cannot list ({})", diagnosis.detail),
        }
    ))?;
    p.line(format_args!(
        "This deletes every object in `{bucket}`{}. It cannot be undone.",
        if args.delete_bucket {
            ", then the bucket itself"
        } else {
            ""
        }
    ))?;

    let answer = match &args.yes {
        Some(name) => name.clone(),
        None => {
            write!(p.out, "Type the bucket name to confirm: ")?;
            p.out.flush()?;
            let mut line = String::new();
            if input.read_line(&mut line)? == 0 {
                p.line("✗ no confirmation (no input): nothing was deleted; scripts pass --yes <bucket>")?;
                return Ok(false);
            }
            line.trim().to_owned()
        }
    };
    if answer != bucket {
        p.line(format_args!(
            "✗ not confirmed: `{answer}` is not the configured bucket `{bucket}`; nothing was deleted"
        ))?;
        return Ok(false);
    }

    let mut ok = true;
    match empty_bucket(&target).await {
        Ok(deleted) => p.step(
            "objects deleted",
            Status::Pass,
            format!("{deleted} object(s) deleted"),
            None,
        )?,
        Err((deleted, diagnosis)) => {
            ok = false;
            p.step(
                "objects deleted",
                Status::Fail,
                format!("{deleted} object(s) deleted, then: {}", diagnosis.detail),
                Some(diagnosis.hint),
            )?;
        }
    }
    match incomplete {
        Listing::Found(uploads) => {
            let all: Vec<&Incomplete> = uploads.iter().collect();
            let (aborted, failures) = abort_uploads(&target, &all).await;
            match failures.into_iter().next() {
                None => p.step(
                    steps::MULTIPART,
                    Status::Pass,
                    format!("{aborted} aborted"),
                    None,
                )?,
                Some(diagnosis) => {
                    ok = false;
                    p.failed(steps::MULTIPART, diagnosis)?;
                }
            }
        }
        Listing::Unsupported => p.step(
            steps::MULTIPART,
            Status::Unsupported,
            "not supported by this store",
            None,
        )?,
        Listing::Failed(diagnosis) => {
            ok = false;
            p.failed(steps::MULTIPART, diagnosis)?;
        }
    }
    if args.delete_bucket {
        if !ok {
            p.step(
                "bucket deleted",
                Status::Skipped,
                "not deleted: the bucket could not be emptied",
                None,
            )?;
            return Ok(false);
        }
        match timed(target.client().delete_bucket().bucket(&bucket).send()).await {
            Ok(Ok(_)) => p.step(
                "bucket deleted",
                Status::Pass,
                format!("`{bucket}` deleted"),
                None,
            )?,
            Ok(Err(err)) => {
                ok = false;
                let not_empty = err.code() == Some("BucketNotEmpty");
                let mut diagnosis = diagnose_sdk("DeleteBucket", err, target.context());
                if not_empty {
                    diagnosis.hint = "objects remain: a versioned bucket keeps old versions of deleted objects; \
                                      empty it in the S3 console (Empty), then run clean again"
                        .to_owned();
                }
                p.failed("bucket deleted", diagnosis)?;
            }
            Err(timeout) => {
                ok = false;
                p.failed("bucket deleted", timeout.diagnosis(target.context()))?;
            }
        }
    }
    Ok(ok)
}

async fn count_objects(target: &Target) -> Result<(u64, u64), Diagnosis> {
    let (mut count, mut bytes) = (0u64, 0u64);
    let mut token = None;
    loop {
        let page = timed(
            target
                .client()
                .list_objects_v2()
                .bucket(target.bucket())
                .set_continuation_token(token.take())
                .send(),
        )
        .await;
        let page = match page {
            Ok(Ok(page)) => page,
            Ok(Err(err)) => return Err(diagnose_sdk("ListObjectsV2", err, target.context())),
            Err(timeout) => return Err(timeout.diagnosis(target.context())),
        };
        for object in page.contents() {
            count += 1;
            bytes += object.size().map_or(0, |s| u64::try_from(s).unwrap_or(0));
        }
        token = page.next_continuation_token().map(str::to_owned);
        if page.is_truncated() != Some(true) || token.is_none() {
            return Ok((count, bytes));
        }
    }
}

/// Deletes every object, 1,000 (one listing page, one DeleteObjects) at a time. On failure, returns how many
/// were deleted before it.
async fn empty_bucket(target: &Target) -> Result<u64, (u64, Diagnosis)> {
    let mut deleted = 0u64;
    let mut token = None;
    loop {
        let page = timed(
            target
                .client()
                .list_objects_v2()
                .bucket(target.bucket())
                .max_keys(1000)
                .set_continuation_token(token.take())
                .send(),
        )
        .await;
        let page = match page {
            Ok(Ok(page)) => page,
            Ok(Err(err)) => {
                return Err((
                    deleted,
                    diagnose_sdk("ListObjectsV2", err, target.context()),
                ));
            }
            Err(timeout) => return Err((deleted, timeout.diagnosis(target.context()))),
        };
        let objects: Vec<ObjectIdentifier> = page
            .contents()
            .iter()
            .filter_map(|o| o.key())
            .filter_map(|key| ObjectIdentifier::builder().key(key).build().ok())
            .collect();
        if !objects.is_empty() {
            let batch = objects.len() as u64;
            let delete = Delete::builder()
                .set_objects(Some(objects))
                .quiet(true)
                .build()
                .map_err(|err| {
                    (
                        deleted,
                        Diagnosis {
                            detail: format!("cannot build DeleteObjects: {err}"),
                            hint: "this is a bug; please report it".to_owned(),
                        },
                    )
                })?;
            let result = timed(
                target
                    .client()
                    .delete_objects()
                    .bucket(target.bucket())
                    .delete(delete)
                    .send(),
            )
            .await;
            match result {
                Ok(Ok(output)) => {
                    let errors = output.errors();
                    deleted += batch - errors.len() as u64;
                    if let Some(first) = errors.first() {
                        let error = AppError::StoreRejected {
                            operation: "DeleteObjects",
                            code: first.code().unwrap_or("Unknown").to_owned(),
                            detail: first.message().unwrap_or_default().to_owned(),
                        };
                        let mut diagnosis =
                            diagnose_app_error(&error, "DeleteObjects", target.context());
                        diagnosis.detail = format!(
                            "{} object(s) not deleted, e.g. `{}`: {}",
                            errors.len(),
                            first.key().unwrap_or_default(),
                            diagnosis.detail
                        );
                        return Err((deleted, diagnosis));
                    }
                }
                Ok(Err(err)) => {
                    return Err((
                        deleted,
                        diagnose_sdk("DeleteObjects", err, target.context()),
                    ));
                }
                Err(timeout) => return Err((deleted, timeout.diagnosis(target.context()))),
            }
        }
        token = page.next_continuation_token().map(str::to_owned);
        if page.is_truncated() != Some(true) || token.is_none() {
            return Ok(deleted);
        }
    }
}

/// A step that took longer than [`STEP_TIMEOUT`].
struct TimedOut;

impl TimedOut {
    fn diagnosis(&self, cx: Context<'_>) -> Diagnosis {
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

/// The store does not implement the call (s3s-fs answers 501 NotImplemented).
fn is_unsupported<E: ProvideErrorMetadata>(err: &SdkError<E>) -> bool {
    err.code() == Some("NotImplemented")
        || err
            .raw_response()
            .is_some_and(|r| r.status().as_u16() == 501)
}

/// Explains an aws-sdk-s3 failure: the store's answer (status, `x-amz-bucket-region`) refines the code
/// [`AppError::from_sdk`] gives it.
pub fn diagnose_sdk<E>(operation: &'static str, err: SdkError<E>, cx: Context<'_>) -> Diagnosis
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let status = err.raw_response().map(|r| r.status().as_u16());
    let bucket_region = err
        .raw_response()
        .and_then(|r| r.headers().get("x-amz-bucket-region"))
        .map(str::to_owned);
    if let Some(region) = bucket_region.filter(|r| r != cx.region) {
        // S3 answers 301 (or 400 / 403 for some requests) when the region is wrong, and names the right one.
        return Diagnosis {
            detail: format!(
                "the bucket `{}` is in region {region}, not {} ({operation} answered {})",
                cx.bucket,
                cx.region,
                status.map_or_else(|| "an error".to_owned(), |s| s.to_string())
            ),
            hint: format!("set AWS_REGION={region}"),
        };
    }
    let error = AppError::from_sdk(operation, err);
    let mut diagnosis = diagnose_app_error(&error, operation, cx);
    match status {
        Some(301) => {
            diagnosis = Diagnosis {
                detail: format!("{operation} answered 301: the bucket is in another region"),
                hint:
                    "set AWS_REGION to the bucket's region (S3 console → the bucket → Properties)"
                        .to_owned(),
            };
        }
        // HeadBucket answers have no body, so no code: the status says it.
        Some(403) if error.code() == "STORE_ERROR" => {
            diagnosis = diagnose_app_error(
                &AppError::StoreRejected {
                    operation,
                    code: "AccessDenied".to_owned(),
                    detail: "403 Forbidden".to_owned(),
                },
                operation,
                cx,
            );
        }
        Some(404) if error.code() == "STORE_ERROR" && operation == "HeadBucket" => {
            diagnosis = diagnose_app_error(
                &AppError::StoreRejected {
                    operation,
                    code: "NoSuchBucket".to_owned(),
                    detail: "404 Not Found".to_owned(),
                },
                operation,
                cx,
            );
        }
        _ => {}
    }
    diagnosis
}

/// Explains an [`AppError`] from the store with what to change, by its stable code.
pub fn diagnose_app_error(error: &AppError, operation: &'static str, cx: Context<'_>) -> Diagnosis {
    let bucket = cx.bucket;
    match error {
        AppError::StoreRejected { code, detail, .. } => {
            let said = if detail.is_empty() {
                code.clone()
            } else {
                format!("{code}: {detail}")
            };
            let hint = match (error.code(), code.as_str()) {
                (_, "InvalidAccessKeyId") => {
                    "the store does not know this access key: check AWS_ACCESS_KEY (or AWS_ACCESS_KEY_ID) in .env, \
                     and that the key is active (IAM → Users → Security credentials)"
                        .to_owned()
                }
                (_, "SignatureDoesNotMatch") => {
                    "the secret does not match the access key: check AWS_SECRET_ACCESS_KEY in .env (no quotes, no \
                     trailing spaces)"
                        .to_owned()
                }
                ("STORE_ACCESS_DENIED", _) => format!(
                    "check AWS_ACCESS_KEY / AWS_SECRET_ACCESS_KEY (a wrong or inactive key is refused too), and \
                     that the IAM user's policy allows {} on {}",
                    permission(operation),
                    if matches!(operation, "PutObject" | "DeleteObject" | "DeleteObjects" | "AbortMultipartUpload") {
                        format!("arn:aws:s3:::{bucket}/*")
                    } else {
                        format!("arn:aws:s3:::{bucket}")
                    }
                ),
                ("STORE_NO_SUCH_BUCKET", _) => format!(
                    "there is no bucket `{bucket}` {}: check AWS_S3_BUCKET{}, or create the bucket \
                     (README, \"Moving to a real bucket\", step 1)",
                    cx.endpoint.map_or_else(|| format!("in {}", cx.region), |e| format!("at {e}")),
                    if cx.endpoint.is_none() { " and AWS_REGION" } else { " and AWS_ENDPOINT_URL" }
                ),
                ("STORE_ACL_NOT_SUPPORTED", _) => {
                    "the bucket has ACLs disabled (the default since 2023): unset OBJECT_ACL and make objects \
                     public with the bucket policy instead"
                        .to_owned()
                }
                _ => format!("the store refused {operation}; its message above says why"),
            };
            Diagnosis {
                detail: format!("{operation} refused ({said})"),
                hint,
            }
        }
        AppError::StoreUnavailable { detail, .. } => {
            let no_credentials = detail.to_ascii_lowercase().contains("credential");
            Diagnosis {
                detail: format!("{operation} failed: {}", without_debug(detail)),
                hint: if no_credentials {
                    "no credentials: set AWS_ACCESS_KEY and AWS_SECRET_ACCESS_KEY in .env, or run where the AWS \
                     default chain finds some (an EC2 instance role, `aws sso login`, ~/.aws)"
                        .to_owned()
                } else {
                    unreachable_hint(cx)
                },
            }
        }
        other => {
            let detail = match other {
                AppError::Internal(err) => format!("{err:#}"),
                other => other.to_string(),
            };
            let no_credentials = detail.to_ascii_lowercase().contains("credential");
            Diagnosis {
                detail: format!("{operation} failed: {detail}"),
                hint: if no_credentials {
                    "no credentials: set AWS_ACCESS_KEY and AWS_SECRET_ACCESS_KEY in .env, or run where the AWS \
                     default chain finds some (an EC2 instance role, `aws sso login`, ~/.aws)"
                        .to_owned()
                } else {
                    unreachable_hint(cx)
                },
            }
        }
    }
}

/// The SDK's error text ends with the error's `Debug` form in parentheses: a person needs only the rest.
fn without_debug(detail: &str) -> &str {
    let is_debug = |rest: &str| {
        let name_len = rest
            .find(|c: char| !c.is_ascii_alphanumeric())
            .unwrap_or(rest.len());
        rest.starts_with(|c: char| c.is_ascii_uppercase())
            && (rest[name_len..].starts_with('(') || rest[name_len..].starts_with(" {"))
    };
    let cut = detail
        .match_indices(" (")
        .map(|(i, _)| i)
        .find(|&i| detail.ends_with(')') && is_debug(&detail[i + 2..]));
    cut.map_or(detail, |i| &detail[..i])
}

fn unreachable_hint(cx: Context<'_>) -> String {
    match cx.endpoint {
        _ if cx.embedded => {
            "the embedded store did not answer: check that its data folder (EMBEDDED_S3_DATA_DIR) is writable"
                .to_owned()
        }
        Some(endpoint) => format!("cannot reach {endpoint}: check AWS_ENDPOINT_URL and that the store is running"),
        None => format!(
            "cannot reach S3 in {}: check the network (and proxy), and that AWS_REGION names a real region",
            cx.region
        ),
    }
}

/// The IAM action an S3 operation needs.
fn permission(operation: &str) -> &'static str {
    match operation {
        "HeadBucket" | "ListObjectsV2" => "s3:ListBucket",
        "PutObject" | "CreateMultipartUpload" | "UploadPart" | "CompleteMultipartUpload" => {
            "s3:PutObject"
        }
        "DeleteObject" | "DeleteObjects" => "s3:DeleteObject",
        "AbortMultipartUpload" => "s3:AbortMultipartUpload",
        "ListMultipartUploads" => "s3:ListBucketMultipartUploads",
        "GetBucketLifecycleConfiguration" => "s3:GetLifecycleConfiguration",
        "PutBucketLifecycleConfiguration" => "s3:PutLifecycleConfiguration",
        "DeleteBucket" => "s3:DeleteBucket",
        _ => "the action",
    }
}

/// What an anonymous GET of a public URL answered.
#[derive(Clone, Debug)]
pub struct HttpAnswer {
    pub status: u16,
    pub location: Option<String>,
    pub body: Bytes,
}

/// Why an anonymous GET of `url` did not return `expected`, or `None` when it did.
pub fn diagnose_anonymous_get(
    url: &str,
    answer: &HttpAnswer,
    expected: &[u8],
    cx: Context<'_>,
) -> Option<Diagnosis> {
    let status = answer.status;
    match status {
        200 if answer.body.as_ref() == expected => None,
        200 => Some(Diagnosis {
            detail: format!("GET {url} answered 200, but not with the test object"),
            hint: match cx.public_base_url {
                Some(base) => format!("PUBLIC_BASE_URL ({base}) must serve this bucket's objects at <base>/<key>"),
                None => "something between here and the store answers instead of it (a proxy?)".to_owned(),
            },
        }),
        401 | 403 if cx.presigned => Some(Diagnosis {
            detail: format!("the presigned URL {url} answered {status}"),
            hint: format!(
                "the server's keys must allow s3:GetObject on arn:aws:s3:::{}/*, and this machine's clock must \
                 be right (a presigned URL tolerates 15 minutes of skew)",
                cx.bucket
            ),
        }),
        401 | 403 => Some(Diagnosis {
            detail: format!("GET {url} answered {status} to an anonymous reader"),
            hint: format!(
                "the seed's bucket policy is missing, or Block Public Access is on.\n\
                 S3 console → `{bucket}` → Permissions: untick \"Block all public access\", then set this bucket \
                 policy:\n{policy}\n\
                 Or keep the bucket private and have the server return presigned URLs (URL_MODE=presigned).",
                bucket = cx.bucket,
                policy = public_read_policy(cx.bucket)
            ),
        }),
        404 => Some(Diagnosis {
            detail: format!("GET {url} answered 404 for an object just stored"),
            hint: match cx.public_base_url {
                Some(base) => format!(
                    "PUBLIC_BASE_URL ({base}) must map <base>/<key> to the object <key> of `{}`",
                    cx.bucket
                ),
                None => "the URL does not lead to the bucket: check AWS_ENDPOINT_URL and AWS_REGION".to_owned(),
            },
        }),
        301 | 302 | 307 | 308 => Some(Diagnosis {
            detail: format!(
                "GET {url} answered {status}, redirecting to {}",
                answer.location.as_deref().unwrap_or("nowhere")
            ),
            hint: "browsers may follow it, but `<img>` tags and clients often do not: on AWS this means \
                   AWS_REGION is not the bucket's region"
                .to_owned(),
        }),
        _ => Some(Diagnosis {
            detail: format!("GET {url} answered {status}"),
            hint: format!(
                "the URL must answer 200 to anyone: {}",
                String::from_utf8_lossy(&answer.body[..answer.body.len().min(300)])
            ),
        }),
    }
}

/// The seed's public-read bucket policy for `bucket`, pretty-printed.
pub fn public_read_policy(bucket: &str) -> String {
    // Written out rather than serialized, to keep the order people know from the console and the README.
    let resource = serde_json::Value::from(format!("arn:aws:s3:::{bucket}/*"));
    format!(
        r#"{{
  "Version": "2012-10-17",
  "Statement": [{{
    "Sid": "PublicRead", "Effect": "Allow", "Principal": "*",
    "Action": ["s3:GetObject"], "Resource": [{resource}]
  }}]
}}"#
    )
}

/// Looks for the cause of a refused anonymous GET in the bucket's settings, where the keys may read them:
/// Block Public Access switched on, or no bucket policy at all.
async fn explain_forbidden(target: &Target) -> Option<String> {
    if target.context().embedded {
        return None;
    }
    let client = target.client();
    let bucket = target.bucket();
    if let Ok(Ok(output)) = timed(client.get_public_access_block().bucket(bucket).send()).await
        && let Some(block) = output.public_access_block_configuration()
        && (block.block_public_policy() == Some(true)
            || block.restrict_public_buckets() == Some(true))
    {
        return Some(
            "Block Public Access is on for this bucket (BlockPublicPolicy / RestrictPublicBuckets)"
                .to_owned(),
        );
    }
    match timed(client.get_bucket_policy().bucket(bucket).send()).await {
        Ok(Err(err)) if err.code() == Some("NoSuchBucketPolicy") => {
            Some("the bucket has no bucket policy".to_owned())
        }
        Ok(Ok(output)) if !output.policy().unwrap_or_default().contains("s3:GetObject") => {
            Some("the bucket policy does not grant s3:GetObject".to_owned())
        }
        _ => None,
    }
}

/// GETs `url` with no credentials, as a browser would (no redirects followed).
async fn anonymous_get(url: &str) -> Result<HttpAnswer, String> {
    let uri: hyper::Uri = url.parse().map_err(|err| format!("invalid URL: {err}"))?;
    if uri.scheme_str() == Some("https") {
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_native_roots()
            .map_err(|err| {
                format!("no CA certificates on this machine ({err}): install ca-certificates")
            })?
            .https_or_http()
            .enable_http1()
            .build();
        get_with(HttpClient::builder(TokioExecutor::new()).build(https), uri).await
    } else {
        get_with(
            HttpClient::builder(TokioExecutor::new()).build(HttpConnector::new()),
            uri,
        )
        .await
    }
}

async fn get_with<C>(
    client: HttpClient<C, Empty<Bytes>>,
    uri: hyper::Uri,
) -> Result<HttpAnswer, String>
where
    C: Connect + Clone + Send + Sync + 'static,
{
    let request = async {
        let response = client.get(uri).await.map_err(|err| {
            let mut text = err.to_string();
            let mut source = std::error::Error::source(&err);
            while let Some(cause) = source {
                text = format!("{text}: {cause}");
                source = cause.source();
            }
            text
        })?;
        let status = response.status().as_u16();
        let location = response
            .headers()
            .get(hyper::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = Limited::new(response.into_body(), 1024 * 1024)
            .collect()
            .await
            .map_err(|err| format!("reading the answer: {err}"))?
            .to_bytes();
        Ok(HttpAnswer {
            status,
            location,
            body,
        })
    };
    tokio::time::timeout(STEP_TIMEOUT, request)
        .await
        .map_err(|_| format!("no answer within {} seconds", STEP_TIMEOUT.as_secs()))?
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cx() -> Context<'static> {
        Context {
            bucket: "jscode-uploaded-files",
            region: "ap-northeast-2",
            endpoint: None,
            embedded: false,
            public_base_url: None,
            presigned: false,
        }
    }

    fn rejected(code: &str) -> AppError {
        AppError::StoreRejected {
            operation: "PutObject",
            code: code.to_owned(),
            detail: String::new(),
        }
    }

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
        assert!(args.abort_incomplete && args.add_lifecycle_rule);
        assert_eq!(args.older_than_mins, 60);
        let cli =
            Cli::try_parse_from(["s3-upload-server", "clean", "--delete-bucket", "--yes", "b"])
                .unwrap();
        let Some(Command::Clean(args)) = cli.command else {
            panic!("expected clean");
        };
        assert!(args.delete_bucket);
        assert_eq!(args.yes.as_deref(), Some("b"));
        assert!(Cli::try_parse_from(["s3-upload-server", "clean", "--yes"]).is_err());
    }

    #[test]
    fn the_policy_is_the_seeds_for_this_bucket() {
        let policy: serde_json::Value =
            serde_json::from_str(&public_read_policy("jscode-uploaded-files")).unwrap();
        let statement = &policy["Statement"][0];
        assert_eq!(statement["Effect"], "Allow");
        assert_eq!(statement["Principal"], "*");
        assert_eq!(statement["Action"][0], "s3:GetObject");
        assert_eq!(
            statement["Resource"][0],
            "arn:aws:s3:::jscode-uploaded-files/*"
        );
    }

    #[test]
    fn anonymous_get_answers_are_explained() {
        let answer = |status: u16, body: &'static [u8]| HttpAnswer {
            status,
            location: Some("https://elsewhere/".to_owned()),
            body: Bytes::from_static(body),
        };
        assert!(diagnose_anonymous_get("u", &answer(200, b"ok"), b"ok", cx()).is_none());
        let wrong = diagnose_anonymous_get("u", &answer(200, b"other"), b"ok", cx()).unwrap();
        assert!(wrong.detail.contains("not with the test object"));
        let forbidden = diagnose_anonymous_get("u", &answer(403, b""), b"ok", cx()).unwrap();
        assert!(forbidden.hint.contains("\"s3:GetObject\""), "{forbidden:?}");
        assert!(
            forbidden.hint.contains("URL_MODE=presigned"),
            "{forbidden:?}"
        );
        let presigned = Context {
            presigned: true,
            ..cx()
        };
        let refused = diagnose_anonymous_get("u", &answer(403, b""), b"ok", presigned).unwrap();
        assert!(refused.hint.contains("clock"), "{refused:?}");
        let cdn = Context {
            public_base_url: Some("https://cdn.example.com"),
            ..cx()
        };
        let missing = diagnose_anonymous_get("u", &answer(404, b""), b"ok", cdn).unwrap();
        assert!(missing.hint.contains("PUBLIC_BASE_URL"), "{missing:?}");
        let moved = diagnose_anonymous_get("u", &answer(301, b""), b"ok", cx()).unwrap();
        assert!(moved.detail.contains("https://elsewhere/"), "{moved:?}");
    }

    #[test]
    fn store_errors_get_actionable_hints() {
        let hint = |code: &str| diagnose_app_error(&rejected(code), "PutObject", cx()).hint;
        assert!(hint("InvalidAccessKeyId").contains("AWS_ACCESS_KEY"));
        assert!(hint("SignatureDoesNotMatch").contains("AWS_SECRET_ACCESS_KEY"));
        assert!(
            hint("AccessDenied").contains("s3:PutObject on arn:aws:s3:::jscode-uploaded-files/*")
        );
        assert!(hint("NoSuchBucket").contains("AWS_S3_BUCKET"));
        assert!(hint("AccessControlListNotSupported").contains("unset OBJECT_ACL"));
        let unreachable = AppError::StoreUnavailable {
            operation: "HeadBucket",
            detail: "connection refused".to_owned(),
        };
        let local = Context {
            endpoint: Some("http://127.0.0.1:9000"),
            ..cx()
        };
        assert!(
            diagnose_app_error(&unreachable, "HeadBucket", local)
                .hint
                .contains("AWS_ENDPOINT_URL")
        );
    }

    #[test]
    fn sdk_error_text_loses_its_debug_tail() {
        assert_eq!(
            without_debug(
                "dispatch failure: client error (Connect): refused (os error 111) (DispatchFailure(DispatchFailure { x }))"
            ),
            "dispatch failure: client error (Connect): refused (os error 111)"
        );
        assert_eq!(
            without_debug("timeout (os error 1)"),
            "timeout (os error 1)"
        );
    }

    #[test]
    fn the_lifecycle_rule_is_added_to_existing_ones() {
        let existing = LifecycleRule::builder()
            .id("expire-tmp")
            .status(ExpirationStatus::Enabled)
            .filter(LifecycleRuleFilter::builder().prefix("tmp/").build())
            .build()
            .unwrap();
        assert_eq!(abort_days(&existing), None);
        let merged = merged_lifecycle(vec![existing]).unwrap();
        let rules = merged.rules();
        assert_eq!(rules.len(), 2);
        assert_eq!(rules[0].id(), Some("expire-tmp"));
        assert_eq!(
            abort_days(&rules[1]),
            Some((LIFECYCLE_RULE_ID.to_owned(), 1))
        );
    }
}
