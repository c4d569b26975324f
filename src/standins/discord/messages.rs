//! The Discord stand-in's message routes: create, edit, delete and read messages, and
//! the bot's reactions — with Discord's limits on content, embeds and components, the
//! 50007 of a user who does not accept DMs, `enforce_nonce` deduplication, replies and
//! `allowed_mentions`. Also how any message (the bot's, a user's, an interaction's)
//! is stored and announced over the gateway.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::DiscordStandIn;
use super::state::{Msg, World, kind, now_timestamp, snowflake};
use super::wire::{Failure, FormErrors, Reply, cannot_dm, check_message, empty_message, has_body};

/// How long a nonce is remembered for `enforce_nonce` ("the past few minutes").
const NONCE_WINDOW: Duration = Duration::from_secs(5 * 60);

/// Message flags the stand-in acts on.
pub(super) mod flag {
    pub(in super::super) const EPHEMERAL: u64 = 1 << 6;
    pub(in super::super) const LOADING: u64 = 1 << 7;
}

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
        let author = DiscordStandIn::BOT_USER_ID;
        if let Some(first) = self.nonce_repeat(c.id, author, body) {
            return Ok((200, self.message_json(&first)));
        }
        let reference = self.reference(c.id, body)?;
        let id = self.new_id();
        let msg = self.message_from_body(c.id, id, author, body, reference);
        self.remember_nonce(&msg, body);
        let msg = self.insert_message(msg);
        Ok((200, self.message_json(&msg)))
    }

    /// `GET /channels/{channel_id}/messages/{message_id}` (ephemeral messages are not
    /// the bot's to read).
    pub(super) fn get_message(&mut self, channel: &str, message: &str) -> Reply {
        let msg = self.message_mut(channel, message)?;
        if msg.flags & flag::EPHEMERAL != 0 {
            return Err(super::wire::unknown_message());
        }
        let msg = msg.clone();
        Ok((200, self.message_json(&msg)))
    }

    /// `PATCH /channels/{channel_id}/messages/{message_id}`.
    pub(super) fn edit_message(&mut self, channel: &str, message: &str, body: &Value) -> Reply {
        self.refuse_if_archived(channel)?;
        self.message_mut(channel, message)?;
        check(body)?;
        let msg = self.message_mut(channel, message)?;
        apply_edit(msg, body);
        let msg = msg.clone();
        self.announce_edit(&msg);
        Ok((200, self.message_json(&msg)))
    }

    /// `DELETE /channels/{channel_id}/messages/{message_id}`.
    pub(super) fn delete_message(&mut self, channel: &str, message: &str) -> Reply {
        let msg = self.message_mut(channel, message)?;
        let (c, id) = (msg.channel_id, msg.id);
        self.remove_message(c, id);
        Ok((204, Value::Null))
    }

    /// Removes a message (its files' links stop working) and dispatches MESSAGE_DELETE.
    pub(super) fn remove_message(&mut self, channel: u64, id: u64) {
        let Some(msg) = self.messages.get_mut(&channel).and_then(|m| m.remove(&id)) else {
            return;
        };
        self.detach(&msg);
        let mut d = json!({"id": id.to_string(), "channel_id": channel.to_string()});
        if let Some(g) = self.channels.get(&channel).and_then(|c| c.guild_id) {
            d["guild_id"] = json!(g.to_string());
        }
        self.dispatch("MESSAGE_DELETE", d);
    }

    /// `PUT /channels/{channel_id}/messages/{message_id}/reactions/{emoji}/@me`.
    pub(super) fn add_reaction(&mut self, channel: &str, message: &str, emoji: &str) -> Reply {
        self.refuse_if_archived(channel)?;
        let msg = self.message_mut(channel, message)?;
        if emoji.is_empty() {
            return Err(super::wire::error(400, 10014, "Unknown Emoji"));
        }
        if !msg.reactions.iter().any(|e| e == emoji) {
            msg.reactions.push(emoji.to_string());
        }
        Ok((204, Value::Null))
    }

    /// A message built from a create body (content, embeds, components, flags, nonce,
    /// allowed mentions), by `author`, replying to `reference` if given.
    pub(super) fn message_from_body(
        &self,
        channel: u64,
        id: u64,
        author: u64,
        body: &Value,
        reference: Option<(u64, u64)>,
    ) -> Msg {
        let mut msg = Msg::new(id, channel, author);
        msg.content = body["content"].as_str().unwrap_or_default().to_string();
        msg.embeds = embeds(body).unwrap_or_default();
        msg.components = components(body).unwrap_or_default();
        msg.flags = body["flags"].as_u64().unwrap_or(0);
        msg.nonce = body.get("nonce").filter(|n| !n.is_null()).cloned();
        msg.allowed_mentions = body.get("allowed_mentions").cloned().unwrap_or(Value::Null);
        msg.reference = reference;
        let replied = reference.and_then(|(c, m)| Some(self.messages.get(&c)?.get(&m)?.author_id));
        msg.pings = super::mentions::pings(&msg.content, &msg.allowed_mentions, replied);
        msg
    }

    /// Stores a message posted by the bot (or by an interaction's webhook).
    pub(super) fn store_message(&mut self, channel: u64, id: u64, body: &Value, webhook: Option<u64>) -> Msg {
        let mut msg = self.message_from_body(channel, id, DiscordStandIn::BOT_USER_ID, body, None);
        msg.webhook_id = webhook;
        self.insert_message(msg)
    }

    /// Keeps a new message in its channel, reopens an archived thread, and dispatches
    /// MESSAGE_CREATE (not for an ephemeral message, which only its viewer's client sees).
    pub(super) fn insert_message(&mut self, msg: Msg) -> Msg {
        if let Some(c) = self.channels.get_mut(&msg.channel_id) {
            // A message to an archived (unlocked) thread unarchives it, as on Discord.
            c.archived = false;
            if msg.flags & flag::EPHEMERAL == 0 {
                c.last_message_id = Some(msg.id);
                if c.is_thread() {
                    c.message_count += 1;
                }
            }
        }
        self.messages
            .entry(msg.channel_id)
            .or_default()
            .insert(msg.id, msg.clone());
        if msg.flags & flag::EPHEMERAL == 0 {
            let d = self.message_event_json(&msg);
            self.dispatch("MESSAGE_CREATE", d);
        }
        msg
    }

    /// Dispatches MESSAGE_UPDATE for an edited message.
    pub(super) fn announce_edit(&mut self, msg: &Msg) {
        if msg.flags & flag::EPHEMERAL == 0 {
            let d = self.message_event_json(msg);
            self.dispatch("MESSAGE_UPDATE", d);
        }
    }

    /// A message as the gateway carries it: with its guild and, in a guild, the
    /// author's member (without the user).
    pub(super) fn message_event_json(&self, msg: &Msg) -> Value {
        let mut v = self.message_json(msg);
        if let Some(g) = self.channels.get(&msg.channel_id).and_then(|c| c.guild_id)
            && let Some(member) = self.member_json(g, msg.author_id, false)
        {
            v["member"] = member;
        }
        v
    }

    /// The message a body replies to (`message_reference`): 50035 if it is unknown,
    /// unless `fail_if_not_exists` is false.
    fn reference(&self, channel: u64, body: &Value) -> Result<Option<(u64, u64)>, Failure> {
        let r = &body["message_reference"];
        let Some(id) = snowflake(&r["message_id"]) else {
            return Ok(None);
        };
        let c = snowflake(&r["channel_id"]).unwrap_or(channel);
        if self.messages.get(&c).is_some_and(|ms| ms.contains_key(&id)) {
            return Ok(Some((c, id)));
        }
        if r["fail_if_not_exists"].as_bool() == Some(false) {
            return Ok(None);
        }
        let mut errors = FormErrors::default();
        errors.add(
            &["message_reference"],
            "MESSAGE_REFERENCE_UNKNOWN_MESSAGE",
            "Unknown message".into(),
        );
        errors.into_result().map(|()| None)
    }

    /// With `enforce_nonce`, the message the same author already created in the channel
    /// with this nonce in the last few minutes.
    fn nonce_repeat(&self, channel: u64, author: u64, body: &Value) -> Option<Msg> {
        if body["enforce_nonce"].as_bool() != Some(true) {
            return None;
        }
        let key = (channel, author, nonce_key(&body["nonce"])?);
        let (id, at) = self.nonces.get(&key)?;
        if at.elapsed() > NONCE_WINDOW {
            return None;
        }
        self.messages.get(&channel)?.get(id).cloned()
    }

    fn remember_nonce(&mut self, msg: &Msg, body: &Value) {
        if let Some(nonce) = nonce_key(&body["nonce"]) {
            // Expired nonces are ignored when looked up; swept now and then, so a
            // stand-in that took many messages does not walk them all on every one.
            if self.nonces.len() % 1024 == 1023 {
                let now = Instant::now();
                self.nonces.retain(|_, (_, at)| now.duration_since(*at) <= NONCE_WINDOW);
            }
            self.nonces
                .insert((msg.channel_id, msg.author_id, nonce), (msg.id, Instant::now()));
        }
    }
}

/// A nonce as a key: its text (a number and the same digits as a string are one nonce).
fn nonce_key(nonce: &Value) -> Option<String> {
    match nonce {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Checks a message body against Discord's limits.
pub(super) fn check(body: &Value) -> Result<(), Failure> {
    let mut errors = FormErrors::default();
    check_message(body, &[], &mut errors);
    if body["nonce"].as_str().is_some_and(|n| n.chars().count() > 25) {
        errors.add(
            &["nonce"],
            "BASE_TYPE_MAX_LENGTH",
            "Must be 25 or fewer in length.".into(),
        );
    }
    super::mentions::check_allowed_mentions(&body["allowed_mentions"], &mut errors);
    errors.into_result()
}

/// Applies the fields an edit carries (absent fields stay as they are). An ephemeral
/// message stays ephemeral; a loading one is loading no more.
pub(super) fn apply_edit(msg: &mut Msg, body: &Value) {
    if let Some(c) = body.get("content") {
        msg.content = c.as_str().unwrap_or_default().to_string();
    }
    if let Some(e) = embeds(body) {
        msg.embeds = e;
    }
    if let Some(c) = components(body) {
        msg.components = c;
    }
    let kept = msg.flags & flag::EPHEMERAL;
    if let Some(f) = body["flags"].as_u64() {
        msg.flags = f;
    }
    msg.flags = (msg.flags & !flag::LOADING & !flag::EPHEMERAL) | kept;
    if let Some(a) = body.get("allowed_mentions") {
        msg.allowed_mentions = a.clone();
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

impl World {
    /// Editing or reacting inside an archived thread fails until it is reopened, as on
    /// Discord (50083); posting a message reopens it instead.
    fn refuse_if_archived(&self, channel: &str) -> Result<(), super::wire::Failure> {
        match self.channel(channel) {
            Ok(c) if c.is_thread() && c.archived => Err(super::wire::error(400, 50083, "Thread is archived")),
            _ => Ok(()),
        }
    }
}
