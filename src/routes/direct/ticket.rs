//! The page's ticket for direct uploads: `@uppy/aws-s3` in companion mode sends no custom header, so the upload
//! token cannot travel as `Authorization`. The page trades the token (in a header) for a ticket that lives
//! `DIRECT_URL_TTL_SECS`, and gives Uppy `companionEndpoint: <origin>/direct/<ticket>`: the long-lived token
//! never goes into a URL, and a ticket seen in a log is useless minutes later.
//!
//! A ticket is `<expiry, Unix seconds>.<HMAC-SHA256(UPLOAD_TOKEN, "direct-ticket:" + expiry), hex>`: every copy
//! of the server with the same token checks it, and nothing is stored.

use hmac::{Hmac, KeyInit as _, Mac as _};
use sha2::Sha256;

/// What the HMAC signs before the expiry, so that the tag means nothing elsewhere.
const CONTEXT: &str = "direct-ticket:";

/// A ticket valid until `expires_at` (Unix seconds), for `token`.
pub(super) fn issue(token: &[u8], expires_at: u64) -> String {
    format!("{expires_at}.{}", tag(token, expires_at))
}

/// Whether `ticket` was issued for `token` and is still valid at `now`.
pub(super) fn is_valid(token: &[u8], ticket: &str, now: u64) -> bool {
    let Some((expiry, given)) = ticket.split_once('.') else {
        return false;
    };
    let Ok(expires_at) = expiry.parse::<u64>() else {
        return false;
    };
    let expected = tag(token, expires_at);
    // Compared in time that depends only on the lengths.
    let same = expected.len() == given.len()
        && expected
            .bytes()
            .zip(given.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0;
    same && expires_at > now
}

fn tag(token: &[u8], expires_at: u64) -> String {
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(token) else {
        // HMAC takes keys of any length; this cannot happen.
        return String::new();
    };
    mac.update(format!("{CONTEXT}{expires_at}").as_bytes());
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ticket_is_valid_for_its_token_until_it_expires() {
        let ticket = issue(b"secret", 1_000);
        assert!(is_valid(b"secret", &ticket, 999));
        assert!(!is_valid(b"secret", &ticket, 1_000), "expired");
        assert!(!is_valid(b"other", &ticket, 999), "another token");
        let moved = ticket.replacen("1000.", "2000.", 1);
        assert!(
            !is_valid(b"secret", &moved, 999),
            "a later expiry with the old tag"
        );
        for junk in ["", "1000", "1000.", "x.y", ".abc"] {
            assert!(!is_valid(b"secret", junk, 0), "{junk:?}");
        }
    }
}
