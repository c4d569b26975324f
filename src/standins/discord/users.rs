//! What users (and webhooks) post in the Discord stand-in: the messages a test makes
//! them write (with files, if any), edit and delete, stored as Discord stores them and
//! dispatched over the gateway as MESSAGE_CREATE, MESSAGE_UPDATE and MESSAGE_DELETE,
//! the way the bridge hears about them in production.
//!
//! These are test helpers: naming a channel or user the stand-in does not know is a
//! mistake in the test, and panics with a message saying so.

use serde_json::json;

use super::DiscordStandIn;
use super::state::{User, World, now_timestamp};

impl DiscordStandIn {
    /// `author` posts `content` in `channel` (a text channel, thread or DM); answers the
    /// message's id. Mentions in the content ping as on Discord; posting in an archived
    /// thread unarchives it.
    pub fn user_message(&self, channel: u64, author: u64, content: &str) -> u64 {
        self.user_message_with_files(channel, author, content, &[])
    }

    /// `author` posts `content` with `files` — `(filename, content type, bytes)` — in
    /// `channel`; answers the message's id. The message's `attachments` link to the
    /// files on the stand-in's CDN ([`Self::cdn_url`]), as Discord's link to its CDN.
    pub fn user_message_with_files(
        &self,
        channel: u64,
        author: u64,
        content: &str,
        files: &[(&str, &str, Vec<u8>)],
    ) -> u64 {
        let mut w = self.shared.lock();
        let known = w.channels.contains_key(&channel) && w.users.contains_key(&author);
        if !known {
            drop(w);
            panic!("discord stand-in: user_message in unknown channel {channel} or by unknown user {author}");
        }
        let id = w.new_id();
        let mut msg = w.message_from_body(channel, id, author, &json!({"content": content}), None);
        w.attach(&mut msg, files);
        w.insert_message(msg);
        id
    }

    /// The author of message `id` in `channel` edits it to `content`: it is marked
    /// edited (`edited_timestamp`), keeps its files, its mentions follow the new text,
    /// and MESSAGE_UPDATE carries the whole message.
    pub fn user_edit(&self, channel: u64, id: u64, content: &str) {
        let mut w = self.shared.lock();
        let replied = w
            .messages
            .get(&channel)
            .and_then(|ms| ms.get(&id)?.reference)
            .and_then(|(c, m)| Some(w.messages.get(&c)?.get(&m)?.author_id));
        let Some(msg) = w.messages.get_mut(&channel).and_then(|ms| ms.get_mut(&id)) else {
            drop(w);
            panic!("discord stand-in: user_edit of unknown message {id} in channel {channel}");
        };
        msg.content = content.to_string();
        msg.edited_timestamp = Some(now_timestamp());
        msg.pings = super::mentions::pings(&msg.content, &msg.allowed_mentions, replied);
        let msg = msg.clone();
        w.announce_edit(&msg);
    }

    /// Message `id` in `channel` is deleted (by its author or a moderator): it is gone,
    /// its files' links answer 404, and MESSAGE_DELETE says so.
    pub fn user_delete(&self, channel: u64, id: u64) {
        let mut w = self.shared.lock();
        if !w.messages.get(&channel).is_some_and(|ms| ms.contains_key(&id)) {
            drop(w);
            panic!("discord stand-in: user_delete of unknown message {id} in channel {channel}");
        }
        w.remove_message(channel, id);
    }

    /// A webhook of `channel` posts `content` (its author is the webhook, with
    /// `bot: true`, and the message has `webhook_id`); answers the message's id.
    pub fn webhook_message(&self, channel: u64, content: &str) -> u64 {
        let mut w = self.shared.lock();
        if !w.channels.contains_key(&channel) {
            drop(w);
            panic!("discord stand-in: webhook_message in unknown channel {channel}");
        }
        let hook = w.webhook_of(channel);
        let id = w.new_id();
        let mut msg = w.message_from_body(channel, id, hook, &json!({"content": content}), None);
        msg.webhook_id = Some(hook);
        w.insert_message(msg);
        id
    }

    /// The bot's DM channel with `user`, opened if needed (as when a user writes to the
    /// bot first).
    pub fn open_dm(&self, user: u64) -> u64 {
        self.shared.lock().dm_with(user)
    }
}

impl World {
    /// The webhook posting in `channel` (one per channel), made on first use.
    fn webhook_of(&mut self, channel: u64) -> u64 {
        if let Some(hook) = self.webhooks.get(&channel) {
            return *hook;
        }
        let hook = self.new_id();
        let mut user = User::new("Spidey Bot", true);
        user.webhook = true;
        self.users.insert(hook, user);
        self.webhooks.insert(channel, hook);
        hook
    }
}
