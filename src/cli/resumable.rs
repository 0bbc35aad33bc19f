//! Resumable (tus) uploads in the commands: `check`'s listing of them, `clean --expired-uploads` (the server's
//! sweep pass, run once), and the multipart uploads their records name, aborted before `clean` deletes the
//! records (the embedded store cannot list multipart uploads, so nothing else would find them).

use std::collections::HashSet;
use std::fmt::Write as _;

use crate::config::Config;
use crate::storage::resumable::cas::InfoStore;
use crate::storage::resumable::create::unix_now;
use crate::storage::resumable::info::Info;
use crate::storage::resumable::sweep::is_expired;

use super::diagnose::{Diagnosis, diagnose_store_error};
use super::target::Target;
use super::{Printer, Status, steps};

/// The records of the uploads under `KEY_PREFIX`, read with the commands' client.
fn records(target: &Target) -> InfoStore {
    InfoStore::new(
        target.client().clone(),
        target.bucket(),
        target.key_prefix(),
    )
}

/// `check`'s step: uploads in progress and completed, and one line per expired one (a `!`: the server removes
/// them). Only looks.
pub(super) async fn resumable_step(p: &mut Printer<'_>, target: &Target) -> std::io::Result<()> {
    // What the records' compare-and-swap needs from the store, then the records, then the direct uploads'.
    super::conditional::conditional_step(p, target).await?;
    super::direct::direct_step(p, target).await?;
    let listing = match records(target).list_uploads().await {
        Ok(listing) => listing,
        Err(err) => {
            let diagnosis = diagnose_store_error(&err, "ListObjectsV2", target.context());
            return p.step(
                steps::RESUMABLE,
                Status::Warn,
                diagnosis.detail,
                Some(diagnosis.hint),
            );
        }
    };
    let now = unix_now();
    let expired = listing.expired(now);
    let detail = format!(
        "{} in progress, {} completed (state kept until it expires), {} expired",
        listing.in_progress(now),
        listing.completed(now),
        expired.len()
    );
    if expired.is_empty() && listing.unreadable.is_empty() {
        return p.step(steps::RESUMABLE, Status::Pass, detail, None);
    }
    let mut hint = String::new();
    for info in expired {
        let _ = writeln!(hint, "expired: {}", describe(info, now));
    }
    for (key, reason) in &listing.unreadable {
        let _ = writeln!(hint, "unreadable: `{key}`: {reason}");
    }
    hint.push_str(
        "the server removes expired uploads within 10 min; `clean --expired-uploads` removes them now",
    );
    p.step(steps::RESUMABLE, Status::Warn, detail, Some(hint))
}

/// `clean --expired-uploads`: one sweep pass, as the server runs it, and what it removed.
pub(super) async fn clean_expired(p: &mut Printer<'_>, config: &Config) -> std::io::Result<bool> {
    let target = match Target::open(config).await {
        Ok(target) => target,
        Err(diagnosis) => {
            p.failed(steps::STORE, diagnosis)?;
            return Ok(false);
        }
    };
    p.line(format_args!("Where:   {}", target.describe()))?;
    let swept = match records(&target).sweep(config.resumable_expiry).await {
        Ok(swept) => swept,
        Err(err) => {
            let diagnosis = diagnose_store_error(&err, "ListObjectsV2", target.context());
            p.failed(steps::EXPIRED, diagnosis)?;
            return Ok(false);
        }
    };
    let now = unix_now();
    for info in &swept.removed {
        p.line(format_args!("removed: {}", describe(info, now)))?;
    }
    let detail = format!(
        "{} expired upload(s) removed ({} looked at)",
        swept.removed.len(),
        swept.candidates
    );
    // Then the direct uploads whose URLs have all expired.
    let direct = super::direct::clean_abandoned(p, &target).await?;
    let failed: Vec<(String, String)> = swept
        .failed
        .iter()
        .map(|(id, error)| (id.to_string(), error.clone()))
        .collect();
    Ok(sweep_step(p, steps::EXPIRED, detail, &failed)? && direct)
}

/// A sweep pass's step: a pass when nothing failed, else a failure naming what was not removed and why.
pub(super) fn sweep_step(
    p: &mut Printer<'_>,
    step: &'static str,
    detail: String,
    failed: &[(String, String)],
) -> std::io::Result<bool> {
    if failed.is_empty() {
        p.step(step, Status::Pass, detail, None)?;
        return Ok(true);
    }
    let mut hint = String::new();
    for (what, error) in failed {
        let _ = writeln!(hint, "{what}: {error}");
    }
    hint.push_str("run it again; the server's sweeper also tries again");
    p.step(
        step,
        Status::Fail,
        format!("{detail}, {} not removed", failed.len()),
        Some(hint),
    )?;
    Ok(false)
}

/// Aborts the multipart uploads named by the records under `KEY_PREFIX` (uploads not completed), before `clean`
/// deletes the records; whether all went.
pub(super) async fn abort_recorded_uploads(
    p: &mut Printer<'_>,
    target: &Target,
) -> std::io::Result<bool> {
    let store = records(target);
    let listing = match store.list_uploads().await {
        Ok(listing) => listing,
        Err(err) => {
            let diagnosis = diagnose_store_error(&err, "ListObjectsV2", target.context());
            p.failed(steps::RESUMABLE, diagnosis)?;
            return Ok(false);
        }
    };
    let mut aborted = 0;
    for info in &listing.uploads {
        if info.multipart.is_none() {
            continue;
        }
        if let Err(err) = store.abort_multipart(info).await {
            let mut diagnosis =
                diagnose_store_error(&err, "AbortMultipartUpload", target.context());
            diagnosis.detail = format!("upload {} (`{}`): {}", info.id, info.key, diagnosis.detail);
            p.failed(steps::RESUMABLE, diagnosis)?;
            return Ok(false);
        }
        aborted += 1;
    }
    let detail = format!(
        "{} upload(s) recorded, {aborted} multipart upload(s) of theirs aborted",
        listing.uploads.len()
    );
    if listing.unreadable.is_empty() {
        p.step(steps::RESUMABLE, Status::Pass, detail, None)?;
    } else {
        let keys: Vec<&str> = listing.unreadable.iter().map(|(k, _)| k.as_str()).collect();
        p.step(
            steps::RESUMABLE,
            Status::Warn,
            detail,
            Some(format!(
                "unreadable records (their multipart uploads, if any, are left): {}",
                keys.join(", ")
            )),
        )?;
    }
    Ok(true)
}

/// The multipart upload ids of the resumable uploads not expired yet: `check --abort-incomplete` must leave them,
/// however old (a resumable upload's multipart upload lives as long as its client keeps sending). `Err` when the
/// records cannot be read (then nothing may be aborted: any upload could be one of them).
pub(super) async fn live_multipart_ids(target: &Target) -> Result<HashSet<String>, Diagnosis> {
    let listing = records(target)
        .list_uploads()
        .await
        .map_err(|err| diagnose_store_error(&err, "ListObjectsV2", target.context()))?;
    let now = unix_now();
    Ok(listing
        .uploads
        .iter()
        .filter(|info| !is_expired(info, now))
        .filter_map(|info| info.multipart.as_ref())
        .map(|multipart| multipart.upload_id.clone())
        .collect())
}

/// `<id> '<key>' <offset>/<length> bytes (<state>), last activity <n> ago`, the key in backquotes.
fn describe(info: &Info, now: u64) -> String {
    let length = info
        .length
        .map_or_else(|| "?".to_owned(), |l| l.to_string());
    format!(
        "{} `{}` {}/{length} bytes ({:?}), last activity {} ago",
        info.id,
        info.key,
        info.offset,
        info.state,
        ago(now.saturating_sub(info.updated_at))
    )
}

/// `42 s`, `5 min`, `3 h`, `2 d`.
fn ago(secs: u64) -> String {
    match secs {
        0..120 => format!("{secs} s"),
        120..7_200 => format!("{} min", secs / 60),
        7_200..172_800 => format!("{} h", secs / 3_600),
        _ => format!("{} d", secs / 86_400),
    }
}

#[cfg(test)]
mod tests {
    use super::ago;

    #[test]
    fn last_activity_reads_in_a_fitting_unit() {
        assert_eq!(ago(42), "42 s");
        assert_eq!(ago(300), "5 min");
        assert_eq!(ago(3 * 3_600), "3 h");
        assert_eq!(ago(2 * 86_400), "2 d");
    }
}
