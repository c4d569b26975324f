//! Slack's published Web API rate limits, kept before Slack has to enforce them:
//! `chat.postMessage` at about one message per second per channel (short bursts allowed),
//! and every other method by its tier (Tier 3: 50 a minute, Tier 4: 100 a minute, per
//! workspace). A delivery waits for its turn here; a 429 that still comes back is held
//! back by the outbox as its `Retry-After` says.

use governor::{DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::collections::HashMap;
use std::num::NonZeroU32;

/// Posts a channel may take at once before the one-per-second pace applies.
const CHANNEL_BURST: u32 = 20;

pub struct Limits {
    per_channel: DefaultKeyedRateLimiter<String>,
    per_method: HashMap<&'static str, DefaultDirectRateLimiter>,
    /// When channels whose pace is back to full were last forgotten.
    swept: std::sync::Mutex<std::time::Instant>,
}

/// How often channels at full pace are forgotten, so the map does not grow forever.
const SWEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(60);

fn per_minute(n: u32) -> Quota {
    Quota::per_minute(NonZeroU32::new(n).expect("a positive quota"))
}

impl Default for Limits {
    fn default() -> Self {
        let tier3 = [
            "chat.update",
            "reactions.add",
            "conversations.open",
            "conversations.history",
        ];
        let tier4 = [
            "chat.postEphemeral",
            "chat.getPermalink",
            "views.open",
            "users.info",
            "auth.test",
        ];
        let mut per_method = HashMap::new();
        for m in tier3 {
            per_method.insert(m, RateLimiter::direct(per_minute(50)));
        }
        for m in tier4 {
            per_method.insert(m, RateLimiter::direct(per_minute(100)));
        }
        let channel = Quota::per_second(NonZeroU32::new(1).expect("one"))
            .allow_burst(NonZeroU32::new(CHANNEL_BURST).expect("a positive burst"));
        Limits {
            per_channel: RateLimiter::keyed(channel),
            per_method,
            swept: std::sync::Mutex::new(std::time::Instant::now()),
        }
    }
}

impl Limits {
    /// Waits until `method` may be called (on `channel`, for posts).
    pub async fn wait(&self, method: &str, channel: Option<&str>) {
        self.sweep();
        if method == "chat.postMessage" {
            if let Some(channel) = channel {
                self.per_channel.until_key_ready(&channel.to_owned()).await;
            }
        } else if let Some(limiter) = self.per_method.get(method) {
            limiter.until_ready().await;
        }
    }
}

impl Limits {
    /// Forgets channels whose pace is back to full, once a minute.
    fn sweep(&self) {
        let mut swept = self.swept.lock().unwrap_or_else(|e| e.into_inner());
        if swept.elapsed() >= SWEEP_EVERY {
            *swept = std::time::Instant::now();
            self.per_channel.retain_recent();
            self.per_channel.shrink_to_fit();
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
        let started = std::time::Instant::now();
        for _ in 0..CHANNEL_BURST {
            limits.wait("chat.postMessage", Some("C1")).await;
        }
        assert!(started.elapsed() < std::time::Duration::from_millis(500));
        // Another channel is not held back by the first one's burst.
        limits.wait("chat.postMessage", Some("C2")).await;
        assert!(
            limits.per_channel.check_key(&"C1".to_owned()).is_err(),
            "C1 must now wait"
        );
        assert!(limits.per_method["chat.update"].check().is_ok());
    }
}
