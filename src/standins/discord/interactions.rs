//! The Discord stand-in's interaction routes: the callback that answers an interaction,
//! the original response and follow-ups sent through the interaction's webhook, and the
//! bulk overwrite of a guild's application commands.
//!
//! An interaction token is known once the stand-in has handed it out
//! ([`super::DiscordStandIn::register_interaction`]); any other one is Discord's
//! `10062 Unknown interaction` / `10015 Unknown Webhook`.

use serde_json::{Value, json};

use super::DiscordStandIn;
use super::messages::{apply_edit, check};
use super::state::{Interaction, World, snowflake};
use super::wire::{Reply, error, unknown_interaction, unknown_message, unknown_webhook};

/// Interaction callback types that post or update a message
/// (<https://discord.com/developers/docs/interactions/receiving-and-responding#interaction-response-object-interaction-callback-type>).
const CHANNEL_MESSAGE_WITH_SOURCE: u64 = 4;
const UPDATE_MESSAGE: u64 = 7;

impl World {
    /// `POST /interactions/{interaction_id}/{interaction_token}/callback`.
    pub(super) fn interaction_callback(&mut self, id: &str, token: &str, body: &Value) -> Reply {
        let Some(it) = self.interactions.get(token).cloned() else {
            return Err(unknown_interaction());
        };
        if id.parse::<u64>().ok() != Some(it.id) {
            return Err(unknown_interaction());
        }
        if it.answered {
            return Err(error(400, 40060, "Interaction has already been acknowledged."));
        }
        let kind = body["type"].as_u64().unwrap_or(0);
        let data = &body["data"];
        if matches!(kind, CHANNEL_MESSAGE_WITH_SOURCE | UPDATE_MESSAGE) {
            check(data).map_err(|(s, mut e)| {
                prefix_errors(&mut e, "data");
                (s, e)
            })?;
        }
        match kind {
            CHANNEL_MESSAGE_WITH_SOURCE => {
                let mid = self.new_id();
                self.store_message(it.channel_id, mid, data, Some(it.id));
                self.originals.insert(token.to_string(), (it.channel_id, mid));
            }
            UPDATE_MESSAGE => {
                if let Some(m) = it
                    .message_id
                    .and_then(|m| self.messages.get_mut(&it.channel_id)?.get_mut(&m))
                {
                    apply_edit(m, data);
                    self.originals.insert(token.to_string(), (it.channel_id, m.id));
                }
            }
            _ => {}
        }
        if let Some(i) = self.interactions.get_mut(token) {
            i.answered = true;
        }
        self.callbacks.push((it.id, token.to_string(), body.clone()));
        Ok((204, Value::Null))
    }

    /// `PATCH /webhooks/{webhook_id}/{webhook_token}/messages/@original`: for an
    /// interaction, the webhook id is the application's and the token the interaction's.
    pub(super) fn edit_original(&mut self, app: &str, token: &str, body: &Value) -> Reply {
        self.webhook(app, token)?;
        let (c, m) = self.originals.get(token).copied().ok_or_else(unknown_message)?;
        check(body)?;
        let msg = self
            .messages
            .get_mut(&c)
            .and_then(|ms| ms.get_mut(&m))
            .ok_or_else(unknown_message)?;
        apply_edit(msg, body);
        let msg = msg.clone();
        Ok((200, self.message_json(&msg)))
    }

    /// `POST /webhooks/{webhook_id}/{webhook_token}`: an interaction's follow-up message.
    pub(super) fn followup(&mut self, app: &str, token: &str, body: &Value) -> Reply {
        let it = self.webhook(app, token)?;
        check(body)?;
        if !super::wire::has_body(body) {
            return Err(super::wire::empty_message());
        }
        let id = self.new_id();
        let msg = self.store_message(it.channel_id, id, body, Some(it.id));
        self.originals.entry(token.to_string()).or_insert((it.channel_id, id));
        Ok((200, self.message_json(&msg)))
    }

    fn webhook(&self, app: &str, token: &str) -> Result<Interaction, super::wire::Failure> {
        if app.parse::<u64>().ok() != Some(DiscordStandIn::APPLICATION_ID) {
            return Err(unknown_webhook());
        }
        self.interactions.get(token).cloned().ok_or_else(unknown_webhook)
    }

    /// `PUT /applications/{application_id}/guilds/{guild_id}/commands`: replaces the
    /// guild's commands and answers them with their ids.
    pub(super) fn overwrite_guild_commands(&mut self, app: &str, guild: &str, body: &Value) -> Reply {
        if app.parse::<u64>().ok() != Some(DiscordStandIn::APPLICATION_ID) {
            return Err(error(403, 50001, "Missing Access"));
        }
        let Some(g) = guild.parse::<u64>().ok().filter(|g| self.guilds.contains_key(g)) else {
            return Err(error(404, 10004, "Unknown Guild"));
        };
        let Some(list) = body.as_array() else {
            return Err(error(400, 50035, "Invalid Form Body"));
        };
        let mut out = Vec::new();
        for c in list {
            let id = snowflake(&c["id"]).unwrap_or_else(|| self.new_id());
            let version = self.new_id();
            out.push(json!({
                "id": id.to_string(),
                "type": c["type"].as_u64().unwrap_or(1),
                "application_id": DiscordStandIn::APPLICATION_ID.to_string(),
                "guild_id": g.to_string(),
                "name": c["name"],
                "name_localizations": c.get("name_localizations").cloned().unwrap_or(Value::Null),
                "description": c["description"].as_str().unwrap_or_default(),
                "description_localizations":
                    c.get("description_localizations").cloned().unwrap_or(Value::Null),
                "options": c.get("options").cloned().unwrap_or(json!([])),
                "default_member_permissions":
                    c.get("default_member_permissions").cloned().unwrap_or(Value::Null),
                "nsfw": c["nsfw"].as_bool().unwrap_or(false),
                "version": version.to_string(),
            }));
        }
        self.commands.insert((DiscordStandIn::APPLICATION_ID, g), out.clone());
        Ok((200, Value::Array(out)))
    }
}

/// Moves a 50035's field errors under `key` (an interaction answer's `data`).
fn prefix_errors(body: &mut Value, key: &str) {
    if let Some(errors) = body.get_mut("errors") {
        let inner = errors.take();
        *errors = json!({ key: inner });
    }
}
