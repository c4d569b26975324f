//! Moderators' messages in a mirrored thread (gateway `MESSAGE_CREATE`), as replies and
//! notes (`docs/behaviour.md#replies-and-notes`). The gateway handler only records a
//! message of a known thread as an inbound event, by its id, and returns; the outbox
//! acts on it in order per thread, so a repeated dispatch or a catch-up fetch of the
//! same message changes nothing. The bot ignores itself, other bots and webhooks.
//!
//! A reply someone else's conversation refused is held, and its writer is told by DM
//! (with "Take over & send" where the takeover setting allows), or, if their DMs are
//! closed, by a thread message that mentions only them. A DM, because an ephemeral
//! message needs an interaction, which a plain message is not; and a short-lived
//! mention would need a later deletion that can itself fail, and pings in a channel
//! the whole team reads.

use super::people::Member;
use super::{Discord, PLATFORM, TARGET_INBOUND};
use crate::engine::transition::Command;
use crate::outbox::{Delivery, OutboxRow};
use crate::service::{DEFAULT_WORKSPACE, MessageRef, Origin, ServiceError};
use serde_json::json;
use serenity::all::Message;

/// A short key of an edit's words: one edit is one, however often it comes.
fn words_key(content: &str) -> String {
    let words = <sha2::Sha256 as sha2::Digest>::digest(content.as_bytes());
    hex::encode(&words[..8])
}

impl Discord {
    /// A message the gateway dispatched (or catch-up fetched): recorded for the outbox
    /// if it is a person's message in a mirrored thread. `Ok(false)`: not one of those.
    pub async fn take_in(&self, msg: &Message) -> Result<bool, ServiceError> {
        if msg.author.bot || msg.webhook_id.is_some() || Some(msg.author.id.get()) == self.bot_user() {
            return Ok(false);
        }
        let thread = msg.channel_id.to_string();
        let raw = serde_json::to_value(msg).map_err(|e| ServiceError::Internal(e.into()))?;
        if !self
            .take_in_change(&format!("message:{}", msg.id), &thread, raw)
            .await?
        {
            return Ok(false);
        }
        self.service().note_seen(PLATFORM, &thread, &msg.id.to_string()).await?;
        Ok(true)
    }

    /// A person's edit of a message in a mirrored thread (gateway `MESSAGE_UPDATE`),
    /// recorded like a message, on the same key: acted on after the message it edits.
    /// An update that does not change the text (Discord sends one when it adds a link's
    /// preview) is left alone.
    pub async fn take_in_edit(&self, e: &serenity::all::MessageUpdateEvent) -> Result<bool, ServiceError> {
        let (Some(author), Some(content)) = (&e.author, &e.content) else {
            return Ok(false);
        };
        if author.bot || Some(author.id.get()) == self.bot_user() {
            return Ok(false);
        }
        let thread = e.channel_id.to_string();
        // One edit acts once; two edits within a second are two (their words differ).
        let edited = format!(
            "{}:{}",
            e.edited_timestamp.map(|t| t.unix_timestamp()).unwrap_or_default(),
            words_key(content)
        );
        let raw = json!({
            "edit": "update", "channel": thread, "message": e.id.to_string(),
            "user": author.id.to_string(), "content": content,
        });
        self.take_in_change(&format!("update:{}:{edited}", e.id), &thread, raw)
            .await
    }

    /// A message deleted in a mirrored thread (gateway `MESSAGE_DELETE`).
    pub async fn take_in_deletion(&self, channel: u64, message: u64) -> Result<bool, ServiceError> {
        let thread = channel.to_string();
        let raw = json!({"edit": "delete", "channel": thread, "message": message.to_string()});
        self.take_in_change(&format!("delete:{message}"), &thread, raw).await
    }

    /// Records a message, edit or deletion of `thread` for the outbox, once by `id`, in
    /// order with the thread's others; `Ok(false)` if the thread is not a mirrored one.
    async fn take_in_change(&self, id: &str, thread: &str, raw: serde_json::Value) -> Result<bool, ServiceError> {
        if self.service().conversation_by_thread(PLATFORM, thread).await?.is_none() {
            return Ok(false);
        }
        let fresh = self
            .service()
            .accept_inbound(PLATFORM, id, TARGET_INBOUND, format!("discord_in:{thread}"), raw)
            .await?;
        let result = if fresh { "ok" } else { "duplicate" };
        metrics::counter!("handoff_events_in_total", "source" => "discord", "result" => result).increment(1);
        Ok(true)
    }

    /// Acts on an edit or deletion taken in: a reply is changed for the visitor, a note
    /// stays a note, and an edit across the two is refused, privately.
    async fn on_change(&self, raw: &serde_json::Value) -> Result<(), ServiceError> {
        let (Some(channel), Some(message)) = (raw["channel"].as_str(), raw["message"].as_str()) else {
            return Ok(());
        };
        let at = MessageRef {
            platform: PLATFORM.into(),
            channel: channel.to_owned(),
            message: message.to_owned(),
        };
        if raw["edit"] == "delete" {
            return match self.service().delete_line(DEFAULT_WORKSPACE, &at).await {
                Ok(_) | Err(ServiceError::NotFound(_) | ServiceError::Forbidden(_)) => Ok(()),
                Err(e) => Err(e),
            };
        }
        let (Some(user), Some(content)) = (raw["user"].as_str(), raw["content"].as_str()) else {
            return Ok(());
        };
        let Some(op) = self
            .service()
            .operator_by_account(DEFAULT_WORKSPACE, PLATFORM, user)
            .await?
        else {
            return Ok(()); // someone the bridge does not know wrote no line of it
        };
        let why = match self
            .service()
            .edit_line(DEFAULT_WORKSPACE, &at, &op.actor(), content)
            .await
        {
            Ok(_) | Err(ServiceError::NotFound(_)) => return Ok(()),
            Err(ServiceError::Forbidden(why) | ServiceError::InvalidState(why) | ServiceError::Invalid(why)) => why,
            Err(e) => return Err(e),
        };
        let Some((conversation, _)) = self.service().thread_of_line(PLATFORM, &at).await? else {
            return Ok(());
        };
        let text = format!(
            "⚠️ Your edit in {} was not carried over: {why}.",
            super::render::link(None, channel)
        );
        // One notice per edit, however often its event is acted on.
        let key = format!("edit:{message}:{}", words_key(content));
        self.tell(&conversation, user, &text, None, &key).await
    }

    /// Acts on a queued message, edit or deletion (an outbox row of the inbound target).
    pub async fn process_inbound(&self, row: &OutboxRow) -> Delivery {
        let raw: serde_json::Value = match serde_json::from_str(&row.payload) {
            Ok(v) => v,
            Err(e) => return Delivery::Dead(format!("unreadable Discord message: {e}")),
        };
        if raw.get("edit").is_some() {
            return match self.on_change(&raw).await {
                Ok(()) => Delivery::Delivered,
                Err(ServiceError::Internal(e)) => Delivery::Retry(e.to_string()),
                Err(e) => Delivery::Dead(e.to_string()),
            };
        }
        let msg: Message = match serde_json::from_value(raw) {
            Ok(m) => m,
            Err(e) => return Delivery::Dead(format!("unreadable Discord message: {e}")),
        };
        match self.on_message(&msg).await {
            Ok(()) => Delivery::Delivered,
            Err(ServiceError::Internal(e)) => Delivery::Retry(e.to_string()),
            Err(e) => Delivery::Dead(e.to_string()),
        }
    }

    /// A moderator's message in a mirrored thread.
    async fn on_message(&self, msg: &Message) -> Result<(), ServiceError> {
        let thread = msg.channel_id.to_string();
        let Some(conversation) = self.service().conversation_by_thread(PLATFORM, &thread).await? else {
            return Ok(());
        };
        let text = msg.content.clone();
        let (files, refused) = crate::platform::screen_files(
            self.service(),
            &text,
            super::files::shared(msg.channel_id.get(), msg.id.get(), &msg.attachments),
        );
        if let Some(note) = refused {
            let key = super::ordering_key(&conversation);
            let react = json!({"channel": thread, "message": msg.id.to_string(), "emoji": "⚠️"});
            self.queue("react", key.clone(), react).await?;
            self.queue("thread_note", key, json!({"channel": thread, "text": note}))
                .await?;
        }
        if text.trim().is_empty() && files.is_empty() {
            return Ok(());
        }
        let member = Member {
            user: &msg.author,
            nick: msg.member.as_ref().and_then(|m| m.nick.as_deref()),
            permissions: msg.member.as_ref().and_then(|m| m.permissions),
            in_guild: msg.guild_id.is_some(),
        };
        let key = format!("reply:{}", msg.id);
        let op = match self.operator(&member).await {
            Ok(op) => op,
            Err(ServiceError::Forbidden(why)) => {
                let text = format!("⚠️ Your message was not sent to the visitor: {why}.");
                return self
                    .tell(&conversation, &msg.author.id.to_string(), &text, None, &key)
                    .await;
            }
            Err(e) => return Err(e),
        };
        let origin = Origin::Platform(MessageRef {
            platform: PLATFORM.into(),
            channel: thread.clone(),
            message: msg.id.to_string(),
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
        let user = msg.author.id.to_string();
        match result {
            Ok(_) => Ok(()),
            Err(ServiceError::AlreadyAssigned {
                owner,
                takeover_allowed,
            }) => {
                let mut text = format!(
                    "⚠️ Your message in {} was not sent to the visitor: **{}** is handling this conversation.",
                    super::render::link(msg.guild_id.map(|g| g.to_string()).as_deref(), &thread),
                    super::render::esc(&owner.name)
                );
                let held = if takeover_allowed {
                    let held = self
                        .service()
                        .hold_reply(&conversation, op.id, &msg.content, &files, &origin)
                        .await?;
                    text.push_str(" You can take it over and send your message.");
                    Some(held)
                } else {
                    text.push_str(" Ask them, or a manager, to transfer it to you.");
                    None
                };
                self.tell(&conversation, &user, &text, held, &key).await
            }
            Err(ServiceError::Forbidden(why) | ServiceError::InvalidState(why) | ServiceError::Invalid(why)) => {
                self.tell(
                    &conversation,
                    &user,
                    &format!("⚠️ Not sent to the visitor: {why}."),
                    None,
                    &key,
                )
                .await
            }
            Err(ServiceError::NotFound(_)) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Tells one user something privately about a conversation (through the outbox): by
    /// DM, or a thread mention if their DMs are closed. `held`: a held reply to offer
    /// "Take over & send" for.
    pub async fn tell(
        &self,
        conversation: &str,
        user: &str,
        text: &str,
        held: Option<i64>,
        key: &str,
    ) -> Result<(), ServiceError> {
        let payload = json!({"conversation": conversation, "user": user, "text": text, "held": held, "key": key});
        self.queue("notice", super::ordering_key(conversation), payload).await
    }
}
