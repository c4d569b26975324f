//! The Slack stand-in's conversations and directory: `conversations.open` (DMs and group
//! DMs), `conversations.info`, the cursor-paginated reads `conversations.history` and
//! `conversations.replies`, and who is who (`auth.test`, `users.info`).

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::state::{Channel, Msg, World};
use super::wire::{Args, Reply, TsKey, Window, api_error, page_limit, parse_ts_cursor, ts_cursor, ts_key};
use super::{PERMALINK_BASE, SlackStandIn};

/// One page of `items` (in listing order) from the `cursor` on: `(page, next_cursor)`,
/// `next_cursor` empty on the last page. `ahead(a, b)`: whether `a` lists before `b`.
fn paginate<'a>(
    items: Vec<&'a Msg>,
    a: &Args,
    limit: usize,
    ahead: impl Fn(TsKey, TsKey) -> bool,
) -> Result<(Vec<&'a Msg>, String), Value> {
    let start = match a.non_empty("cursor") {
        None => 0,
        Some(c) => {
            let from = parse_ts_cursor(&c).ok_or_else(|| api_error("invalid_cursor"))?;
            items.iter().take_while(|m| ahead(ts_key(&m.ts), from)).count()
        }
    };
    let rest = &items[start..];
    let page: Vec<&Msg> = rest.iter().take(limit).copied().collect();
    let next = rest.get(limit).map(|m| ts_cursor(ts_key(&m.ts))).unwrap_or_default();
    Ok((page, next))
}

impl World {
    pub(super) fn auth_test() -> Value {
        json!({
            "url": format!("{PERMALINK_BASE}/"),
            "team": "Stand-in Workspace",
            "user": SlackStandIn::BOT_NAME,
            "team_id": SlackStandIn::TEAM,
            "user_id": SlackStandIn::BOT_USER,
            "bot_id": SlackStandIn::BOT_ID,
            "is_enterprise_install": false
        })
    }

    pub(super) fn user_info(&mut self, a: &Args) -> Reply {
        let id = a.non_empty("user").ok_or_else(|| api_error("user_not_found"))?;
        let u = self.users.get(&id).ok_or_else(|| api_error("user_not_found"))?;
        use super::UserKind;
        let team = match &u.kind {
            UserKind::OtherTeam(t) => t.as_str(),
            _ => SlackStandIn::TEAM,
        };
        let restricted = matches!(u.kind, UserKind::Guest | UserKind::SingleChannelGuest);
        let ultra = u.kind == UserKind::SingleChannelGuest;
        let stranger = u.kind == UserKind::Stranger;
        Ok(json!({"user": {
            "id": u.id, "team_id": team, "name": u.name, "deleted": false,
            "color": "9f69e7", "real_name": u.real_name, "tz": "Europe/London",
            "tz_label": "Greenwich Mean Time", "tz_offset": 0,
            "is_admin": u.is_admin, "is_owner": u.is_owner, "is_primary_owner": u.is_owner,
            "is_restricted": restricted, "is_ultra_restricted": ultra, "is_stranger": stranger, "is_bot": u.is_bot,
            "is_app_user": false, "updated": 1_700_000_000, "has_2fa": false,
            "profile": {
                "real_name": u.real_name, "real_name_normalized": u.real_name,
                "display_name": u.name, "display_name_normalized": u.name,
                "team": SlackStandIn::TEAM
            }
        }}))
    }

    /// The bot's DM channel with `user`, created on first use; `(id, already_open)`.
    pub(super) fn open_dm(&mut self, user: &str) -> (String, bool) {
        if let Some(id) = self.dms.get(user) {
            return (id.clone(), true);
        }
        let id = self.new_id('D');
        self.channels.insert(
            id.clone(),
            Channel {
                id: id.clone(),
                name: user.to_string(),
                is_member: true,
                im_user: Some(user.to_string()),
                is_mpim: false,
            },
        );
        self.dms.insert(user.to_string(), id.clone());
        (id, false)
    }

    /// The group DM of `users` (and the bot), created on first use; `(id, already_open)`.
    fn open_mpim(&mut self, users: &[String]) -> (String, bool) {
        let mut sorted = users.to_vec();
        sorted.sort();
        let key = sorted.join(",");
        if let Some(id) = self.mpims.get(&key) {
            return (id.clone(), true);
        }
        let id = self.new_id('G');
        let names: Vec<String> = sorted
            .iter()
            .map(|u| self.users.get(u).map(|x| x.name.clone()).unwrap_or_else(|| u.clone()))
            .collect();
        self.channels.insert(
            id.clone(),
            Channel {
                id: id.clone(),
                name: format!("mpdm-{}-1", names.join("--")),
                is_member: true,
                im_user: None,
                is_mpim: true,
            },
        );
        self.mpims.insert(key, id.clone());
        (id, false)
    }

    pub(super) fn open_conversation(&mut self, a: &Args) -> Reply {
        let users = a.list("users");
        let (id, already_open) = if users.is_empty() {
            match a.non_empty("channel") {
                Some(ch) => (self.channel_id(Some(ch))?, true),
                None => return Err(api_error("users_list_not_supplied")),
            }
        } else {
            for u in &users {
                match self.users.get(u) {
                    None => return Err(api_error("user_not_found")),
                    Some(x) if x.is_bot => return Err(api_error("cannot_dm_bot")),
                    Some(_) => {}
                }
            }
            match users.len() {
                1 => self.open_dm(&users[0]),
                2..=8 => self.open_mpim(&users),
                _ => return Err(api_error("too_many_users")),
            }
        };
        let channel = if a.flag("return_im") {
            self.channel_json(&id)
        } else {
            json!({"id": id})
        };
        let mut out = json!({"channel": channel});
        if already_open {
            out["no_op"] = json!(true);
            out["already_open"] = json!(true);
        }
        Ok(out)
    }

    fn channel_json(&self, id: &str) -> Value {
        let Some(c) = self.channels.get(id) else {
            return json!({"id": id});
        };
        if let Some(user) = &c.im_user {
            return json!({
                "id": c.id, "created": 1_700_000_000, "is_im": true, "is_org_shared": false,
                "user": user, "is_user_deleted": false, "priority": 0, "is_open": true,
                "last_read": "0000000000.000000", "unread_count": 0, "unread_count_display": 0
            });
        }
        json!({
            "id": c.id, "name": c.name, "name_normalized": c.name, "created": 1_700_000_000,
            "creator": SlackStandIn::BOT_USER,
            "is_channel": !c.is_mpim, "is_group": false, "is_im": false, "is_mpim": c.is_mpim,
            "is_private": c.is_mpim, "is_archived": false, "is_general": false, "is_shared": false,
            "is_org_shared": false, "is_ext_shared": false, "is_member": c.is_member,
            "topic": {"value": "", "creator": "", "last_set": 0},
            "purpose": {"value": "", "creator": "", "last_set": 0}
        })
    }

    pub(super) fn conversation_info(&mut self, a: &Args) -> Reply {
        let id = self.channel_id(a.str("channel"))?;
        Ok(json!({"channel": self.channel_json(&id)}))
    }

    /// A message as `conversations.history` / `conversations.replies` list it.
    fn listed(&self, channel: &str, m: &Msg, include_metadata: bool) -> Value {
        let mut v = self.message_json(channel, m);
        if !include_metadata && let Value::Object(o) = &mut v {
            o.remove("metadata");
        }
        v
    }

    /// `conversations.history`: the channel's top-level messages (and replies broadcast to
    /// it), newest first, within `oldest`/`latest` (exclusive unless `inclusive`), `limit`
    /// (default 100, at most 999) a page, continued with `cursor`. Metadata only with
    /// `include_all_metadata`.
    pub(super) fn conversation_history(&mut self, a: &Args) -> Reply {
        let channel = self.readable_channel(a.str("channel"))?;
        let window = Window::from_args(a)?;
        let limit = page_limit(a, 100, 999);
        let with_metadata = a.flag("include_all_metadata");
        let messages: Vec<&Msg> = self
            .messages
            .get(&channel)
            .map(|ms| {
                ms.values()
                    .rev()
                    .filter(|m| m.thread_ts.is_none() || m.subtype.as_deref() == Some("thread_broadcast"))
                    .filter(|m| window.contains(ts_key(&m.ts)))
                    .collect()
            })
            .unwrap_or_default();
        let (page, next_cursor) = paginate(messages, a, limit, |ts, from| ts > from)?;
        let listed: Vec<Value> = page.iter().map(|m| self.listed(&channel, m, with_metadata)).collect();
        Ok(json!({
            "messages": listed,
            "has_more": !next_cursor.is_empty(),
            "pin_count": 0,
            "channel_actions_ts": null,
            "channel_actions_count": 0,
            "response_metadata": {"next_cursor": next_cursor}
        }))
    }

    /// `conversations.replies`: the thread `ts` names (its root, or any reply in it) — the
    /// parent first, then the replies oldest first within `oldest`/`latest`; `limit`
    /// (default 1000) a page, continued with `cursor` (later pages do not repeat the
    /// parent). A message without replies lists alone. Metadata only with
    /// `include_all_metadata`.
    pub(super) fn conversation_replies(&mut self, a: &Args) -> Reply {
        let channel = self.readable_channel(a.str("channel"))?;
        let root = self
            .thread_root(&channel, a.str("ts"))
            .ok_or_else(|| api_error("thread_not_found"))?;
        let window = Window::from_args(a)?;
        let limit = page_limit(a, 1000, 1000);
        let with_metadata = a.flag("include_all_metadata");
        let empty = BTreeMap::new();
        let ms = self.messages.get(&channel).unwrap_or(&empty);
        let thread: Vec<&Msg> = ms
            .get(&root)
            .into_iter()
            .chain(
                ms.values()
                    .filter(|m| m.thread_ts.as_deref() == Some(root.as_str()))
                    .filter(|m| window.contains(ts_key(&m.ts))),
            )
            .collect();
        let (page, next_cursor) = paginate(thread, a, limit, |ts, from| ts < from)?;
        let listed: Vec<Value> = page.iter().map(|m| self.listed(&channel, m, with_metadata)).collect();
        Ok(json!({
            "messages": listed,
            "has_more": !next_cursor.is_empty(),
            "response_metadata": {"next_cursor": next_cursor}
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::super::SlackStandIn;
    use super::super::test_support::*;
    use crate::standins::slack::wire::form_encode;
    use serde_json::{Value, json};
    use slack_morphism::errors::SlackClientError;
    use slack_morphism::prelude::*;
    use std::collections::HashMap;
    use std::time::Duration;

    fn with_metadata(text: &str, key: &str) -> SlackMessageContent {
        SlackMessageContent::new().with_text(text.into()).with_metadata(
            SlackMessageMetadata::new("handoff_bridge".into())
                .with_event_payload(HashMap::from([("key".into(), key.into())])),
        )
    }

    fn payload_key(m: &SlackHistoryMessage) -> Option<&str> {
        let metadata = m.content.metadata.as_ref()?;
        assert_eq!(metadata.event_type, "handoff_bridge");
        metadata.event_payload.as_ref()?.get("key").map(String::as_str)
    }

    #[tokio::test]
    async fn history_replies_and_metadata_with_slack_morphism() {
        let slack = setup().await;
        let client = client_for(&slack);
        let token = SlackApiToken::new(TOKEN.into());
        let session = client.open_session(&token);

        let root = session
            .chat_post_message(&SlackApiChatPostMessageRequest::new(
                CH.into(),
                with_metadata("Ada needs a human", "root:c1"),
            ))
            .await
            .expect("root with metadata");
        // chat.postMessage shows the metadata on the message it answers with.
        let posted = root.message.content.metadata.as_ref().expect("metadata in the answer");
        assert_eq!(posted.event_type, "handoff_bridge");
        assert_eq!(posted.event_payload.as_ref().unwrap()["key"], "root:c1");
        let mut reply_ts = Vec::new();
        for n in 1..=2 {
            let reply = session
                .chat_post_message(
                    &SlackApiChatPostMessageRequest::new(
                        CH.into(),
                        with_metadata(&format!("reply {n}"), &format!("reply:c1:{n}")),
                    )
                    .with_thread_ts(root.ts.clone()),
                )
                .await
                .expect("reply with metadata");
            reply_ts.push(reply.ts);
        }
        let other = session
            .chat_post_message(&SlackApiChatPostMessageRequest::new(
                CH.into(),
                SlackMessageContent::new().with_text("another root".into()),
            ))
            .await
            .expect("a root without metadata");

        // History: top-level messages only, newest first; metadata only when asked for.
        let history = session
            .conversations_history(
                &SlackApiConversationsHistoryRequest::new()
                    .with_channel(CH.into())
                    .with_include_all_metadata(true),
            )
            .await
            .expect("conversations.history");
        let listed: Vec<&str> = history.messages.iter().map(|m| m.origin.ts.0.as_str()).collect();
        assert_eq!(listed, [other.ts.0.as_str(), root.ts.0.as_str()]);
        assert_eq!(history.has_more, Some(false));
        assert_eq!(
            history.response_metadata.as_ref().and_then(|r| r.next_cursor.clone()),
            None
        );
        let found = &history.messages[1];
        assert_eq!(payload_key(found), Some("root:c1"));
        assert_eq!(found.parent.reply_count, Some(2));
        assert_eq!(found.origin.thread_ts.as_ref(), Some(&root.ts));
        assert_eq!(found.sender.bot_id.as_ref().unwrap().0, SlackStandIn::BOT_ID);
        assert_eq!(found.content.text.as_deref(), Some("Ada needs a human"));
        assert!(history.messages[0].content.metadata.is_none());
        let plain = session
            .conversations_history(&SlackApiConversationsHistoryRequest::new().with_channel(CH.into()))
            .await
            .expect("conversations.history without include_all_metadata");
        assert_eq!(plain.messages.len(), 2);
        assert!(plain.messages.iter().all(|m| m.content.metadata.is_none()));

        // Cursor pagination.
        let first = session
            .conversations_history(
                &SlackApiConversationsHistoryRequest::new()
                    .with_channel(CH.into())
                    .with_limit(1),
            )
            .await
            .expect("page 1");
        assert_eq!(first.messages[0].origin.ts, other.ts);
        assert_eq!(first.has_more, Some(true));
        let cursor = first
            .response_metadata
            .and_then(|r| r.next_cursor)
            .expect("next_cursor");
        let second = session
            .conversations_history(
                &SlackApiConversationsHistoryRequest::new()
                    .with_channel(CH.into())
                    .with_limit(1)
                    .with_cursor(cursor),
            )
            .await
            .expect("page 2");
        assert_eq!(second.messages[0].origin.ts, root.ts);
        assert_eq!(second.has_more, Some(false));

        // Replies: parent first, then replies oldest first. slack-morphism's request has no
        // include_all_metadata, so its typed call never sees metadata…
        let thread = session
            .conversations_replies(&SlackApiConversationsRepliesRequest::new(CH.into(), root.ts.clone()))
            .await
            .expect("conversations.replies");
        let listed: Vec<&SlackTs> = thread.messages.iter().map(|m| &m.origin.ts).collect();
        assert_eq!(listed, [&root.ts, &reply_ts[0], &reply_ts[1]]);
        assert!(thread.messages.iter().all(|m| m.content.metadata.is_none()));
        assert_eq!(thread.messages[1].origin.thread_ts.as_ref(), Some(&root.ts));
        // …but the same GET with the flag, through its session, does.
        let thread: SlackApiConversationsRepliesResponse = session
            .http_session_api
            .http_get(
                "conversations.replies",
                &vec![
                    ("channel", Some(CH)),
                    ("ts", Some(reply_ts[0].0.as_str())),
                    ("include_all_metadata", Some("true")),
                ],
                None,
            )
            .await
            .expect("conversations.replies with include_all_metadata");
        let keys: Vec<Option<&str>> = thread.messages.iter().map(payload_key).collect();
        assert_eq!(keys, [Some("root:c1"), Some("reply:c1:1"), Some("reply:c1:2")]);

        // chat.update replaces the metadata it is given.
        let updated = session
            .chat_update(&SlackApiChatUpdateRequest::new(
                CH.into(),
                with_metadata("Assigned to Ada", "root:c1:assigned"),
                root.ts.clone(),
            ))
            .await
            .expect("chat.update with metadata");
        assert_eq!(
            updated.message.content.metadata.unwrap().event_payload.unwrap()["key"],
            "root:c1:assigned"
        );
        assert_eq!(
            slack.message(CH, &root.ts.0).unwrap().metadata["event_payload"]["key"],
            "root:c1:assigned"
        );

        // Errors.
        let r = session
            .conversations_replies(&SlackApiConversationsRepliesRequest::new(CH.into(), "1.000001".into()))
            .await;
        assert!(matches!(r, Err(SlackClientError::ApiError(e)) if e.code == "thread_not_found"));
        let r = session
            .conversations_history(&SlackApiConversationsHistoryRequest::new().with_channel("C0OUTSIDE".into()))
            .await;
        assert!(matches!(r, Err(SlackClientError::ApiError(e)) if e.code == "not_in_channel"));
        let r = session
            .conversations_replies(&SlackApiConversationsRepliesRequest::new(
                "C0OUTSIDE".into(),
                root.ts.clone(),
            ))
            .await;
        assert!(matches!(r, Err(SlackClientError::ApiError(e)) if e.code == "not_in_channel"));
        let r = session
            .conversations_history(&SlackApiConversationsHistoryRequest::new().with_channel("C0NOPE".into()))
            .await;
        assert!(matches!(r, Err(SlackClientError::ApiError(e)) if e.code == "channel_not_found"));
        slack.rate_limit_next("conversations.history", 1, 3);
        let r = session
            .conversations_history(&SlackApiConversationsHistoryRequest::new().with_channel(CH.into()))
            .await;
        assert!(matches!(r, Err(SlackClientError::RateLimitError(e)) if e.retry_after == Some(Duration::from_secs(3))));
        slack.error_next("conversations.replies", 1, "fatal_error");
        let r = session
            .conversations_replies(&SlackApiConversationsRepliesRequest::new(CH.into(), root.ts.clone()))
            .await;
        assert!(matches!(r, Err(SlackClientError::ApiError(e)) if e.code == "fatal_error"));

        let calls = slack.take_calls();
        assert_eq!(
            methods(&calls),
            [
                "chat.postMessage",
                "chat.postMessage",
                "chat.postMessage",
                "chat.postMessage",
                "conversations.history",
                "conversations.history",
                "conversations.history",
                "conversations.history",
                "conversations.replies",
                "conversations.replies",
                "chat.update",
                "conversations.replies",
                "conversations.history",
                "conversations.replies",
                "conversations.history",
                "conversations.history",
                "conversations.replies"
            ]
        );
        // What slack-morphism sends: chat.postMessage as JSON with `metadata` an object;
        // the reads as GET query parameters (strings).
        assert_eq!(
            calls[0].args["metadata"],
            json!({"event_type": "handoff_bridge", "event_payload": {"key": "root:c1"}})
        );
        assert_eq!(calls[4].args, json!({"channel": CH, "include_all_metadata": "true"}));
        assert_eq!(calls[6].args, json!({"channel": CH, "limit": "1"}));
        assert_eq!(calls[8].args, json!({"channel": CH, "ts": root.ts.0}));
        let statuses: Vec<u16> = calls.iter().map(|c| c.status).collect();
        assert_eq!(statuses[15], 429);
        assert!(calls.iter().all(|c| c.token_ok));
        slack.assert_all_seen();
    }

    #[tokio::test]
    async fn history_and_replies_over_form_and_json() {
        let slack = setup().await;
        let http = reqwest::Client::new();
        let api = slack.api_url();
        let post_json = |method: &'static str, body: Value| call(&slack, method, body);
        let post_form = |method: &str, fields: &[(&str, &str)]| {
            let req = http
                .post(format!("{api}/{method}"))
                .bearer_auth(TOKEN)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(form_encode(fields));
            async move { req.send().await.unwrap().json::<Value>().await.unwrap() }
        };

        // Metadata as a JSON string in a form.
        let meta = json!({"event_type": "handoff_bridge", "event_payload": {"key": "root:c2", "n": 2}}).to_string();
        let root = post_form(
            "chat.postMessage",
            &[("channel", CH), ("text", "root"), ("metadata", &meta)],
        )
        .await;
        assert_eq!(root["ok"], true, "{root}");
        assert_eq!(root["message"]["metadata"]["event_payload"]["n"], 2);
        let root_ts = root["ts"].as_str().unwrap().to_string();
        for (metadata, error) in [
            ("not json", "invalid_metadata_format"),
            ("[1]", "invalid_metadata_format"),
            (r#"{"event_payload": {}}"#, "invalid_metadata_schema"),
            (r#"{"event_type": "", "event_payload": {}}"#, "invalid_metadata_schema"),
            (
                r#"{"event_type": "x", "event_payload": "y"}"#,
                "invalid_metadata_schema",
            ),
        ] {
            let r = post_form(
                "chat.postMessage",
                &[("channel", CH), ("text", "x"), ("metadata", metadata)],
            )
            .await;
            assert_eq!(r["error"], error, "{metadata}");
        }
        let r = post_json(
            "chat.update",
            json!({"channel": CH, "ts": root_ts, "text": "y", "metadata": "{"}),
        )
        .await;
        assert_eq!(r["error"], "invalid_metadata_format");

        // A plain reply, and one broadcast to the channel (JSON body).
        let reply = post_json(
            "chat.postMessage",
            json!({"channel": CH, "text": "r1", "thread_ts": root_ts}),
        )
        .await;
        let reply_ts = reply["ts"].as_str().unwrap().to_string();
        let broadcast = post_json(
            "chat.postMessage",
            json!({"channel": CH, "text": "r2", "thread_ts": root_ts, "reply_broadcast": true,
                   "metadata": {"event_type": "handoff_bridge", "event_payload": {"key": "reply:c2"}}}),
        )
        .await;
        let broadcast_ts = broadcast["ts"].as_str().unwrap().to_string();
        assert_eq!(broadcast["message"]["subtype"], "thread_broadcast");

        // History over a form POST with `1` as true.
        let h = post_form(
            "conversations.history",
            &[("channel", CH), ("include_all_metadata", "1")],
        )
        .await;
        assert_eq!(h["ok"], true, "{h}");
        let listed = listed_ts(&h);
        assert_eq!(
            listed,
            [broadcast_ts.as_str(), root_ts.as_str()],
            "a broadcast reply is in history, a plain one not"
        );
        assert_eq!(h["messages"][0]["metadata"]["event_payload"]["key"], "reply:c2");
        assert_eq!(h["messages"][1]["reply_count"], 2);
        assert_eq!(h["messages"][1]["latest_reply"], broadcast_ts);
        assert_eq!(h["response_metadata"], json!({"next_cursor": ""}));
        assert_eq!(h["has_more"], false);

        // Time windows: exclusive unless `inclusive`.
        let h = post_json("conversations.history", json!({"channel": CH, "oldest": root_ts})).await;
        assert_eq!(h["messages"].as_array().unwrap().len(), 1);
        let h = post_json(
            "conversations.history",
            json!({"channel": CH, "oldest": root_ts, "inclusive": true}),
        )
        .await;
        assert_eq!(h["messages"].as_array().unwrap().len(), 2);
        let h = post_json(
            "conversations.history",
            json!({"channel": CH, "latest": root_ts, "inclusive": "true"}),
        )
        .await;
        assert_eq!(h["messages"][0]["ts"], root_ts);
        assert!(h["messages"][0].get("metadata").is_none());
        let r = post_json("conversations.history", json!({"channel": CH, "oldest": "yesterday"})).await;
        assert_eq!(r["error"], "invalid_ts_oldest");
        let r = post_json(
            "conversations.history",
            json!({"channel": CH, "cursor": "not-a-cursor"}),
        )
        .await;
        assert_eq!(r["error"], "invalid_cursor");
        let r = post_json("conversations.history", json!({"channel": "#handoffs"})).await;
        assert_eq!(r["error"], "channel_not_found", "history takes ids, not names");

        // Replies: paginated, later pages without the parent; `oldest` keeps the parent.
        let p1 = post_json(
            "conversations.replies",
            json!({"channel": CH, "ts": root_ts, "limit": 2, "include_all_metadata": true}),
        )
        .await;
        let listed = listed_ts(&p1);
        assert_eq!(listed, [root_ts.as_str(), reply_ts.as_str()]);
        assert_eq!(p1["messages"][0]["metadata"]["event_payload"]["key"], "root:c2");
        assert_eq!(p1["has_more"], true);
        let cursor = p1["response_metadata"]["next_cursor"].as_str().unwrap().to_string();
        let p2 = post_form(
            "conversations.replies",
            &[("channel", CH), ("ts", &root_ts), ("limit", "2"), ("cursor", &cursor)],
        )
        .await;
        assert_eq!(p2["messages"].as_array().unwrap().len(), 1);
        assert_eq!(p2["messages"][0]["ts"], broadcast_ts);
        assert_eq!(p2["messages"][0]["parent_user_id"], SlackStandIn::BOT_USER);
        assert!(p2["messages"][0].get("metadata").is_none());
        assert_eq!(p2["has_more"], false);
        let newer = post_json(
            "conversations.replies",
            json!({"channel": CH, "ts": root_ts, "oldest": reply_ts}),
        )
        .await;
        let listed = listed_ts(&newer);
        assert_eq!(listed, [root_ts.as_str(), broadcast_ts.as_str()]);
        let r = post_json("conversations.replies", json!({"channel": CH})).await;
        assert_eq!(r["error"], "thread_not_found");

        // A user's reply recorded from an event is listed too.
        slack.user_reply(CH, "U0ADA", "thanks", &root_ts);
        let all = post_json("conversations.replies", json!({"channel": CH, "ts": root_ts})).await;
        assert_eq!(all["messages"].as_array().unwrap().len(), 4);
        assert_eq!(all["messages"][3]["user"], "U0ADA");
        assert_eq!(all["messages"][0]["reply_users_count"], 2);

        slack.take_calls();
        slack.assert_all_seen();
    }
}
