//! Random faults for a chaos run, shared by the stand-ins: a share of calls answered
//! with a 5xx or a 429 (with a `Retry-After`), a share delayed. And the referee of
//! `Retry-After`: per lane (what one 429 holds: a Slack channel's posts, a Slack method,
//! a Discord route), the window a 429 asked the client to keep off, and the calls that
//! came inside it anyway.

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// How much of what goes wrong.
#[derive(Debug, Clone)]
pub struct Chaos {
    /// Share of calls answered with a 5xx.
    pub server_errors: f64,
    /// Share of calls answered 429 with `Retry-After: retry_after_secs`.
    pub rate_limits: f64,
    pub retry_after_secs: u64,
    /// Share of calls answered only after a random delay up to `max_delay`.
    pub delays: f64,
    pub max_delay: Duration,
}

impl Default for Chaos {
    /// 10% 5xx, 5% 429 (2 s), 20% delayed by up to 300 ms.
    fn default() -> Chaos {
        Chaos {
            server_errors: 0.10,
            rate_limits: 0.05,
            retry_after_secs: 2,
            delays: 0.20,
            max_delay: Duration::from_millis(300),
        }
    }
}

/// What one call gets.
#[derive(Debug, Clone, PartialEq)]
pub enum Roll {
    Normal,
    ServerError,
    RateLimited(u64),
    Delayed(Duration),
}

impl Chaos {
    pub fn roll(&self) -> Roll {
        let p: f64 = rand::random();
        if p < self.server_errors {
            Roll::ServerError
        } else if p < self.server_errors + self.rate_limits {
            Roll::RateLimited(self.retry_after_secs)
        } else if p < self.server_errors + self.rate_limits + self.delays {
            let ms = self.max_delay.as_millis() as u64;
            Roll::Delayed(Duration::from_millis(rand::random_range(0..=ms)))
        } else {
            Roll::Normal
        }
    }
}

/// A call that comes this soon after a 429 was answered may have been sent before the
/// client read it (on a loaded machine that takes a while): not counted against it.
const IN_FLIGHT: Duration = Duration::from_millis(1000);

/// The `Retry-After` windows given out, and what came inside them.
#[derive(Debug, Default)]
pub struct Referee {
    windows: HashMap<String, (Instant, Instant)>,
    /// 429s answered.
    pub rate_limited: u64,
    /// Calls that came inside their lane's window (after the in-flight allowance).
    pub ignored: u64,
    /// Those calls: their lane, when the 429 was answered, and when they came.
    pub ignored_on: Vec<(String, Instant, Instant)>,
}

impl Referee {
    /// A call on `lane` arrives.
    pub fn arrive(&mut self, lane: &str) {
        if let Some((from, until)) = self.windows.get(lane) {
            let now = Instant::now();
            if now >= *from + IN_FLIGHT && now < *until {
                self.ignored += 1;
                self.ignored_on.push((lane.to_owned(), *from, now));
            }
        }
    }

    /// A 429 asking to wait `retry_after` was answered on `lane`.
    pub fn answered_429(&mut self, lane: &str, retry_after: Duration) {
        let now = Instant::now();
        self.rate_limited += 1;
        self.windows.insert(lane.to_owned(), (now, now + retry_after));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_call_inside_a_window_is_counted_and_one_on_another_lane_is_not() {
        let mut r = Referee::default();
        r.answered_429("post:C1", Duration::from_secs(60));
        r.arrive("post:C1");
        assert_eq!(r.ignored, 0, "within the in-flight allowance");
        r.windows.get_mut("post:C1").unwrap().0 -= IN_FLIGHT;
        r.arrive("post:C1");
        r.arrive("post:C2");
        assert_eq!((r.rate_limited, r.ignored), (1, 1));
    }

    #[test]
    fn rolls_follow_the_shares() {
        let chaos = Chaos {
            server_errors: 0.5,
            rate_limits: 0.5,
            ..Chaos::default()
        };
        for _ in 0..100 {
            assert!(matches!(chaos.roll(), Roll::ServerError | Roll::RateLimited(2)));
        }
        let calm = Chaos {
            server_errors: 0.0,
            rate_limits: 0.0,
            delays: 0.0,
            ..Chaos::default()
        };
        assert_eq!(calm.roll(), Roll::Normal);
    }
}
