//! `POST /slack/events` (Events API). `url_verification` is answered with its challenge;
//! every `event_callback` is recorded by its `event_id` and queued, and Slack gets its
//! 200 at once — a retry (`X-Slack-Retry-Num`, same `event_id`) finds the id recorded
//! and changes nothing. The queued event is acted on by the outbox worker: an operator's
//! message in a mirrored thread becomes a reply
//! (`docs/behaviour.md#replies-and-notes`).

use super::render;
use super::verify::SignedBody;
use super::{PLATFORM, Slack, TARGET_INBOUND};
use crate::engine::transition::Command;
use crate::outbox::Delivery;
use crate::outbox::OutboxRow;
use crate::service::{DEFAULT_WORKSPACE, MessageRef, Origin, ServiceError};
use crate::web::error::ApiError;
use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use slack_morphism::prelude::*;

/// Reads an Events API body: 400 when it is not JSON, 422 when it is not an Events API
/// payload. The JSON (NULs stripped) is kept too: it is what gets queued.
pub fn parse(body: &[u8]) -> Result<(Value, SlackPushEvent), ApiError> {
    let mut raw: Value =
        serde_json::from_slice(body).map_err(|e| ApiError::bad_request(format!("the body is not JSON: {e}")))?;
    crate::web::scrub::strip_nul(&mut raw);
    let event: SlackPushEvent = serde_json::from_value(raw.clone())
        .map_err(|e| ApiError::unprocessable(format!("not an Events API payload: {e}")))?;
    Ok((raw, event))
}

/// The key that orders an event among others: messages of one thread are acted on in
/// order; anything else stands alone.
pub fn ordering_key(cb: &SlackPushEventCallback) -> String {
    match &cb.event {
        SlackEventCallbackBody::Message(m) => format!(
            "slack_in:{}:{}",
            m.origin.channel.as_ref().map(|c| c.0.as_str()).unwrap_or(""),
            m.origin.thread_ts.as_ref().unwrap_or(&m.origin.ts).0
        ),
        _ => format!("slack_in:{}", cb.event_id.0),
    }
}

pub async fn receive(State(slack): State<Slack>, SignedBody(body): SignedBody) -> Result<Response, ApiError> {
    let (raw, event) = parse(&body)?;
    match event {
        SlackPushEvent::UrlVerification(v) => Ok(Json(json!({"challenge": v.challenge})).into_response()),
        SlackPushEvent::EventCallback(cb) => {
            take(&slack, &cb, raw).await?;
            Ok(Json(json!({"ok": true})).into_response())
        }
        SlackPushEvent::AppRateLimited(r) => {
            tracing::warn!(minute = ?r.minute_rate_limited, "Slack is rate-limiting the bridge's events");
            Ok(Json(json!({"ok": true})).into_response())
        }
    }
}

/// Records an `event_callback` by its `event_id` and queues it, however it came (a
/// webhook or a Socket Mode envelope); a repeat changes nothing. `false` for a repeat.
pub(super) async fn take(slack: &Slack, cb: &SlackPushEventCallback, raw: Value) -> Result<bool, ServiceError> {
    let key = ordering_key(cb);
    let fresh = slack
        .service()
        .accept_inbound(PLATFORM, &cb.event_id.0, TARGET_INBOUND, key, raw)
        .await?;
    let result = if fresh { "ok" } else { "duplicate" };
    metrics::counter!("handoff_events_in_total", "source" => "slack", "result" => result).increment(1);
    if !fresh {
        tracing::debug!(event_id = %cb.event_id.0, "repeated Slack event ignored");
    }
    Ok(fresh)
}

impl Slack {
    /// Acts on a queued event (an outbox row of the inbound target).
    pub async fn process_inbound(&self, row: &OutboxRow) -> Delivery {
        let cb: SlackPushEventCallback = match serde_json::from_str::<Value>(&row.payload)
            .map_err(|e| e.to_string())
            .and_then(
                |v| match serde_json::from_value::<SlackPushEvent>(v).map_err(|e| e.to_string())? {
                    SlackPushEvent::EventCallback(cb) => Ok(cb),
                    _ => Err("not an event_callback".to_owned()),
                },
            ) {
            Ok(cb) => cb,
            Err(e) => return Delivery::Dead(format!("unreadable Slack event: {e}")),
        };
        match cb.event {
            SlackEventCallbackBody::Message(m) => match self.on_message(m).await {
                Ok(()) => Delivery::Delivered,
                Err(ServiceError::Internal(e)) => Delivery::Retry(e.to_string()),
                Err(e) => Delivery::Dead(e.to_string()),
            },
            _ => Delivery::Delivered,
        }
    }

    /// An operator's message in a mirrored thread.
    async fn on_message(&self, m: SlackMessageEvent) -> Result<(), ServiceError> {
        let ordinary = matches!(m.subtype, None | Some(SlackMessageEventType::ThreadBroadcast));
        if !ordinary || m.sender.bot_id.is_some() {
            return Ok(()); // edits, joins, and bots (ours included) are not replies
        }
        let (Some(user), Some(channel), Some(thread_ts)) = (&m.sender.user, &m.origin.channel, &m.origin.thread_ts)
        else {
            return Ok(());
        };
        if thread_ts == &m.origin.ts || self.bot_user().await.as_deref() == Some(user.0.as_str()) {
            return Ok(());
        }
        let conversation = self
            .service()
            .conversation_of_thread(PLATFORM, &channel.0, &thread_ts.0)
            .await?;
        let Some(conversation) = conversation else {
            return Ok(()); // a thread the bridge did not open
        };
        let text = render::unescape(&m.content.as_ref().and_then(|c| c.text.clone()).unwrap_or_default());
        let reply_text = text.clone();
        if text.trim().is_empty() {
            return Ok(());
        }
        let op = match self.operator(&user.0, None).await {
            Ok(op) => op,
            Err(ServiceError::Forbidden(why)) => {
                let notice = Notice {
                    conversation: conversation.clone(),
                    channel: channel.0.clone(),
                    user: user.0.clone(),
                    thread_ts: Some(thread_ts.0.clone()),
                    text: format!("⚠️ Not sent to the visitor: {why}."),
                    button: None,
                };
                return self.tell(notice).await;
            }
            Err(e) => return Err(e),
        };
        let origin = Origin::Platform(MessageRef {
            platform: PLATFORM.into(),
            channel: channel.0.clone(),
            message: m.origin.ts.0.clone(),
        });
        let cmd = Command::Reply {
            text: text.clone(),
            explicit: false,
            takeover: false,
        };
        let result = self
            .service()
            .act_from(DEFAULT_WORKSPACE, &conversation, &op.actor(), cmd, &origin)
            .await;
        let tell = |text: String, button: Option<Value>| Notice {
            conversation: conversation.clone(),
            channel: channel.0.clone(),
            user: user.0.clone(),
            thread_ts: Some(thread_ts.0.clone()),
            text,
            button,
        };
        match result {
            Ok(_) => Ok(()),
            Err(ServiceError::AlreadyAssigned {
                owner,
                takeover_allowed,
            }) => {
                let mut text = format!(
                    "⚠️ Not sent to the visitor: *{}* is handling this conversation.",
                    render::esc(&owner.name)
                );
                let button = if takeover_allowed {
                    let held = self
                        .service()
                        .hold_reply(&conversation, op.id, &reply_text, &origin)
                        .await?;
                    text.push_str(" You can take it over and send your message.");
                    Some(
                        json!({"label": "Take over & send", "action": render::TAKEOVER_SEND, "value": held.to_string()}),
                    )
                } else {
                    text.push_str(" Ask them, or a manager, to transfer it to you.");
                    None
                };
                self.tell(tell(text, button)).await
            }
            Err(ServiceError::Forbidden(why) | ServiceError::InvalidState(why) | ServiceError::Invalid(why)) => {
                self.tell(tell(format!("⚠️ Not sent to the visitor: {why}."), None))
                    .await
            }
            Err(ServiceError::NotFound(_)) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Tells one user something privately (an ephemeral message, through the outbox).
    pub async fn tell(&self, n: Notice) -> Result<(), ServiceError> {
        let payload = json!({
            "channel": n.channel, "user": n.user, "text": n.text, "thread_ts": n.thread_ts, "button": n.button,
        });
        self.queue("ephemeral", super::ordering_key(&n.conversation), payload)
            .await
    }
}

/// A private message to one user, about one conversation.
pub struct Notice {
    pub conversation: String,
    pub channel: String,
    pub user: String,
    pub thread_ts: Option<String>,
    pub text: String,
    /// `{"label", "action", "value"}` of one button, if any.
    pub button: Option<Value>,
}
