//! The URL the server hands out must open for anyone, as in a browser: an anonymous GET, and why it failed.

use aws_sdk_s3::error::ProvideErrorMetadata;
use bytes::Bytes;
use http_body_util::{BodyExt as _, Empty, Limited};
use hyper_util::client::legacy::Client as HttpClient;
use hyper_util::client::legacy::connect::{Connect, HttpConnector};
use hyper_util::rt::TokioExecutor;

use super::diagnose::Diagnosis;
use super::target::{Setup, Target};
use super::{STEP_TIMEOUT, timed};

/// What an anonymous GET of a public URL answered.
#[derive(Clone, Debug)]
pub struct HttpAnswer {
    pub status: u16,
    pub location: Option<String>,
    pub body: Bytes,
}

/// Why an anonymous GET of `url` did not return `expected`, or `None` when it did.
pub fn diagnose_anonymous_get(
    url: &str,
    answer: &HttpAnswer,
    expected: &[u8],
    cx: Setup<'_>,
) -> Option<Diagnosis> {
    let status = answer.status;
    match status {
        200 if answer.body.as_ref() == expected => None,
        200 => Some(Diagnosis {
            detail: format!("GET {url} answered 200, but not with the test object"),
            hint: match cx.public_base_url {
                Some(base) => format!("PUBLIC_BASE_URL ({base}) must serve this bucket's objects at <base>/<key>"),
                None => "something between here and the store answers instead of it (a proxy?)".to_owned(),
            },
        }),
        401 | 403 if cx.presigned => Some(Diagnosis {
            detail: format!("the presigned URL {url} answered {status}"),
            hint: format!(
                "the server's keys must allow s3:GetObject on arn:aws:s3:::{}/*, and this machine's clock must \
                 be right (a presigned URL tolerates 15 minutes of skew)",
                cx.bucket
            ),
        }),
        401 | 403 => Some(Diagnosis {
            detail: format!("GET {url} answered {status} to an anonymous reader"),
            hint: format!(
                "the seed's bucket policy is missing, or Block Public Access is on.\n\
                 S3 console → `{bucket}` → Permissions: untick \"Block all public access\", then set this bucket \
                 policy:\n{policy}\n\
                 Or keep the bucket private and have the server return presigned URLs (URL_MODE=presigned).",
                bucket = cx.bucket,
                policy = public_read_policy(cx.bucket)
            ),
        }),
        404 => Some(Diagnosis {
            detail: format!("GET {url} answered 404 for an object just stored"),
            hint: match cx.public_base_url {
                Some(base) => format!(
                    "PUBLIC_BASE_URL ({base}) must map <base>/<key> to the object <key> of `{}`",
                    cx.bucket
                ),
                None => "the URL does not lead to the bucket: check AWS_ENDPOINT_URL and AWS_REGION".to_owned(),
            },
        }),
        301 | 302 | 307 | 308 => Some(Diagnosis {
            detail: format!(
                "GET {url} answered {status}, redirecting to {}",
                answer.location.as_deref().unwrap_or("nowhere")
            ),
            hint: "browsers may follow it, but `<img>` tags and clients often do not: on AWS this means \
                   AWS_REGION is not the bucket's region"
                .to_owned(),
        }),
        _ => Some(Diagnosis {
            detail: format!("GET {url} answered {status}"),
            hint: format!(
                "the URL must answer 200 to anyone: {}",
                String::from_utf8_lossy(&answer.body[..answer.body.len().min(300)])
            ),
        }),
    }
}

/// The seed's public-read bucket policy for `bucket`, pretty-printed.
pub fn public_read_policy(bucket: &str) -> String {
    // Written out rather than serialized, to keep the order people know from the console and the README.
    let resource = serde_json::Value::from(format!("arn:aws:s3:::{bucket}/*"));
    format!(
        r#"{{
  "Version": "2012-10-17",
  "Statement": [{{
    "Sid": "PublicRead", "Effect": "Allow", "Principal": "*",
    "Action": ["s3:GetObject"], "Resource": [{resource}]
  }}]
}}"#
    )
}

/// Looks for the cause of a refused anonymous GET in the bucket's settings, where the keys may read them:
/// Block Public Access switched on, or no bucket policy at all.
pub(super) async fn explain_forbidden(target: &Target) -> Option<String> {
    if target.context().embedded {
        return None;
    }
    let client = target.client();
    let bucket = target.bucket();
    if let Ok(Ok(output)) = timed(client.get_public_access_block().bucket(bucket).send()).await
        && let Some(block) = output.public_access_block_configuration()
        && (block.block_public_policy() == Some(true)
            || block.restrict_public_buckets() == Some(true))
    {
        return Some(
            "Block Public Access is on for this bucket (BlockPublicPolicy / RestrictPublicBuckets)"
                .to_owned(),
        );
    }
    match timed(client.get_bucket_policy().bucket(bucket).send()).await {
        Ok(Err(err)) if err.code() == Some("NoSuchBucketPolicy") => {
            Some("the bucket has no bucket policy".to_owned())
        }
        Ok(Ok(output)) if !output.policy().unwrap_or_default().contains("s3:GetObject") => {
            Some("the bucket policy does not grant s3:GetObject".to_owned())
        }
        _ => None,
    }
}

/// GETs `url` with no credentials, as a browser would (no redirects followed).
pub(super) async fn anonymous_get(url: &str) -> Result<HttpAnswer, String> {
    let uri: hyper::Uri = url.parse().map_err(|err| format!("invalid URL: {err}"))?;
    if uri.scheme_str() == Some("https") {
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_native_roots()
            .map_err(|err| {
                format!("no CA certificates on this machine ({err}): install ca-certificates")
            })?
            .https_or_http()
            .enable_http1()
            .build();
        get_with(HttpClient::builder(TokioExecutor::new()).build(https), uri).await
    } else {
        get_with(
            HttpClient::builder(TokioExecutor::new()).build(HttpConnector::new()),
            uri,
        )
        .await
    }
}

async fn get_with<C>(
    client: HttpClient<C, Empty<Bytes>>,
    uri: hyper::Uri,
) -> Result<HttpAnswer, String>
where
    C: Connect + Clone + Send + Sync + 'static,
{
    let request = async {
        let response = client.get(uri).await.map_err(|err| {
            let mut text = err.to_string();
            let mut source = std::error::Error::source(&err);
            while let Some(cause) = source {
                text = format!("{text}: {cause}");
                source = cause.source();
            }
            text
        })?;
        let status = response.status().as_u16();
        let location = response
            .headers()
            .get(hyper::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = Limited::new(response.into_body(), 1024 * 1024)
            .collect()
            .await
            .map_err(|err| format!("reading the answer: {err}"))?
            .to_bytes();
        Ok(HttpAnswer {
            status,
            location,
            body,
        })
    };
    tokio::time::timeout(STEP_TIMEOUT, request)
        .await
        .map_err(|_| format!("no answer within {} seconds", STEP_TIMEOUT.as_secs()))?
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cx() -> Setup<'static> {
        Setup {
            bucket: "jscode-uploaded-files",
            region: "ap-northeast-2",
            endpoint: None,
            embedded: false,
            public_base_url: None,
            presigned: false,
        }
    }

    #[test]
    fn the_policy_is_the_seeds_for_this_bucket() {
        let policy: serde_json::Value =
            serde_json::from_str(&public_read_policy("jscode-uploaded-files")).unwrap();
        let statement = &policy["Statement"][0];
        assert_eq!(statement["Effect"], "Allow");
        assert_eq!(statement["Principal"], "*");
        assert_eq!(statement["Action"][0], "s3:GetObject");
        assert_eq!(
            statement["Resource"][0],
            "arn:aws:s3:::jscode-uploaded-files/*"
        );
    }

    #[test]
    fn anonymous_get_answers_are_explained() {
        let answer = |status: u16, body: &'static [u8]| HttpAnswer {
            status,
            location: Some("https://elsewhere/".to_owned()),
            body: Bytes::from_static(body),
        };
        assert!(diagnose_anonymous_get("u", &answer(200, b"ok"), b"ok", cx()).is_none());
        let wrong = diagnose_anonymous_get("u", &answer(200, b"other"), b"ok", cx()).unwrap();
        assert!(wrong.detail.contains("not with the test object"));
        let forbidden = diagnose_anonymous_get("u", &answer(403, b""), b"ok", cx()).unwrap();
        assert!(forbidden.hint.contains("\"s3:GetObject\""), "{forbidden:?}");
        assert!(
            forbidden.hint.contains("URL_MODE=presigned"),
            "{forbidden:?}"
        );
        let presigned = Setup {
            presigned: true,
            ..cx()
        };
        let refused = diagnose_anonymous_get("u", &answer(403, b""), b"ok", presigned).unwrap();
        assert!(refused.hint.contains("clock"), "{refused:?}");
        let cdn = Setup {
            public_base_url: Some("https://cdn.example.com"),
            ..cx()
        };
        let missing = diagnose_anonymous_get("u", &answer(404, b""), b"ok", cdn).unwrap();
        assert!(missing.hint.contains("PUBLIC_BASE_URL"), "{missing:?}");
        let moved = diagnose_anonymous_get("u", &answer(301, b""), b"ok", cx()).unwrap();
        assert!(moved.detail.contains("https://elsewhere/"), "{moved:?}");
    }
}
