//! The tus headers that carry numbers and dates: `Upload-Length`, `Upload-Offset`, `Upload-Defer-Length` in,
//! `Upload-Expires` out.
//!
//! Numbers are decimal digits only (no sign, no space, no `0x`) and must fit a `u64`: what Rust's own parser
//! would also take (`+5`) is refused, so a value means one thing to every server that reads it.

use std::time::{Duration, UNIX_EPOCH};

pub const UPLOAD_LENGTH: &str = "Upload-Length";
pub const UPLOAD_OFFSET: &str = "Upload-Offset";
pub const UPLOAD_DEFER_LENGTH: &str = "Upload-Defer-Length";

/// A tus header that cannot be used; `header` names it (the answer's `field`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{header} {reason}")]
pub struct InvalidHeader {
    pub header: &'static str,
    pub reason: &'static str,
}

/// `Upload-Length`: the file's size in bytes.
pub fn parse_length(value: &str) -> Result<u64, InvalidHeader> {
    decimal(UPLOAD_LENGTH, value)
}

/// `Upload-Offset`: where the request's bytes go.
pub fn parse_offset(value: &str) -> Result<u64, InvalidHeader> {
    decimal(UPLOAD_OFFSET, value)
}

/// `Upload-Defer-Length`: the only value the protocol defines is `1`.
pub fn parse_defer_length(value: &str) -> Result<(), InvalidHeader> {
    if value == "1" {
        Ok(())
    } else {
        Err(InvalidHeader {
            header: UPLOAD_DEFER_LENGTH,
            reason: "must be 1",
        })
    }
}

fn decimal(header: &'static str, value: &str) -> Result<u64, InvalidHeader> {
    let invalid = |reason| InvalidHeader { header, reason };
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid("must be a number of bytes in decimal digits"));
    }
    value
        .parse()
        .map_err(|_| invalid("is larger than any size this server takes"))
}

/// `Upload-Expires`: an IMF-fixdate (RFC 9110), e.g. `Wed, 25 Jun 2014 16:00:00 GMT`, from seconds since the
/// Unix epoch.
pub fn format_expires(unix_seconds: u64) -> String {
    httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_secs(unix_seconds))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_and_offsets_are_decimal_digits_that_fit() {
        assert_eq!(parse_length("0"), Ok(0));
        assert_eq!(parse_length("1073741824"), Ok(1 << 30));
        assert_eq!(parse_offset("007"), Ok(7));
        assert_eq!(parse_offset("18446744073709551615"), Ok(u64::MAX));
        let invalid = |header, reason| Err(InvalidHeader { header, reason });
        assert_eq!(
            parse_offset("18446744073709551616"),
            invalid(UPLOAD_OFFSET, "is larger than any size this server takes")
        );
        for bad in ["", "+5", "-1", " 5", "5 ", "0x10", "1e3", "1.0", "١٢"] {
            assert_eq!(
                parse_length(bad),
                invalid(UPLOAD_LENGTH, "must be a number of bytes in decimal digits"),
                "{bad:?}"
            );
            assert!(parse_offset(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn defer_length_takes_only_1() {
        assert_eq!(parse_defer_length("1"), Ok(()));
        for bad in ["", "0", "true", "01", " 1"] {
            assert_eq!(
                parse_defer_length(bad).map_err(|e| e.header),
                Err(UPLOAD_DEFER_LENGTH),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn expiry_is_an_imf_fixdate_in_gmt() {
        // The spec's own example.
        assert_eq!(
            format_expires(1_403_712_000),
            "Wed, 25 Jun 2014 16:00:00 GMT"
        );
        assert_eq!(format_expires(0), "Thu, 01 Jan 1970 00:00:00 GMT");
    }
}
