//! Unit tests of reading the configuration.

use super::*;
use std::collections::HashMap;

fn config(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
    let map: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    Config::from_lookup(|name| map.get(name).cloned())
}

#[test]
fn no_bucket_means_embedded_store_with_sample_region() {
    let config = config(&[]).unwrap();
    let StoreConfig::Embedded(embedded) = &config.store else {
        panic!("expected the embedded store");
    };
    assert_eq!(embedded.region, "ap-northeast-2");
    assert_eq!(config.port, 3000);
    assert_eq!(config.upload.field_name, "photos");
}

#[test]
fn sample_variable_names_configure_a_remote_bucket() {
    let config = config(&[
        ("AWS_S3_BUCKET", "jscode-uploaded-files"),
        ("AWS_ACCESS_KEY", "AKIAEXAMPLE"),
        ("AWS_SECRET_ACCESS_KEY", "very-secret"),
    ])
    .unwrap();
    let StoreConfig::Remote(remote) = &config.store else {
        panic!("expected a remote bucket");
    };
    assert_eq!(remote.bucket, "jscode-uploaded-files");
    let credentials = remote.credentials.as_ref().unwrap();
    assert_eq!(credentials.access_key_id, "AKIAEXAMPLE");
    assert!(
        !format!("{config:?}").contains("very-secret"),
        "secrets must never print"
    );
}

#[test]
fn standard_names_and_endpoint_are_read() {
    let config = config(&[
        ("AWS_S3_BUCKET", "b"),
        ("AWS_ACCESS_KEY_ID", "id"),
        ("AWS_SECRET_ACCESS_KEY", "s"),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ENDPOINT_URL", "http://127.0.0.1:9000/"),
    ])
    .unwrap();
    let StoreConfig::Remote(remote) = &config.store else {
        panic!("expected a remote bucket");
    };
    assert_eq!(remote.region, "us-east-1");
    assert_eq!(remote.endpoint.as_deref(), Some("http://127.0.0.1:9000"));
}

#[test]
fn bucket_without_keys_uses_the_default_chain() {
    let config = config(&[("AWS_S3_BUCKET", "b")]).unwrap();
    let StoreConfig::Remote(remote) = &config.store else {
        panic!("expected a remote bucket");
    };
    assert!(remote.credentials.is_none());
}

#[test]
fn production_settings_are_read() {
    let config = config(&[
        ("URL_MODE", "presigned"),
        ("PRESIGNED_URL_TTL_SECS", "600"),
        ("UPLOAD_TOKEN", "s3cr3t"),
        (
            "CORS_ALLOWED_ORIGINS",
            "https://a.example, https://b.example",
        ),
        ("ALLOWED_TYPES", "image/*, application/PDF"),
        ("CACHE_CONTROL", "max-age=60"),
        ("STORAGE_CLASS", "standard_ia"),
        ("SERVER_SIDE_ENCRYPTION", "aws:kms"),
        ("SSE_KMS_KEY_ID", "alias/uploads"),
        ("OBJECT_METADATA", "team=웹, Source=upload-server"),
    ])
    .unwrap();
    assert_eq!(
        config.url_mode,
        UrlMode::Presigned {
            ttl: Duration::from_secs(600)
        }
    );
    assert_eq!(
        config.access.cors_allowed_origins,
        ["https://a.example", "https://b.example"]
    );
    assert_eq!(config.upload.allowed_types, ["image/*", "application/pdf"]);
    assert_eq!(
        config.upload.object.storage_class.as_deref(),
        Some("STANDARD_IA")
    );
    assert_eq!(
        config.upload.object.metadata,
        [
            ("team".to_owned(), "웹".to_owned()),
            ("source".to_owned(), "upload-server".to_owned())
        ]
    );
    assert!(!format!("{config:?}").contains("s3cr3t"));
}

#[test]
fn invalid_production_settings_name_themselves() {
    assert_eq!(
        config(&[("URL_MODE", "private")]).unwrap_err().name,
        "URL_MODE"
    );
    let too_long = [
        ("URL_MODE", "presigned"),
        ("PRESIGNED_URL_TTL_SECS", "604801"),
    ];
    assert_eq!(
        config(&too_long).unwrap_err().name,
        "PRESIGNED_URL_TTL_SECS"
    );
    assert_eq!(
        config(&[("SERVER_SIDE_ENCRYPTION", "DES")])
            .unwrap_err()
            .name,
        "SERVER_SIDE_ENCRYPTION"
    );
    assert_eq!(
        config(&[("SSE_KMS_KEY_ID", "k")]).unwrap_err().name,
        "SSE_KMS_KEY_ID"
    );
    assert_eq!(
        config(&[("OBJECT_METADATA", "a b=c")]).unwrap_err().name,
        "OBJECT_METADATA"
    );
}

#[test]
fn half_a_key_pair_is_an_error() {
    let err = config(&[("AWS_S3_BUCKET", "b"), ("AWS_ACCESS_KEY", "id")]).unwrap_err();
    assert_eq!(err.name, "AWS_SECRET_ACCESS_KEY");
}

#[test]
fn invalid_numbers_name_the_setting() {
    let err = config(&[("MAX_FILE_SIZE", "ten")]).unwrap_err();
    assert_eq!(err.name, "MAX_FILE_SIZE");
    let err = config(&[("UPLOAD_PART_SIZE", "1024")]).unwrap_err();
    assert_eq!(err.name, "UPLOAD_PART_SIZE");
    let err = config(&[("KEY_PREFIX", "../x")]).unwrap_err();
    assert_eq!(err.name, "KEY_PREFIX");
    let err = config(&[("MAX_FILE_SIZE", &(100 * 1024 * MIB).to_string())]).unwrap_err();
    assert_eq!(err.name, "MAX_FILE_SIZE");
    let err = config(&[("KEY_PREFIX", "../x")]).unwrap_err();
    assert_eq!(err.name, "KEY_PREFIX");
}

#[test]
fn a_blank_upload_token_is_refused_not_taken_as_none() {
    let err = config(&[("UPLOAD_TOKEN", "  ")]).unwrap_err();
    assert_eq!(err.name, "UPLOAD_TOKEN");
    assert!(err.reason.contains("blank"), "{}", err.reason);
    assert!(config(&[]).unwrap().access.upload_token.is_none());
    let set = config(&[("UPLOAD_TOKEN", " t0ken ")]).unwrap();
    assert_eq!(set.access.upload_token.unwrap().expose(), "t0ken");
}

#[test]
fn a_budget_that_cannot_hold_a_part_is_refused() {
    // The case: a budget equal to an odd part size made every upload wait forever.
    let odd = [
        ("UPLOAD_PART_SIZE", "5242881"),
        ("UPLOAD_MEMORY_BUDGET", "5242881"),
    ];
    let err = config(&odd).unwrap_err();
    assert_eq!(err.name, "UPLOAD_MEMORY_BUDGET");
    let needed = checks::budget_needed(5_242_881, 256);
    assert!(err.reason.contains(&needed.to_string()), "{}", err.reason);
    let enough = needed.to_string();
    config(&[
        ("UPLOAD_PART_SIZE", "5242881"),
        ("UPLOAD_MEMORY_BUDGET", &enough),
    ])
    .unwrap();
    // Fewer uploads at once need less.
    config(&[
        ("UPLOAD_PART_SIZE", "5242881"),
        ("UPLOAD_MEMORY_BUDGET", "7340032"),
        ("MAX_UPLOADS", "8"),
    ])
    .unwrap();
}

#[test]
fn key_prefixes_must_be_plain_paths_that_fit_the_store() {
    for bad in [
        "./x/",
        "a/./b/",
        "../x",
        "a//b/",
        "/x",
        "a\\b/",
        "x\u{FFFF}/",
        "x\n/",
    ] {
        let err = config(&[("KEY_PREFIX", bad)]).unwrap_err();
        assert_eq!(err.name, "KEY_PREFIX", "{bad:?}");
    }
    for good in ["", "uploads/", "team-a/uploads/", "u-", "사진/"] {
        config(&[("KEY_PREFIX", good)]).unwrap_or_else(|e| panic!("{good:?}: {e}"));
    }
    // The embedded store holds keys of 128 bytes: a unique key is the prefix, 33 bytes and a 64-byte name.
    let longest = "p".repeat(EMBEDDED_MAX_KEY_BYTES - 97);
    config(&[("KEY_PREFIX", &longest)]).unwrap();
    let err = config(&[("KEY_PREFIX", &format!("{longest}x"))]).unwrap_err();
    assert_eq!(err.name, "KEY_PREFIX");
    assert!(err.reason.contains("embedded store"), "{}", err.reason);
    // With the sample's keys (the name alone) there is room for more, and S3 holds 1024 bytes.
    let original = "p".repeat(EMBEDDED_MAX_KEY_BYTES - 64);
    config(&[("KEY_PREFIX", &original), ("KEY_STRATEGY", "original")]).unwrap();
    let remote = "p".repeat(S3_MAX_KEY_BYTES - 97);
    config(&[("AWS_S3_BUCKET", "b"), ("KEY_PREFIX", &remote)]).unwrap();
}

#[test]
fn the_embedded_store_listens_on_loopback_only() {
    for addr in ["0.0.0.0:9400", "192.168.1.10:9400", "[::]:9400"] {
        let err = config(&[("EMBEDDED_S3_ADDR", addr)]).unwrap_err();
        assert_eq!(err.name, "EMBEDDED_S3_ADDR", "{addr}");
        assert!(err.reason.contains("loopback"), "{}", err.reason);
    }
    for addr in ["127.0.0.1:0", "127.0.0.2:9400", "[::1]:9400"] {
        config(&[("EMBEDDED_S3_ADDR", addr)]).unwrap_or_else(|e| panic!("{addr}: {e}"));
    }
}

#[test]
fn the_embedded_stores_form_posts_carry_at_most_max_file_size() {
    let form_file_limit = |pairs: &[(&str, &str)]| match config(pairs).unwrap().store {
        StoreConfig::Embedded(embedded) => embedded.form_file_limit,
        StoreConfig::Remote(_) => panic!("expected the embedded store"),
    };
    assert_eq!(form_file_limit(&[]), 100 * MIB);
    assert_eq!(form_file_limit(&[("MAX_FILE_SIZE", "1024")]), 1024);
    assert_eq!(
        form_file_limit(&[("MAX_FILE_SIZE", "10000000000")]),
        MAX_PART_SIZE
    );
}

#[test]
fn limits_have_defaults_and_refuse_zero() {
    let limits = config(&[]).unwrap().limits;
    assert_eq!(limits.max_connections, 1024);
    assert_eq!(limits.max_uploads, 256);
    assert_eq!(limits.header_read_timeout, Duration::from_secs(10));
    assert_eq!(limits.http2_max_streams, 32);
    assert_eq!(limits.server_threads, super::read::default_server_threads());
    assert!(limits.server_threads >= 1);
    assert_eq!(
        config(&[("SERVER_THREADS", "3")])
            .unwrap()
            .limits
            .server_threads,
        3
    );
    for name in [
        "SERVER_THREADS",
        "MAX_CONNECTIONS",
        "MAX_UPLOADS",
        "HEADER_READ_TIMEOUT_SECS",
        "HTTP2_MAX_STREAMS",
        "UPLOAD_MEMORY_WAIT_SECS",
    ] {
        assert_eq!(config(&[(name, "0")]).unwrap_err().name, name);
    }
    let upload = config(&[]).unwrap().upload;
    assert_eq!(upload.body_min_rate, 1024);
    assert_eq!(upload.memory_wait, Duration::from_secs(30));
}

#[test]
fn resumable_uploads_are_kept_a_day_by_default_and_at_most_30_days() {
    let default = config(&[]).expect("defaults");
    assert_eq!(default.resumable_expiry, Duration::from_secs(86_400));
    let set = config(&[("RESUMABLE_EXPIRY_SECS", "3600")]).expect("an hour");
    assert_eq!(set.resumable_expiry, Duration::from_secs(3600));
    let month = config(&[("RESUMABLE_EXPIRY_SECS", "2592000")]).expect("30 days");
    assert_eq!(
        month.resumable_expiry,
        Duration::from_secs(MAX_RESUMABLE_EXPIRY_SECS)
    );
    for bad in ["0", "2592001", "-1", "a day"] {
        let err = config(&[("RESUMABLE_EXPIRY_SECS", bad)]).expect_err(bad);
        assert_eq!(err.name, "RESUMABLE_EXPIRY_SECS", "{bad}");
    }
}

#[test]
fn resumable_threshold_defaults_to_16_mib_and_0_turns_it_off() {
    let default = config(&[]).unwrap();
    assert_eq!(default.resumable_threshold, Some(16 * 1024 * 1024));
    let set = config(&[("RESUMABLE_THRESHOLD", "1048576")]).unwrap();
    assert_eq!(set.resumable_threshold, Some(1_048_576));
    let off = config(&[("RESUMABLE_THRESHOLD", "0")]).unwrap();
    assert_eq!(off.resumable_threshold, None);
    // The default above a small MAX_FILE_SIZE is off; a value set above it is a mistake, named.
    let small = config(&[("MAX_FILE_SIZE", "1000")]).unwrap();
    assert_eq!(small.resumable_threshold, None);
    let at_limit = config(&[("MAX_FILE_SIZE", "1000"), ("RESUMABLE_THRESHOLD", "1000")]).unwrap();
    assert_eq!(at_limit.resumable_threshold, Some(1000));
    let err = config(&[("MAX_FILE_SIZE", "1000"), ("RESUMABLE_THRESHOLD", "1001")]).unwrap_err();
    assert_eq!(err.name, "RESUMABLE_THRESHOLD");
    assert!(err.reason.contains("MAX_FILE_SIZE"), "{err}");
    let err = config(&[("RESUMABLE_THRESHOLD", "16MiB")]).unwrap_err();
    assert_eq!(err.name, "RESUMABLE_THRESHOLD");
}

#[test]
fn direct_upload_urls_live_15_minutes_by_default_from_a_minute_to_12_hours() {
    assert_eq!(
        config(&[]).unwrap().direct_url_ttl,
        Duration::from_secs(900)
    );
    let set = config(&[("DIRECT_URL_TTL_SECS", "60")]).expect("a minute");
    assert_eq!(set.direct_url_ttl, Duration::from_secs(60));
    for bad in ["59", "43201", "0", "15m"] {
        let err = config(&[("DIRECT_URL_TTL_SECS", bad)]).expect_err(bad);
        assert_eq!(err.name, "DIRECT_URL_TTL_SECS", "{bad}");
    }
}

#[test]
fn the_page_uploads_through_the_server_unless_told_direct() {
    assert_eq!(
        config(&[]).unwrap().page_upload_mode,
        PageUploadMode::Server
    );
    let direct = config(&[("PAGE_UPLOAD_MODE", "direct")]).unwrap();
    assert_eq!(direct.page_upload_mode, PageUploadMode::Direct);
    assert_eq!(direct.page_upload_mode.as_str(), "direct");
    for bad in ["Direct", "s3"] {
        let err = config(&[("PAGE_UPLOAD_MODE", bad)]).expect_err(bad);
        assert_eq!(err.name, "PAGE_UPLOAD_MODE", "{bad:?}");
    }
}
