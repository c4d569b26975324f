//! How long a widget's timer waits (docs/behaviour.md#timers): `accept_within` and
//! `reply_within`. Parsed once at the edge — the HTTP API, `/handoff routing`, the
//! configuration file — so a window that exists is always usable: more than nothing and
//! at most a day.

use std::fmt;
use std::time::Duration;

/// A timer's wait: more than zero, at most [`Window::MAX`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Window(Duration);

impl Window {
    /// The longest window: a conversation nobody accepts for a day needs a person, not a timer.
    pub const MAX: Duration = Duration::from_secs(24 * 3600);

    /// `5m`, `90s`, `1h 30m`, `500ms`; `off` (or `none`) is no window.
    pub fn parse(text: &str) -> Result<Option<Window>, String> {
        let text = text.trim();
        if matches!(text.to_ascii_lowercase().as_str(), "off" | "none") {
            return Ok(None);
        }
        let d = humantime::parse_duration(text)
            .map_err(|_| format!("`{text}` is not a duration: write it like `5m`, `90s` or `1h 30m`, or `off`"))?;
        Self::of(d).map(Some)
    }

    /// A window of `d`, if it is in range.
    pub fn of(d: Duration) -> Result<Window, String> {
        if d.is_zero() {
            return Err("a timer must wait longer than 0 s; to switch it off, say `off`".into());
        }
        if d > Self::MAX {
            return Err(format!("{} is longer than the longest timer, 24h", show(d)));
        }
        Ok(Window(d))
    }

    /// From a stored number of milliseconds.
    pub fn from_millis(ms: i64) -> Result<Window, String> {
        Self::of(Duration::from_millis(
            u64::try_from(ms).map_err(|_| format!("{ms} ms is negative"))?,
        ))
    }

    pub fn as_millis(self) -> i64 {
        self.0.as_millis() as i64
    }

    pub fn duration(self) -> Duration {
        self.0
    }
}

impl fmt::Display for Window {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&show(self.0))
    }
}

/// A duration in the largest unit that divides it: `24h`, `90m`, `45s`, `500ms`.
fn show(d: Duration) -> String {
    let ms = d.as_millis();
    match ms {
        _ if ms.is_multiple_of(3_600_000) => format!("{}h", ms / 3_600_000),
        _ if ms.is_multiple_of(60_000) => format!("{}m", ms / 60_000),
        _ if ms.is_multiple_of(1000) => format!("{}s", ms / 1000),
        _ => format!("{ms}ms"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_and_off_is_none() {
        assert_eq!(Window::parse("5m").unwrap().unwrap().as_millis(), 300_000);
        assert_eq!(Window::parse("1h 30m").unwrap().unwrap().as_millis(), 5_400_000);
        assert_eq!(Window::parse("500ms").unwrap().unwrap().as_millis(), 500);
        assert_eq!(Window::parse("off").unwrap(), None);
        assert_eq!(Window::parse(" OFF ").unwrap(), None);
        assert_eq!(Window::parse("24h").unwrap().unwrap().to_string(), "24h");
        assert_eq!(Window::parse("90s").unwrap().unwrap().to_string(), "90s");
        assert_eq!(Window::parse("1h 30m").unwrap().unwrap().to_string(), "90m");
    }

    #[test]
    fn malformed_zero_and_too_long_are_refused_saying_why() {
        assert!(Window::parse("soon").unwrap_err().contains("`soon` is not a duration"));
        assert!(Window::parse("0s").unwrap_err().contains("longer than 0 s"));
        assert!(
            Window::parse("25h")
                .unwrap_err()
                .contains("longer than the longest timer, 24h")
        );
        assert!(Window::parse("").is_err());
        assert!(Window::from_millis(-5).is_err());
    }

    #[test]
    fn any_text_is_a_window_or_a_reason_never_a_panic() {
        for text in [
            "99999999999999999999999h",
            "18446744073709551615s",
            "1h 1h 1h",
            "5 m",
            "-5m",
            "5m soon",
            "٣m",
            "∞",
            "1e3s",
            "0.5h",
        ] {
            match Window::parse(text) {
                Ok(Some(w)) => assert!(w.duration() <= Window::MAX && !w.duration().is_zero(), "{text}"),
                Ok(None) => panic!("{text} is not off"),
                Err(why) => assert!(!why.is_empty()),
            }
        }
    }
}
