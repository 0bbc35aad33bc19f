//! The lifecycle rule that makes the store abort incomplete multipart uploads by itself.

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
