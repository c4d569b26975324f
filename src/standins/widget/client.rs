//! The sender that plays the widget platform towards the bridge: events signed with the
//! widget secret (`X-Handoff-Signature`), or deliberately mis-signed or stale, posted to
//! `POST /v1/widget/events`; and builders for the three event types, of the shape
//! documented under "The widget platform" in `README.md`, with ids that never repeat.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::http::header;
use serde_json::{Value, json};

use crate::signature;

/// Sends signed widget events to the bridge, as the widget platform does.
#[derive(Debug, Clone)]
pub struct WidgetClient {
    base_url: String,
    secret: String,
    http: reqwest::Client,
}

/// A process-unique prefix plus a counter: ids never repeat within a run, nor across runs
/// sharing a database.
fn unique(prefix: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    static RUN: OnceLock<String> = OnceLock::new();
    let run = RUN.get_or_init(|| {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        format!("{:x}{:x}", std::process::id(), nanos)
    });
    let n = COUNTER.fetch_add(1, Ordering::Relaxed) + 1;
    format!("{prefix}_{run}_{n}")
}

fn rfc3339(at: time::OffsetDateTime) -> String {
    at.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| "1970-01-01T00:00:00Z".to_string())
}

impl WidgetClient {
    pub fn new(bridge_base_url: &str, secret: &str) -> Self {
        WidgetClient {
            base_url: bridge_base_url.trim_end_matches('/').to_string(),
            secret: secret.to_string(),
            http: reqwest::Client::new(),
        }
    }

    /// POSTs the JSON to `{bridge}/v1/widget/events` signed now; returns the response.
    pub async fn send(&self, event: &Value) -> reqwest::Response {
        let body = serde_json::to_vec(event).expect("a JSON value serializes");
        let secret = self.secret.clone();
        self.send_raw(body, signature::unix_now(), &secret).await
    }

    /// [`Self::send`], with an unreachable bridge as an `Err` (for a sender that retries
    /// elsewhere).
    pub async fn try_send(&self, event: &Value) -> Result<reqwest::Response, reqwest::Error> {
        let body = serde_json::to_vec(event).expect("a JSON value serializes");
        let sig = signature::sign(self.secret.as_bytes(), signature::unix_now(), &body);
        self.http
            .post(format!("{}/v1/widget/events", self.base_url))
            .header(header::CONTENT_TYPE, "application/json")
            .header(signature::HEADER, sig)
            .body(body)
            .send()
            .await
    }

    /// Same, but with explicit raw body and signature timestamp (for stale/bad-signature tests).
    pub async fn send_raw(&self, body: Vec<u8>, signed_at: i64, secret: &str) -> reqwest::Response {
        let sig = signature::sign(secret.as_bytes(), signed_at, &body);
        let url = format!("{}/v1/widget/events", self.base_url);
        self.http
            .post(&url)
            .header(header::CONTENT_TYPE, "application/json")
            .header(signature::HEADER, sig)
            .body(body)
            .send()
            .await
            .unwrap_or_else(|e| panic!("widget client: POST {url} failed: {e}"))
    }

    /// Builds a `conversation.handed_off` event of the documented shape: fresh unique event
    /// id, the given conversation and widget ids, visitor Ada, a summary, a 2-line transcript.
    pub fn handoff_event(conversation: &str, widget: &str) -> Value {
        let now = time::OffsetDateTime::now_utc();
        json!({
            "id": unique("evt"),
            "type": "conversation.handed_off",
            "created_at": rfc3339(now),
            "conversation": {
                "id": conversation,
                "widget_id": widget,
                "visitor": {"name": "Ada", "email": "ada@example.com"},
                "summary": "Wants a refund for order 1234",
                "reason": "visitor asked for a human",
                "transcript": [
                    {"author": "visitor", "text": "Hi", "at": rfc3339(now - Duration::from_secs(2))},
                    {"author": "bot", "text": "Hello! How can I help?", "at": rfc3339(now - Duration::from_secs(1))}
                ]
            }
        })
    }

    /// A `conversation.message` event with a unique event id and message id.
    /// `author` is `"visitor"` or `"bot"`.
    pub fn message_event(conversation: &str, author: &str, text: &str) -> Value {
        json!({
            "id": unique("evt"),
            "type": "conversation.message",
            "created_at": rfc3339(time::OffsetDateTime::now_utc()),
            "conversation": {"id": conversation},
            "message": {"id": unique("msg"), "author": author, "text": text, "attachments": []}
        })
    }

    /// A `conversation.closed` event with a unique event id.
    pub fn closed_event(conversation: &str) -> Value {
        json!({
            "id": unique("evt"),
            "type": "conversation.closed",
            "created_at": rfc3339(time::OffsetDateTime::now_utc()),
            "conversation": {"id": conversation}
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_have_unique_ids_and_the_documented_shape() {
        let a = WidgetClient::handoff_event("conv_42", "support");
        let b = WidgetClient::handoff_event("conv_42", "support");
        assert_ne!(a["id"], b["id"]);
        assert_eq!(a["type"], "conversation.handed_off");
        assert_eq!(a["conversation"]["widget_id"], "support");
        assert_eq!(a["conversation"]["visitor"]["name"], "Ada");
        assert_eq!(a["conversation"]["transcript"].as_array().unwrap().len(), 2);
        let m = WidgetClient::message_event("conv_42", "visitor", "still there?");
        assert_eq!(m["message"]["author"], "visitor");
        assert!(m["message"]["id"].is_string());
        assert_eq!(WidgetClient::closed_event("conv_42")["type"], "conversation.closed");
    }
}
