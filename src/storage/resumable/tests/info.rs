//! `info.json`: ids, keys, the JSON shape and the invariants.

use super::super::info::*;

const MIB: u64 = 1024 * 1024;

fn id() -> UploadId {
    UploadId::parse("019b2f6e8c1a7d3e9f00112233445566").unwrap()
}

fn receiving() -> Info {
    let upload = NewUpload {
        key: "uploads/019b/스크린샷.png".to_owned(),
        originalname: "스크린샷.png".to_owned(),
        mimetype: "image/png".to_owned(),
        metadata_header: Some("filename 7Iqk".to_owned()),
        length: Some(20 * MIB),
        part_size: 8 * MIB,
    };
    Info::new(id(), "attempt", upload, 1_700_000_000, 1_700_086_400)
}

/// Two full parts and a segment: 16 MiB + 100 bytes.
fn with_parts() -> Info {
    let mut info = receiving();
    info.multipart = Some(Multipart {
        upload_id: "mpu".to_owned(),
    });
    info.parts = vec![part(1, 8 * MIB), part(2, 8 * MIB)];
    info.segments = vec![Segment {
        key: "seg".to_owned(),
        etag: "\"s\"".to_owned(),
        size: 100,
    }];
    info.offset = 16 * MIB + 100;
    info.next_part = 3;
    info
}

fn part(n: u32, size: u64) -> Part {
    Part {
        n,
        etag: format!("\"{n}\""),
        size,
    }
}

#[test]
fn generated_ids_parse_and_other_shapes_do_not() {
    let generated = UploadId::generate();
    assert_eq!(UploadId::parse(generated.as_str()), Some(generated.clone()));
    assert_eq!(generated.as_str().len(), 32);

    let good = "019b2f6e8c1a7d3e9f00112233445566";
    assert!(UploadId::parse(good).is_some());
    for bad in [
        "",
        "019b2f6e8c1a7d3e9f0011223344556",   // 31 digits
        "019b2f6e8c1a7d3e9f001122334455667", // 33
        "019B2F6E8C1A7D3E9F00112233445566",  // uppercase
        "019b2f6e-8c1a-7d3e-9f00-112233445566",
        "019b2f6e8c1a4d3e9f00112233445566", // version 4
        "019b2f6e8c1a7d3e7f00112233445566", // not the RFC variant
        "019b2f6e8c1a7d3e9f0011223344556g",
        "../../../../../../../../../etc/x",
        "019b2f6e8c1a7d3e9f00112233445566/",
    ] {
        assert_eq!(UploadId::parse(bad), None, "{bad:?}");
    }
}

#[test]
fn keys_follow_the_layout() {
    let attempt = uuid::Uuid::parse_str("0190f0a2-0000-7000-8000-00000000000a").unwrap();
    assert_eq!(
        info_key("uploads/", &id()),
        "uploads/.resumable/019b2f6e8c1a7d3e9f00112233445566/info.json"
    );
    let segment = segment_key("", &id(), attempt);
    assert_eq!(
        segment,
        ".resumable/019b2f6e8c1a7d3e9f00112233445566/seg-0190f0a200007000800000000000000a"
    );
    // Design 2.1: 80 bytes before KEY_PREFIX, within the embedded store's 128.
    assert_eq!(segment.len(), 80);
    assert!(segment.starts_with(&state_prefix("", &id())));
}

#[test]
fn the_json_has_the_designs_names_and_round_trips() {
    let mut info = with_parts();
    info.claim = Some(Claim {
        attempt: "a".to_owned(),
        copy: "host/1".to_owned(),
        expires_at: 1_700_000_030,
        parts_from: 3,
        parts_to: 19,
        release_requested: false,
    });
    let json = serde_json::to_value(&info).unwrap();
    assert_eq!(json["format"], 1);
    assert_eq!(json["state"], "receiving");
    assert_eq!(json["id"], "019b2f6e8c1a7d3e9f00112233445566");
    assert_eq!(json["parts"][1]["n"], 2);
    assert_eq!(json["claim"]["parts_to"], 19);
    assert_eq!(json["object"], serde_json::Value::Null);
    assert_eq!(json["originalname"], "스크린샷.png");

    let back: Info = serde_json::from_value(json).unwrap();
    assert_eq!(back, info);
    assert_eq!(back.check(), Ok(()));
}

#[test]
fn a_record_with_a_bad_id_or_state_does_not_parse() {
    let mut json = serde_json::to_value(receiving()).unwrap();
    json["id"] = "../x".into();
    assert!(serde_json::from_value::<Info>(json.clone()).is_err());
    json["id"] = "019b2f6e8c1a7d3e9f00112233445566".into();
    json["state"] = "paused".into();
    assert!(serde_json::from_value::<Info>(json).is_err());
}

#[test]
fn new_and_completed_records_hold() {
    assert_eq!(receiving().check(), Ok(()));
    let mut done = with_parts();
    done.state = State::Completed;
    done.parts.push(part(3, 100));
    done.segments.clear();
    done.next_part = 4;
    done.length = Some(16 * MIB + 100);
    done.object = Some(object(16 * MIB + 100));
    assert_eq!(done.check(), Ok(()));
    // The length may stay unknown (deferred).
    done.length = None;
    assert_eq!(done.check(), Ok(()));
}

fn object(size: u64) -> StoredObject {
    StoredObject {
        etag: "\"o\"".to_owned(),
        version_id: None,
        sse: None,
        size,
    }
}

#[test]
fn a_completed_record_holds_its_object_not_its_parts() {
    // A small file: one PutObject, no part and no segment listed.
    let mut small = receiving();
    small.state = State::Completed;
    small.offset = 100;
    small.length = Some(100);
    small.object = Some(object(100));
    assert_eq!(small.check(), Ok(()));

    small.object = Some(object(99));
    assert_eq!(small.check(), Err(Broken::CompletedObject { offset: 100 }));
    small.object = None;
    assert_eq!(small.check(), Err(Broken::CompletedObject { offset: 100 }));
}

#[test]
fn each_broken_invariant_is_named() {
    let broken = |change: fn(&mut Info)| {
        let mut info = with_parts();
        change(&mut info);
        info.check().unwrap_err()
    };
    assert_eq!(broken(|i| i.format = 2), Broken::Format(2));
    assert_eq!(
        broken(|i| i.offset += 1),
        Broken::Offset {
            offset: 16 * MIB + 101,
            stored: 16 * MIB + 100,
        }
    );
    assert_eq!(
        broken(|i| i.length = Some(MIB)),
        Broken::PastLength {
            offset: 16 * MIB + 100,
            length: MIB,
        }
    );
    assert_eq!(broken(|i| i.multipart = None), Broken::PartsWithoutUpload);
    assert_eq!(
        broken(|i| i.parts[1].n = 1),
        Broken::PartOrder { n: 1, previous: 1 }
    );
    assert_eq!(
        broken(|i| i.next_part = 2),
        Broken::PartNotBelowNext { n: 2, next_part: 2 }
    );
    assert_eq!(broken(|i| i.parts[0].n = 0), Broken::PartNumber { n: 0 });
    assert_eq!(
        broken(|i| {
            i.parts[0].size -= 1;
            i.offset -= 1;
        }),
        Broken::PartSize {
            n: 1,
            size: 8 * MIB - 1,
            part_size: 8 * MIB
        }
    );
    assert_eq!(
        broken(|i| {
            i.segments[0].size = 8 * MIB;
            i.offset = 24 * MIB;
            i.length = None;
        }),
        Broken::Segments {
            total: 8 * MIB,
            part_size: 8 * MIB
        }
    );
    assert_eq!(
        broken(|i| {
            i.claim = Some(Claim {
                attempt: "a".to_owned(),
                copy: "c".to_owned(),
                expires_at: 0,
                parts_from: 5,
                parts_to: 5,
                release_requested: false,
            })
        }),
        Broken::ClaimWindow { from: 5, to: 5 }
    );
    assert_eq!(broken(|i| i.part_size = 0), Broken::NoPartSize);
}

#[test]
fn absurd_sizes_are_reported_not_a_panic() {
    let mut info = with_parts();
    info.segments[0].size = u64::MAX;
    info.segments.push(info.segments[0].clone());
    assert_eq!(
        info.check(),
        Err(Broken::Offset {
            offset: 16 * MIB + 100,
            stored: u64::MAX,
        })
    );
}
