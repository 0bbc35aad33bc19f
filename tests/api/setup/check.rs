//! `check`: each step's verdict against the test app's store, the embedded one's and moto's differences, and what
//! the flags (`--abort-incomplete`, `--add-lifecycle-rule`) change.

use aws_sdk_s3::types::{
    BucketLifecycleConfiguration, ExpirationStatus, LifecycleExpiration, LifecycleRule,
    LifecycleRuleFilter,
};
use s3_upload_server::cli::{self, CheckArgs, Status, steps};

use super::{config_for, embedded_config, run_check};
use crate::helpers::{TestApp, needs_moto, remote_endpoint, spawn_app, spawn_embedded_app_with};

/// A step's verdict; fails when the step did not run.
fn status(report: &cli::Report, step: &str) -> Status {
    report
        .step(step)
        .unwrap_or_else(|| panic!("step `{step}` did not run: {report:?}"))
        .status
}

#[tokio::test]
async fn check_passes_against_the_test_apps_bucket_and_removes_its_object() {
    // Arrange
    let app = spawn_app().await;

    // Act
    let (report, out) = run_check(config_for(&app, &[]), &CheckArgs::default()).await;

    // Assert
    assert!(report.passed(), "{out}");
    for step in [
        steps::BUCKET,
        steps::UPLOAD,
        steps::PUBLIC_URL,
        steps::REMOVE,
        steps::CONDITIONAL,
    ] {
        assert_eq!(status(&report, step), Status::Pass, "{out}");
    }
    assert!(out.contains("✓ public URL: "), "{out}");
    if remote_endpoint().is_some() {
        assert_eq!(status(&report, steps::MULTIPART), Status::Pass, "{out}");
        // A fresh bucket has no lifecycle rule: worth a warning, not a failure.
        assert_eq!(status(&report, steps::LIFECYCLE), Status::Warn, "{out}");
    } else {
        // s3s-fs 0.14.1 has neither call.
        assert_eq!(
            status(&report, steps::MULTIPART),
            Status::Unsupported,
            "{out}"
        );
        assert_eq!(
            status(&report, steps::LIFECYCLE),
            Status::Unsupported,
            "{out}"
        );
        assert!(out.contains("not supported by this store"), "{out}");
    }
    app.assert_bucket_holds(0).await;
}

#[tokio::test]
async fn check_in_embedded_mode_starts_the_embedded_store_and_passes() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let config = embedded_config(dir.path());

    let (report, out) = run_check(config, &CheckArgs::default()).await;

    assert!(report.passed(), "{out}");
    assert_eq!(status(&report, steps::STORE), Status::Pass, "{out}");
    assert_eq!(status(&report, steps::PUBLIC_URL), Status::Pass, "{out}");
    assert!(
        out.starts_with("Checking bucket `uploads` on the embedded store"),
        "{out}"
    );
}

#[tokio::test]
async fn check_reports_a_missing_bucket_and_skips_the_rest() {
    let app = spawn_app().await;
    let config = config_for(&app, &[("AWS_S3_BUCKET", "no-such-bucket-for-check")]);

    let (report, out) = run_check(config, &CheckArgs::default()).await;

    assert!(!report.passed(), "{out}");
    assert_eq!(status(&report, steps::BUCKET), Status::Fail, "{out}");
    assert!(out.contains("check AWS_S3_BUCKET"), "{out}");
    assert_eq!(status(&report, steps::UPLOAD), Status::Skipped, "{out}");
}

#[tokio::test]
async fn check_reports_a_wrong_secret_as_a_credentials_problem() {
    // The embedded store checks signatures (moto does not).
    let app = spawn_embedded_app_with(&[]).await;
    let config = config_for(&app, &[("AWS_SECRET_ACCESS_KEY", "not-the-secret")]);

    let (report, out) = run_check(config, &CheckArgs::default()).await;

    assert!(!report.passed(), "{out}");
    assert_eq!(status(&report, steps::BUCKET), Status::Fail, "{out}");
    assert!(out.contains("AWS_SECRET_ACCESS_KEY"), "{out}");
}

/// The diagnosis of the 403 a private bucket gives, checked directly: the embedded store always lets anyone read
/// objects, as the seed's policy does (the next test sees the 403 on moto).
#[test]
fn check_explains_a_403_with_the_seeds_bucket_policy() {
    let answer = cli::HttpAnswer {
        status: 403,
        location: None,
        body: bytes::Bytes::from_static(b"<Error><Code>AccessDenied</Code></Error>"),
    };
    let cx = cli::Setup {
        bucket: "jscode-uploaded-files",
        region: "ap-northeast-2",
        endpoint: None,
        embedded: false,
        public_base_url: None,
        presigned: false,
    };

    let diagnosis =
        cli::diagnose_anonymous_get("https://x/k", &answer, b"k", cx).expect("a 403 is a failure");

    assert!(diagnosis.detail.contains("403"), "{diagnosis:?}");
    assert!(
        diagnosis.hint.contains("Block all public access"),
        "{diagnosis:?}"
    );
    assert!(
        diagnosis
            .hint
            .contains("arn:aws:s3:::jscode-uploaded-files/*"),
        "{diagnosis:?}"
    );
    assert!(diagnosis.hint.contains("presigned"), "{diagnosis:?}");
}

#[tokio::test]
#[ignore = "needs moto (a private bucket): scripts/test runs it against moto"]
async fn check_reports_a_bucket_that_is_not_public_with_the_seeds_policy() {
    let endpoint = needs_moto();
    // A bucket as the course has it before step 4: no bucket policy.
    let app = spawn_app().await;
    let bucket = create_private_bucket(&app).await;
    let config = config_for(
        &app,
        &[("AWS_S3_BUCKET", &bucket), ("AWS_ENDPOINT_URL", &endpoint)],
    );

    let (report, out) = run_check(config, &CheckArgs::default()).await;

    assert!(!report.passed(), "{out}");
    assert_eq!(status(&report, steps::PUBLIC_URL), Status::Fail, "{out}");
    assert!(out.contains("403"), "{out}");
    assert!(out.contains("the bucket has no bucket policy"), "{out}");
    assert!(out.contains(&format!("arn:aws:s3:::{bucket}/*")), "{out}");
    // The test object is removed even though a step failed.
    assert_eq!(status(&report, steps::REMOVE), Status::Pass, "{out}");
    let left = app
        .s3
        .list_objects_v2()
        .bucket(&bucket)
        .send()
        .await
        .expect("list");
    assert!(left.contents().is_empty(), "{left:?}");
}

#[tokio::test]
#[ignore = "needs moto (s3s-fs 0.14.1 cannot list multipart uploads): scripts/test runs it against moto"]
async fn check_lists_and_aborts_incomplete_multipart_uploads() {
    needs_moto();
    let app = spawn_app().await;
    let created = app
        .s3
        .create_multipart_upload()
        .bucket(&app.bucket)
        .key("abandoned.bin")
        .send()
        .await
        .expect("create multipart upload");
    let upload_id = created.upload_id().expect("upload id").to_owned();

    // Listed, with key and upload id, and left alone without the flag.
    let (report, out) = run_check(config_for(&app, &[]), &CheckArgs::default()).await;
    assert!(report.passed(), "{out}");
    assert_eq!(status(&report, steps::MULTIPART), Status::Warn, "{out}");
    assert!(
        out.contains("abandoned.bin") && out.contains(&upload_id),
        "{out}"
    );
    assert_eq!(app.pending_multipart_uploads().await.len(), 1);

    // Uploads younger than --older-than-mins are left alone: the server may still be writing them. (moto dates
    // every upload 2010-11-10, so "young" here is younger than a century.)
    let args = CheckArgs {
        abort_incomplete: true,
        older_than_mins: 100 * 365 * 24 * 60,
        ..CheckArgs::default()
    };
    let (_, out) = run_check(config_for(&app, &[]), &args).await;
    assert!(out.contains("0 aborted, 1 younger than"), "{out}");
    assert_eq!(app.pending_multipart_uploads().await.len(), 1);

    let args = CheckArgs {
        abort_incomplete: true,
        older_than_mins: 0,
        ..CheckArgs::default()
    };
    let (report, out) = run_check(config_for(&app, &[]), &args).await;
    assert!(report.passed(), "{out}");
    assert!(out.contains("1 aborted"), "{out}");
    app.assert_bucket_holds(0).await;
}

#[tokio::test]
#[ignore = "needs moto (s3s-fs 0.14.1 has no lifecycle calls): scripts/test runs it against moto"]
async fn check_adds_the_lifecycle_rule_and_keeps_existing_rules() {
    needs_moto();
    let app = spawn_app().await;
    let existing = LifecycleRule::builder()
        .id("expire-tmp")
        .status(ExpirationStatus::Enabled)
        .filter(LifecycleRuleFilter::builder().prefix("tmp/").build())
        .expiration(LifecycleExpiration::builder().days(7).build())
        .build()
        .expect("rule");
    app.s3
        .put_bucket_lifecycle_configuration()
        .bucket(&app.bucket)
        .lifecycle_configuration(
            BucketLifecycleConfiguration::builder()
                .rules(existing)
                .build()
                .expect("configuration"),
        )
        .send()
        .await
        .expect("put an existing rule");
    let args = CheckArgs {
        add_lifecycle_rule: true,
        ..CheckArgs::default()
    };

    let (report, out) = run_check(config_for(&app, &[]), &args).await;

    assert!(report.passed(), "{out}");
    assert_eq!(status(&report, steps::LIFECYCLE), Status::Pass, "{out}");
    let rules = app
        .s3
        .get_bucket_lifecycle_configuration()
        .bucket(&app.bucket)
        .send()
        .await
        .expect("get lifecycle");
    let ids: Vec<&str> = rules.rules().iter().filter_map(|r| r.id()).collect();
    assert_eq!(ids, ["expire-tmp", cli::LIFECYCLE_RULE_ID]);
    // Run again: the rule is found, not added twice.
    let (report, out) = run_check(config_for(&app, &[]), &args).await;
    assert!(report.passed(), "{out}");
    assert!(out.contains("after 2 day(s)"), "{out}");
    // A rule shorter than a resumable upload may sit idle is a `!` that says why.
    let (report, out) = run_check(
        config_for(&app, &[("RESUMABLE_EXPIRY_SECS", "259200")]),
        &CheckArgs::default(),
    )
    .await;
    assert_eq!(status(&report, steps::LIFECYCLE), Status::Warn, "{out}");
    assert!(out.contains("4 day(s) or more keeps them"), "{out}");
}

#[tokio::test]
async fn check_opens_presigned_urls_in_presigned_mode() {
    let app = spawn_app().await;
    let mut changes = vec![("URL_MODE", "presigned".to_owned())];
    if remote_endpoint().is_some() {
        // A private bucket: presigned URLs are what makes it work.
        let bucket = create_private_bucket(&app).await;
        changes.push(("AWS_S3_BUCKET", bucket));
    }
    let changes: Vec<(&str, &str)> = changes.iter().map(|(n, v)| (*n, v.as_str())).collect();

    let (report, out) = run_check(config_for(&app, &changes), &CheckArgs::default()).await;

    assert!(report.passed(), "{out}");
    assert_eq!(status(&report, steps::PUBLIC_URL), Status::Pass, "{out}");
    assert!(out.contains("X-Amz-Signature="), "{out}");
}

/// A new bucket with no bucket policy (as the course has it before step 4); returns its name.
async fn create_private_bucket(app: &TestApp) -> String {
    let bucket = format!("private-{}", uuid::Uuid::new_v4().simple());
    app.s3
        .create_bucket()
        .bucket(&bucket)
        .create_bucket_configuration(
            aws_sdk_s3::types::CreateBucketConfiguration::builder()
                .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::ApNortheast2)
                .build(),
        )
        .send()
        .await
        .expect("create a private bucket");
    bucket
}

#[tokio::test]
async fn check_warns_when_the_store_ignores_conditional_writes() {
    // Arrange: a proxy that answers every conditional PutObject of the probe "written", as a store that ignores
    // If-None-Match and If-Match does.
    let (_store, proxy, app) = crate::faults::behind_proxy(&[]).await;
    proxy.set_rule(|request| {
        let conditional = request.headers().contains_key("if-none-match")
            || request.headers().contains_key("if-match");
        (crate::proxy::is_put_object(request)
            && request.uri().path().ends_with(".cas")
            && conditional)
            .then_some(crate::proxy::Fault::Written)
    });

    // Act
    let (report, out) = run_check(config_for(&app, &[]), &CheckArgs::default()).await;

    // Assert: a warning that says what is ignored and what it means; the rest of the check still passes.
    assert!(proxy.faults() >= 2, "the probe never reached the proxy");
    assert_eq!(status(&report, steps::CONDITIONAL), Status::Warn, "{out}");
    assert!(out.contains("If-None-Match: * is ignored"), "{out}");
    assert!(out.contains("two racing requests could both win"), "{out}");
    assert!(report.passed(), "{out}");
}

#[tokio::test]
#[ignore = "needs moto (s3s-fs 0.14.1 has no bucket CORS): scripts/test runs it against moto"]
async fn check_add_cors_lets_a_page_origin_upload_direct_and_keeps_other_rules() {
    // Arrange: a bucket with a rule of its own.
    needs_moto();
    let app = spawn_app().await;
    let existing = aws_sdk_s3::types::CorsRule::builder()
        .id("reads")
        .allowed_origins("*")
        .allowed_methods("GET")
        .build()
        .expect("rule");
    app.s3
        .put_bucket_cors()
        .bucket(&app.bucket)
        .cors_configuration(
            aws_sdk_s3::types::CorsConfiguration::builder()
                .cors_rules(existing)
                .build()
                .expect("configuration"),
        )
        .send()
        .await
        .expect("PutBucketCors");
    let origin = "https://app.example.com";

    // Act
    let (before, before_out) = run_check(
        config_for(&app, &[("CORS_ALLOWED_ORIGINS", origin)]),
        &CheckArgs::default(),
    )
    .await;
    let args = CheckArgs {
        add_cors: Some(origin.to_owned()),
        ..CheckArgs::default()
    };
    let (added, added_out) = run_check(config_for(&app, &[]), &args).await;

    // Assert
    assert_eq!(
        status(&before, steps::BUCKET_CORS),
        Status::Warn,
        "{before_out}"
    );
    assert!(
        before_out.contains(&format!("check --add-cors {origin}")),
        "{before_out}"
    );
    assert_eq!(
        status(&added, steps::BUCKET_CORS),
        Status::Pass,
        "{added_out}"
    );
    assert!(added_out.contains("1 existing rule(s) kept"), "{added_out}");
    let rules = app
        .s3
        .get_bucket_cors()
        .bucket(&app.bucket)
        .send()
        .await
        .expect("GetBucketCors");
    let rules = rules.cors_rules();
    assert_eq!(rules.len(), 2);
    assert_eq!(rules[0].id(), Some("reads"));
    assert!(rules[1].allowed_origins().iter().any(|o| o == origin));
    assert!(rules[1].expose_headers().iter().any(|h| h == "ETag"));
}
