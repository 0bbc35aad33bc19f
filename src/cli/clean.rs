//! `clean`: the course's last step, emptying the bucket (and deleting it) after confirmation.

use std::io::{BufRead, Write};

use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::types::{Delete, ObjectIdentifier};

use crate::config::Config;
use crate::error::AppError;

use super::diagnose::{Diagnosis, diagnose_app_error, diagnose_sdk};
use super::multipart::{Incomplete, Listing, abort_uploads, list_incomplete_uploads};
use super::target::Target;
use super::{CleanArgs, Printer, Report, Status, steps, timed};

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
