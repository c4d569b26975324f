//! The Discord stand-in's message routes: create, edit and delete a message, and the
//! bot's reactions — with Discord's limits on content, embeds and components, and the
//! 50007 of a user who does not accept DMs.

use serde_json::{Value, json};

use super::state::{World, kind, now_timestamp};
use super::wire::{Failure, FormErrors, Reply, cannot_dm, check_message, empty_message, has_body};

impl World {
    /// `POST /channels/{channel_id}/messages`.
    pub(super) fn create_message(&mut self, channel: &str, body: &Value) -> Reply {
        let c = self.channel(channel)?.clone();
        if c.kind == kind::GUILD_FORUM {
            return Err(super::wire::error(
                400,
                50024,
                "Cannot execute action on this channel type",
            ));
        }
        if c.kind == kind::DM
            && c.recipient
                .and_then(|u| self.users.get(&u))
                .is_some_and(|u| u.dms_closed)
        {
            return Err(cannot_dm());
        }
        if c.locked {
            return Err(super::wire::error(400, 160005, "Thread is locked"));
        }
        check(body)?;
        if !has_body(body) {
            return Err(empty_message());
        }
        if c.archived
            && let Some(thread) = self.channels.get_mut(&c.id)
        {
            // A message to an archived (unlocked) thread unarchives it, as on Discord.
            thread.archived = false;
        }
        let id = self.new_id();
        let msg = self.store_message(c.id, id, body, None);
        Ok((200, self.message_json(&msg)))
    }

    /// `PATCH /channels/{channel_id}/messages/{message_id}`.
    pub(super) fn edit_message(&mut self, channel: &str, message: &str, body: &Value) -> Reply {
        self.message_mut(channel, message)?;
        check(body)?;
        let msg = self.message_mut(channel, message)?;
        apply_edit(msg, body);
        let msg = msg.clone();
        Ok((200, self.message_json(&msg)))
    }

    /// `DELETE /channels/{channel_id}/messages/{message_id}`.
    pub(super) fn delete_message(&mut self, channel: &str, message: &str) -> Reply {
        let msg = self.message_mut(channel, message)?;
        let (c, id) = (msg.channel_id, msg.id);
        if let Some(m) = self.messages.get_mut(&c) {
            m.remove(&id);
        }
        Ok((204, Value::Null))
    }

    /// `PUT /channels/{channel_id}/messages/{message_id}/reactions/{emoji}/@me`.
    pub(super) fn add_reaction(&mut self, channel: &str, message: &str, emoji: &str) -> Reply {
        let msg = self.message_mut(channel, message)?;
        if emoji.is_empty() {
            return Err(super::wire::error(400, 10014, "Unknown Emoji"));
        }
        if !msg.reactions.iter().any(|e| e == emoji) {
            msg.reactions.push(emoji.to_string());
        }
        Ok((204, Value::Null))
    }
}

/// Checks a message body against Discord's limits.
pub(super) fn check(body: &Value) -> Result<(), Failure> {
    let mut errors = FormErrors::default();
    check_message(body, &[], &mut errors);
    errors.into_result()
}

/// Applies the fields an edit carries (absent fields stay as they are).
pub(super) fn apply_edit(msg: &mut super::state::Msg, body: &Value) {
    if let Some(c) = body.get("content") {
        msg.content = c.as_str().unwrap_or_default().to_string();
    }
    if let Some(e) = embeds(body) {
        msg.embeds = e;
    }
    if let Some(c) = components(body) {
        msg.components = c;
    }
    if let Some(f) = body["flags"].as_u64() {
        msg.flags = f;
    }
    msg.edited_timestamp = Some(now_timestamp());
}

/// The embeds of a body as Discord stores them: `type` `"rich"` unless given, fields
/// with `inline` set. `None` if the body has no `embeds`.
pub(super) fn embeds(body: &Value) -> Option<Vec<Value>> {
    let list = body.get("embeds")?.as_array().cloned().unwrap_or_default();
    Some(
        list.into_iter()
            .map(|mut e| {
                if e.get("type").is_none() {
                    e["type"] = json!("rich");
                }
                if let Some(fields) = e.get_mut("fields").and_then(Value::as_array_mut) {
                    for f in fields {
                        if f.get("inline").is_none() {
                            f["inline"] = json!(false);
                        }
                    }
                }
                e
            })
            .collect(),
    )
}

/// The components of a body as Discord stores them (buttons get `disabled: false`
/// unless given). `None` if the body has no `components`.
pub(super) fn components(body: &Value) -> Option<Vec<Value>> {
    let list = body.get("components")?.as_array().cloned().unwrap_or_default();
    Some(
        list.into_iter()
            .map(|mut row| {
                if let Some(items) = row.get_mut("components").and_then(Value::as_array_mut) {
                    for c in items {
                        if c["type"] == json!(2) && c.get("disabled").is_none() {
                            c["disabled"] = json!(false);
                        }
                    }
                }
                row
            })
            .collect(),
    )
}
