//! Presigned POST: a form a browser sends straight to the bucket, with a policy that pins what it may store.
//!
//! The Rust SDK presigns requests, not POST policies, so this follows S3's description of browser-based uploads
//! with SigV4: the policy is a JSON document (an expiration and conditions every form field must meet); its
//! base64 form is both the `policy` field and the string to sign, with SigV4's signing key for the day, the
//! region and `s3`. The store checks the signature, the expiration, each condition, and that every field of the
//! form is named by one.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use aws_sigv4::sign::v4::{calculate_signature, generate_signing_key};
use aws_smithy_types::DateTime;
use aws_smithy_types::date_time::Format;
use base64::Engine as _;
use serde_json::{Value, json};

use crate::storage::upload::{ObjectSpec, StoredOptions};
use crate::storage::{Bucket, StoreError};

/// SigV4's algorithm name, as the form and the policy state it.
const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// What a presigned POST lets its holder store: one object, at one key, with the type, disposition and options
/// the server chose, no larger than `max_size`, until `ttl` has passed.
#[derive(Clone, Debug)]
pub struct PostPolicy {
    /// The key, Content-Type and Content-Disposition the form must carry, exactly.
    pub object: ObjectSpec,
    /// The largest file the store may accept, in bytes (`content-length-range` 0 to this).
    pub max_size: u64,
    /// How long the form may be used.
    pub ttl: Duration,
    /// What every object is stored with (ACL, Cache-Control, storage class, encryption, metadata): each one set
    /// is a field of the form and pinned by the policy. Create-only writes have no POST equivalent: a form may
    /// replace an object at its key.
    pub options: Arc<StoredOptions>,
}

/// A signed form: send `fields`, in this order, then the file as the field `file` (last: S3 ignores what
/// follows it), as `multipart/form-data` to `url`.
#[derive(Clone, Debug)]
pub struct PresignedPost {
    /// The bucket's URL as the store is addressed, ending in `/` ([`Bucket::url`]).
    pub url: String,
    /// Name and value of each field, in form order.
    pub fields: Vec<(String, String)>,
    /// When the store stops accepting the form: after `ttl`, or when temporary credentials expire if sooner.
    pub expires_at: SystemTime,
}

impl PresignedPost {
    /// The value of the field `name`.
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(field, _)| field == name)
            .map(|(_, value)| value.as_str())
    }
}

/// Signs a form for `policy` with the bucket client's credentials and region, valid from now.
pub async fn presign_post(
    bucket: &Bucket,
    policy: &PostPolicy,
) -> Result<PresignedPost, StoreError> {
    presign_post_at(bucket, policy, SystemTime::now()).await
}

/// [`presign_post`] as if it were `now`: a test can sign a form that has already expired.
pub async fn presign_post_at(
    bucket: &Bucket,
    policy: &PostPolicy,
    now: SystemTime,
) -> Result<PresignedPost, StoreError> {
    let signer = Signer::of(bucket).await?;
    signer.sign(bucket.name(), bucket.url(), policy, now)
}

/// The identity a form is signed with: the credentials the bucket's client signs with, as they are now.
struct Signer {
    access_key: String,
    secret_key: String,
    session_token: Option<String>,
    region: String,
    /// When temporary credentials stop working.
    expiry: Option<SystemTime>,
}

impl Signer {
    /// The credentials and region the bucket's client signs with: static keys, or whatever the SDK's provider
    /// chain gives (an instance role's temporary credentials come with a session token).
    async fn of(bucket: &Bucket) -> Result<Self, StoreError> {
        let region = bucket
            .client()
            .config()
            .region()
            .ok_or_else(|| internal("the S3 client has no region"))?
            .to_string();
        let provider = bucket
            .credentials()
            .ok_or_else(|| internal("no credentials to sign with"))?;
        let credentials = provider.get().await?;
        Ok(Self {
            access_key: credentials.access_key_id().to_owned(),
            secret_key: credentials.secret_access_key().to_owned(),
            session_token: credentials.session_token().map(str::to_owned),
            region,
            expiry: credentials.expiry(),
        })
    }

    /// The form for `policy` on `bucket` (named `bucket_name`, at `url`), signed at `now`.
    fn sign(
        &self,
        bucket_name: &str,
        url: &str,
        policy: &PostPolicy,
        now: SystemTime,
    ) -> Result<PresignedPost, StoreError> {
        let now = whole_seconds(now);
        let mut expires_at = whole_seconds(now + policy.ttl);
        if let Some(expiry) = self.expiry {
            expires_at = expires_at.min(whole_seconds(expiry));
        }
        let amz_date = amz_date(now)?;
        let day = &amz_date[..8];
        let credential = format!("{}/{day}/{}/s3/aws4_request", self.access_key, self.region);

        // Fields the store compares with the policy's `eq` conditions, then the signer's own.
        let object = &policy.object;
        let mut pinned = vec![
            ("key".to_owned(), object.key.clone()),
            ("Content-Type".to_owned(), object.content_type.clone()),
            (
                "Content-Disposition".to_owned(),
                object.content_disposition.clone(),
            ),
        ];
        pinned.extend(option_fields(&policy.options));
        let mut signing = vec![
            ("x-amz-algorithm".to_owned(), ALGORITHM.to_owned()),
            ("x-amz-credential".to_owned(), credential),
            ("x-amz-date".to_owned(), amz_date),
        ];
        if let Some(token) = &self.session_token {
            signing.push(("x-amz-security-token".to_owned(), token.clone()));
        }

        let mut conditions = vec![json!({ "bucket": bucket_name })];
        conditions.extend(
            pinned
                .iter()
                .map(|(name, value)| json!(["eq", format!("${name}"), value])),
        );
        conditions.push(json!(["content-length-range", 0, policy.max_size]));
        conditions.extend(signing.iter().map(|(name, value)| {
            let mut condition = serde_json::Map::new();
            condition.insert(name.clone(), Value::String(value.clone()));
            Value::Object(condition)
        }));
        let document = json!({
            "expiration": iso8601(expires_at)?,
            "conditions": conditions,
        });
        let encoded = base64::engine::general_purpose::STANDARD.encode(document.to_string());
        let signature = signature(&self.secret_key, now, &self.region, &encoded);

        let mut fields = pinned;
        fields.extend(signing);
        fields.push(("policy".to_owned(), encoded));
        fields.push(("x-amz-signature".to_owned(), signature));
        Ok(PresignedPost {
            url: url.to_owned(),
            fields,
            expires_at,
        })
    }
}

/// SigV4's signature of a POST policy: HMAC-SHA256 of the base64 policy with the signing key for the day of
/// `now`, `region` and `s3`, in hex.
fn signature(secret_key: &str, now: SystemTime, region: &str, encoded_policy: &str) -> String {
    let key = generate_signing_key(secret_key, now, region, "s3");
    calculate_signature(key, encoded_policy.as_bytes())
}

/// The form fields, with S3's POST names, of the options every object is stored with.
fn option_fields(options: &StoredOptions) -> Vec<(String, String)> {
    let named = [
        ("acl", options.acl.as_ref().map(|acl| acl.as_str())),
        ("Cache-Control", options.cache_control.as_deref()),
        (
            "x-amz-storage-class",
            options.storage_class.as_ref().map(|class| class.as_str()),
        ),
        (
            "x-amz-server-side-encryption",
            options
                .server_side_encryption
                .as_ref()
                .map(|sse| sse.as_str()),
        ),
        (
            "x-amz-server-side-encryption-aws-kms-key-id",
            options.sse_kms_key_id.as_deref(),
        ),
    ];
    let mut fields: Vec<(String, String)> = named
        .into_iter()
        .filter_map(|(name, value)| value.map(|value| (name.to_owned(), value.to_owned())))
        .collect();
    // Sorted, so that the same settings always sign the same policy.
    let metadata: BTreeMap<_, _> = options.metadata.iter().flatten().collect();
    fields.extend(
        metadata
            .into_iter()
            .map(|(name, value)| (format!("x-amz-meta-{name}"), value.clone())),
    );
    fields
}

fn whole_seconds(time: SystemTime) -> SystemTime {
    let since_epoch = time
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    SystemTime::UNIX_EPOCH + Duration::from_secs(since_epoch.as_secs())
}

/// `2015-12-30T12:00:00Z` (whole seconds, UTC): the policy's `expiration`.
fn iso8601(time: SystemTime) -> Result<String, StoreError> {
    DateTime::from(time)
        .fmt(Format::DateTime)
        .map_err(|err| StoreError::Internal(anyhow::Error::new(err).context("format a POST date")))
}

/// `20151229T000000Z`: SigV4's `x-amz-date`.
fn amz_date(time: SystemTime) -> Result<String, StoreError> {
    Ok(iso8601(time)?.replace(['-', ':'], ""))
}

fn internal(message: &'static str) -> StoreError {
    StoreError::Internal(anyhow::anyhow!(message))
}

#[cfg(test)]
mod tests;
