//! Discord's REST API (v10) as the outbox calls it. Request bodies are serenity's
//! builders; the calls themselves go through a plain HTTP client, because the outbox
//! paces and retries by Discord's rate-limit headers (`X-RateLimit-Bucket`,
//! `-Remaining`, `-Reset-After`, `-Scope`, `-Global`, `Retry-After`), which serenity's
//! own client neither exposes on errors nor applies when pointed at another host.
//!
//! Before a call: the global limit (50 requests a second), a global pause after a
//! global 429, and the route's bucket when it is known to be spent. After a 401, 403 or
//! 429 the invalid-request budget is charged: Discord bans an IP that makes 10,000 of
//! them in 10 minutes, so the bridge stops calling well before that.
//!
//! With several instances on PostgreSQL the global limit, a global pause and a spent
//! bucket are shared through the database (`outbox::pace`), so the instances keep
//! Discord's limits together.

use crate::outbox::pace::{Lane, SharedPace};
use crate::outbox::{Delivery, MAX_HOLD_BACK};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use reqwest::Method;
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use serde_json::Value;
use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Discord's global limit for a bot.
const GLOBAL_PER_SECOND: u32 = 50;
/// Invalid requests (401, 403, 429) allowed per window before the bridge pauses; Discord's
/// own limit is 10,000 per 10 minutes.
const INVALID_BUDGET: u32 = 2_000;
const INVALID_WINDOW: Duration = Duration::from_secs(600);
/// The longest a call waits in place for a spent bucket; longer waits hold the row back
/// (well inside any delivery's timeout, which a wait must not use up).
const MAX_WAIT: Duration = Duration::from_secs(1);
/// Routes remembered before the ones past their reset are forgotten.
const MAX_BUCKETS: usize = 1_000;
/// How long one call may take.
const TIMEOUT: Duration = Duration::from_secs(15);

/// A failed call.
#[derive(Debug, Clone)]
pub enum RestError {
    /// Discord answered with an error: its HTTP status, JSON error code and message.
    Api {
        status: u16,
        code: u64,
        message: String,
        /// For a 429: how long to wait, and whether the limit is the global one.
        retry_after: Option<Duration>,
    },
    /// No usable answer: connection failure, timeout, unreadable body.
    Transport(String),
    /// The bridge itself holds the call back (a spent bucket, a global pause, the
    /// invalid-request budget).
    Paused(Duration, String),
}

impl RestError {
    /// Discord's JSON error code, if it answered with one.
    pub fn code(&self) -> Option<u64> {
        match self {
            RestError::Api { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// What the outbox should do with the row.
    pub fn classify(&self) -> Delivery {
        match self {
            RestError::Api {
                status: 429,
                retry_after,
                ..
            } => Delivery::HoldBack(
                retry_after.map(|d| d.min(MAX_HOLD_BACK)),
                "Discord: rate limited".into(),
            ),
            RestError::Api { status, message, .. } if *status >= 500 => {
                Delivery::Retry(format!("Discord: HTTP {status} {message}"))
            }
            RestError::Api {
                status, code, message, ..
            } => Delivery::Dead(format!("Discord: HTTP {status}, code {code}: {message}")),
            RestError::Transport(e) => Delivery::Retry(format!("Discord: {e}")),
            RestError::Paused(d, why) => Delivery::HoldBack(Some((*d).min(MAX_HOLD_BACK)), why.clone()),
        }
    }
}

impl std::fmt::Display for RestError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RestError::Api {
                status, code, message, ..
            } => write!(f, "HTTP {status}, code {code}: {message}"),
            RestError::Transport(e) => write!(f, "{e}"),
            RestError::Paused(d, why) => write!(f, "{why} (for {d:?})"),
        }
    }
}

/// What the rate-limit headers told about one route's bucket.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    remaining: u64,
    reset_at: Instant,
}

#[derive(Debug, Default)]
struct Pacing {
    /// Route key → the state of its bucket.
    buckets: HashMap<String, Bucket>,
    /// No call before this (after a global 429).
    global_until: Option<Instant>,
    /// Invalid requests in the current window, and when it started.
    invalid: u32,
    invalid_since: Option<Instant>,
}

/// The REST client.
pub struct Rest {
    client: reqwest::Client,
    /// `…/api/v10`.
    base: String,
    token: SecretString,
    global: DefaultDirectRateLimiter,
    /// Whether calls keep the global limit themselves (see `DiscordSettings::paced`).
    paced: bool,
    pacing: Mutex<Pacing>,
    /// The pace shared with other instances (PostgreSQL only).
    shared: Option<SharedPace>,
}

/// The shared lane of Discord's global limit.
fn global_lane() -> Lane {
    Lane {
        key: "discord:global".into(),
        every_ms: 1000 / i64::from(GLOBAL_PER_SECOND),
        burst: i64::from(GLOBAL_PER_SECOND),
    }
}

/// The shared lane of one route's bucket: it only ever holds (a spent bucket, a 429).
fn route_lane(route: &str) -> Lane {
    Lane {
        key: format!("discord:{route}"),
        every_ms: 0,
        burst: 1,
    }
}

impl Rest {
    /// `api_url` is Discord's origin (`https://discord.com`) or a stand-in's.
    pub fn new(api_url: &str, token: &SecretString, shared: Option<SharedPace>) -> anyhow::Result<Rest> {
        let client = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!(
                "DiscordBot (https://github.com/handoff-bridge, ",
                env!("CARGO_PKG_VERSION"),
                ")"
            ))
            .build()?;
        Ok(Rest {
            client,
            base: format!("{}/api/v10", api_url.trim_end_matches('/')),
            token: token.clone(),
            global: RateLimiter::direct(Quota::per_second(
                NonZeroU32::new(GLOBAL_PER_SECOND).expect("a non-zero limit"),
            )),
            paced: true,
            pacing: Mutex::new(Pacing::default()),
            shared,
        })
    }

    /// Keeps the global limit (the default), or only what Discord's answers say.
    pub fn paced(mut self, paced: bool) -> Rest {
        self.paced = paced;
        self
    }

    pub async fn get(&self, path: &str) -> Result<Value, RestError> {
        self.call(Method::GET, path, None::<&()>).await
    }

    pub async fn post(&self, path: &str, body: &impl Serialize) -> Result<Value, RestError> {
        self.call(Method::POST, path, Some(body)).await
    }

    pub async fn patch(&self, path: &str, body: &impl Serialize) -> Result<Value, RestError> {
        self.call(Method::PATCH, path, Some(body)).await
    }

    pub async fn put(&self, path: &str, body: Option<&impl Serialize>) -> Result<Value, RestError> {
        self.call(Method::PUT, path, body).await
    }

    /// One call: `path` under `/api/v10`, e.g. `/channels/1/messages`. An empty answer
    /// (204) is `Null`.
    pub async fn call(&self, method: Method, path: &str, body: Option<&impl Serialize>) -> Result<Value, RestError> {
        let route = route_key(&method, path);
        self.wait_turn(&route).await?;
        let mut req = self
            .client
            .request(method, format!("{}{path}", self.base))
            .header("Authorization", format!("Bot {}", self.token.expose_secret()));
        if let Some(body) = body {
            req = req.json(body);
        }
        let res = req
            .send()
            .await
            .map_err(|e| RestError::Transport(e.without_url().to_string()))?;
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        self.learn(&route, status, &headers);
        let text = res
            .text()
            .await
            .map_err(|e| RestError::Transport(e.without_url().to_string()))?;
        if (200..300).contains(&status) {
            if text.trim().is_empty() {
                return Ok(Value::Null);
            }
            return serde_json::from_str(&text)
                .map_err(|e| RestError::Transport(format!("unreadable answer from Discord: {e}")));
        }
        let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        let retry_after = (status == 429).then(|| retry_after(&headers, &body)).flatten();
        if status == 429 && is_global(&headers, &body) {
            let wait = retry_after.unwrap_or(Duration::from_secs(1));
            self.lock().global_until = Some(Instant::now() + wait);
            tracing::warn!(?wait, "Discord's global rate limit was hit; all calls pause");
            self.share_hold(global_lane(), wait);
        } else if let (429, Some(wait)) = (status, retry_after) {
            self.share_hold(route_lane(&route), wait);
        }
        Err(RestError::Api {
            status,
            code: body["code"].as_u64().unwrap_or(0),
            message: body["message"].as_str().unwrap_or("").to_owned(),
            retry_after,
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Pacing> {
        self.pacing.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits until a call of `route` may go, or says how long it is held back. A 429
    /// that came on the route while this call waited (its turn at the global limit, or
    /// the pace shared with other instances) holds it too: the route is looked at again
    /// after every wait, right before the call goes, and the waits in place add up to at
    /// most `MAX_WAIT`.
    async fn wait_turn(&self, route: &str) -> Result<(), RestError> {
        let started = Instant::now();
        loop {
            while let Some(wait) = self.held(route)? {
                if started.elapsed() + wait > MAX_WAIT {
                    return Err(RestError::Paused(wait, "Discord: rate limit bucket spent".into()));
                }
                tokio::time::sleep(wait).await;
            }
            if !self.paced {
                return Ok(());
            }
            self.global.until_ready().await;
            if let Some(shared) = &self.shared
                && let Err(wait) = shared.wait(&[global_lane(), route_lane(route)], MAX_WAIT).await
            {
                return Err(RestError::Paused(wait, "Discord: rate limit bucket spent".into()));
            }
            if self.held(route)?.is_none() {
                return Ok(());
            }
        }
    }

    /// How long `route` is held (a spent bucket, a global pause), if it is; `Err` when
    /// the invalid-request budget is spent.
    fn held(&self, route: &str) -> Result<Option<Duration>, RestError> {
        let wait = {
            let p = self.lock();
            let now = Instant::now();
            if let Some(since) = p.invalid_since
                && p.invalid >= INVALID_BUDGET
                && now < since + INVALID_WINDOW
            {
                return Err(RestError::Paused(
                    since + INVALID_WINDOW - now,
                    "Discord: too many refused requests lately; calls pause to avoid a ban".into(),
                ));
            }
            let global = p.global_until.filter(|t| *t > now).map(|t| t - now);
            let bucket = p
                .buckets
                .get(route)
                .filter(|b| b.remaining == 0 && b.reset_at > now)
                .map(|b| b.reset_at - now);
            global.max(bucket)
        };
        Ok(wait)
    }

    /// Tells the other instances to hold `lane` for `wait`.
    fn share_hold(&self, lane: Lane, wait: Duration) {
        if let Some(shared) = self.shared.clone() {
            tokio::spawn(async move { shared.hold(&lane, wait).await });
        }
    }

    /// Records what an answer's headers say about its bucket, and charges the
    /// invalid-request budget.
    fn learn(&self, route: &str, status: u16, headers: &reqwest::header::HeaderMap) {
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        let mut p = self.lock();
        if let (Some(remaining), Some(reset_after)) = (
            header("x-ratelimit-remaining").and_then(|v| v.parse::<u64>().ok()),
            header("x-ratelimit-reset-after").and_then(|v| v.parse::<f64>().ok()),
        ) && reset_after.is_finite()
            && reset_after >= 0.0
        {
            let now = Instant::now();
            let reset_at = now + Duration::from_secs_f64(reset_after.min(3600.0));
            p.buckets.insert(route.to_owned(), Bucket { remaining, reset_at });
            if remaining == 0 {
                self.share_hold(route_lane(route), reset_at - now);
            }
            if p.buckets.len() > MAX_BUCKETS {
                // Buckets past their reset tell nothing any more: forget them.
                p.buckets.retain(|_, b| b.reset_at > now);
            }
        }
        if matches!(status, 401 | 403 | 429) {
            let now = Instant::now();
            match p.invalid_since {
                Some(since) if now < since + INVALID_WINDOW => p.invalid += 1,
                _ => {
                    p.invalid_since = Some(now);
                    p.invalid = 1;
                }
            }
            metrics::counter!("handoff_discord_invalid_requests_total", "status" => status.to_string()).increment(1);
            if p.invalid == INVALID_BUDGET / 2 {
                tracing::warn!(
                    invalid = p.invalid,
                    "Discord refused many requests lately (401/403/429); check the bot's permissions"
                );
            }
        }
    }
}

/// A 429's wait: the `Retry-After` header or the body's `retry_after`, in seconds.
fn retry_after(headers: &reqwest::header::HeaderMap, body: &Value) -> Option<Duration> {
    let secs = body["retry_after"].as_f64().or_else(|| {
        headers
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<f64>().ok())
    })?;
    (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs.min(3600.0)))
}

fn is_global(headers: &reqwest::header::HeaderMap, body: &Value) -> bool {
    body["global"].as_bool().unwrap_or(false)
        || headers.get("x-ratelimit-global").is_some()
        || headers
            .get("x-ratelimit-scope")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|s| s == "global")
}

/// A route as Discord buckets it: the method, and the path with its top-level resource
/// id (channel, guild, webhook) kept and every other id replaced.
pub fn route_key(method: &Method, path: &str) -> String {
    let mut out = method.to_string();
    let mut previous = "";
    for seg in path
        .split('?')
        .next()
        .unwrap_or(path)
        .split('/')
        .filter(|s| !s.is_empty())
    {
        let major = matches!(previous, "channels" | "guilds" | "webhooks");
        let is_id = seg.bytes().all(|b| b.is_ascii_digit());
        out.push('/');
        if major {
            out.push_str(seg);
        } else if previous == "reactions" {
            out.push_str(":emoji");
        } else if is_id || previous == "interactions" || (seg.len() > 30 && !seg.contains('@')) {
            out.push_str(":id");
        } else {
            out.push_str(seg);
        }
        previous = seg;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_bucket_spent_while_a_call_waits_its_turn_holds_that_call() {
        let rest = std::sync::Arc::new(Rest::new("http://127.0.0.1:1", &SecretString::from("t"), None).unwrap());
        // The global limit is spent: the next call waits its turn there.
        for _ in 0..GLOBAL_PER_SECOND {
            assert!(rest.global.check().is_ok());
        }
        let route = "POST/channels/1/messages/:id/threads";
        let waiting = {
            let rest = rest.clone();
            tokio::spawn(async move { rest.wait_turn(route).await })
        };
        // It has looked at its route (not held) and waits for the global limit...
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished());
        // ...when another call on the route is answered 429, spending it for 5 s.
        let mut h = reqwest::header::HeaderMap::new();
        h.insert("x-ratelimit-remaining", "0".parse().unwrap());
        h.insert("x-ratelimit-reset-after", "5".parse().unwrap());
        rest.learn(route, 429, &h);
        let turn = waiting.await.unwrap();
        assert!(
            matches!(turn, Err(RestError::Paused(wait, _)) if wait > Duration::from_secs(4)),
            "{turn:?}"
        );
    }

    #[test]
    fn routes_keep_their_major_parameter() {
        assert_eq!(
            route_key(&Method::POST, "/channels/123/messages"),
            "POST/channels/123/messages"
        );
        assert_eq!(
            route_key(&Method::PATCH, "/channels/123/messages/456"),
            "PATCH/channels/123/messages/:id"
        );
        assert_eq!(
            route_key(&Method::PUT, "/channels/1/messages/2/reactions/%E2%9C%85/@me"),
            "PUT/channels/1/messages/:id/reactions/:emoji/@me"
        );
        assert_eq!(
            route_key(
                &Method::POST,
                "/interactions/9/aW50ZXJhY3Rpb24tdG9rZW4tdGhhdC1pcy1sb25n/callback"
            ),
            "POST/interactions/:id/:id/callback"
        );
    }

    #[test]
    fn a_rate_limit_says_how_long_and_whether_global() {
        let mut h = reqwest::header::HeaderMap::new();
        h.insert("retry-after", "2".parse().unwrap());
        assert_eq!(retry_after(&h, &Value::Null), Some(Duration::from_secs(2)));
        let body = serde_json::json!({"retry_after": 0.25, "global": true});
        assert_eq!(retry_after(&h, &body), Some(Duration::from_millis(250)));
        assert!(is_global(&reqwest::header::HeaderMap::new(), &body));
        assert_eq!(retry_after(&h, &serde_json::json!({"retry_after": -1.0})), None);
    }

    #[test]
    fn spent_buckets_are_forgotten_once_past_their_reset() {
        let rest = Rest::new("http://127.0.0.1:1", &SecretString::from("t"), None).unwrap();
        let mut h = reqwest::header::HeaderMap::new();
        h.insert("x-ratelimit-remaining", "0".parse().unwrap());
        h.insert("x-ratelimit-reset-after", "0".parse().unwrap());
        for i in 0..=MAX_BUCKETS + 1 {
            rest.learn(&format!("POST/channels/{i}/messages"), 200, &h);
        }
        assert!(rest.lock().buckets.len() <= 2, "{}", rest.lock().buckets.len());
    }
}
