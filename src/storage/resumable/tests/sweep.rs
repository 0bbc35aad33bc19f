//! What a sweep pass counts as expired, and how often the server runs one.

use std::time::Duration;

use super::super::info::{Claim, Info, NewUpload, State, UploadId};
use super::super::sweep::{Listing, is_expired, sweep_period};

const CREATED: u64 = 1_700_000_000;
const EXPIRES: u64 = CREATED + 100;

fn upload(id: &str) -> Info {
    let upload = NewUpload {
        key: format!("{id}/a.bin"),
        originalname: "a.bin".to_owned(),
        mimetype: "application/octet-stream".to_owned(),
        metadata_header: None,
        length: Some(10),
        part_size: 5 * 1024 * 1024,
    };
    let id = UploadId::parse(id).unwrap();
    Info::new(id, "attempt", upload, CREATED, EXPIRES)
}

fn claim(expires_at: u64) -> Claim {
    Claim {
        attempt: "other".to_owned(),
        copy: "host/1".to_owned(),
        expires_at,
        parts_from: 1,
        parts_to: 2,
        release_requested: false,
    }
}

#[test]
fn an_upload_expires_at_its_expiry_unless_a_live_claim_holds_it() {
    let mut info = upload("019b2f6e8c1a7d3e9f00112233445566");
    assert!(!is_expired(&info, EXPIRES - 1));
    assert!(is_expired(&info, EXPIRES));
    info.claim = Some(claim(EXPIRES + 30));
    assert!(!is_expired(&info, EXPIRES + 29), "a request holds it");
    assert!(is_expired(&info, EXPIRES + 30), "its claim lapsed");
    // A tombstone is over whatever its expiry says; completed and failed uploads expire as the others.
    let mut tombstone = upload("019b2f6e8c1a7d3e9f00112233445566");
    tombstone.state = State::Terminated;
    assert!(is_expired(&tombstone, CREATED));
}

#[test]
fn the_listing_counts_uploads_in_progress_completed_and_expired() {
    let now = EXPIRES - 1;
    let mut completed = upload("019b2f6e8c1a7d3e9f00112233445567");
    completed.state = State::Completed;
    let mut expired = upload("019b2f6e8c1a7d3e9f00112233445568");
    expired.expires_at = now - 1;
    let listing = Listing {
        uploads: vec![
            upload("019b2f6e8c1a7d3e9f00112233445566"),
            completed,
            expired,
        ],
        unreadable: Vec::new(),
    };
    assert_eq!(listing.in_progress(now), 1);
    assert_eq!(listing.completed(now), 1);
    let ids: Vec<&str> = listing.expired(now).iter().map(|i| i.id.as_str()).collect();
    assert_eq!(ids, ["019b2f6e8c1a7d3e9f00112233445568"]);
}

#[test]
fn the_server_sweeps_every_half_expiry_at_most_every_ten_minutes() {
    assert_eq!(sweep_period(Duration::from_secs(2)), Duration::from_secs(1));
    assert_eq!(
        sweep_period(Duration::from_secs(600)),
        Duration::from_secs(300)
    );
    assert_eq!(
        sweep_period(Duration::from_secs(86_400)),
        Duration::from_secs(600)
    );
}
