//! How a test makes the Slack stand-in misbehave: per-method queued faults (429 with any
//! `Retry-After`, 5xx, `ok: false` errors, delays, lost answers, hangs), random chaos, and
//! the referee's record of calls that came inside a `Retry-After`.

use std::time::Duration;

use axum::http::HeaderValue;

use super::SlackStandIn;
use super::state::Fault;

impl SlackStandIn {
    /// Random faults for every call without a queued one (`None`: none).
    pub fn set_chaos(&self, chaos: Option<crate::standins::chaos::Chaos>) {
        self.world().chaos = chaos;
    }

    /// The calls that came inside a 429's `Retry-After`: lane, when the 429 was
    /// answered, when the call came.
    pub fn retry_after_ignored_on(&self) -> Vec<(String, std::time::Instant, std::time::Instant)> {
        self.world().referee.ignored_on.clone()
    }

    /// 429s answered, and calls that came inside a 429's `Retry-After` on its lane.
    pub fn retry_after_record(&self) -> (u64, u64) {
        let w = self.world();
        (w.referee.rate_limited, w.referee.ignored)
    }

    /// The next `n` calls of `method` get HTTP 429 with `Retry-After: retry_after_secs`
    /// and `{"ok":false,"error":"ratelimited"}`, and change nothing.
    pub fn rate_limit_next(&self, method: &str, n: usize, retry_after_secs: u64) {
        self.push_faults(method, n, Fault::RateLimited(HeaderValue::from(retry_after_secs)));
    }

    /// Like [`Self::rate_limit_next`], but `Retry-After` carries `retry_after` verbatim,
    /// whatever it says (`"nan"`, `"-1"`, `""`, an HTTP date, …). Panics if it cannot be
    /// an HTTP header value at all (control characters, non-ASCII).
    pub fn rate_limit_next_raw(&self, method: &str, n: usize, retry_after: &str) {
        let value = HeaderValue::from_str(retry_after)
            .unwrap_or_else(|e| panic!("slack stand-in: Retry-After {retry_after:?} is no header value: {e}"));
        self.push_faults(method, n, Fault::RateLimited(value));
    }

    /// The next `n` calls of `method` get HTTP `status` (e.g. 500, 503) with a JSON body,
    /// and change nothing.
    pub fn fail_next(&self, method: &str, n: usize, status: u16) {
        self.push_faults(method, n, Fault::Status(status));
    }

    /// The next `n` calls of `method` get HTTP 200 `{"ok":false,"error":error}`, and change
    /// nothing.
    pub fn error_next(&self, method: &str, n: usize, error: &str) {
        self.push_faults(method, n, Fault::Error(error.to_string()));
    }

    /// The next `n` calls of `method` are answered (normally) only after `delay`.
    pub fn delay_next(&self, method: &str, n: usize, delay: Duration) {
        self.push_faults(method, n, Fault::Delay(delay));
    }

    /// The next `n` calls of `method` are carried out, but answered `504` as if the
    /// response had been lost on the way back (the recorded call keeps the real answer
    /// under `response.lost`).
    pub fn lose_response_next(&self, method: &str, n: usize) {
        self.push_faults(method, n, Fault::LostResponse);
    }

    /// The next `n` calls of `method` hang: they change nothing and get no answer until
    /// [`Self::clear_faults`] or until the stand-in stops (its last handle dropped); then
    /// they are answered 503 `service_unavailable`, if the client still waits. Each is
    /// recorded on arrival with `status: 0` and `response: Null` (set to the 503 when it
    /// is let go, unless taken by then). Every other call, of any method and channel, is
    /// served meanwhile.
    pub fn hang_next(&self, method: &str, n: usize) {
        self.push_faults(method, n, Fault::Hang);
    }

    /// Drops every queued fault, and lets every hung call go (see [`Self::hang_next`]).
    pub fn clear_faults(&self) {
        let mut w = self.world();
        w.faults.clear();
        // Under the world lock, so that no call pops a hang it would then miss this for.
        self.shared.hangs.release();
    }

    fn push_faults(&self, method: &str, n: usize, fault: Fault) {
        self.world()
            .faults
            .entry(method.to_string())
            .or_default()
            .extend(std::iter::repeat_n(fault, n));
    }
}
