use std::collections::HashMap;

use super::*;
use crate::config::Config;

/// AWS's example credentials, from its documentation of SigV4 POST policies.
const ACCESS_KEY: &str = "AKIAIOSFODNN7EXAMPLE";
const SECRET_KEY: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
/// 2015-12-29T00:00:00Z, the day of AWS's example.
const EXAMPLE_DAY: u64 = 1_451_347_200;

fn at(seconds: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(seconds)
}

fn signer(session_token: Option<&str>) -> Signer {
    Signer {
        access_key: ACCESS_KEY.to_owned(),
        secret_key: SECRET_KEY.to_owned(),
        session_token: session_token.map(str::to_owned),
        region: "us-east-1".to_owned(),
        expiry: None,
    }
}

fn policy(options: StoredOptions) -> PostPolicy {
    PostPolicy {
        object: ObjectSpec {
            key: "uploads/0190/스크린샷 1.png".to_owned(),
            content_type: "image/png".to_owned(),
            content_disposition: "inline; filename*=UTF-8''%EC%8A%A4.png".to_owned(),
        },
        max_size: 10 * 1024 * 1024,
        ttl: Duration::from_secs(900),
        options: Arc::new(options),
    }
}

fn sign(signer: &Signer, policy: &PostPolicy, now: SystemTime) -> PresignedPost {
    signer
        .sign(
            "sigv4examplebucket",
            "http://127.0.0.1:9000/sigv4examplebucket/",
            policy,
            now,
        )
        .expect("signed")
}

/// The policy document a form carries, decoded.
fn document(form: &PresignedPost) -> Value {
    let encoded = form.field("policy").expect("a policy field");
    let json = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .expect("base64");
    serde_json::from_slice(&json).expect("JSON")
}

fn names(form: &PresignedPost) -> Vec<&str> {
    form.fields.iter().map(|(name, _)| name.as_str()).collect()
}

fn options_from(pairs: &[(&str, &str)]) -> StoredOptions {
    let map: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let config = Config::from_lookup(|name| map.get(name).cloned()).expect("valid configuration");
    StoredOptions::new(&config.upload)
}

#[test]
fn the_signature_is_sigv4s_hmac_chain_over_the_base64_policy() {
    // Computed apart from this crate (openssl): kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, "20151229"),
    // "us-east-1"), "s3"), "aws4_request") = cbcef1eb..., then HMAC(kSigning, policy) in hex.
    let encoded = "eyJleHBpcmF0aW9uIjoiMjAxNS0xMi0zMFQxMjowMDowMFoiLCJjb25kaXRpb25zIjpbXX0=";
    assert_eq!(
        signature(SECRET_KEY, at(EXAMPLE_DAY + 3600), "us-east-1", encoded),
        "4297c17911090c86d32d5c47aad3b008628519e308abc086fc57a26ff6e40f7a"
    );
}

#[test]
fn the_form_is_the_pinned_fields_then_the_signers_then_policy_and_signature() {
    let form = sign(
        &signer(None),
        &policy(StoredOptions::default()),
        at(EXAMPLE_DAY),
    );

    assert_eq!(form.url, "http://127.0.0.1:9000/sigv4examplebucket/");
    assert_eq!(
        names(&form),
        [
            "key",
            "Content-Type",
            "Content-Disposition",
            "x-amz-algorithm",
            "x-amz-credential",
            "x-amz-date",
            "policy",
            "x-amz-signature"
        ]
    );
    assert_eq!(form.field("key"), Some("uploads/0190/스크린샷 1.png"));
    assert_eq!(form.field("x-amz-algorithm"), Some("AWS4-HMAC-SHA256"));
    assert_eq!(
        form.field("x-amz-credential"),
        Some("AKIAIOSFODNN7EXAMPLE/20151229/us-east-1/s3/aws4_request")
    );
    assert_eq!(form.field("x-amz-date"), Some("20151229T000000Z"));
    assert_eq!(form.expires_at, at(EXAMPLE_DAY + 900));
    let encoded = form.field("policy").expect("policy");
    assert_eq!(
        form.field("x-amz-signature"),
        Some(signature(SECRET_KEY, at(EXAMPLE_DAY), "us-east-1", encoded).as_str())
    );
}

#[test]
fn the_policy_pins_the_bucket_the_object_the_size_and_the_signer() {
    let form = sign(
        &signer(None),
        &policy(StoredOptions::default()),
        at(EXAMPLE_DAY),
    );

    assert_eq!(
        document(&form),
        json!({
            "expiration": "2015-12-29T00:15:00Z",
            "conditions": [
                {"bucket": "sigv4examplebucket"},
                ["eq", "$key", "uploads/0190/스크린샷 1.png"],
                ["eq", "$Content-Type", "image/png"],
                ["eq", "$Content-Disposition", "inline; filename*=UTF-8''%EC%8A%A4.png"],
                ["content-length-range", 0, 10_485_760],
                {"x-amz-algorithm": "AWS4-HMAC-SHA256"},
                {"x-amz-credential": "AKIAIOSFODNN7EXAMPLE/20151229/us-east-1/s3/aws4_request"},
                {"x-amz-date": "20151229T000000Z"},
            ]
        })
    );
}

#[test]
fn a_session_token_is_a_field_and_a_condition() {
    let form = sign(
        &signer(Some("FwoGZXIvYXdzEXAMPLE")),
        &policy(StoredOptions::default()),
        at(EXAMPLE_DAY),
    );

    assert_eq!(
        form.field("x-amz-security-token"),
        Some("FwoGZXIvYXdzEXAMPLE")
    );
    let conditions = &document(&form)["conditions"];
    assert!(
        conditions
            .as_array()
            .expect("an array")
            .contains(&json!({"x-amz-security-token": "FwoGZXIvYXdzEXAMPLE"})),
        "{conditions}"
    );
}

#[test]
fn the_object_options_are_fields_pinned_by_eq_conditions() {
    let options = options_from(&[
        ("OBJECT_ACL", "public-read"),
        ("CACHE_CONTROL", "public, max-age=31536000, immutable"),
        ("STORAGE_CLASS", "standard_ia"),
        ("SERVER_SIDE_ENCRYPTION", "aws:kms"),
        ("SSE_KMS_KEY_ID", "alias/uploads"),
        ("OBJECT_METADATA", "team=web,app=uploader"),
    ]);
    let form = sign(&signer(None), &policy(options), at(EXAMPLE_DAY));

    let expected = [
        ("acl", "public-read"),
        ("Cache-Control", "public, max-age=31536000, immutable"),
        ("x-amz-storage-class", "STANDARD_IA"),
        ("x-amz-server-side-encryption", "aws:kms"),
        (
            "x-amz-server-side-encryption-aws-kms-key-id",
            "alias/uploads",
        ),
        ("x-amz-meta-app", "uploader"),
        ("x-amz-meta-team", "web"),
    ];
    assert_eq!(
        &names(&form)[3..10],
        expected.map(|(name, _)| name),
        "after key, type and disposition"
    );
    let conditions = document(&form)["conditions"].clone();
    for (name, value) in expected {
        assert_eq!(form.field(name), Some(value));
        assert!(
            conditions.as_array().expect("an array").contains(&json!([
                "eq",
                format!("${name}"),
                value
            ])),
            "{name}: {conditions}"
        );
    }
}

#[test]
fn temporary_credentials_end_the_form_sooner() {
    let mut signer = signer(Some("token"));
    signer.expiry = Some(at(EXAMPLE_DAY + 300) + Duration::from_millis(700));
    let form = sign(&signer, &policy(StoredOptions::default()), at(EXAMPLE_DAY));

    assert_eq!(form.expires_at, at(EXAMPLE_DAY + 300));
    assert_eq!(document(&form)["expiration"], "2015-12-29T00:05:00Z");
}

#[test]
fn dates_are_whole_seconds_in_utc() {
    let now = at(EXAMPLE_DAY + 45_296) + Duration::from_millis(999);
    let form = sign(&signer(None), &policy(StoredOptions::default()), now);

    assert_eq!(form.field("x-amz-date"), Some("20151229T123456Z"));
    assert_eq!(document(&form)["expiration"], "2015-12-29T12:49:56Z");
}
