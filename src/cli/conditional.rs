//! `check`'s probe of conditional writes: resumable uploads keep their state in the bucket and change it only by
//! compare-and-swap (`If-None-Match: *`, `If-Match: <etag>`), and `KEY_STRATEGY=original` stores files with
//! `If-None-Match: *`. A store that ignores the conditions would let two requests both win.

use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;

use super::diagnose::diagnose_sdk;
use super::target::Target;
use super::{CHECK_PREFIX, Printer, Status, steps, timed};

/// What a conditional PutObject came to.
enum Outcome {
    Written(Option<String>),
    /// 412: the condition held the write back.
    Refused,
    Failed(String),
}

/// Writes a probe object with each condition (the object absent, present; the right ETag, a wrong one), then
/// removes it. Only a store that honours all four passes.
pub(super) async fn conditional_step(p: &mut Printer<'_>, target: &Target) -> std::io::Result<()> {
    let key = format!(
        "{}{CHECK_PREFIX}{}.cas",
        target.key_prefix(),
        uuid::Uuid::new_v4().simple()
    );
    let verdict = probe(target, &key).await;
    let removed = timed(
        target
            .client()
            .delete_object()
            .bucket(target.bucket())
            .key(&key)
            .send(),
    )
    .await;
    let removed = match removed {
        Ok(Ok(_)) => String::new(),
        Ok(Err(err)) => format!(
            "; the probe `{key}` was not removed: {}",
            diagnose_sdk("DeleteObject", err, target.context()).detail
        ),
        Err(_) => format!("; the probe `{key}` was not removed (timed out)"),
    };
    match verdict {
        Ok(()) => p.step(
            steps::CONDITIONAL,
            Status::Pass,
            format!("If-None-Match: * and If-Match: <etag> are honoured{removed}"),
            None,
        ),
        Err(detail) => p.step(
            steps::CONDITIONAL,
            Status::Warn,
            format!("{detail}{removed}"),
            Some(
                "resumable uploads (/files) change their state only by conditional writes, and \
                 KEY_STRATEGY=original relies on If-None-Match: *; on this store two racing requests could \
                 both win: use POST /upload only, or a store with conditional writes (AWS S3 has them)"
                    .to_owned(),
            ),
        ),
    }
}

async fn probe(target: &Target, key: &str) -> Result<(), String> {
    let etag = match put(target, key, Some("*"), None).await {
        Outcome::Written(etag) => etag.unwrap_or_default(),
        Outcome::Refused => return Err("a new key was refused with If-None-Match: *".to_owned()),
        Outcome::Failed(detail) => {
            return Err(format!("cannot write with If-None-Match: {detail}"));
        }
    };
    match put(target, key, Some("*"), None).await {
        Outcome::Refused => {}
        Outcome::Written(_) => {
            return Err("If-None-Match: * is ignored: an existing key was overwritten".to_owned());
        }
        Outcome::Failed(detail) => {
            return Err(format!("If-None-Match on an existing key: {detail}"));
        }
    }
    match put(
        target,
        key,
        None,
        Some("\"00000000000000000000000000000000\""),
    )
    .await
    {
        Outcome::Refused => {}
        Outcome::Written(_) => {
            return Err("If-Match is ignored: a write with a wrong ETag went through".to_owned());
        }
        Outcome::Failed(detail) => return Err(format!("If-Match with a wrong ETag: {detail}")),
    }
    match put(target, key, None, Some(&etag)).await {
        Outcome::Written(_) => Ok(()),
        Outcome::Refused => Err(format!("a write with the current ETag {etag} was refused")),
        Outcome::Failed(detail) => Err(format!("If-Match with the current ETag: {detail}")),
    }
}

async fn put(
    target: &Target,
    key: &str,
    if_none_match: Option<&str>,
    if_match: Option<&str>,
) -> Outcome {
    let request = target
        .client()
        .put_object()
        .bucket(target.bucket())
        .key(key)
        .body(ByteStream::from_static(b"conditional write probe\n"))
        .set_if_none_match(if_none_match.map(str::to_owned))
        .set_if_match(if_match.map(str::to_owned))
        .send();
    match timed(request).await {
        Ok(Ok(output)) => Outcome::Written(output.e_tag().map(str::to_owned)),
        Ok(Err(err)) if is_precondition_failed(&err) => Outcome::Refused,
        Ok(Err(err)) => Outcome::Failed(diagnose_sdk("PutObject", err, target.context()).detail),
        Err(_) => Outcome::Failed("timed out".to_owned()),
    }
}

fn is_precondition_failed<E: ProvideErrorMetadata>(err: &SdkError<E>) -> bool {
    let code = err.as_service_error().and_then(ProvideErrorMetadata::code);
    matches!(
        code,
        Some("PreconditionFailed" | "ConditionalRequestConflict")
    ) || err
        .raw_response()
        .is_some_and(|r| r.status().as_u16() == 412)
}
