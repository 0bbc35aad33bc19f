//! `clean`: the course's last step, emptying the bucket (and deleting it) after confirmation.
//!
//! It stays within `KEY_PREFIX` unless told `--all`: a bucket may hold other data beside the server's objects,
//! and deleting it is not the server's to do. Deleting the bucket itself needs `--all` when a prefix is set, for
//! the same reason.

use std::io::{BufRead, Write};

use aws_sdk_s3::error::ProvideErrorMetadata;

use super::diagnose::diagnose_sdk;
use super::multipart::{Incomplete, Listing, abort_uploads, list_incomplete_uploads};
use super::objects::{count_objects, delete_objects};
use super::resumable::{abort_recorded_uploads, clean_expired};
use super::target::Target;
use super::{CleanArgs, Printer, Report, Status, steps, timed};
use crate::config::Config;

/// `clean`: shows what would be deleted, asks for the bucket's name (or takes `--yes <bucket>`), then deletes
/// every object under `KEY_PREFIX` (the whole bucket with `--all` or no prefix) after aborting the multipart
/// uploads its resumable uploads' records name, aborts the incomplete multipart uploads there and, with `--delete-bucket`, deletes the bucket. Returns whether everything asked for was done;
/// only a broken writer is an `Err`. With `--expired-uploads`, it only runs the server's sweep pass once.
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
    if args.expired_uploads {
        return Ok(clean_expired(&mut p, &config).await?);
    }
    let key_prefix = config.upload.key_prefix.clone();
    let prefix = if args.all { "" } else { key_prefix.as_str() };
    if args.delete_bucket && !prefix.is_empty() {
        // Refused before the store is even opened: nothing is deleted, not even the objects under the prefix.
        p.line(format_args!(
            "✗ --delete-bucket deletes the whole bucket, but KEY_PREFIX is `{prefix}` and clean empties only \
             that prefix: nothing was deleted. Add --all to empty the whole bucket (other data in it included) \
             and delete it, or leave out --delete-bucket to empty only `{prefix}`"
        ))?;
        return Ok(false);
    }
    let target = match Target::open(&config).await {
        Ok(target) => target,
        Err(diagnosis) => {
            p.failed(steps::STORE, diagnosis)?;
            return Ok(false);
        }
    };
    let bucket = target.bucket().to_owned();
    let head = target.client().head_bucket().bucket(&bucket).send();
    if let Err(diagnosis) = target.call("HeadBucket", head).await {
        p.failed(steps::BUCKET, diagnosis)?;
        return Ok(false);
    }
    let (count, bytes) = match count_objects(&target, prefix).await {
        Ok(counted) => counted,
        Err(diagnosis) => {
            p.failed("list objects", diagnosis)?;
            return Ok(false);
        }
    };
    let incomplete = list_incomplete_uploads(&target, prefix).await;

    describe_plan(
        &mut p,
        &target,
        prefix,
        &key_prefix,
        (count, bytes),
        &incomplete,
        args,
    )?;
    if !confirmed(&mut p, args, &bucket, input)? {
        return Ok(false);
    }
    // Before the records go: the embedded store cannot list the multipart uploads they name.
    let aborted = abort_recorded_uploads(&mut p, &target).await?
        & super::direct::abort_recorded_direct(&mut p, &target).await?;
    let emptied = empty(&mut p, &target, prefix, incomplete).await? && aborted;
    if !args.delete_bucket {
        return Ok(emptied);
    }
    if !emptied {
        p.step(
            "bucket deleted",
            Status::Skipped,
            "not deleted: the bucket could not be emptied",
            None,
        )?;
        return Ok(false);
    }
    Ok(delete_bucket(&mut p, &target).await?)
}

/// What `clean` is about to delete, and what it keeps.
fn describe_plan(
    p: &mut Printer<'_>,
    target: &Target,
    prefix: &str,
    key_prefix: &str,
    (count, bytes): (u64, u64),
    incomplete: &Listing,
    args: &CleanArgs,
) -> std::io::Result<()> {
    let bucket = target.bucket();
    p.line(format_args!("Bucket:  {bucket}"))?;
    p.line(format_args!("Where:   {}", target.describe()))?;
    p.line(format_args!(
        "Prefix:  {}",
        describe_prefix(prefix, key_prefix)
    ))?;
    p.line(format_args!("Objects: {count} ({bytes} bytes)"))?;
    p.line(format_args!(
        "Incomplete multipart uploads: {}",
        match incomplete {
            Listing::Found(uploads) => uploads.len().to_string(),
            Listing::Unsupported => "not supported by this store".to_owned(),
            Listing::Failed(diagnosis) => format!("cannot list ({})", diagnosis.detail),
        }
    ))?;
    let what = if prefix.is_empty() {
        format!("every object in `{bucket}` and its incomplete multipart uploads")
    } else {
        format!(
            "every object under `{prefix}` in `{bucket}` and the incomplete multipart uploads there, and \
             nothing outside `{prefix}`"
        )
    };
    let then = if args.delete_bucket {
        ", then the bucket itself"
    } else {
        ""
    };
    p.line(format_args!(
        "This deletes {what}{then}. It cannot be undone."
    ))
}

/// Whether the person (or `--yes`) named the configured bucket.
fn confirmed(
    p: &mut Printer<'_>,
    args: &CleanArgs,
    bucket: &str,
    input: &mut dyn BufRead,
) -> std::io::Result<bool> {
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
    Ok(true)
}

/// Deletes the objects under `prefix` and aborts the incomplete multipart uploads there; whether all went.
async fn empty(
    p: &mut Printer<'_>,
    target: &Target,
    prefix: &str,
    incomplete: Listing,
) -> std::io::Result<bool> {
    let mut ok = true;
    let scope = if prefix.is_empty() {
        String::new()
    } else {
        format!(" under `{prefix}`")
    };
    match delete_objects(target, prefix).await {
        Ok(deleted) => p.step(
            "objects deleted",
            Status::Pass,
            format!("{deleted} object(s) deleted{scope}"),
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
            let (aborted, failures) = abort_uploads(target, &all).await;
            match failures.into_iter().next() {
                None => p.step(
                    steps::MULTIPART,
                    Status::Pass,
                    format!("{aborted} aborted{scope}"),
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
    Ok(ok)
}

/// Deletes the (emptied) bucket itself.
async fn delete_bucket(p: &mut Printer<'_>, target: &Target) -> std::io::Result<bool> {
    let bucket = target.bucket();
    // Matched here rather than through `Target::call`: the store's code tells a versioned bucket apart.
    match timed(target.client().delete_bucket().bucket(bucket).send()).await {
        Ok(Ok(_)) => {
            p.step(
                "bucket deleted",
                Status::Pass,
                format!("`{bucket}` deleted"),
                None,
            )?;
            Ok(true)
        }
        Ok(Err(err)) => {
            let not_empty = err.code() == Some("BucketNotEmpty");
            let mut diagnosis = diagnose_sdk("DeleteBucket", err, target.context());
            if not_empty {
                diagnosis.hint =
                    "objects remain: a versioned bucket keeps old versions of deleted objects; \
                                  empty it in the S3 console (Empty), then run clean again"
                        .to_owned();
            }
            p.failed("bucket deleted", diagnosis)?;
            Ok(false)
        }
        Err(timeout) => {
            p.failed("bucket deleted", timeout.diagnosis(target.context()))?;
            Ok(false)
        }
    }
}

/// The summary's `Prefix:` line: what is being emptied, and what is not.
fn describe_prefix(prefix: &str, key_prefix: &str) -> String {
    match (prefix, key_prefix) {
        ("", "") => "none (KEY_PREFIX is empty): the whole bucket".to_owned(),
        ("", key_prefix) => {
            format!("none (--all): the whole bucket, not only KEY_PREFIX `{key_prefix}`")
        }
        // The server's keys are `<prefix><uuid>/…`; without a `/`, other keys may start with the same letters.
        (prefix, _) if !prefix.ends_with('/') => format!(
            "`{prefix}` (KEY_PREFIX, no trailing `/`): every key that starts with it, `{prefix}-old/…` \
             included; objects outside it are kept (--all cleans the whole bucket)"
        ),
        (prefix, _) => format!(
            "`{prefix}` (KEY_PREFIX): objects outside it are kept (--all cleans the whole bucket)"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_says_what_is_emptied_and_what_is_kept() {
        assert!(describe_prefix("", "").contains("the whole bucket"));
        assert!(describe_prefix("", "uploads/").contains("not only KEY_PREFIX `uploads/`"));
        let scoped = describe_prefix("uploads/", "uploads/");
        assert!(scoped.starts_with("`uploads/` (KEY_PREFIX)"), "{scoped}");
        assert!(scoped.contains("outside it are kept"), "{scoped}");
        // A prefix without `/` also covers keys that merely start with the same letters: say so.
        let loose = describe_prefix("uploads", "uploads");
        assert!(loose.contains("`uploads-old/…` included"), "{loose}");
    }
}
