//! Direct uploads (`/s3`) in the commands: `check` lists them (in progress, abandoned), `clean` aborts the
//! multipart uploads their records name before it deletes the records (the embedded store cannot list multipart
//! uploads), and `clean --expired-uploads` runs the server's pass for abandoned ones.

use std::fmt::Write as _;

use crate::storage::direct::record::DirectRecords;
use crate::storage::resumable::create::unix_now;

use super::diagnose::diagnose_store_error;
use super::target::Target;
use super::{Printer, Status, steps};

fn records(target: &Target) -> DirectRecords {
    DirectRecords::new(
        target.client().clone(),
        target.bucket(),
        target.key_prefix(),
    )
}

/// `check`'s step: direct uploads in progress, and one line per abandoned one (a `!`: the server aborts them).
pub(super) async fn direct_step(p: &mut Printer<'_>, target: &Target) -> std::io::Result<()> {
    let listing = match records(target).list_uploads().await {
        Ok(listing) => listing,
        Err(err) => {
            let diagnosis = diagnose_store_error(&err, "ListObjectsV2", target.context());
            return p.step(
                steps::DIRECT,
                Status::Warn,
                diagnosis.detail,
                Some(diagnosis.hint),
            );
        }
    };
    let now = unix_now();
    let abandoned = listing.expired(now);
    let detail = format!(
        "{} in progress, {} abandoned (every URL expired)",
        listing.uploads.len() - abandoned.len(),
        abandoned.len()
    );
    if abandoned.is_empty() && listing.unreadable.is_empty() {
        return p.step(steps::DIRECT, Status::Pass, detail, None);
    }
    let mut hint = String::new();
    for upload in abandoned {
        let _ = writeln!(
            hint,
            "abandoned: `{}` (upload id {})",
            upload.key, upload.upload_id
        );
    }
    for key in &listing.unreadable {
        let _ = writeln!(hint, "unreadable record: `{key}`");
    }
    hint.push_str(
        "the server aborts abandoned uploads within DIRECT_URL_TTL_SECS; `clean --expired-uploads` does it now",
    );
    p.step(steps::DIRECT, Status::Warn, detail, Some(hint))
}

/// `clean --expired-uploads`' second pass: abandoned direct uploads aborted; whether all went.
pub(super) async fn clean_abandoned(p: &mut Printer<'_>, target: &Target) -> std::io::Result<bool> {
    let swept = match records(target).sweep(unix_now()).await {
        Ok(swept) => swept,
        Err(err) => {
            let diagnosis = diagnose_store_error(&err, "ListObjectsV2", target.context());
            p.failed(steps::DIRECT, diagnosis)?;
            return Ok(false);
        }
    };
    for upload in &swept.removed {
        p.line(format_args!("aborted: `{}` (direct upload)", upload.key))?;
    }
    let detail = format!("{} abandoned direct upload(s) aborted", swept.removed.len());
    let failed: Vec<(String, String)> = swept
        .failed
        .iter()
        .map(|(key, error)| (format!("`{key}`"), error.clone()))
        .collect();
    super::resumable::sweep_step(p, steps::DIRECT, detail, &failed)
}

/// Aborts every recorded direct upload (in progress or not) before `clean` deletes the records; whether all went.
pub(super) async fn abort_recorded_direct(
    p: &mut Printer<'_>,
    target: &Target,
) -> std::io::Result<bool> {
    let store = records(target);
    let listing = match store.list_uploads().await {
        Ok(listing) => listing,
        Err(err) => {
            let diagnosis = diagnose_store_error(&err, "ListObjectsV2", target.context());
            p.failed(steps::DIRECT, diagnosis)?;
            return Ok(false);
        }
    };
    for upload in &listing.uploads {
        if let Err(err) = store.abort_and_remove(upload).await {
            let mut diagnosis =
                diagnose_store_error(&err, "AbortMultipartUpload", target.context());
            diagnosis.detail = format!("`{}`: {}", upload.key, diagnosis.detail);
            p.failed(steps::DIRECT, diagnosis)?;
            return Ok(false);
        }
    }
    p.step(
        steps::DIRECT,
        Status::Pass,
        format!(
            "{} direct upload(s) recorded and aborted",
            listing.uploads.len()
        ),
        None,
    )?;
    Ok(true)
}
