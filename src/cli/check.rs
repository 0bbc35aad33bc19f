//! `check`: is the configured bucket set up the way the seed course sets it up, and can the server's own client
//! use it?

use std::fmt::Write as _;
use std::io::Write;
use std::time::SystemTime;

use bytes::Bytes;

use crate::config::{Config, UrlMode};
use crate::lifecycle::Lifecycle;
use crate::storage::upload::{ObjectSpec, UploadError};
use crate::storage::{self};

use super::cors::cors_step;
use super::diagnose::{Diagnosis, diagnose_store_error, diagnose_upload_error};
use super::lifecycle::lifecycle_step;
use super::multipart::{Incomplete, Listing, abort_uploads, list_incomplete_uploads};
use super::public_url::{anonymous_get, diagnose_anonymous_get, explain_forbidden};
use super::resumable::resumable_step;
use super::target::{Setup, Target};
use super::{CHECK_PREFIX, CheckArgs, Printer, Report, Status, steps, timed};

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
    let head = target.client().head_bucket().bucket(target.bucket()).send();
    match target.call("HeadBucket", head).await {
        Ok(_) => p.step(
            steps::BUCKET,
            Status::Pass,
            "the keys are valid and the bucket answers in this region (HeadBucket)",
            None,
        )?,
        Err(diagnosis) => {
            p.failed(steps::BUCKET, diagnosis)?;
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
            let diagnosis = diagnose_upload_error(&err, "PutObject", target.context());
            p.failed(steps::UPLOAD, diagnosis)?;
            // A failed PutObject stores nothing; the multipart checks still make sense.
            p.step(
                steps::PUBLIC_URL,
                Status::Skipped,
                "not checked: no test object",
                None,
            )?;
            multipart_steps(&mut p, &target, args).await?;
            resumable_step(&mut p, &target).await?;
            cors_step(&mut p, &target, args.add_cors.as_deref()).await?;
            return Ok(p.report);
        }
        Err(timeout) => {
            p.failed(steps::UPLOAD, timeout.diagnosis(target.context()))?;
            // The object may have been written after all: remove it.
            remove_test_object(&mut p, &target, &key).await?;
            multipart_steps(&mut p, &target, args).await?;
            resumable_step(&mut p, &target).await?;
            cors_step(&mut p, &target, args.add_cors.as_deref()).await?;
            return Ok(p.report);
        }
    }

    // 3. The URL the server hands out (`location`: public or presigned, built as the server builds it) must open
    // with no other credentials, as in a browser. The object is removed afterwards whatever this step found.
    let url = match target.config.url_mode {
        UrlMode::Public => Ok(target.store().urls().url(&key)),
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
        Err(err) => Err(diagnose_store_error(
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

    // 6. Resumable uploads: how many, and the expired ones the server has not removed yet.
    resumable_step(&mut p, &target).await?;
    cors_step(&mut p, &target, args.add_cors.as_deref()).await?;
    Ok(p.report)
}

fn unreachable_url(url: &str, err: &str, cx: Setup<'_>) -> Diagnosis {
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
        steps::RESUMABLE,
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
async fn put_test_object(target: &Target, key: &str, content: Bytes) -> Result<(), UploadError> {
    let uploader = target
        .store()
        .uploader(&target.config.upload, Lifecycle::new());
    let length = content.len() as u64;
    let mut reader = uploader.reader(
        futures_util::stream::iter([Ok::<_, std::convert::Infallible>(content)]),
        Some(length),
        &uploader.part_slots(),
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
    let delete = target
        .client()
        .delete_object()
        .bucket(target.bucket())
        .key(key)
        .send();
    match target.call("DeleteObject", delete).await.err() {
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
    // Within KEY_PREFIX unless told --all: on a shared bucket, other data's uploads are not ours to abort.
    let prefix = if args.all { "" } else { target.key_prefix() };
    let scope = if prefix.is_empty() {
        String::new()
    } else {
        format!(" under `{prefix}`")
    };
    match list_incomplete_uploads(target, prefix).await {
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
            p.step(steps::MULTIPART, Status::Pass, format!("none{scope}"), None)?;
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
                // A resumable upload's multipart upload is never aborted here, however old: its client may
                // resume it; the server's sweep (or `clean --expired-uploads`) removes it once it expires.
                let live = match super::resumable::live_multipart_ids(target).await {
                    Ok(live) => live,
                    Err(diagnosis) => {
                        let detail = format!(
                            "{} found{scope}, none aborted: the resumable uploads' records cannot be read ({})",
                            uploads.len(),
                            diagnosis.detail
                        );
                        p.step(steps::MULTIPART, Status::Fail, detail, Some(diagnosis.hint))?;
                        return lifecycle_step(p, target, args.add_lifecycle_rule).await;
                    }
                };
                let resumable = |u: &Incomplete| live.contains(&u.upload_id);
                let chosen: Vec<&Incomplete> = uploads
                    .iter()
                    .filter(|u| old_enough(u) && !resumable(u))
                    .collect();
                let (aborted, failures) = abort_uploads(target, &chosen).await;
                let in_progress = uploads.iter().filter(|u| resumable(u)).count();
                let young = uploads.len() - chosen.len() - in_progress;
                let mut detail = format!("{} found{scope}, {aborted} aborted", uploads.len());
                if young > 0 {
                    let _ = write!(
                        detail,
                        ", {young} younger than {} minutes left alone",
                        args.older_than_mins
                    );
                }
                if in_progress > 0 {
                    let _ = write!(
                        detail,
                        ", {in_progress} of resumable uploads in progress left alone"
                    );
                }
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
                    "their parts are billed until aborted: `check --abort-incomplete` aborts those{scope} older \
                     than {} minutes{}; `check --add-lifecycle-rule` makes S3 do it after {} days",
                    args.older_than_mins,
                    if prefix.is_empty() {
                        ""
                    } else {
                        " (with --all, in the whole bucket)"
                    },
                    super::lifecycle::rule_days(target.config.resumable_expiry)
                ));
                p.step(
                    steps::MULTIPART,
                    Status::Warn,
                    format!("{} found{scope}", uploads.len()),
                    Some(lines.join("\n")),
                )?;
            }
        }
    }
    lifecycle_step(p, target, args.add_lifecycle_rule).await
}
