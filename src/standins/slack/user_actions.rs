//! What people do in Slack that the bridge hears of: a reply, a file share, an edit, a
//! deletion. Each is applied to the stand-in's world as Slack would, and its event is
//! returned for [`SlackSender::event`] to deliver.

use serde_json::Value;

use super::{SlackSender, SlackStandIn};

impl SlackStandIn {
    /// Applies a `message` event to the world as if it had happened in Slack. A message
    /// ([`SlackSender::thread_message`], [`SlackSender::bot_message`],
    /// [`SlackSender::file_share_message`], …) is stored, so that `reactions.add`,
    /// `chat.getPermalink` and thread listings know it (a file share also marks its files
    /// shared there); a `message_changed` ([`SlackSender::message_changed`]) replaces the
    /// text (and blocks, files) of the message it names and marks it edited; a
    /// `message_deleted` ([`SlackSender::message_deleted`]) removes it. Edits and deletions
    /// of messages the stand-in does not hold change nothing.
    pub fn record_message(&self, event: &Value) {
        self.world().apply_message_event(event);
    }

    /// A user's reply in a thread: builds the event with [`SlackSender::thread_message`],
    /// records it ([`Self::record_message`]) and returns it, ready for [`SlackSender::event`].
    pub fn user_reply(&self, channel: &str, user: &str, text: &str, thread_ts: &str) -> Value {
        let event = SlackSender::thread_message(channel, user, text, thread_ts);
        self.record_message(&event);
        event
    }

    /// A user's message sharing `files` (from [`Self::add_file`]) in a thread, with `text`
    /// (may be empty): builds the event with [`SlackSender::file_share_message`], records
    /// it and returns it, ready for [`SlackSender::event`].
    pub fn user_file_share(&self, channel: &str, user: &str, text: &str, thread_ts: &str, files: &[Value]) -> Value {
        let event = SlackSender::file_share_message(channel, user, text, thread_ts, files);
        self.record_message(&event);
        event
    }

    /// The author of the message `ts` edits it to `new_text`: builds the
    /// `message_changed` event with [`SlackSender::message_changed`] from the message as
    /// the stand-in holds it (author, thread, previous text, files), applies it and returns
    /// it. Panics if the stand-in holds no such message.
    pub fn user_edit(&self, channel: &str, ts: &str, new_text: &str) -> Value {
        let old = self
            .message(channel, ts)
            .unwrap_or_else(|| panic!("slack stand-in: no message {ts} in {channel} to edit"));
        let thread_ts = old.thread_ts.as_deref().unwrap_or_default();
        let mut event = SlackSender::message_changed(channel, &old.user, ts, thread_ts, new_text, &old.text);
        if !old.files.is_empty() {
            for key in ["message", "previous_message"] {
                event[key]["files"] = Value::Array(old.files.clone());
                event[key]["upload"] = Value::Bool(false);
                event[key]["display_as_bot"] = Value::Bool(false);
            }
        }
        self.record_message(&event);
        event
    }

    /// The message `ts` is deleted: builds the `message_deleted` event with
    /// [`SlackSender::message_deleted`] from the message as the stand-in holds it, applies
    /// it (the message is gone) and returns it. Panics if the stand-in holds no such
    /// message.
    pub fn user_delete(&self, channel: &str, ts: &str) -> Value {
        let old = self
            .message(channel, ts)
            .unwrap_or_else(|| panic!("slack stand-in: no message {ts} in {channel} to delete"));
        let thread_ts = old.thread_ts.as_deref().unwrap_or_default();
        let mut event = SlackSender::message_deleted(channel, ts, thread_ts, &old.user, &old.text);
        if !old.files.is_empty() {
            event["previous_message"]["files"] = Value::Array(old.files.clone());
        }
        self.record_message(&event);
        event
    }
}
