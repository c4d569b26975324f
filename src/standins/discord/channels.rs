//! The Discord stand-in's channel routes: reading and modifying a channel (a forum post's
//! applied tags, a thread's archived/locked state), threads started from a message,
//! threads and forum posts, and DM channels; with the lookups the other routes share.

use serde_json::{Value, json};

use super::DiscordStandIn;
use super::state::{Channel, Msg, World, kind, snowflake};
use super::wire::{Failure, FormErrors, Reply, check_message, error, has_body, unknown_channel, unknown_message};

impl World {
    /// A channel by its id in a path.
    pub(super) fn channel(&self, raw: &str) -> Result<&Channel, Failure> {
        raw.parse::<u64>()
            .ok()
            .and_then(|id| self.channels.get(&id))
            .ok_or_else(unknown_channel)
    }

    /// A message of a channel, by the ids in a path.
    pub(super) fn message_mut(&mut self, channel: &str, message: &str) -> Result<&mut Msg, Failure> {
        let c = self.channel(channel)?.id;
        message
            .parse::<u64>()
            .ok()
            .and_then(|m| self.messages.get_mut(&c)?.get_mut(&m))
            .ok_or_else(unknown_message)
    }

    pub(super) fn current_user_json(&self) -> Value {
        let mut v = self.user_json(DiscordStandIn::BOT_USER_ID);
        v["verified"] = json!(true);
        v["mfa_enabled"] = json!(false);
        v["locale"] = json!("en-US");
        v
    }

    /// `GET /channels/{channel_id}`.
    pub(super) fn get_channel(&self, channel: &str) -> Reply {
        let c = self.channel(channel)?;
        Ok((200, self.channel_json(c)))
    }

    /// `PATCH /channels/{channel_id}`: name, applied tags (a forum post), a forum's
    /// available tags (at most 20; new ones get ids), archived, locked.
    pub(super) fn modify_channel(&mut self, channel: &str, body: &Value) -> Reply {
        let id = self.channel(channel)?.id;
        let mut errors = FormErrors::default();
        if let Some(name) = body["name"].as_str()
            && !(1..=100).contains(&name.chars().count())
        {
            errors.add(
                &["name"],
                "BASE_TYPE_BAD_LENGTH",
                "Must be between 1 and 100 in length.".into(),
            );
        }
        let forum = self.channels[&id].parent_id;
        let tags = self.applied_tags(forum, body, &mut errors);
        let available = body["available_tags"].as_array().cloned();
        if let Some(list) = &available {
            if self.channels[&id].kind != kind::GUILD_FORUM {
                errors.add(
                    &["available_tags"],
                    "BASE_TYPE_BAD_TYPE",
                    "Only forum channels have tags.".into(),
                );
            } else if list.len() > 20 {
                errors.add(
                    &["available_tags"],
                    "BASE_TYPE_MAX_LENGTH",
                    "Must be 20 or fewer in length.".into(),
                );
            } else if list
                .iter()
                .any(|t| !(1..=20).contains(&t["name"].as_str().map_or(0, |n| n.chars().count())))
            {
                errors.add(
                    &["available_tags"],
                    "BASE_TYPE_BAD_LENGTH",
                    "Tag names must be between 1 and 20 in length.".into(),
                );
            }
        }
        errors.into_result()?;
        if let Some(list) = available {
            let mut kept = Vec::new();
            for t in list {
                let id = match snowflake(&t["id"]) {
                    Some(id) => id,
                    None => self.new_id(),
                };
                kept.push((id, t["name"].as_str().unwrap_or_default().to_string()));
            }
            self.channels.get_mut(&id).expect("looked up above").available_tags = kept;
        }
        let c = self.channels.get_mut(&id).expect("looked up above");
        if let Some(name) = body["name"].as_str() {
            c.name = name.to_string();
        }
        if let Some(tags) = tags {
            c.applied_tags = tags;
        }
        if let Some(a) = body["archived"].as_bool() {
            c.archived = a;
        }
        if let Some(l) = body["locked"].as_bool() {
            c.locked = l;
        }
        Ok((200, self.channel_json(&self.channels[&id])))
    }

    /// `POST /channels/{channel_id}/messages/{message_id}/threads`: the thread gets the
    /// message's id, as on Discord.
    pub(super) fn thread_from_message(&mut self, channel: &str, message: &str, body: &Value) -> Reply {
        let parent = self.channel(channel)?.clone();
        let msg = self.message_mut(channel, message)?;
        if msg.thread_id.is_some() {
            return Err(error(400, 160004, "A thread has already been created for this message"));
        }
        check_thread_name(body)?;
        if parent.kind != kind::GUILD_TEXT {
            return Err(error(400, 50024, "Cannot execute action on this channel type"));
        }
        let id = msg.id;
        msg.thread_id = Some(id);
        let thread = self.new_thread(id, &parent, body, kind::PUBLIC_THREAD);
        self.announce_thread(id);
        Ok((201, self.channel_json(&thread)))
    }

    /// `POST /channels/{channel_id}/threads`: a thread without a message in a text
    /// channel, or a forum post (a thread and its first message, which shares its id).
    pub(super) fn start_thread(&mut self, channel: &str, body: &Value) -> Reply {
        let parent = self.channel(channel)?.clone();
        check_thread_name(body)?;
        match parent.kind {
            kind::GUILD_FORUM => {
                let message = &body["message"];
                let mut errors = FormErrors::default();
                let tags = self.applied_tags(Some(parent.id), body, &mut errors);
                if !message.is_object() {
                    errors.add(&["message"], "BASE_TYPE_REQUIRED", "This field is required".into());
                } else {
                    check_message(message, &["message"], &mut errors);
                }
                errors.into_result()?;
                if !has_body(message) {
                    return Err(super::wire::empty_message());
                }
                let id = self.new_id();
                let mut thread = self.new_thread(id, &parent, body, kind::PUBLIC_THREAD);
                thread.applied_tags = tags.unwrap_or_default();
                self.channels.insert(id, thread);
                self.announce_thread(id);
                let msg = self.store_message(id, id, message, None);
                let mut v = self.channel_json(&self.channels[&id]);
                v["message"] = self.message_json(&msg);
                Ok((201, v))
            }
            kind::GUILD_TEXT => {
                let id = self.new_id();
                let k = body["type"].as_u64().map_or(kind::PRIVATE_THREAD, |k| k as u8);
                let thread = self.new_thread(id, &parent, body, k);
                self.announce_thread(id);
                Ok((201, self.channel_json(&thread)))
            }
            _ => Err(error(400, 50024, "Cannot execute action on this channel type")),
        }
    }

    /// The `applied_tags` of a body, checked against the forum's tags (at most 5).
    fn applied_tags(&self, forum: Option<u64>, body: &Value, errors: &mut FormErrors) -> Option<Vec<u64>> {
        let tags: Vec<u64> = body["applied_tags"].as_array()?.iter().filter_map(snowflake).collect();
        let forum = forum.and_then(|f| self.channels.get(&f));
        let known = |t: &u64| forum.is_some_and(|f| f.available_tags.iter().any(|(id, _)| id == t));
        if tags.len() > 5 {
            errors.add(
                &["applied_tags"],
                "BASE_TYPE_MAX_LENGTH",
                "Must be 5 or fewer in length.".into(),
            );
        } else if !tags.iter().all(known) {
            errors.add(
                &["applied_tags"],
                "BASE_TYPE_CHOICES",
                "Value is not a valid tag.".into(),
            );
        }
        Some(tags)
    }

    fn new_thread(&mut self, id: u64, parent: &Channel, body: &Value, k: u8) -> Channel {
        let mut thread = Channel::new(id, k, parent.guild_id, body["name"].as_str().unwrap_or_default());
        thread.parent_id = Some(parent.id);
        thread.owner_id = Some(DiscordStandIn::BOT_USER_ID);
        self.channels.insert(id, thread.clone());
        thread
    }

    /// Dispatches THREAD_CREATE for a thread just made.
    fn announce_thread(&mut self, id: u64) {
        if let Some(c) = self.channels.get(&id) {
            let mut d = self.channel_json(c);
            d["newly_created"] = json!(true);
            self.dispatch("THREAD_CREATE", d);
        }
    }

    /// `POST /users/@me/channels`: the bot's DM channel with `recipient_id` (the same one
    /// every time).
    pub(super) fn open_dm(&mut self, body: &Value) -> Reply {
        let Some(user) = snowflake(&body["recipient_id"]) else {
            let mut errors = FormErrors::default();
            errors.add(&["recipient_id"], "BASE_TYPE_REQUIRED", "This field is required".into());
            return errors.into_result().map(|()| (200, Value::Null));
        };
        if !self.users.contains_key(&user) {
            return Err(error(400, 10013, "Unknown User"));
        }
        let id = self.dm_with(user);
        Ok((200, self.channel_json(&self.channels[&id])))
    }

    /// The bot's DM channel with `user`, opened if it was not.
    pub(super) fn dm_with(&mut self, user: u64) -> u64 {
        if let Some(id) = self.dms.get(&user) {
            return *id;
        }
        let id = self.new_id();
        let mut dm = Channel::new(id, kind::DM, None, "");
        dm.recipient = Some(user);
        self.channels.insert(id, dm);
        self.dms.insert(user, id);
        id
    }
}

fn check_thread_name(body: &Value) -> Result<(), Failure> {
    let mut errors = FormErrors::default();
    match body["name"].as_str() {
        None => errors.add(&["name"], "BASE_TYPE_REQUIRED", "This field is required".into()),
        Some(n) if !(1..=100).contains(&n.chars().count()) => errors.add(
            &["name"],
            "BASE_TYPE_BAD_LENGTH",
            "Must be between 1 and 100 in length.".into(),
        ),
        Some(_) => {}
    }
    errors.into_result()
}
