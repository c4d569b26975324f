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

impl Discord {
    /// A message the gateway dispatched (or catch-up fetched): recorded for the outbox
    /// if it is a person's message in a mirrored thread. `Ok(false)`: not one of those.
    pub async fn take_in(&self, msg: &Message) -> Result<bool, ServiceError> {
        if msg.author.bot || msg.webhook_id.is_some() || Some(msg.author.id.get()) == self.bot_user() {
            return Ok(false);
        }
        let thread = msg.channel_id.to_string();
        if self
            .service()
            .conversation_by_thread(PLATFORM, &thread)
            .await?
            .is_none()
        {
            return Ok(false);
        }
        let raw = serde_json::to_value(msg).map_err(|e| ServiceError::Internal(e.into()))?;
        let fresh = self
            .service()
            .accept_inbound(
                PLATFORM,
                &format!("message:{}", msg.id),
                TARGET_INBOUND,
                format!("discord_in:{thread}"),
                raw,
            )
            .await?;
        let result = if fresh { "ok" } else { "duplicate" };
        metrics::counter!("handoff_events_in_total", "source" => "discord", "result" => result).increment(1);
        self.service().note_seen(PLATFORM, &thread, &msg.id.to_string()).await?;
        Ok(true)
    }

    /// Acts on a queued message (an outbox row of the inbound target).
    pub async fn process_inbound(&self, row: &OutboxRow) -> Delivery {
        let msg: Message = match serde_json::from_str(&row.payload) {
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
        if text.trim().is_empty() {
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
                        .hold_reply(&conversation, op.id, &msg.content, &origin)
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
