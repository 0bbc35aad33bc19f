//! The lifecycle rule that makes the store abort incomplete multipart uploads by itself.

use std::time::Duration;

use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::types::{
    AbortIncompleteMultipartUpload, BucketLifecycleConfiguration, ExpirationStatus, LifecycleRule,
    LifecycleRuleFilter,
};

use super::diagnose::{Diagnosis, diagnose_sdk, is_unsupported};
use super::target::Target;
use super::{LIFECYCLE_RULE_ID, Printer, Status, steps, timed};

pub(super) async fn lifecycle_step(
    p: &mut Printer<'_>,
    target: &Target,
    add: bool,
) -> std::io::Result<()> {
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
    let needed = rule_days(target.config.resumable_expiry);
    if let Some((id, days)) = rules.iter().find_map(abort_days) {
        let detail = format!("rule `{id}` aborts incomplete multipart uploads after {days} day(s)");
        if days < needed {
            // S3 counts from the upload's start; a resumable upload lives from its last bytes.
            return p.step(
                steps::LIFECYCLE,
                Status::Warn,
                detail,
                Some(format!(
                    "resumable uploads stay open for RESUMABLE_EXPIRY_SECS after their last bytes: a rule of \
                     {days} day(s) may abort the multipart upload of one still in progress (its client then \
                     starts over); {needed} day(s) or more keeps them"
                )),
            );
        }
        return p.step(steps::LIFECYCLE, Status::Pass, detail, None);
    }
    if !add {
        return p.step(
            steps::LIFECYCLE,
            Status::Warn,
            "no rule aborts incomplete multipart uploads",
            Some(
                format!(
                    "`check --add-lifecycle-rule` adds one (after {needed} day(s)), keeping the bucket's other \
                     rules"
                ),
            ),
        );
    }
    let kept = rules.len();
    let put = match merged_lifecycle(rules, needed) {
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
                "added rule `{LIFECYCLE_RULE_ID}`: incomplete multipart uploads are aborted after {needed} \
                 day(s) ({kept} existing rule(s) kept)"
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

/// How many days after its start a multipart upload may be aborted by the store without harm: a day, and as many
/// more as a resumable upload may sit idle (`RESUMABLE_EXPIRY_SECS`, rounded up to days): 2 by default.
pub fn rule_days(resumable_expiry: Duration) -> i32 {
    let days = resumable_expiry.as_secs().div_ceil(86_400);
    i32::try_from(days)
        .unwrap_or(i32::MAX - 1)
        .saturating_add(1)
}

/// The bucket's rules plus one that aborts incomplete multipart uploads after `days`, bucket-wide.
pub fn merged_lifecycle(
    mut rules: Vec<LifecycleRule>,
    days: i32,
) -> Result<BucketLifecycleConfiguration, aws_smithy_types::error::operation::BuildError> {
    rules.push(
        LifecycleRule::builder()
            .id(LIFECYCLE_RULE_ID)
            .status(ExpirationStatus::Enabled)
            .filter(LifecycleRuleFilter::builder().prefix("").build())
            .abort_incomplete_multipart_upload(
                AbortIncompleteMultipartUpload::builder()
                    .days_after_initiation(days)
                    .build(),
            )
            .build()?,
    );
    BucketLifecycleConfiguration::builder()
        .set_rules(Some(rules))
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lifecycle_rule_is_added_to_existing_ones() {
        let existing = LifecycleRule::builder()
            .id("expire-tmp")
            .status(ExpirationStatus::Enabled)
            .filter(LifecycleRuleFilter::builder().prefix("tmp/").build())
            .build()
            .unwrap();
        assert_eq!(abort_days(&existing), None);
        let merged = merged_lifecycle(vec![existing], 2).unwrap();
        let rules = merged.rules();
        assert_eq!(rules.len(), 2);
        assert_eq!(rules[0].id(), Some("expire-tmp"));
        assert_eq!(
            abort_days(&rules[1]),
            Some((LIFECYCLE_RULE_ID.to_owned(), 2))
        );
    }

    #[test]
    fn the_rule_outlasts_a_resumable_upload_left_idle() {
        assert_eq!(rule_days(Duration::from_secs(86_400)), 2);
        assert_eq!(rule_days(Duration::from_secs(3_600)), 2);
        assert_eq!(rule_days(Duration::from_secs(86_401)), 3);
        assert_eq!(rule_days(Duration::from_secs(7 * 86_400)), 8);
    }
}
