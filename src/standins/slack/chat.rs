//! The Slack stand-in's messages: `chat.postMessage`, `chat.update`, `chat.postEphemeral`,
//! `chat.getPermalink` and `reactions.add`; the message events a test applies to the world
//! (posts, edits, deletions); how a message is shown in answers and payloads
//! (threads, reactions, edits, metadata); and the `response_url`s handed out with
//! interactions and slash commands, which post, replace or delete messages too.

use std::fmt::Write as _;

use serde_json::{Value, json};

use super::blocks::message_block_problems;
use super::state::{Hook, Msg, World, counter, next_ts, str_field};
use super::wire::{Args, Reply, api_error, validation_error};
use super::{Ephemeral, PERMALINK_BASE, SlackStandIn};

/// Slack's limit on a message's `text`.
const MAX_TEXT_CHARS: usize = 40_000;
/// How often a `response_url` may be used (Slack: 5 times within 30 minutes).
const MAX_RESPONSE_URL_USES: u32 = 5;

/// A message's content as a post or update gives it.
struct Content {
    text: Option<String>,
    /// `Some` when `blocks` was given (an empty array removes blocks on update).
    blocks: Option<Value>,
}

/// Checks `text`, `blocks` and `attachments` of a post or update.
fn message_content(a: &Args) -> Result<Content, Value> {
    let blocks = a.json("blocks").map_err(|()| api_error("invalid_blocks_format"))?;
    if let Some(b) = &blocks {
        if !b.is_array() {
            return Err(api_error("invalid_blocks_format"));
        }
        let problems = message_block_problems(b);
        if !problems.is_empty() {
            return Err(validation_error("invalid_blocks", &problems));
        }
    }
    let attachments = matches!(a.json("attachments"), Ok(Some(Value::Array(v))) if !v.is_empty());
    let text = a.str("text");
    let has_text = text.as_deref().is_some_and(|t| !t.trim().is_empty());
    let has_blocks = blocks.as_ref().and_then(Value::as_array).is_some_and(|b| !b.is_empty());
    if !has_text && !has_blocks && !attachments {
        return Err(api_error("no_text"));
    }
    if text.as_deref().is_some_and(|t| t.chars().count() > MAX_TEXT_CHARS) {
        return Err(api_error("msg_too_long"));
    }
    Ok(Content { text, blocks })
}

/// The `metadata` argument of a post or update: a JSON object (a JSON-encoded string in a
/// form) with a non-empty string `event_type` and, if given, an object `event_payload`.
/// Slack's `invalid_metadata_format` when it is not a JSON object, `invalid_metadata_schema`
/// when the object lacks that shape.
fn message_metadata(a: &Args) -> Result<Option<Value>, Value> {
    let Some(metadata) = a.json("metadata").map_err(|()| api_error("invalid_metadata_format"))? else {
        return Ok(None);
    };
    let Value::Object(obj) = metadata else {
        return Err(api_error("invalid_metadata_format"));
    };
    let event_type = obj
        .get("event_type")
        .and_then(Value::as_str)
        .filter(|t| !t.trim().is_empty())
        .ok_or_else(|| api_error("invalid_metadata_schema"))?;
    let mut out = json!({"event_type": event_type});
    match obj.get("event_payload") {
        None | Some(Value::Null) => {}
        Some(p @ Value::Object(_)) => out["event_payload"] = p.clone(),
        Some(_) => return Err(api_error("invalid_metadata_schema")),
    }
    Ok(Some(out))
}

/// The blocks to store: a non-empty array, or `Null`.
fn blocks_or_null(blocks: Option<Value>) -> Value {
    match blocks {
        Some(Value::Array(b)) if !b.is_empty() => Value::Array(b),
        _ => Value::Null,
    }
}

impl World {
    fn bot_profile() -> Value {
        json!({
            "id": SlackStandIn::BOT_ID,
            "deleted": false,
            "name": SlackStandIn::BOT_NAME,
            "updated": 1_700_000_000,
            "app_id": SlackStandIn::APP_ID,
            "team_id": SlackStandIn::TEAM
        })
    }

    /// A message as Slack renders it in API answers and payloads.
    pub(super) fn message_json(&self, channel: &str, m: &Msg) -> Value {
        let mut v = json!({
            "type": "message",
            "user": m.user,
            "text": m.text,
            "ts": m.ts,
            "team": SlackStandIn::TEAM,
        });
        if let Some(bot_id) = &m.bot_id {
            v["bot_id"] = json!(bot_id);
            if bot_id == SlackStandIn::BOT_ID {
                v["app_id"] = json!(SlackStandIn::APP_ID);
                v["bot_profile"] = Self::bot_profile();
            }
        }
        if !m.blocks.is_null() {
            v["blocks"] = m.blocks.clone();
        }
        if let Some(t) = &m.thread_ts {
            v["thread_ts"] = json!(t);
            if let Some(root) = self.messages.get(channel).and_then(|ms| ms.get(t)) {
                v["parent_user_id"] = json!(root.user);
            }
        } else {
            self.add_thread_summary(channel, m, &mut v);
        }
        if !m.reactions.is_empty() {
            v["reactions"] = m
                .reactions
                .iter()
                .map(|(name, users)| json!({"name": name, "users": users, "count": users.len()}))
                .collect();
        }
        if let Some((user, ts)) = &m.edited {
            v["edited"] = json!({"user": user, "ts": ts});
        }
        if let Some(subtype) = &m.subtype {
            v["subtype"] = json!(subtype);
        }
        if !m.files.is_empty() {
            v["files"] = json!(m.files);
            v["upload"] = json!(false);
            v["display_as_bot"] = json!(false);
        }
        // Slack shows metadata in API answers and payloads; `conversations.history` and
        // `conversations.replies` only with `include_all_metadata` (see `listed`).
        if let Some(metadata) = &m.metadata {
            v["metadata"] = metadata.clone();
        }
        v
    }

    /// A thread root's `reply_count`, `reply_users`, `latest_reply`, … (none without replies).
    fn add_thread_summary(&self, channel: &str, root: &Msg, v: &mut Value) {
        let replies: Vec<&Msg> = self
            .messages
            .get(channel)
            .map(|ms| {
                ms.values()
                    .filter(|r| r.thread_ts.as_deref() == Some(&root.ts))
                    .collect()
            })
            .unwrap_or_default();
        let Some(latest) = replies.last() else {
            return;
        };
        let mut users: Vec<&str> = Vec::new();
        for r in &replies {
            if !users.contains(&r.user.as_str()) {
                users.push(&r.user);
            }
        }
        v["thread_ts"] = json!(root.ts);
        v["reply_count"] = json!(replies.len());
        v["reply_users_count"] = json!(users.len());
        v["reply_users"] = json!(users);
        v["latest_reply"] = json!(latest.ts);
    }

    /// A `message` event as if it had happened in Slack (see
    /// [`SlackStandIn::record_message`]).
    pub(super) fn apply_message_event(&mut self, event: &Value) {
        let channel = str_field(event, "channel");
        match event["subtype"].as_str() {
            Some("message_changed") => {
                let new = &event["message"];
                let ts = str_field(new, "ts");
                let Some(msg) = self.messages.get_mut(&channel).and_then(|ms| ms.get_mut(&ts)) else {
                    return;
                };
                msg.text = str_field(new, "text");
                msg.blocks = new.get("blocks").cloned().unwrap_or(Value::Null);
                if let Some(files) = new["files"].as_array() {
                    msg.files = files.clone();
                }
                let editor = new["edited"]["user"].as_str().unwrap_or(&msg.user).to_string();
                let edit_ts = new["edited"]["ts"]
                    .as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| str_field(event, "ts"));
                msg.edited = Some((editor, edit_ts));
            }
            Some("message_deleted") => {
                let ts = str_field(event, "deleted_ts");
                if let Some(ms) = self.messages.get_mut(&channel) {
                    ms.remove(&ts);
                }
            }
            _ => {
                let (channel, msg) = Msg::from_event(event);
                self.share_files(&channel, &msg);
                self.messages.entry(channel).or_default().insert(msg.ts.clone(), msg);
            }
        }
    }

    pub(super) fn post_message(&mut self, a: &Args) -> Reply {
        let channel = self.postable_channel(a.str("channel"))?;
        let content = message_content(a)?;
        let metadata = message_metadata(a)?;
        // An unknown thread_ts posts to the channel itself.
        let thread_ts = self.thread_root(&channel, a.str("thread_ts"));
        let broadcast = thread_ts.is_some() && a.flag("reply_broadcast");
        let ts = next_ts();
        let mut msg = Msg::from_bot(
            ts.clone(),
            thread_ts,
            content.text.unwrap_or_default(),
            blocks_or_null(content.blocks),
        );
        msg.metadata = metadata;
        if broadcast {
            msg.subtype = Some("thread_broadcast".to_string());
        }
        let message = self.message_json(&channel, &msg);
        self.messages
            .entry(channel.clone())
            .or_default()
            .insert(ts.clone(), msg);
        Ok(json!({"channel": channel, "ts": ts, "message": message}))
    }

    pub(super) fn update_message(&mut self, a: &Args) -> Reply {
        let channel = self.member_channel(a.str("channel"))?;
        let ts = a.non_empty("ts").ok_or_else(|| api_error("message_not_found"))?;
        let author = self
            .messages
            .get(&channel)
            .and_then(|ms| ms.get(&ts))
            .map(|m| m.user.clone())
            .ok_or_else(|| api_error("message_not_found"))?;
        if author != SlackStandIn::BOT_USER {
            return Err(api_error("cant_update_message"));
        }
        let content = message_content(a)?;
        let metadata = message_metadata(a)?;
        let edit_ts = next_ts();
        let msg = self
            .messages
            .get_mut(&channel)
            .and_then(|ms| ms.get_mut(&ts))
            .ok_or_else(|| api_error("message_not_found"))?;
        msg.text = content.text.unwrap_or_default();
        // Slack keeps the previous blocks when `blocks` is left out.
        if let Some(b) = content.blocks {
            msg.blocks = blocks_or_null(Some(b));
        }
        // Likewise the metadata.
        if metadata.is_some() {
            msg.metadata = metadata;
        }
        msg.edited = Some((SlackStandIn::BOT_USER.to_string(), edit_ts));
        let msg = msg.clone();
        let mut message = self.message_json(&channel, &msg);
        if let Value::Object(m) = &mut message {
            m.remove("ts");
        }
        Ok(json!({"channel": channel, "ts": ts, "text": msg.text, "message": message}))
    }

    pub(super) fn post_ephemeral(&mut self, a: &Args) -> Reply {
        let channel = self.postable_channel(a.str("channel"))?;
        let user = a.non_empty("user").ok_or_else(|| api_error("user_not_in_channel"))?;
        let content = message_content(a)?;
        let thread_ts = a
            .non_empty("thread_ts")
            .map(|t| self.thread_root(&channel, Some(t.clone())).unwrap_or(t));
        self.ephemerals.push(Ephemeral {
            channel,
            user,
            text: content.text.unwrap_or_default(),
            blocks: blocks_or_null(content.blocks),
            thread_ts,
        });
        Ok(json!({"message_ts": next_ts()}))
    }

    pub(super) fn permalink(&mut self, a: &Args) -> Reply {
        let channel = self.channel_id(a.str("channel"))?;
        let ts = a
            .non_empty("message_ts")
            .ok_or_else(|| api_error("message_not_found"))?;
        let msg = self
            .messages
            .get(&channel)
            .and_then(|ms| ms.get(&ts))
            .ok_or_else(|| api_error("message_not_found"))?;
        let mut link = format!("{PERMALINK_BASE}/archives/{channel}/p{}", ts.replace('.', ""));
        if let Some(t) = &msg.thread_ts {
            let _ = write!(link, "?thread_ts={t}&cid={channel}");
        }
        Ok(json!({"channel": channel, "permalink": link}))
    }

    pub(super) fn add_reaction(&mut self, a: &Args) -> Reply {
        let channel = self.member_channel(a.str("channel"))?;
        let name = a.str("name").unwrap_or_default().trim_matches(':').to_string();
        if name.is_empty() || name.contains(char::is_whitespace) {
            return Err(api_error("invalid_name"));
        }
        let ts = a.non_empty("timestamp").ok_or_else(|| api_error("no_item_specified"))?;
        let msg = self
            .messages
            .get_mut(&channel)
            .and_then(|ms| ms.get_mut(&ts))
            .ok_or_else(|| api_error("message_not_found"))?;
        let bot = SlackStandIn::BOT_USER.to_string();
        match msg.reactions.iter_mut().find(|(n, _)| *n == name) {
            Some((_, users)) if users.contains(&bot) => return Err(api_error("already_reacted")),
            Some((_, users)) => users.push(bot),
            None => msg.reactions.push((name, vec![bot])),
        }
        Ok(json!({}))
    }

    // -----------------------------------------------------------------------------------
    // response_url

    /// Registers a `response_url` for an interaction or command on `message_ts` (if any).
    pub(super) fn new_hook(&mut self, kind: &str, channel: &str, user: &str, message_ts: Option<&str>) -> String {
        let id = format!("{}{:016x}", counter(), rand::random::<u64>());
        let thread_ts = message_ts
            .and_then(|ts| self.messages.get(channel)?.get(ts))
            .and_then(|m| m.thread_ts.clone());
        self.hooks.insert(
            id.clone(),
            Hook {
                channel: channel.to_string(),
                user: user.to_string(),
                message_ts: message_ts.map(str::to_string),
                thread_ts,
                uses: 0,
            },
        );
        format!("{}/hooks/{kind}/{id}", self.base_url)
    }

    /// A POST to a `response_url`: ephemeral by default, `response_type: in_channel`
    /// posts, `replace_original` / `delete_original` act on the message it came from.
    pub(super) fn respond(&mut self, id: &str, body: &Value) -> (u16, Value) {
        let Some(hook) = self.hooks.get_mut(id) else {
            return (404, api_error("expired_url"));
        };
        hook.uses += 1;
        if hook.uses > MAX_RESPONSE_URL_USES {
            return (404, api_error("used_url"));
        }
        let hook = hook.clone();
        let blocks = body.get("blocks").cloned().filter(|b| !b.is_null());
        if let Some(b) = &blocks {
            let problems = message_block_problems(b);
            if !problems.is_empty() {
                return (400, validation_error("invalid_blocks", &problems));
            }
        }
        let text = str_field(body, "text");
        let original = hook
            .message_ts
            .clone()
            .filter(|ts| self.messages.get(&hook.channel).is_some_and(|ms| ms.contains_key(ts)));
        if body["delete_original"].as_bool() == Some(true) {
            if let Some(ts) = original
                && let Some(ms) = self.messages.get_mut(&hook.channel)
            {
                ms.remove(&ts);
            }
            return (200, json!({"ok": true}));
        }
        if body["replace_original"].as_bool() == Some(true) {
            let Some(ts) = original else {
                return (404, api_error("message_not_found"));
            };
            let edit_ts = next_ts();
            if let Some(m) = self.messages.get_mut(&hook.channel).and_then(|ms| ms.get_mut(&ts)) {
                m.text = text;
                m.blocks = blocks_or_null(blocks);
                m.edited = Some((SlackStandIn::BOT_USER.to_string(), edit_ts));
            }
            return (200, json!({"ok": true}));
        }
        self.respond_new(hook, body, text, blocks_or_null(blocks));
        (200, json!({"ok": true}))
    }

    /// A `response_url` reply that neither replaces nor deletes: a message in the channel
    /// (`response_type: in_channel`) or an ephemeral one.
    fn respond_new(&mut self, hook: Hook, body: &Value, text: String, blocks: Value) {
        let thread_ts = body["thread_ts"].as_str().map(str::to_string).or(hook.thread_ts);
        if body["response_type"].as_str() == Some("in_channel") {
            let ts = next_ts();
            let thread_ts = self.thread_root(&hook.channel, thread_ts);
            let msg = Msg::from_bot(ts.clone(), thread_ts, text, blocks);
            self.messages.entry(hook.channel).or_default().insert(ts, msg);
        } else {
            self.ephemerals.push(Ephemeral {
                channel: hook.channel,
                user: hook.user,
                text,
                blocks,
                thread_ts,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use serde_json::json;
    use slack_morphism::prelude::*;

    #[tokio::test]
    async fn response_urls_reach_the_stand_in() {
        let slack = setup().await;
        let sender = slack.sender("http://127.0.0.1:9", SIGNING);
        let http = reqwest::Client::new();
        let token = SlackApiToken::new(TOKEN.into());
        let root = client_for(&slack)
            .open_session(&token)
            .chat_post_message(&SlackApiChatPostMessageRequest::new(
                CH.into(),
                SlackMessageContent::new().with_text("root".into()),
            ))
            .await
            .unwrap();
        slack.take_calls();
        let payload = sender.block_action_payload("U0ADA", CH, &root.ts.0, json!({}), "accept", "v");
        let url = payload["response_url"].as_str().unwrap();
        assert!(url.starts_with(&slack.base_url()));
        let r = http
            .post(url)
            .json(&json!({"text": "Only you see this"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let r = http
            .post(url)
            .json(&json!({"replace_original": true, "text": "Replaced"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let fields = sender.command_fields("U0ADA", CH, "status");
        let cmd_url = &fields.iter().find(|(k, _)| *k == "response_url").unwrap().1;
        let r = http
            .post(cmd_url)
            .json(&json!({"response_type": "in_channel", "text": "Posted"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);

        let eph = slack.ephemerals();
        assert_eq!(
            (eph[0].user.as_str(), eph[0].text.as_str()),
            ("U0ADA", "Only you see this")
        );
        let texts: Vec<String> = slack.messages(CH).into_iter().map(|m| m.text).collect();
        assert_eq!(texts, ["Replaced", "Posted"]);
        let calls = slack.take_calls();
        assert_eq!(methods(&calls), ["response_url"; 3]);
        slack.assert_all_seen();
    }
}
