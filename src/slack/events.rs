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

/// The key that orders an event among others: messages of one thread, and their edits
/// and deletions, are acted on in order; anything else stands alone. An edit names its
/// thread inside the message it carries (`raw` is the event as Slack sent it).
pub fn ordering_key(cb: &SlackPushEventCallback, raw: &Value) -> String {
    match &cb.event {
        SlackEventCallbackBody::Message(m) => {
            let inner = match m.subtype {
                Some(SlackMessageEventType::MessageChanged) => raw["event"]["message"]["thread_ts"].as_str(),
                Some(SlackMessageEventType::MessageDeleted) => raw["event"]["previous_message"]["thread_ts"].as_str(),
                _ => None,
            };
            let thread = m.origin.thread_ts.as_ref().map(|t| t.0.as_str());
            format!(
                "slack_in:{}:{}",
                m.origin.channel.as_ref().map(|c| c.0.as_str()).unwrap_or(""),
                inner.or(thread).unwrap_or(&m.origin.ts.0)
            )
        }
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
    let key = ordering_key(cb, &raw);
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
        // What slack-morphism does not keep of a shared file (its size) is read as sent.
        let files: Vec<Value> = serde_json::from_str::<Value>(&row.payload)
            .ok()
            .and_then(|v| v["event"]["files"].as_array().cloned())
            .unwrap_or_default();
        match cb.event {
            SlackEventCallbackBody::Message(m) => match self.on_message(m, &files).await {
                Ok(()) => Delivery::Delivered,
                Err(ServiceError::Internal(e)) => Delivery::Retry(e.to_string()),
                Err(e) => Delivery::Dead(e.to_string()),
            },
            _ => Delivery::Delivered,
        }
    }

    /// An operator's message in a mirrored thread, with the files shared with it.
    async fn on_message(&self, m: SlackMessageEvent, files: &[Value]) -> Result<(), ServiceError> {
        match m.subtype {
            Some(SlackMessageEventType::MessageChanged) => return self.on_changed(m).await,
            Some(SlackMessageEventType::MessageDeleted) => return self.on_deleted(m).await,
            _ => {}
        }
        let ordinary = matches!(
            m.subtype,
            None | Some(SlackMessageEventType::ThreadBroadcast | SlackMessageEventType::FileShare)
        );
        if !ordinary || m.sender.bot_id.is_some() {
            return Ok(()); // joins, and bots (ours included) are not replies
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
        let (files, refused) = crate::platform::screen_files(self.service(), &text, super::files::shared(files));
        if let Some(note) = refused {
            let key = super::ordering_key(&conversation);
            let react = json!({"channel": channel.0, "ts": m.origin.ts.0, "name": "warning"});
            self.queue("react", key.clone(), react).await?;
            let note = json!({"channel": channel.0, "thread_ts": thread_ts.0, "text": note});
            self.queue("thread_note", key, note).await?;
        }
        if text.trim().is_empty() && files.is_empty() {
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
            files: files.clone(),
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
                        .hold_reply(&conversation, op.id, &reply_text, &files, &origin)
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

    /// An operator edited a message of theirs: a reply is edited for the visitor, a note
    /// stays a note; an edit across the two is refused, privately.
    async fn on_changed(&self, m: SlackMessageEvent) -> Result<(), ServiceError> {
        let (Some(channel), Some(edited)) = (&m.origin.channel, &m.message) else {
            return Ok(());
        };
        let Some(user) = &edited.sender.user else {
            return Ok(()); // a bot's message (ours: the bridge edits its own)
        };
        if edited.sender.bot_id.is_some() {
            return Ok(());
        }
        let text = render::unescape(&edited.content.as_ref().and_then(|c| c.text.clone()).unwrap_or_default());
        let at = MessageRef {
            platform: PLATFORM.into(),
            channel: channel.0.clone(),
            message: edited.ts.0.clone(),
        };
        // Someone the bridge does not know wrote no line of it.
        let Some(op) = self
            .service()
            .operator_by_account(DEFAULT_WORKSPACE, PLATFORM, &user.0)
            .await?
        else {
            return Ok(());
        };
        let done = self
            .service()
            .edit_line(DEFAULT_WORKSPACE, &at, &op.actor(), &text)
            .await;
        self.tell_refusal(done, &at, &user.0).await
    }

    /// A message was deleted: a reply is deleted for the visitor too (Slack allowed
    /// whoever deleted it to).
    async fn on_deleted(&self, m: SlackMessageEvent) -> Result<(), ServiceError> {
        let (Some(channel), Some(ts)) = (&m.origin.channel, &m.deleted_ts) else {
            return Ok(());
        };
        let at = MessageRef {
            platform: PLATFORM.into(),
            channel: channel.0.clone(),
            message: ts.0.clone(),
        };
        match self.service().delete_line(DEFAULT_WORKSPACE, &at).await {
            Ok(_) | Err(ServiceError::NotFound(_) | ServiceError::Forbidden(_)) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Tells `user` privately why their edit or deletion of `at` was refused.
    async fn tell_refusal(
        &self,
        done: Result<crate::service::Edited, ServiceError>,
        at: &MessageRef,
        user: &str,
    ) -> Result<(), ServiceError> {
        let why = match done {
            Ok(_) | Err(ServiceError::NotFound(_)) => return Ok(()),
            Err(ServiceError::Forbidden(why) | ServiceError::InvalidState(why) | ServiceError::Invalid(why)) => why,
            Err(e) => return Err(e),
        };
        let Some((conversation, thread_ts)) = self.service().thread_of_line(PLATFORM, at).await? else {
            return Ok(());
        };
        self.tell(Notice {
            conversation,
            channel: at.channel.clone(),
            user: user.to_owned(),
            thread_ts,
            text: format!("⚠️ Your edit was not carried over: {why}."),
            button: None,
        })
        .await
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
