//! The Discord stand-in's interaction routes: the callback that answers an interaction
//! (a message, ephemeral or not; a deferred answer and its loading message; an update
//! of the component's message, deferred or not; a modal), the original response and
//! follow-ups sent through the interaction's webhook, and the bulk overwrite of a
//! guild's application commands.
//!
//! An interaction token is known once the stand-in has handed it out (dispatched by
//! `user_interactions`, or made known with
//! [`super::DiscordStandIn::register_interaction`]); any other one is Discord's
//! `10062 Unknown interaction` / `10015 Unknown Webhook`. As on Discord, it must be
//! answered once (again is 40060) and within the answer window (3 s unless set; later
//! is 10062), and its webhook only works once it was answered.

use serde_json::{Value, json};

use super::DiscordStandIn;
use super::messages::{apply_edit, check, flag};
use super::state::{Interaction, Msg, World, snowflake};
use super::wire::{Failure, FormErrors, Reply, error, unknown_interaction, unknown_message, unknown_webhook};

/// Interaction callback types
/// (<https://discord.com/developers/docs/interactions/receiving-and-responding#interaction-response-object-interaction-callback-type>).
const CHANNEL_MESSAGE_WITH_SOURCE: u64 = 4;
const DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE: u64 = 5;
const DEFERRED_UPDATE_MESSAGE: u64 = 6;
const UPDATE_MESSAGE: u64 = 7;
const MODAL: u64 = 9;

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
        if it.dispatched_at.elapsed() > self.interaction_window {
            return Err(unknown_interaction());
        }
        let kind = body["type"].as_u64().unwrap_or(0);
        let data = &body["data"];
        let checked = match kind {
            CHANNEL_MESSAGE_WITH_SOURCE | UPDATE_MESSAGE => check(data),
            MODAL => check_modal(data),
            _ => Ok(()),
        };
        checked.map_err(|(s, mut e)| {
            prefix_errors(&mut e, "data");
            (s, e)
        })?;
        if kind == CHANNEL_MESSAGE_WITH_SOURCE && !super::wire::has_body(data) {
            return Err(super::wire::empty_message());
        }
        let mut original = None;
        let mut loading = false;
        match kind {
            CHANNEL_MESSAGE_WITH_SOURCE => original = Some(self.answer_message(&it, data, 0).id),
            DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE => {
                // The loading message ("… is thinking"), ephemeral if asked to be.
                let ephemeral = data["flags"].as_u64().unwrap_or(0) & flag::EPHEMERAL;
                original = Some(self.answer_message(&it, &json!({}), flag::LOADING | ephemeral).id);
                loading = true;
            }
            DEFERRED_UPDATE_MESSAGE => original = it.message_id,
            UPDATE_MESSAGE => {
                if let Some(m) = it
                    .message_id
                    .and_then(|m| self.messages.get_mut(&it.channel_id)?.get_mut(&m))
                {
                    apply_edit(m, data);
                    let m = m.clone();
                    self.announce_edit(&m);
                    original = Some(m.id);
                }
            }
            _ => {}
        }
        if let Some(m) = original {
            self.originals.insert(token.to_string(), (it.channel_id, m));
        }
        if let Some(i) = self.interactions.get_mut(token) {
            i.answered = true;
            i.loading = loading;
            i.log
                .push(json!({"route": "callback", "body": body, "message_id": original.map(|m| m.to_string())}));
        }
        self.callbacks.push((it.id, token.to_string(), body.clone()));
        Ok((204, Value::Null))
    }

    /// Posts an interaction's answer (flags 64 in `data`, or in `extra_flags`: only the
    /// user who acted sees it).
    fn answer_message(&mut self, it: &Interaction, data: &Value, extra_flags: u64) -> Msg {
        let id = self.new_id();
        let mut msg = self.message_from_body(it.channel_id, id, DiscordStandIn::BOT_USER_ID, data, None);
        msg.flags |= extra_flags;
        msg.webhook_id = Some(DiscordStandIn::APPLICATION_ID);
        if msg.flags & flag::EPHEMERAL != 0 {
            msg.visible_to = it.user_id;
        }
        self.insert_message(msg)
    }

    /// `GET /webhooks/{webhook_id}/{webhook_token}/messages/@original`.
    pub(super) fn get_original(&mut self, app: &str, token: &str) -> Reply {
        self.webhook(app, token)?;
        let msg = self.original(token)?.clone();
        Ok((200, self.message_json(&msg)))
    }

    /// `PATCH /webhooks/{webhook_id}/{webhook_token}/messages/@original`: for an
    /// interaction, the webhook id is the application's and the token the interaction's.
    pub(super) fn edit_original(&mut self, app: &str, token: &str, body: &Value) -> Reply {
        self.webhook(app, token)?;
        self.original(token)?;
        check(body)?;
        let msg = self.original(token)?;
        apply_edit(msg, body);
        let msg = msg.clone();
        self.announce_edit(&msg);
        self.log_response(token, "edit_original", body, msg.id);
        Ok((200, self.message_json(&msg)))
    }

    /// `DELETE /webhooks/{webhook_id}/{webhook_token}/messages/@original`.
    pub(super) fn delete_original(&mut self, app: &str, token: &str) -> Reply {
        self.webhook(app, token)?;
        let (c, m) = (self.original(token)?.channel_id, self.original(token)?.id);
        self.delete_message(&c.to_string(), &m.to_string())?;
        self.log_response(token, "delete_original", &Value::Null, m);
        Ok((204, Value::Null))
    }

    /// `POST /webhooks/{webhook_id}/{webhook_token}`: an interaction's follow-up message.
    /// Right after a deferred answer (type 5) it fills the loading message instead, as
    /// Discord still does for compatibility, keeping that message's ephemeral state.
    pub(super) fn followup(&mut self, app: &str, token: &str, body: &Value) -> Reply {
        let it = self.webhook(app, token)?;
        check(body)?;
        if !super::wire::has_body(body) {
            return Err(super::wire::empty_message());
        }
        if it.loading {
            let msg = self.original(token)?;
            apply_edit(msg, body);
            let msg = msg.clone();
            self.announce_edit(&msg);
            self.log_response(token, "followup", body, msg.id);
            return Ok((200, self.message_json(&msg)));
        }
        let msg = self.answer_message(&it, body, 0);
        self.originals
            .entry(token.to_string())
            .or_insert((it.channel_id, msg.id));
        self.log_response(token, "followup", body, msg.id);
        Ok((200, self.message_json(&msg)))
    }

    /// The interaction behind a webhook route: known, and already answered (its webhook
    /// only exists from then on).
    fn webhook(&self, app: &str, token: &str) -> Result<Interaction, Failure> {
        if app.parse::<u64>().ok() != Some(DiscordStandIn::APPLICATION_ID) {
            return Err(unknown_webhook());
        }
        self.interactions
            .get(token)
            .filter(|i| i.answered)
            .cloned()
            .ok_or_else(unknown_webhook)
    }

    /// The original response of an interaction.
    fn original(&mut self, token: &str) -> Result<&mut Msg, Failure> {
        let (c, m) = self.originals.get(token).copied().ok_or_else(unknown_message)?;
        self.messages
            .get_mut(&c)
            .and_then(|ms| ms.get_mut(&m))
            .ok_or_else(unknown_message)
    }

    fn log_response(&mut self, token: &str, route: &str, body: &Value, message: u64) {
        if let Some(i) = self.interactions.get_mut(token) {
            i.loading = false;
            i.log
                .push(json!({"route": route, "body": body, "message_id": message.to_string()}));
        }
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

/// A modal answer needs a `custom_id`, a `title` and 1 to 5 rows.
fn check_modal(data: &Value) -> Result<(), Failure> {
    let mut errors = FormErrors::default();
    for key in ["custom_id", "title"] {
        if data[key].as_str().is_none_or(str::is_empty) {
            errors.add(&[key], "BASE_TYPE_REQUIRED", "This field is required".into());
        }
    }
    let rows = data["components"].as_array().map_or(0, Vec::len);
    if !(1..=5).contains(&rows) {
        errors.add(
            &["components"],
            "BASE_TYPE_BAD_LENGTH",
            "Must be between 1 and 5 in length.".into(),
        );
    }
    errors.into_result()
}

/// Moves a 50035's field errors under `key` (an interaction answer's `data`).
fn prefix_errors(body: &mut Value, key: &str) {
    if let Some(errors) = body.get_mut("errors") {
        let inner = errors.take();
        *errors = json!({ key: inner });
    }
}
