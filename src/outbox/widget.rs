//! Delivery to the widget platform (`docs/widget-api.md#outbound-calls`): a signed POST
//! (PATCH or DELETE for an edited or deleted reply) with the row's idempotency key.

use super::{Delivery, Target};
use crate::signature;
use crate::store::outbox::OutboxRow;
use secrecy::{ExposeSecret, SecretString};
use std::time::Duration;

pub struct WidgetTarget {
    base_url: String,
    secret: SecretString,
    http: reqwest::Client,
}

impl WidgetTarget {
    pub fn new(base_url: &str, secret: SecretString, timeout: Duration) -> anyhow::Result<WidgetTarget> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .user_agent("handoff-bridge")
            // A redirect would carry the signature and the body somewhere else.
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(WidgetTarget {
            base_url: base_url.trim_end_matches('/').to_owned(),
            secret,
            http,
        })
    }

    async fn post(&self, row: &OutboxRow) -> Delivery {
        let payload: serde_json::Value = match serde_json::from_str(&row.payload) {
            Ok(p) => p,
            Err(e) => return Delivery::Dead(format!("unreadable payload: {e}")),
        };
        let (Some(path), body) = (payload["path"].as_str(), &payload["body"]) else {
            return Delivery::Dead("payload has no path".into());
        };
        let method = match payload["method"].as_str() {
            None | Some("POST") => reqwest::Method::POST,
            Some("PATCH") => reqwest::Method::PATCH,
            Some("DELETE") => reqwest::Method::DELETE,
            Some(other) => return Delivery::Dead(format!("unknown method `{other}`")),
        };
        let body = body.to_string();
        let sig = signature::sign(
            self.secret.expose_secret().as_bytes(),
            signature::unix_now(),
            body.as_bytes(),
        );
        let res = self
            .http
            .request(method, format!("{}{path}", self.base_url))
            .header("content-type", "application/json")
            .header(signature::HEADER, sig)
            .header("idempotency-key", &row.idempotency_key)
            .body(body)
            .send()
            .await;
        match res {
            Err(e) if e.is_timeout() => Delivery::Retry("timed out".into()),
            // Without the URL: the reason is shown in chat threads.
            Err(e) => Delivery::Retry(format!("request failed: {}", e.without_url())),
            Ok(r) => classify(
                r.status().as_u16(),
                r.headers().get("retry-after").and_then(|v| v.to_str().ok()),
            ),
        }
    }
}

#[async_trait::async_trait]
impl Target for WidgetTarget {
    async fn deliver(&self, row: &OutboxRow) -> Delivery {
        self.post(row).await
    }
}

/// What an HTTP status means for an outbox row. A 429's `Retry-After` is honoured only
/// when well formed (see [`super::parse_retry_after`]).
pub fn classify(status: u16, retry_after: Option<&str>) -> Delivery {
    match status {
        200..=299 => Delivery::Delivered,
        429 => match retry_after.and_then(|v| super::parse_retry_after(v, std::time::SystemTime::now())) {
            Some(after) => Delivery::HoldBack(Some(after), format!("429, Retry-After {}s", after.as_secs())),
            None => Delivery::HoldBack(None, "429 without a usable Retry-After".into()),
        },
        408 | 500..=599 => Delivery::Retry(format!("HTTP {status}")),
        _ => Delivery::Dead(format!("HTTP {status}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_map_to_retry_holdback_or_dead() {
        assert_eq!(classify(200, None), Delivery::Delivered);
        assert!(matches!(classify(503, None), Delivery::Retry(_)));
        assert!(matches!(classify(429, Some("3")), Delivery::HoldBack(Some(d), _) if d == Duration::from_secs(3)));
        assert!(matches!(classify(429, Some("nan")), Delivery::HoldBack(None, _)));
        assert!(matches!(classify(429, None), Delivery::HoldBack(None, _)));
        assert!(matches!(classify(404, None), Delivery::Dead(_)));
    }
}
