//! Slack's published Web API rate limits, kept before Slack has to enforce them:
//! `chat.postMessage` at about one message per second per channel (short bursts allowed),
//! and every other method by its tier (Tier 3: 50 a minute, Tier 4: 100 a minute, per
//! workspace). A delivery waits for its turn here; a 429 that still comes back holds
//! its lane (the channel, or the method) as its `Retry-After` says, and the outbox holds
//! back the row; the hold is kept in the database too, for the other instances and for
//! this one after a restart. With several instances on PostgreSQL each call also takes
//! its slot in the shared pace (`outbox::pace`), so the instances keep the limits
//! together.

use crate::outbox::pace::{Lane, SharedPace};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Posts a channel may take at once before the one-per-second pace applies.
const CHANNEL_BURST: u32 = 20;
const TIER3: [&str; 5] = [
    "chat.update",
    "reactions.add",
    "conversations.open",
    "conversations.history",
    "conversations.replies",
];
const TIER4: [&str; 5] = [
    "chat.postEphemeral",
    "chat.getPermalink",
    "views.open",
    "users.info",
    "auth.test",
];

pub struct Limits {
    per_channel: DefaultKeyedRateLimiter<String>,
    per_method: HashMap<&'static str, DefaultDirectRateLimiter>,
    /// Lanes a 429 holds, until when.
    holds: Mutex<HashMap<String, Instant>>,
    /// The pace kept in the database (slots shared on PostgreSQL; holds on both).
    shared: Option<SharedPace>,
    /// Whether the holds in the database were read (once, at the first call).
    loaded: tokio::sync::OnceCell<()>,
    /// When channels whose pace is back to full were last forgotten.
    swept: Mutex<Instant>,
    /// Whether calls wait for Slack's published pace (always, but against a stand-in
    /// that enforces none, where the load generator measures the bridge itself); a
    /// 429's `Retry-After` is obeyed either way.
    paced: bool,
}

/// How often channels at full pace are forgotten, so the map does not grow forever.
const SWEEP_EVERY: Duration = Duration::from_secs(60);

fn per_minute(n: u32) -> Quota {
    Quota::per_minute(NonZeroU32::new(n).expect("a positive quota"))
}

impl Default for Limits {
    fn default() -> Self {
        Limits::new(None)
    }
}

/// The lane a call of `method` (on `channel`, for posts) is paced in, if any.
fn lane(method: &str, channel: Option<&str>) -> Option<Lane> {
    let (key, every_ms, burst) = if method == "chat.postMessage" {
        (format!("slack:post:{}", channel?), 1000, i64::from(CHANNEL_BURST))
    } else if TIER3.contains(&method) {
        (format!("slack:{method}"), 60_000 / 50, 50)
    } else if TIER4.contains(&method) {
        (format!("slack:{method}"), 60_000 / 100, 100)
    } else {
        return None;
    };
    Some(Lane { key, every_ms, burst })
}

impl Limits {
    pub fn new(shared: Option<SharedPace>) -> Limits {
        let mut per_method = HashMap::new();
        for m in TIER3 {
            per_method.insert(m, RateLimiter::direct(per_minute(50)));
        }
        for m in TIER4 {
            per_method.insert(m, RateLimiter::direct(per_minute(100)));
        }
        let channel = Quota::per_second(NonZeroU32::new(1).expect("one"))
            .allow_burst(NonZeroU32::new(CHANNEL_BURST).expect("a positive burst"));
        Limits {
            per_channel: RateLimiter::keyed(channel),
            per_method,
            holds: Mutex::new(HashMap::new()),
            shared,
            loaded: tokio::sync::OnceCell::new(),
            swept: Mutex::new(Instant::now()),
            paced: true,
        }
    }

    /// Keeps Slack's published pace (the default), or only the holds a 429 puts on a
    /// lane (see [`SlackSettings::paced`](crate::config::SlackSettings::paced)).
    pub fn paced(mut self, paced: bool) -> Limits {
        self.paced = paced;
        self
    }

    /// Waits until `method` may be called (on `channel`, for posts), however long.
    pub async fn wait(&self, method: &str, channel: Option<&str>) {
        let _ = self.turn(method, channel, Duration::MAX).await;
    }

    /// Waits for `method`'s turn (on `channel`, for posts) if it comes within `at_most`.
    /// A turn further off is not waited for, and takes no slot: `Err` says how far off it
    /// is, so an outbox row can be held back until then instead of sitting out its
    /// delivery's timeout (a timed-out wait would count as a failed attempt, and on
    /// PostgreSQL would have taken a shared slot it never used).
    pub async fn turn(&self, method: &str, channel: Option<&str>, at_most: Duration) -> Result<(), Duration> {
        self.sweep();
        let Some(lane) = lane(method, channel) else {
            return Ok(());
        };
        self.load_holds().await;
        self.wait_out_hold(&lane.key, at_most).await?;
        if !self.paced {
            return Ok(());
        }
        let busy = match channel {
            Some(channel) if method == "chat.postMessage" => {
                let key = channel.to_owned();
                match self.per_channel.check_key(&key) {
                    Ok(()) => None,
                    Err(not_until) => Some((not_until.wait_time_from(DefaultClock::default().now()), Some(key))),
                }
            }
            _ => match self.per_method.get(method).map(|l| l.check()) {
                Some(Err(not_until)) => Some((not_until.wait_time_from(DefaultClock::default().now()), None)),
                _ => None,
            },
        };
        if let Some((wait, key)) = busy {
            if wait > at_most {
                return Err(wait);
            }
            match key {
                Some(key) => self.per_channel.until_key_ready(&key).await,
                None => {
                    if let Some(limiter) = self.per_method.get(method) {
                        limiter.until_ready().await;
                    }
                }
            }
        }
        // A hold that came while this call waited its turn holds it too.
        self.wait_out_hold(&lane.key, at_most).await?;
        match self.shared.as_ref().filter(|s| s.reserves()) {
            Some(shared) => shared.wait(std::slice::from_ref(&lane), at_most).await,
            None => Ok(()),
        }
    }

    /// Takes in the holds a crash left in the database (once).
    async fn load_holds(&self) {
        let Some(shared) = &self.shared else {
            return;
        };
        self.loaded
            .get_or_init(|| async {
                let now = Instant::now();
                let mut holds = Vec::new();
                for (key, left) in shared.holds().await {
                    if let Some(key) = key.strip_prefix("slack:") {
                        holds.push((format!("slack:{key}"), now + left));
                    }
                }
                let mut map = self.holds.lock().unwrap_or_else(|e| e.into_inner());
                for (key, until) in holds {
                    let held = map.entry(key).or_insert(until);
                    *held = (*held).max(until);
                }
            })
            .await;
    }

    /// Waits until the lane `key` is not held here, if that is within `at_most`.
    async fn wait_out_hold(&self, key: &str, at_most: Duration) -> Result<(), Duration> {
        let held = {
            let holds = self.holds.lock().unwrap_or_else(|e| e.into_inner());
            holds.get(key).copied()
        };
        if let Some(until) = held {
            let left = until.saturating_duration_since(Instant::now());
            if left > at_most {
                return Err(left);
            }
            tokio::time::sleep_until(until.into()).await;
        }
        Ok(())
    }

    /// Holds calls of `method` (on `channel`, for posts) for `wait`, here and, when
    /// shared, on every instance.
    pub fn hold(&self, method: &str, channel: Option<&str>, wait: Duration) {
        let Some(lane) = lane(method, channel) else {
            return;
        };
        let until = Instant::now() + wait;
        {
            let mut holds = self.holds.lock().unwrap_or_else(|e| e.into_inner());
            let held = holds.entry(lane.key.clone()).or_insert(until);
            *held = (*held).max(until);
        }
        if let Some(shared) = self.shared.clone() {
            tokio::spawn(async move { shared.hold(&lane, wait).await });
        }
    }

    /// Forgets channels whose pace is back to full, and holds that ended, once a minute.
    fn sweep(&self) {
        let mut swept = self.swept.lock().unwrap_or_else(|e| e.into_inner());
        if swept.elapsed() >= SWEEP_EVERY {
            *swept = Instant::now();
            self.per_channel.retain_recent();
            self.per_channel.shrink_to_fit();
            let now = Instant::now();
            self.holds
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .retain(|_, until| *until > now);
        }
    }

    /// Channels currently remembered.
    pub fn channels(&self) -> usize {
        self.per_channel.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_burst_of_posts_goes_at_once_and_the_next_waits_its_turn() {
        let limits = Limits::default();
        let started = Instant::now();
        for _ in 0..CHANNEL_BURST {
            limits.wait("chat.postMessage", Some("C1")).await;
        }
        assert!(started.elapsed() < Duration::from_millis(500));
        // Another channel is not held back by the first one's burst.
        limits.wait("chat.postMessage", Some("C2")).await;
        assert!(
            limits.per_channel.check_key(&"C1".to_owned()).is_err(),
            "C1 must now wait"
        );
        assert!(limits.per_method["chat.update"].check().is_ok());
    }

    #[tokio::test]
    async fn a_hold_holds_its_lane_only() {
        let limits = Limits::default();
        let hold = Duration::from_millis(300);
        limits.hold("chat.postMessage", Some("C1"), hold);
        let started = Instant::now();
        limits.wait("chat.postMessage", Some("C2")).await;
        assert!(started.elapsed() < hold, "another channel goes at once");
        limits.wait("chat.postMessage", Some("C1")).await;
        assert!(started.elapsed() >= hold, "the held channel waits");
    }

    #[tokio::test]
    async fn a_turn_too_far_off_is_not_waited_for_and_takes_no_slot() {
        let limits = Limits::default();
        for _ in 0..CHANNEL_BURST {
            limits
                .turn("chat.postMessage", Some("C1"), Duration::ZERO)
                .await
                .unwrap();
        }
        // The burst is spent: the next post's turn is about a second off.
        let far = limits
            .turn("chat.postMessage", Some("C1"), Duration::from_millis(100))
            .await
            .unwrap_err();
        assert!(
            far > Duration::from_millis(100) && far <= Duration::from_secs(1),
            "{far:?}"
        );
        // Asking did not take the slot: it is there when its time comes.
        let started = Instant::now();
        limits
            .turn("chat.postMessage", Some("C1"), Duration::from_secs(2))
            .await
            .unwrap();
        assert!(started.elapsed() <= Duration::from_secs(1) + Duration::from_millis(200));
        // A hold longer than the wait allowed is not waited either.
        limits.hold("chat.update", None, Duration::from_secs(30));
        let held = limits
            .turn("chat.update", None, Duration::from_secs(1))
            .await
            .unwrap_err();
        assert!(held > Duration::from_secs(29), "{held:?}");
    }

    #[tokio::test]
    async fn ended_holds_and_channels_back_to_full_pace_are_forgotten() {
        let limits = Limits::default();
        limits.hold("chat.postMessage", Some("C1"), Duration::ZERO);
        limits.hold("chat.update", None, Duration::ZERO);
        assert_eq!(limits.holds.lock().unwrap().len(), 2);
        // The next call after a minute sweeps: nothing is left of lanes at rest.
        let long_ago = Instant::now()
            .checked_sub(SWEEP_EVERY * 2)
            .expect("a minute after boot");
        *limits.swept.lock().unwrap() = long_ago;
        limits.wait("users.info", None).await;
        assert!(limits.holds.lock().unwrap().is_empty(), "ended holds are forgotten");
        assert_eq!(limits.channels(), 0, "no channel is remembered at full pace");
    }
}
