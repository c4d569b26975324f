//! The widget platform's request signature (`docs/widget-api.md#signing`):
//! `X-Handoff-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">`.
//! Used to verify inbound events, to sign outbound calls, and by the widget stand-in.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

pub const HEADER: &str = "x-handoff-signature";
/// Requests signed longer ago (or further ahead) than this are refused.
pub const MAX_AGE_SECS: i64 = 300;

type HmacSha256 = Hmac<Sha256>;

/// Why a signature was refused; the text is safe to show the caller.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("missing X-Handoff-Signature header")]
    Missing,
    #[error("malformed X-Handoff-Signature header: expected `t=<unix seconds>,v1=<hex>`")]
    Malformed,
    #[error("signature timestamp is more than {MAX_AGE_SECS} seconds away from now")]
    Stale,
    #[error("signature does not match the body")]
    Mismatch,
}

fn mac(secret: &[u8], t: i64, body: &[u8]) -> HmacSha256 {
    let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC accepts any key length");
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// The header value for `body` signed at unix time `t`.
pub fn sign(secret: &[u8], t: i64, body: &[u8]) -> String {
    format!("t={t},v1={}", hex::encode(mac(secret, t, body).finalize().into_bytes()))
}

/// Checks a header value against `body` at unix time `now`.
pub fn verify(secret: &[u8], header: Option<&str>, body: &[u8], now: i64) -> Result<(), SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?;
    let (mut t, mut v1) = (None, None);
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", v)) => t = v.parse::<i64>().ok(),
            Some(("v1", v)) => v1 = hex::decode(v).ok(),
            _ => {}
        }
    }
    let (t, v1) = t.zip(v1).ok_or(SignatureError::Malformed)?;
    // `abs_diff`: a hostile timestamp (i64::MIN) must not overflow.
    if now.abs_diff(t) > MAX_AGE_SECS.unsigned_abs() {
        return Err(SignatureError::Stale);
    }
    mac(secret, t, body)
        .verify_slice(&v1)
        .map_err(|_| SignatureError::Mismatch)
}

/// Seconds since the epoch.
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_refusals() {
        let h = sign(b"s3cret", 1000, b"{}");
        assert_eq!(verify(b"s3cret", Some(&h), b"{}", 1100), Ok(()));
        assert_eq!(verify(b"other", Some(&h), b"{}", 1100), Err(SignatureError::Mismatch));
        assert_eq!(verify(b"s3cret", Some(&h), b"{ }", 1100), Err(SignatureError::Mismatch));
        assert_eq!(verify(b"s3cret", Some(&h), b"{}", 1301), Err(SignatureError::Stale));
        assert_eq!(verify(b"s3cret", None, b"{}", 1000), Err(SignatureError::Missing));
        assert_eq!(
            verify(b"s3cret", Some("v1=zz"), b"{}", 1000),
            Err(SignatureError::Malformed)
        );
    }

    #[test]
    fn an_extreme_timestamp_is_stale_not_an_overflow() {
        let header = format!("t={},v1=00", i64::MIN);
        assert_eq!(verify(b"s", Some(&header), b"{}", 1000), Err(SignatureError::Stale));
        let header = format!("t={},v1=00", i64::MAX);
        assert_eq!(verify(b"s", Some(&header), b"{}", -1000), Err(SignatureError::Stale));
    }
}
