//! Object URLs: public ones (`PUBLIC_BASE_URL`, a custom endpoint, or AWS's own), and presigned ones.

use std::time::Duration;

use aws_sdk_s3::Client;

use super::StoreError;
use crate::config::Config;
use crate::naming::encode_key;

/// Builds the public URL of an object.
#[derive(Clone, Debug)]
pub struct UrlBuilder {
    /// Everything before the encoded key, ending in `/`.
    prefix: String,
}

impl UrlBuilder {
    /// `PUBLIC_BASE_URL` wins; then a custom endpoint, path style (port kept); then AWS's virtual-hosted URL.
    pub fn new(config: &Config, endpoint: Option<&str>) -> Self {
        let prefix = match &config.public_base_url {
            Some(base) => format!("{base}/"),
            None => bucket_url(config.bucket(), config.region(), endpoint),
        };
        Self { prefix }
    }

    /// The URL of `key`, percent-encoded byte by byte except unreserved characters and `/`.
    pub fn url(&self, key: &str) -> String {
        format!("{}{}", self.prefix, encode_key(key))
    }
}

/// The bucket's own URL as the store is addressed (never `PUBLIC_BASE_URL`), ending in `/`: path style on a
/// custom endpoint (port kept), AWS's virtual-hosted URL otherwise. Objects are under it, and a presigned POST
/// goes to it.
pub(super) fn bucket_url(bucket: &str, region: &str, endpoint: Option<&str>) -> String {
    if let Some(endpoint) = endpoint {
        format!("{endpoint}/{bucket}/")
    } else if bucket.contains('.') {
        // A dotted bucket name does not match S3's wildcard TLS certificate: use path style.
        format!("https://s3.{region}.amazonaws.com/{bucket}/")
    } else {
        format!("https://{bucket}.s3.{region}.amazonaws.com/")
    }
}

/// A presigned GET URL for `key`, valid for `ttl` (at most 7 days): `location` in `URL_MODE=presigned`.
pub async fn presigned_get(
    client: &Client,
    bucket: &str,
    key: &str,
    ttl: Duration,
) -> Result<String, StoreError> {
    let config = aws_sdk_s3::presigning::PresigningConfig::expires_in(ttl).map_err(|err| {
        StoreError::Internal(anyhow::Error::new(err).context("presigning configuration"))
    })?;
    let request = client
        .get_object()
        .bucket(bucket)
        .key(key)
        .presigned(config)
        .await
        .map_err(|err| StoreError::from_sdk("presign GetObject", err))?;
    Ok(request.uri().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(pairs: &[(&str, &str)]) -> Config {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Config::from_lookup(|name| map.get(name).cloned()).unwrap()
    }

    #[test]
    fn aws_urls_are_virtual_hosted() {
        let config = config(&[("AWS_S3_BUCKET", "jscode-uploaded-files")]);
        let urls = UrlBuilder::new(&config, None);
        assert_eq!(
            urls.url("0190/스크린샷 1.png"),
            "https://jscode-uploaded-files.s3.ap-northeast-2.amazonaws.com/0190/%EC%8A%A4%ED%81%AC%EB%A6%B0%EC%83%B7%201.png"
        );
    }

    #[test]
    fn custom_endpoints_are_path_style_with_port() {
        let config = config(&[
            ("AWS_S3_BUCKET", "b"),
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:9000"),
        ]);
        let urls = UrlBuilder::new(&config, Some("http://127.0.0.1:9000"));
        assert_eq!(urls.url("a b.png"), "http://127.0.0.1:9000/b/a%20b.png");
    }

    #[test]
    fn the_bucket_url_is_the_stores_whatever_the_public_urls() {
        assert_eq!(
            bucket_url("b", "ap-northeast-2", Some("http://127.0.0.1:9000")),
            "http://127.0.0.1:9000/b/"
        );
        assert_eq!(
            bucket_url("jscode-uploaded-files", "ap-northeast-2", None),
            "https://jscode-uploaded-files.s3.ap-northeast-2.amazonaws.com/"
        );
        assert_eq!(
            bucket_url("a.b", "us-east-1", None),
            "https://s3.us-east-1.amazonaws.com/a.b/"
        );
    }

    #[test]
    fn public_base_url_replaces_the_origin() {
        let config = config(&[
            ("AWS_S3_BUCKET", "b"),
            ("PUBLIC_BASE_URL", "https://cdn.example.com/"),
        ]);
        let urls = UrlBuilder::new(&config, None);
        assert_eq!(urls.url("k/x+y.png"), "https://cdn.example.com/k/x%2By.png");
    }
}
