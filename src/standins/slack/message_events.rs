//! The `message` events Slack delivers, as [`SlackSender`] builds them: a person's reply
//! in a thread, a file share, an edit, a deletion, and bots' posts (today's shape and the
//! legacy `bot_message` subtype). Each has a fresh `ts`, and the fields Slack's own
//! events carry.

use serde_json::{Value, json};

use super::state::next_ts;
use super::{SlackSender, SlackStandIn};

/// The `channel_type` of a message event in `channel`.
pub(super) fn channel_type(channel: &str) -> &'static str {
    match channel.chars().next() {
        Some('D') => "im",
        Some('G') => "group",
        _ => "channel",
    }
}

/// A `rich_text` block holding `text`, as Slack's clients attach to typed messages.
fn rich_text_block(text: &str) -> Value {
    json!({
        "type": "rich_text",
        "block_id": format!("{:05x}", rand::random::<u32>() & 0xfffff),
        "elements": [{"type": "rich_text_section", "elements": [{"type": "text", "text": text}]}]
    })
}

/// Puts a user's message in the thread `thread_ts` (`thread_ts`, `parent_user_id`: the
/// bridge's bot posts the roots); `""` leaves it in the channel.
fn in_thread(message: &mut Value, thread_ts: &str) {
    if !thread_ts.is_empty() {
        message["thread_ts"] = json!(thread_ts);
        message["parent_user_id"] = json!(SlackStandIn::BOT_USER);
    }
}

fn uuid_like() -> String {
    let n = rand::random::<u128>();
    let h = format!("{n:032x}");
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

impl SlackSender {
    /// A `message` event for `user`'s message `text` in the thread `thread_ts`, as Slack
    /// delivers it (with the `rich_text` block Slack's clients attach). Fresh `ts`.
    pub fn thread_message(channel: &str, user: &str, text: &str, thread_ts: &str) -> Value {
        let ts = next_ts();
        json!({
            "type": "message",
            "user": user,
            "client_msg_id": uuid_like(),
            "text": text,
            "ts": ts,
            "thread_ts": thread_ts,
            "parent_user_id": SlackStandIn::BOT_USER,
            "team": SlackStandIn::TEAM,
            "blocks": [rich_text_block(text)],
            "channel": channel,
            "event_ts": ts,
            "channel_type": channel_type(channel)
        })
    }

    /// A `message` event with `subtype: "file_share"`: `user` shares `files` (file objects
    /// from [`SlackStandIn::add_file`]) with `text` (may be empty: then no `blocks`) in the
    /// thread `thread_ts` (`""`: in the channel itself), as Slack delivers it (`upload:
    /// false`, `display_as_bot: false`). Fresh `ts`. See [`SlackStandIn::user_file_share`]
    /// to also record it.
    pub fn file_share_message(channel: &str, user: &str, text: &str, thread_ts: &str, files: &[Value]) -> Value {
        let ts = next_ts();
        let mut event = json!({
            "type": "message",
            "subtype": "file_share",
            "text": text,
            "files": files,
            "upload": false,
            "user": user,
            "display_as_bot": false,
            "client_msg_id": uuid_like(),
            "team": SlackStandIn::TEAM,
            "ts": ts,
            "channel": channel,
            "event_ts": ts,
            "channel_type": channel_type(channel)
        });
        if !text.is_empty() {
            event["blocks"] = json!([rich_text_block(text)]);
        }
        in_thread(&mut event, thread_ts);
        event
    }

    /// A `message` event with `subtype: "message_changed"`: `user` edited their message
    /// `ts` (in the thread `thread_ts`; `""`: in the channel itself) from `previous_text`
    /// to `new_text`. As Slack delivers it: `hidden: true`, a fresh event `ts`, `message`
    /// (the message now, with `edited: {user, ts}`) and `previous_message`, both with the
    /// message's own `ts`. See [`SlackStandIn::user_edit`] to build it from, and apply it
    /// to, a message the stand-in holds.
    pub fn message_changed(
        channel: &str,
        user: &str,
        ts: &str,
        thread_ts: &str,
        new_text: &str,
        previous_text: &str,
    ) -> Value {
        let event_ts = next_ts();
        let client_msg_id = uuid_like();
        let shown = |text: &str| {
            let mut m = json!({
                "client_msg_id": client_msg_id,
                "type": "message",
                "text": text,
                "user": user,
                "ts": ts,
                "team": SlackStandIn::TEAM,
                "blocks": [rich_text_block(text)]
            });
            in_thread(&mut m, thread_ts);
            m
        };
        let mut message = shown(new_text);
        message["edited"] = json!({"user": user, "ts": event_ts});
        json!({
            "type": "message",
            "subtype": "message_changed",
            "hidden": true,
            "message": message,
            "previous_message": shown(previous_text),
            "channel": channel,
            "ts": event_ts,
            "event_ts": event_ts,
            "channel_type": channel_type(channel)
        })
    }

    /// A `message` event with `subtype: "message_deleted"`: the message `ts` (in the
    /// thread `thread_ts`; `""`: in the channel itself) by `previous_user` saying
    /// `previous_text` was deleted. As Slack delivers it: `hidden: true`, a fresh event
    /// `ts`, `deleted_ts` = the message's ts, and `previous_message`. See
    /// [`SlackStandIn::user_delete`] to build it from, and apply it to, a message the
    /// stand-in holds.
    pub fn message_deleted(
        channel: &str,
        ts: &str,
        thread_ts: &str,
        previous_user: &str,
        previous_text: &str,
    ) -> Value {
        let event_ts = next_ts();
        let mut previous = json!({
            "client_msg_id": uuid_like(),
            "type": "message",
            "text": previous_text,
            "user": previous_user,
            "ts": ts,
            "team": SlackStandIn::TEAM,
            "blocks": [rich_text_block(previous_text)]
        });
        in_thread(&mut previous, thread_ts);
        json!({
            "type": "message",
            "subtype": "message_deleted",
            "hidden": true,
            "deleted_ts": ts,
            "previous_message": previous,
            "channel": channel,
            "ts": event_ts,
            "event_ts": event_ts,
            "channel_type": channel_type(channel)
        })
    }

    /// A `message` event for a message an app posted with its bot token in the thread
    /// `thread_ts`, as Slack delivers it today: no `subtype`, with `bot_id`, `app_id`,
    /// `bot_profile` and `user` = the bot's user ([`SlackStandIn::BOT_USER`] for
    /// [`SlackStandIn::BOT_ID`], i.e. the bridge's own echo; otherwise `U` + the rest of
    /// `bot_id`). See [`Self::legacy_bot_message`] for the `bot_message` subtype.
    pub fn bot_message(channel: &str, bot_id: &str, text: &str, thread_ts: &str) -> Value {
        let ts = next_ts();
        let (user, app_id, name) = if bot_id == SlackStandIn::BOT_ID {
            (
                SlackStandIn::BOT_USER.to_string(),
                SlackStandIn::APP_ID.to_string(),
                SlackStandIn::BOT_NAME.to_string(),
            )
        } else {
            let rest = bot_id.strip_prefix('B').unwrap_or(bot_id);
            (
                format!("U{rest}"),
                format!("A{rest}"),
                format!("bot-{}", rest.to_lowercase()),
            )
        };
        json!({
            "type": "message",
            "user": user,
            "bot_id": bot_id,
            "app_id": app_id,
            "text": text,
            "ts": ts,
            "thread_ts": thread_ts,
            "parent_user_id": SlackStandIn::BOT_USER,
            "team": SlackStandIn::TEAM,
            "bot_profile": {
                "id": bot_id, "deleted": false, "name": name, "updated": 1_700_000_000,
                "app_id": app_id, "team_id": SlackStandIn::TEAM
            },
            "blocks": [rich_text_block(text)],
            "channel": channel,
            "event_ts": ts,
            "channel_type": channel_type(channel)
        })
    }

    /// A `message` event with `subtype: "bot_message"` (incoming webhooks, legacy bots):
    /// `bot_id` and `username`, no `user`.
    pub fn legacy_bot_message(channel: &str, bot_id: &str, username: &str, text: &str, thread_ts: &str) -> Value {
        let ts = next_ts();
        json!({
            "type": "message",
            "subtype": "bot_message",
            "text": text,
            "ts": ts,
            "thread_ts": thread_ts,
            "username": username,
            "bot_id": bot_id,
            "channel": channel,
            "event_ts": ts,
            "channel_type": channel_type(channel)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::*;
    use slack_morphism::prelude::*;

    /// The `message` event inside an envelope, as slack-morphism parses it.
    fn parsed_message(event: &Value) -> SlackMessageEvent {
        let parsed: SlackPushEvent =
            serde_json::from_value(SlackSender::event_envelope("Ev20", event.clone())).expect("an event_callback");
        let SlackPushEvent::EventCallback(cb) = parsed else {
            panic!("not an event_callback")
        };
        match cb.event {
            SlackEventCallbackBody::Message(m) => m,
            other => panic!("not a message event: {other:?}"),
        }
    }

    #[tokio::test]
    async fn file_shares_edits_and_deletions_as_slack_sends_them() {
        let slack = setup().await;
        let root = "1700000000.000100";
        let file = slack.add_file("U0ADA", "receipt.pdf", "application/pdf", b"%PDF-1.7".to_vec());

        // A file shared in the thread, with a comment.
        let ev = slack.user_file_share(CH, "U0ADA", "my receipt", root, std::slice::from_ref(&file));
        let ts = ev["ts"].as_str().unwrap().to_string();
        for (key, value) in [
            ("type", json!("message")),
            ("subtype", json!("file_share")),
            ("files", json!([file])),
            ("upload", json!(false)),
            ("display_as_bot", json!(false)),
            ("user", json!("U0ADA")),
            ("text", json!("my receipt")),
            ("thread_ts", json!(root)),
            ("parent_user_id", json!(SlackStandIn::BOT_USER)),
            ("channel", json!(CH)),
            ("channel_type", json!("channel")),
            ("event_ts", json!(ts)),
        ] {
            assert_eq!(ev[key], value, "{key}");
        }
        assert_eq!(ev["blocks"][0]["type"], "rich_text");
        let m = parsed_message(&ev);
        assert_eq!(m.subtype, Some(SlackMessageEventType::FileShare));
        assert_eq!(m.sender.user.unwrap().0, "U0ADA");
        let files = m.content.unwrap().files.unwrap();
        assert_eq!(files[0].id.0, file["id"].as_str().unwrap());
        assert_eq!(
            files[0].url_private_download.as_ref().map(|u| u.as_str()),
            file["url_private_download"].as_str()
        );
        let replies = slack.replies(CH, root);
        assert_eq!(replies.len(), 1);
        assert_eq!((replies[0].ts.as_str(), replies[0].files.len()), (ts.as_str(), 1));
        assert_eq!(slack.message_json(CH, &ts).unwrap()["files"][0]["id"], file["id"]);
        // No comment: no blocks; no thread: in the channel.
        let bare = SlackSender::file_share_message(CH, "U0ADA", "", "", std::slice::from_ref(&file));
        assert!(bare.get("blocks").is_none() && bare.get("thread_ts").is_none());

        // The comment edited.
        let ev = slack.user_edit(CH, &ts, "my receipt (the right one)");
        let event_ts = ev["ts"].as_str().unwrap();
        assert_ne!(event_ts, ts);
        assert_eq!(ev["event_ts"], event_ts);
        assert_eq!(
            (ev["subtype"].as_str(), ev["hidden"].as_bool()),
            (Some("message_changed"), Some(true))
        );
        assert_eq!(
            (ev["channel"].as_str(), ev["channel_type"].as_str()),
            (Some(CH), Some("channel"))
        );
        let (now, before) = (&ev["message"], &ev["previous_message"]);
        assert_eq!(now["ts"], ts);
        assert_eq!(now["text"], "my receipt (the right one)");
        assert_eq!(now["thread_ts"], root);
        assert_eq!(now["edited"], json!({"user": "U0ADA", "ts": event_ts}));
        assert_eq!(now["files"][0]["id"], file["id"]);
        assert_eq!(
            (before["ts"].as_str(), before["text"].as_str()),
            (Some(ts.as_str()), Some("my receipt"))
        );
        assert_eq!(before["thread_ts"], root);
        assert!(before.get("edited").is_none());
        let m = parsed_message(&ev);
        assert_eq!(m.subtype, Some(SlackMessageEventType::MessageChanged));
        assert_eq!(m.hidden, Some(true));
        let edited = m.message.unwrap();
        assert_eq!(edited.ts.0, ts);
        assert_eq!(edited.edited.unwrap().user.0, "U0ADA");
        assert_eq!(
            edited.content.unwrap().text.as_deref(),
            Some("my receipt (the right one)")
        );
        let previous = m.previous_message.unwrap();
        assert_eq!(previous.content.unwrap().text.as_deref(), Some("my receipt"));
        let held = slack.message(CH, &ts).unwrap();
        assert_eq!(held.text, "my receipt (the right one)");
        assert!(held.edited && held.files.len() == 1);
        assert_eq!(slack.message_json(CH, &ts).unwrap()["edited"]["ts"], event_ts);

        // Then deleted.
        let ev = slack.user_delete(CH, &ts);
        assert_ne!(ev["ts"], ts);
        assert_eq!(ev["event_ts"], ev["ts"]);
        assert_eq!(
            (
                ev["subtype"].as_str(),
                ev["hidden"].as_bool(),
                ev["deleted_ts"].as_str()
            ),
            (Some("message_deleted"), Some(true), Some(ts.as_str()))
        );
        let before = &ev["previous_message"];
        assert_eq!(before["ts"], ts);
        assert_eq!(before["user"], "U0ADA");
        assert_eq!(before["text"], "my receipt (the right one)");
        assert_eq!(before["thread_ts"], root);
        let m = parsed_message(&ev);
        assert_eq!(m.subtype, Some(SlackMessageEventType::MessageDeleted));
        assert_eq!(m.deleted_ts.unwrap().0, ts);
        assert!(slack.replies(CH, root).is_empty());
        assert!(slack.message(CH, &ts).is_none());

        // The static builders, on messages the stand-in does not hold: they change nothing.
        let ev = SlackSender::message_changed(CH, "U0ADA", "1.000002", "", "new", "old");
        assert!(ev["message"].get("thread_ts").is_none());
        slack.record_message(&ev);
        slack.record_message(&SlackSender::message_deleted(CH, "1.000002", root, "U0ADA", "old"));
        assert!(slack.messages(CH).is_empty());
        slack.assert_all_seen();
    }
}
