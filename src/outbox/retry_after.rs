//! `Retry-After`, parsed strictly: whole seconds or an HTTP date, nothing else. A value
//! that is neither (`nan`, `-1`, `1.5`, garbage) is ignored and the row gets the normal
//! backoff, so a platform's malformed answer can never stall or crash delivery.

use std::time::{Duration, SystemTime};

/// The longest hold-back honoured; a platform asking for more is retried after this.
pub const MAX_HOLD_BACK: Duration = Duration::from_secs(3600);

/// How long a `Retry-After` value asks to wait, measured from `now`; `None` when the
/// value is malformed.
pub fn parse(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        let secs = value.parse::<u64>().unwrap_or(u64::MAX);
        return Some(Duration::from_secs(secs).min(MAX_HOLD_BACK));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO).min(MAX_HOLD_BACK))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_seconds_and_http_dates_are_understood() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_445_412_480); // 2015-10-21 07:28:00 GMT
        assert_eq!(parse("3", now), Some(Duration::from_secs(3)));
        assert_eq!(parse(" 0 ", now), Some(Duration::ZERO));
        assert_eq!(parse("99999999999999999999999", now), Some(MAX_HOLD_BACK));
        assert_eq!(
            parse("Wed, 21 Oct 2015 07:28:30 GMT", now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(parse("Wed, 21 Oct 2015 07:27:00 GMT", now), Some(Duration::ZERO));
    }

    #[test]
    fn anything_else_is_refused() {
        let now = SystemTime::now();
        for bad in ["nan", "NaN", "inf", "-1", "1.5", "", "soon", "3s", "+3", "1e3"] {
            assert_eq!(parse(bad, now), None, "{bad:?}");
        }
    }
}
