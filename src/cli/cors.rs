//! `check`'s bucket CORS step: a page that uploads straight to the bucket (`/s3`, direct uploads) needs the
//! bucket's CORS rules to let its origin `PUT` (parts) and `POST` (a signed form), and read `ETag`.
//! `check --add-cors ORIGIN` adds a rule that does, keeping the bucket's other rules.

use aws_sdk_s3::error::ProvideErrorMetadata as _;
use aws_sdk_s3::types::{CorsConfiguration, CorsRule};

use super::diagnose::{diagnose_sdk, is_unsupported};
use super::target::Target;
use super::{Printer, Status, steps, timed};

/// The methods a direct upload sends from the page.
const METHODS: [&str; 2] = ["PUT", "POST"];

/// The origins to check: `--add-cors`'s, then `CORS_ALLOWED_ORIGINS` (the pages the server already serves).
fn origins(target: &Target, add: Option<&str>) -> Vec<String> {
    let mut origins: Vec<String> = add.map(str::to_owned).into_iter().collect();
    for origin in &target.config.access.cors_allowed_origins {
        if !origins.contains(origin) {
            origins.push(origin.clone());
        }
    }
    origins
}

/// Whether `rules` let `origin` PUT and POST and read ETag.
pub(super) fn allows(rules: &[CorsRule], origin: &str) -> bool {
    rules.iter().any(|rule| {
        let origin_ok = rule
            .allowed_origins()
            .iter()
            .any(|o| o == "*" || o.eq_ignore_ascii_case(origin));
        let methods_ok = METHODS.iter().all(|m| {
            rule.allowed_methods()
                .iter()
                .any(|a| a.eq_ignore_ascii_case(m))
        });
        let etag_ok = rule
            .expose_headers()
            .iter()
            .any(|h| h.eq_ignore_ascii_case("etag"));
        origin_ok && methods_ok && etag_ok
    })
}

/// The rule `--add-cors` adds for `origin`.
pub(super) fn rule_for(
    origin: &str,
) -> Result<CorsRule, aws_smithy_types::error::operation::BuildError> {
    CorsRule::builder()
        .id(format!("direct-uploads-{}", origin.len()))
        .allowed_origins(origin)
        .allowed_methods("PUT")
        .allowed_methods("POST")
        .allowed_headers("*")
        .expose_headers("ETag")
        .max_age_seconds(3000)
        .build()
}

pub(super) async fn cors_step(
    p: &mut Printer<'_>,
    target: &Target,
    add: Option<&str>,
) -> std::io::Result<()> {
    if target.context().embedded {
        return p.step(
            steps::BUCKET_CORS,
            Status::Pass,
            "the embedded store answers CORS for the server's pages and CORS_ALLOWED_ORIGINS itself",
            None,
        );
    }
    let got = timed(
        target
            .client()
            .get_bucket_cors()
            .bucket(target.bucket())
            .send(),
    )
    .await;
    let mut rules = match got {
        Ok(Ok(output)) => output.cors_rules().to_vec(),
        Ok(Err(err)) if err.code() == Some("NoSuchCORSConfiguration") => Vec::new(),
        Ok(Err(err)) if is_unsupported(&err) => {
            return p.step(
                steps::BUCKET_CORS,
                Status::Unsupported,
                "not supported by this store (bucket CORS)",
                None,
            );
        }
        Ok(Err(err)) => {
            let diagnosis = diagnose_sdk("GetBucketCors", err, target.context());
            return p.step(
                steps::BUCKET_CORS,
                Status::Warn,
                diagnosis.detail,
                Some(diagnosis.hint),
            );
        }
        Err(timeout) => return p.failed(steps::BUCKET_CORS, timeout.diagnosis(target.context())),
    };
    let origins = origins(target, add);
    if let Some(origin) = add.filter(|o| !allows(&rules, o)) {
        let kept = rules.len();
        let built = rule_for(origin).and_then(|rule| {
            rules.push(rule);
            CorsConfiguration::builder()
                .set_cors_rules(Some(rules.clone()))
                .build()
        });
        let configuration = match built {
            Ok(configuration) => configuration,
            Err(err) => {
                return p.step(
                    steps::BUCKET_CORS,
                    Status::Fail,
                    format!("cannot build the rule: {err}"),
                    Some("this is a bug; please report it".to_owned()),
                );
            }
        };
        let put = timed(
            target
                .client()
                .put_bucket_cors()
                .bucket(target.bucket())
                .cors_configuration(configuration)
                .send(),
        )
        .await;
        match put {
            Ok(Ok(_)) => p.line(format_args!(
                "added a CORS rule: {origin} may PUT and POST and read ETag ({kept} existing rule(s) kept)"
            ))?,
            Ok(Err(err)) => {
                return p.failed(
                    steps::BUCKET_CORS,
                    diagnose_sdk("PutBucketCors", err, target.context()),
                );
            }
            Err(timeout) => return p.failed(steps::BUCKET_CORS, timeout.diagnosis(target.context())),
        }
    }
    if origins.is_empty() {
        return p.step(
            steps::BUCKET_CORS,
            Status::Warn,
            format!("{} rule(s); no page origin to check them against", rules.len()),
            Some(
                "pages on other origins are listed in CORS_ALLOWED_ORIGINS; `check --add-cors ORIGIN` lets one \
                 upload straight to the bucket (direct uploads)"
                    .to_owned(),
            ),
        );
    }
    let refused: Vec<&String> = origins.iter().filter(|o| !allows(&rules, o)).collect();
    if refused.is_empty() {
        return p.step(
            steps::BUCKET_CORS,
            Status::Pass,
            format!("{} may PUT and POST and read ETag", origins.join(", ")),
            None,
        );
    }
    let names: Vec<&str> = refused.iter().map(|o| o.as_str()).collect();
    p.step(
        steps::BUCKET_CORS,
        Status::Warn,
        format!("no rule lets {} PUT and POST and read ETag", names.join(", ")),
        Some(format!(
            "direct uploads from that page fail in the browser; `check --add-cors {}` adds the rule, keeping the \
             others",
            names[0]
        )),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rule_allows_an_origin_only_with_put_post_and_etag() {
        let origin = "https://app.example.com";
        let rule = rule_for(origin).expect("rule");
        assert!(allows(std::slice::from_ref(&rule), origin));
        assert!(!allows(
            std::slice::from_ref(&rule),
            "https://other.example.com"
        ));
        let no_etag = CorsRule::builder()
            .allowed_origins("*")
            .allowed_methods("PUT")
            .allowed_methods("POST")
            .build()
            .expect("rule");
        assert!(!allows(&[no_etag], origin));
        let get_only = CorsRule::builder()
            .allowed_origins(origin)
            .allowed_methods("GET")
            .expose_headers("ETag")
            .build()
            .expect("rule");
        assert!(!allows(&[get_only], origin));
    }
}
