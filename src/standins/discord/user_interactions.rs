//! What users do in the Discord stand-in that reaches the bot as an interaction:
//! clicking a button, picking users or strings from a select menu, submitting a modal,
//! running a slash command. Each is dispatched as INTERACTION_CREATE with the whole
//! payload Discord sends — serenity silently drops an interaction missing any field it
//! requires (`attachment_size_limit`, for one), so a partial payload would make every
//! click look like "This interaction failed" — and its token is then accepted on the
//! callback and webhook routes (`interactions`), within the answer window.
//!
//! These are test helpers: naming a channel, message or user the stand-in does not
//! know is a mistake in the test, and panics with a message saying so.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{Map, Value, json};

use super::DiscordStandIn;
use super::state::{Interaction, World, snowflake};

/// Interaction types (<https://discord.com/developers/docs/interactions/receiving-and-responding#interaction-object-interaction-type>).
const APPLICATION_COMMAND: u8 = 2;
const MESSAGE_COMPONENT: u8 = 3;
const MODAL_SUBMIT: u8 = 5;

/// The largest attachment the user may upload, in bytes (the default tier's 10 MiB).
const ATTACHMENT_SIZE_LIMIT: u64 = 10 * 1024 * 1024;

/// An interaction the stand-in dispatched: answer it with its id and token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interacted {
    pub id: u64,
    pub token: String,
}

/// One interaction to dispatch: who did what where.
struct Act {
    kind: u8,
    channel: u64,
    message: Option<u64>,
    user: u64,
    data: Value,
}

impl DiscordStandIn {
    /// `user` clicks the button `custom_id` on `message` in `channel`.
    pub fn click_button(&self, channel: u64, message: u64, user: u64, custom_id: &str) -> Interacted {
        let data = json!({"custom_id": custom_id, "component_type": 2});
        self.act(Act {
            kind: MESSAGE_COMPONENT,
            channel,
            message: Some(message),
            user,
            data,
        })
    }

    /// `user` picks `users` in the user select `custom_id` on `message`.
    pub fn choose_users(&self, channel: u64, message: u64, user: u64, custom_id: &str, users: &[u64]) -> Interacted {
        let resolved = self.shared.lock().resolved_users(channel, users);
        let values: Vec<String> = users.iter().map(u64::to_string).collect();
        let data = json!({
            "custom_id": custom_id,
            "component_type": 5,
            "values": values,
            "resolved": resolved,
        });
        self.act(Act {
            kind: MESSAGE_COMPONENT,
            channel,
            message: Some(message),
            user,
            data,
        })
    }

    /// `user` picks `values` in the string select `custom_id` on `message`.
    pub fn choose_strings(
        &self,
        channel: u64,
        message: u64,
        user: u64,
        custom_id: &str,
        values: &[&str],
    ) -> Interacted {
        let data = json!({"custom_id": custom_id, "component_type": 3, "values": values});
        self.act(Act {
            kind: MESSAGE_COMPONENT,
            channel,
            message: Some(message),
            user,
            data,
        })
    }

    /// `user` submits the modal `custom_id` with its text inputs `(custom_id, value)`;
    /// `message`: the message whose component opened the modal, if one did.
    pub fn submit_modal(
        &self,
        channel: u64,
        message: Option<u64>,
        user: u64,
        custom_id: &str,
        fields: &[(&str, &str)],
    ) -> Interacted {
        let rows: Vec<Value> = fields
            .iter()
            .enumerate()
            .map(|(i, (id, value))| {
                json!({"type": 1, "id": 2 * i + 1, "components": [
                    {"type": 4, "id": 2 * i + 2, "custom_id": id, "value": value}
                ]})
            })
            .collect();
        let data = json!({"custom_id": custom_id, "components": rows});
        self.act(Act {
            kind: MODAL_SUBMIT,
            channel,
            message,
            user,
            data,
        })
    }

    /// `user` runs the slash command `name` of `guild` in `channel`, with `options` as
    /// Discord sends them (e.g. `[{"name":"routing","type":1,"options":[{"name":"widget",
    /// "type":3,"value":"support"}]}]`). The command's id is the registered one, if it is
    /// registered; users named by user options (type 6) are resolved.
    pub fn run_command(&self, guild: u64, channel: u64, user: u64, name: &str, options: Value) -> Interacted {
        let data = {
            let mut w = self.shared.lock();
            let registered = w
                .commands
                .get(&(Self::APPLICATION_ID, guild))
                .and_then(|cs| cs.iter().find(|c| c["name"] == name))
                .and_then(|c| snowflake(&c["id"]));
            let id = registered.unwrap_or_else(|| w.new_id());
            let options = if options.is_array() { options } else { json!([]) };
            let mut users = Vec::new();
            option_users(&options, &mut users);
            let mut data = json!({"id": id.to_string(), "name": name, "type": 1, "options": options});
            if !users.is_empty() {
                data["resolved"] = w.resolved_users(channel, &users);
            }
            if w.channels.get(&channel).and_then(|c| c.guild_id).is_some() {
                data["guild_id"] = json!(guild.to_string());
            }
            data
        };
        self.act(Act {
            kind: APPLICATION_COMMAND,
            channel,
            message: None,
            user,
            data,
        })
    }

    /// How long after its dispatch an interaction may still be answered (3 s, as on
    /// Discord, unless set); a later callback is `10062 Unknown interaction`.
    pub fn set_interaction_window(&self, window: Duration) {
        self.shared.lock().interaction_window = window;
    }

    /// What was done with an interaction's token, in order: `{"route": "callback" |
    /// "edit_original" | "followup" | "delete_original", "body": …, "message_id": …}`.
    pub fn interaction_responses(&self, token: &str) -> Vec<Value> {
        let w = self.shared.lock();
        w.interactions.get(token).map(|i| i.log.clone()).unwrap_or_default()
    }

    fn act(&self, act: Act) -> Interacted {
        let mut w = self.shared.lock();
        match w.interaction_payload(&act) {
            Ok((interacted, payload)) => {
                w.dispatch("INTERACTION_CREATE", payload);
                interacted
            }
            Err(mistake) => {
                drop(w);
                panic!("discord stand-in: {mistake}");
            }
        }
    }
}

impl World {
    /// The whole INTERACTION_CREATE payload for `act`, with the interaction made known.
    fn interaction_payload(&mut self, act: &Act) -> Result<(Interacted, Value), String> {
        let channel = self
            .channels
            .get(&act.channel)
            .ok_or_else(|| format!("unknown channel {}", act.channel))?;
        if !self.users.contains_key(&act.user) {
            return Err(format!("unknown user {}", act.user));
        }
        let guild = channel.guild_id;
        let mut partial = self.channel_json(channel);
        let message = match act.message {
            Some(m) => {
                let msg = self
                    .messages
                    .get(&act.channel)
                    .and_then(|ms| ms.get(&m))
                    .ok_or_else(|| format!("unknown message {m} in channel {}", act.channel))?;
                Some(self.message_json(msg))
            }
            None => None,
        };
        let id = self.new_id();
        let token = format!("stand-in.{}", hex::encode(rand::random::<[u8; 24]>()));
        let mut v = json!({
            "id": id.to_string(),
            "application_id": DiscordStandIn::APPLICATION_ID.to_string(),
            "type": act.kind,
            "data": act.data,
            "channel_id": act.channel.to_string(),
            "token": token,
            "version": 1,
            "locale": "en-US",
            "entitlements": [],
            "entitlement_sku_ids": [],
            "attachment_size_limit": ATTACHMENT_SIZE_LIMIT,
        });
        match guild {
            Some(g) => {
                let member = self
                    .member_with_permissions(g, act.user, true)
                    .ok_or_else(|| format!("user {} is not a member of guild {g}", act.user))?;
                partial["permissions"] = member["permissions"].clone();
                v["guild_id"] = json!(g.to_string());
                v["guild"] = json!({"id": g.to_string(), "locale": "en-US", "features": []});
                v["guild_locale"] = json!("en-US");
                v["member"] = member;
                v["app_permissions"] = json!(self.permissions(g, DiscordStandIn::BOT_USER_ID).to_string());
                v["authorizing_integration_owners"] = json!({"0": g.to_string()});
                v["context"] = json!(0);
            }
            None => {
                v["user"] = self.user_json(act.user);
                v["app_permissions"] = json!(super::members::BOT_PERMISSIONS.to_string());
                v["authorizing_integration_owners"] = json!({"0": "0"});
                v["context"] = json!(1);
            }
        }
        v["channel"] = partial;
        if let Some(m) = message {
            v["message"] = m;
        }
        let it = Interaction::new(id, act.channel, act.message, Some(act.user));
        self.interactions.insert(token.clone(), it);
        Ok((Interacted { id, token }, v))
    }

    /// `resolved` for user ids: the users, and in a guild their members.
    fn resolved_users(&self, channel: u64, users: &[u64]) -> Value {
        let guild = self.channels.get(&channel).and_then(|c| c.guild_id);
        let mut resolved_users = Map::new();
        let mut members = BTreeMap::new();
        for u in users {
            resolved_users.insert(u.to_string(), self.user_json(*u));
            if let Some(m) = guild.and_then(|g| self.member_with_permissions(g, *u, false)) {
                members.insert(u.to_string(), m);
            }
        }
        let mut v = json!({"users": resolved_users});
        if guild.is_some() {
            v["members"] = json!(members);
        }
        v
    }
}

/// The user ids named by user options (type 6), at any depth of subcommands.
fn option_users(options: &Value, out: &mut Vec<u64>) {
    for o in options.as_array().into_iter().flatten() {
        if o["type"] == 6
            && let Some(u) = snowflake(&o["value"])
            && !out.contains(&u)
        {
            out.push(u);
        }
        option_users(&o["options"], out);
    }
}
