//! The Slack outbox target: each row becomes Web API calls through slack-morphism. Rows
//! carry ids only; what is shown is rendered from the database at delivery time, so a
//! root is always updated to the latest state. What a call created (the root's ts, a
//! transcript line's ts) is recorded at once, so a retried row does not post it again.
//! A thread root also carries message metadata naming its conversation: when its row
//! was claimed before (a lost response, a crash), the channel's history is searched for
//! it first, so a conversation never gets two threads.

use super::Slack;
use super::render::{self, RootContext};
use crate::engine::OperatorId;
use crate::outbox::Delivery;
use crate::service::DEFAULT_WORKSPACE;
use crate::store::conversations::{self as convs, ConversationRow};
use crate::store::outbox::OutboxRow;
use crate::store::{audit, operators, widgets};
use serde_json::Value;
use slack_morphism::errors::SlackClientError;
use slack_morphism::prelude::*;
use std::time::Duration;

/// The bridge's keyed messages in a thread: metadata key → ts.
type Posted = std::collections::HashMap<String, String>;

/// The metadata event type of the bridge's thread roots.
const METADATA_EVENT: &str = "handoff_bridge";

/// Queues the delivery receipt of an operator's reply where it stands in Slack: ✅ when
/// the visitor got it, ⚠️ and a short thread note when not (§3.2a).
pub async fn enqueue_receipt(
    conn: &mut sqlx::AnyConnection,
    workspace_id: i64,
    conversation: &str,
    channel: &str,
    ts: &str,
    failure: Option<&str>,
) -> Result<(), sqlx::Error> {
    let key = format!("slack:{conversation}");
    let name = if failure.is_none() {
        "white_check_mark"
    } else {
        "warning"
    };
    let react = serde_json::json!({"channel": channel, "ts": ts, "name": name});
    crate::service::enqueue_slack(conn, workspace_id, "react", key.clone(), react).await?;
    if let Some(why) = failure {
        let thread_ts = convs::get(conn, conversation).await?.and_then(|c| c.slack_thread_ts);
        let note = serde_json::json!({
            "channel": channel,
            "thread_ts": thread_ts.as_deref().unwrap_or(ts),
            "text": format!("⚠️ That reply could not be delivered to the visitor ({why})."),
        });
        crate::service::enqueue_slack(conn, workspace_id, "thread_note", key, note).await?;
    }
    Ok(())
}

/// Maps a Slack client error to what the outbox should do with the row.
pub fn classify(e: &SlackClientError) -> Delivery {
    match e {
        SlackClientError::RateLimitError(r) => Delivery::HoldBack(
            r.retry_after.unwrap_or(Duration::from_secs(1)),
            "Slack: ratelimited".into(),
        ),
        SlackClientError::ApiError(a) => match a.code.as_str() {
            "ratelimited" => Delivery::HoldBack(Duration::from_secs(1), "Slack: ratelimited".into()),
            "internal_error" | "fatal_error" | "service_unavailable" | "request_timeout" => {
                Delivery::Retry(format!("Slack: {}", a.code))
            }
            code => Delivery::Dead(format!("Slack: {code}")),
        },
        SlackClientError::HttpError(h) if h.status_code.as_u16() == 429 => {
            Delivery::HoldBack(Duration::from_secs(1), "Slack: HTTP 429".into())
        }
        SlackClientError::HttpError(h) if h.status_code.is_server_error() => {
            Delivery::Retry(format!("Slack: HTTP {}", h.status_code))
        }
        SlackClientError::HttpError(h) => Delivery::Dead(format!("Slack: HTTP {}", h.status_code)),
        other => Delivery::Retry(format!("Slack: {other}")),
    }
}

/// A row's failure, already classified.
type Step<T> = Result<T, Delivery>;

fn internal(e: impl std::fmt::Display) -> Delivery {
    Delivery::Retry(format!("database: {e}"))
}

fn str_of<'a>(payload: &'a Value, key: &str) -> Step<&'a str> {
    payload[key]
        .as_str()
        .ok_or_else(|| Delivery::Dead(format!("payload has no `{key}`")))
}

impl Slack {
    /// Delivers one outbox row.
    pub async fn deliver(&self, row: &OutboxRow) -> Delivery {
        let payload: Value = match serde_json::from_str(&row.payload) {
            Ok(p) => p,
            Err(e) => return Delivery::Dead(format!("unreadable payload: {e}")),
        };
        let step = match row.kind.as_str() {
            "open_thread" => self.open_thread(&payload, row.claims > 1).await,
            "render" => self.render_root(&payload).await,
            "mirror" => self.mirror(&payload, row.claims > 1).await,
            "dm" => self.dm(&payload).await,
            "ephemeral" => self.ephemeral(&payload).await,
            "modal" => self.modal(&payload).await,
            "react" => self.react(&payload).await,
            "thread_note" => self.thread_note(&payload).await,
            other => Err(Delivery::Dead(format!("unknown Slack row kind `{other}`"))),
        };
        match step {
            Ok(()) => Delivery::Delivered,
            Err(d) => d,
        }
    }

    async fn conversation(&self, id: &str) -> Step<Option<ConversationRow>> {
        let mut conn = self.service().store().read().await.map_err(internal)?;
        convs::get(&mut conn, id).await.map_err(internal)
    }

    /// The channel a conversation's thread belongs in.
    async fn channel_for(&self, row: &ConversationRow) -> Step<String> {
        let mut conn = self.service().store().read().await.map_err(internal)?;
        let widget = widgets::get(&mut conn, &row.widget_id).await.map_err(internal)?;
        widget
            .and_then(|w| w.slack_channel)
            .or_else(|| self.default_channel().map(str::to_owned))
            .ok_or_else(|| {
                Delivery::Dead(format!(
                    "widget `{}` has no Slack channel: run `/handoff connect {}` in one, or set HANDOFF_SLACK_DEFAULT_CHANNEL",
                    row.widget_id, row.widget_id
                ))
            })
    }

    /// The rendered root of a conversation, from the current state.
    async fn root_content(&self, id: &str) -> Step<SlackMessageContent> {
        let view = self
            .service()
            .conversation(DEFAULT_WORKSPACE, id)
            .await
            .map_err(|e| Delivery::Retry(format!("loading {id}: {e}")))?;
        let mut conn = self.service().store().read().await.map_err(internal)?;
        let assignee_slack = match &view.conversation.assignee {
            Some(a) => operators::get(&mut conn, DEFAULT_WORKSPACE, a.id)
                .await
                .map_err(internal)?
                .and_then(|o| o.slack_user_id),
            None => None,
        };
        let last = audit::for_conversation(&mut conn, id).await.map_err(internal)?.pop();
        let ctx = RootContext {
            assignee_slack: assignee_slack.as_deref(),
            nobody_available: last.is_some_and(|a| a.reason == "unrouted"),
        };
        Ok(render::root(&view.conversation, &ctx))
    }

    async fn post(&self, channel: &str, content: SlackMessageContent, thread_ts: Option<&str>) -> Step<String> {
        self.post_keyed(channel, content, thread_ts, None).await
    }

    /// Posts a message; `key` is recorded as its metadata so it can be found again.
    async fn post_keyed(
        &self,
        channel: &str,
        content: SlackMessageContent,
        thread_ts: Option<&str>,
        key: Option<&str>,
    ) -> Step<String> {
        let content = match key {
            Some(key) => content.with_metadata(
                SlackMessageMetadata::new(METADATA_EVENT.into())
                    .with_event_payload(std::collections::HashMap::from([("key".to_owned(), key.to_owned())])),
            ),
            None => content,
        };
        self.pace("chat.postMessage", Some(channel)).await;
        let (client, token) = self.session();
        let mut req = SlackApiChatPostMessageRequest::new(SlackChannelId(channel.to_owned()), content);
        if let Some(ts) = thread_ts {
            req = req.with_thread_ts(SlackTs(ts.to_owned()));
        }
        let res = client
            .open_session(&token)
            .chat_post_message(&req)
            .await
            .map_err(|e| classify(&e))?;
        Ok(res.ts.0)
    }

    /// Finds a message this bridge posted with `key` among the channel's latest messages.
    async fn find_posted(&self, channel: &str, key: &str) -> Step<Option<String>> {
        self.pace("conversations.history", None).await;
        let (client, token) = self.session();
        let req = SlackApiConversationsHistoryRequest::new()
            .with_channel(SlackChannelId(channel.to_owned()))
            .with_limit(200)
            .with_include_all_metadata(true);
        let res = client
            .open_session(&token)
            .conversations_history(&req)
            .await
            .map_err(|e| classify(&e))?;
        Ok(res
            .messages
            .into_iter()
            .find(|m| {
                m.content.metadata.as_ref().is_some_and(|md| {
                    md.event_type == METADATA_EVENT
                        && md
                            .event_payload
                            .as_ref()
                            .and_then(|p| p.get("key"))
                            .is_some_and(|k| k == key)
                })
            })
            .map(|m| m.origin.ts.0))
    }

    /// Posts the root (once) and every transcript line not yet in the thread.
    /// `claimed_before`: an earlier attempt of this row may have posted the root already.
    async fn open_thread(&self, payload: &Value, claimed_before: bool) -> Step<()> {
        let id = str_of(payload, "conversation")?;
        let Some(row) = self.conversation(id).await? else {
            return Ok(());
        };
        let (channel, thread_ts) = match (&row.slack_channel, &row.slack_thread_ts) {
            (Some(c), Some(t)) => (c.clone(), t.clone()),
            _ => {
                let channel = self.channel_for(&row).await?;
                let key = format!("root:{id}");
                let earlier = if claimed_before {
                    self.find_posted(&channel, &key).await?
                } else {
                    None
                };
                let ts = match earlier {
                    Some(ts) => ts,
                    None => {
                        let content = self.root_content(id).await?;
                        self.post_keyed(&channel, content, None, Some(&key)).await?
                    }
                };
                let mut tx = self.service().store().write().await.map_err(internal)?;
                convs::set_slack_thread(tx.conn(), id, &channel, &ts)
                    .await
                    .map_err(internal)?;
                tx.commit().await.map_err(internal)?;
                (channel, ts)
            }
        };
        let lines = {
            let mut conn = self.service().store().read().await.map_err(internal)?;
            convs::messages(&mut conn, id).await.map_err(internal)?
        };
        let pending: Vec<_> = lines
            .iter()
            .filter(|m| m.slack_ts.is_none() && m.author != "held")
            .collect();
        if pending.is_empty() {
            return Ok(());
        }
        let earlier = self.earlier_posts(&channel, &thread_ts, claimed_before).await?;
        for line in pending {
            self.post_line(&channel, &thread_ts, line, &earlier).await?;
        }
        Ok(())
    }

    /// The bridge's keyed messages in a thread: key → ts.
    async fn posted_in_thread(&self, channel: &str, thread_ts: &str) -> Step<Posted> {
        self.pace("conversations.replies", None).await;
        let (client, token) = self.session();
        let session = client.open_session(&token);
        // slack-morphism's typed request cannot ask for metadata: call the method directly.
        let params = [
            ("channel", Some(channel)),
            ("ts", Some(thread_ts)),
            ("include_all_metadata", Some("true")),
        ];
        let res: SlackApiConversationsRepliesResponse = session
            .http_session_api
            .http_get("conversations.replies", &params, None)
            .await
            .map_err(|e| classify(&e))?;
        Ok(res
            .messages
            .into_iter()
            .filter_map(|m| {
                let md = m.content.metadata?;
                let key = (md.event_type == METADATA_EVENT).then(|| md.event_payload?.get("key").cloned())??;
                Some((key, m.origin.ts.0))
            })
            .collect())
    }

    /// What an earlier attempt of a row may already have posted in a thread (a lost answer,
    /// a crash): nothing to look up unless the row was claimed before.
    async fn earlier_posts(&self, channel: &str, thread_ts: &str, claimed_before: bool) -> Step<Posted> {
        match claimed_before {
            true => self.posted_in_thread(channel, thread_ts).await,
            false => Ok(Posted::new()),
        }
    }

    /// Posts one transcript line into the thread (in pieces if long) and records where;
    /// pieces found in `earlier` are not posted again.
    async fn post_line(&self, channel: &str, thread_ts: &str, line: &convs::MessageRow, earlier: &Posted) -> Step<()> {
        let operator = match line.operator_id {
            Some(op) => {
                let mut conn = self.service().store().read().await.map_err(internal)?;
                operators::get(&mut conn, DEFAULT_WORKSPACE, OperatorId(op))
                    .await
                    .map_err(internal)?
                    .map(|o| o.name)
            }
            None => None,
        };
        let mut first_ts = None;
        for (i, content) in render::transcript_line(&line.author, operator.as_deref(), &line.text)
            .into_iter()
            .enumerate()
        {
            let key = format!("line:{}:{i}", line.id);
            let ts = match earlier.get(&key) {
                Some(ts) => ts.clone(),
                None => self.post_keyed(channel, content, Some(thread_ts), Some(&key)).await?,
            };
            first_ts.get_or_insert(ts);
        }
        if let Some(ts) = first_ts {
            let mut tx = self.service().store().write().await.map_err(internal)?;
            let delivery = convs::set_message_slack(tx.conn(), line.id, channel, &ts)
                .await
                .map_err(internal)?;
            // The visitor got (or could not get) it before it reached the thread: the
            // receipt goes on this copy now.
            if line.author == "operator" {
                let failure = match delivery.as_deref() {
                    Some("delivered") => Some(None),
                    Some("failed") => Some(Some("see the service log")),
                    _ => None,
                };
                if let Some(failure) = failure {
                    enqueue_receipt(
                        tx.conn(),
                        DEFAULT_WORKSPACE.0,
                        &line.conversation_id,
                        channel,
                        &ts,
                        failure,
                    )
                    .await
                    .map_err(internal)?;
                }
            }
            tx.commit().await.map_err(internal)?;
            self.service().wake_outbox();
        }
        Ok(())
    }

    /// Updates the root in place.
    async fn render_root(&self, payload: &Value) -> Step<()> {
        let id = str_of(payload, "conversation")?;
        let Some(row) = self.conversation(id).await? else {
            return Ok(());
        };
        let (Some(channel), Some(ts)) = (&row.slack_channel, &row.slack_thread_ts) else {
            return Ok(()); // no thread (yet): the open_thread row renders it
        };
        let content = self.root_content(id).await?;
        self.pace("chat.update", None).await;
        let (client, token) = self.session();
        let req = SlackApiChatUpdateRequest::new(SlackChannelId(channel.clone()), content, SlackTs(ts.clone()));
        client
            .open_session(&token)
            .chat_update(&req)
            .await
            .map_err(|e| classify(&e))?;
        Ok(())
    }

    /// Shows a transcript line in the thread (if the thread exists and it is not there yet).
    async fn mirror(&self, payload: &Value, claimed_before: bool) -> Step<()> {
        let id = str_of(payload, "conversation")?;
        let message = payload["message"]
            .as_i64()
            .ok_or_else(|| Delivery::Dead("payload has no `message`".into()))?;
        let Some(row) = self.conversation(id).await? else {
            return Ok(());
        };
        let (Some(channel), Some(thread_ts)) = (&row.slack_channel, &row.slack_thread_ts) else {
            return Ok(()); // posted with the transcript when the thread opens
        };
        let line = {
            let mut conn = self.service().store().read().await.map_err(internal)?;
            convs::message(&mut conn, message).await.map_err(internal)?
        };
        match line {
            Some(line) if line.slack_ts.is_none() => {
                let earlier = self.earlier_posts(channel, thread_ts, claimed_before).await?;
                self.post_line(channel, thread_ts, &line, &earlier).await
            }
            _ => Ok(()),
        }
    }

    /// DMs the assignee: the summary and a permalink to the thread.
    async fn dm(&self, payload: &Value) -> Step<()> {
        let id = str_of(payload, "conversation")?;
        let operator = payload["operator"]
            .as_i64()
            .ok_or_else(|| Delivery::Dead("payload has no `operator`".into()))?;
        let slack_user = {
            let mut conn = self.service().store().read().await.map_err(internal)?;
            operators::get(&mut conn, DEFAULT_WORKSPACE, OperatorId(operator))
                .await
                .map_err(internal)?
                .and_then(|o| o.slack_user_id)
        };
        let Some(slack_user) = slack_user else {
            return Ok(()); // not on Slack
        };
        let Some(row) = self.conversation(id).await? else {
            return Ok(());
        };
        let view = self
            .service()
            .conversation(DEFAULT_WORKSPACE, id)
            .await
            .map_err(|e| Delivery::Retry(format!("loading {id}: {e}")))?;
        let (client, token) = self.session();
        let session = client.open_session(&token);
        let permalink = match (&row.slack_channel, &row.slack_thread_ts) {
            (Some(c), Some(ts)) => {
                self.pace("chat.getPermalink", None).await;
                let req = SlackApiChatGetPermalinkRequest::new(SlackChannelId(c.clone()), SlackTs(ts.clone()));
                Some(
                    session
                        .chat_get_permalink(&req)
                        .await
                        .map_err(|e| classify(&e))?
                        .permalink
                        .to_string(),
                )
            }
            _ => None,
        };
        self.pace("conversations.open", None).await;
        let open = SlackApiConversationsOpenRequest::new().with_users(vec![SlackUserId(slack_user)]);
        let im = session
            .conversations_open(&open)
            .await
            .map_err(|e| classify(&e))?
            .channel
            .id;
        self.pace("chat.postMessage", Some(&im.0)).await;
        let req = SlackApiChatPostMessageRequest::new(im, render::dm(&view.conversation, permalink.as_deref()));
        session.chat_post_message(&req).await.map_err(|e| classify(&e))?;
        Ok(())
    }

    async fn ephemeral(&self, payload: &Value) -> Step<()> {
        let channel = str_of(payload, "channel")?;
        let user = str_of(payload, "user")?;
        let text = str_of(payload, "text")?;
        let button = match (
            payload["button"]["label"].as_str(),
            payload["button"]["action"].as_str(),
            payload["button"]["value"].as_str(),
        ) {
            (Some(l), Some(a), Some(v)) => Some((l, a, v)),
            _ => None,
        };
        let mut req = SlackApiChatPostEphemeralRequest::new(
            SlackChannelId(channel.to_owned()),
            SlackUserId(user.to_owned()),
            render::notice(text, button),
        );
        if let Some(ts) = payload["thread_ts"].as_str() {
            req = req.with_thread_ts(SlackTs(ts.to_owned()));
        }
        self.pace("chat.postEphemeral", None).await;
        let (client, token) = self.session();
        client
            .open_session(&token)
            .chat_post_ephemeral(&req)
            .await
            .map_err(|e| classify(&e))?;
        Ok(())
    }

    async fn modal(&self, payload: &Value) -> Step<()> {
        let trigger = str_of(payload, "trigger_id")?;
        let view: SlackView =
            serde_json::from_value(payload["view"].clone()).map_err(|e| Delivery::Dead(format!("bad view: {e}")))?;
        self.pace("views.open", None).await;
        let (client, token) = self.session();
        let req = SlackApiViewsOpenRequest::new(SlackTriggerId(trigger.to_owned()), view);
        client
            .open_session(&token)
            .views_open(&req)
            .await
            .map_err(|e| classify(&e))?;
        Ok(())
    }

    async fn react(&self, payload: &Value) -> Step<()> {
        let channel = str_of(payload, "channel")?;
        let ts = str_of(payload, "ts")?;
        let name = str_of(payload, "name")?;
        self.pace("reactions.add", None).await;
        let (client, token) = self.session();
        let req = SlackApiReactionsAddRequest::new(
            SlackChannelId(channel.to_owned()),
            SlackReactionName(name.to_owned()),
            SlackTs(ts.to_owned()),
        );
        match client.open_session(&token).reactions_add(&req).await {
            Ok(_) => Ok(()),
            Err(SlackClientError::ApiError(a)) if a.code == "already_reacted" => Ok(()),
            Err(e) => Err(classify(&e)),
        }
    }

    async fn thread_note(&self, payload: &Value) -> Step<()> {
        let channel = str_of(payload, "channel")?;
        let thread_ts = str_of(payload, "thread_ts")?;
        let text = str_of(payload, "text")?;
        self.post(
            channel,
            SlackMessageContent::new().with_text(render::trim(text, 3000)),
            Some(thread_ts),
        )
        .await?;
        Ok(())
    }
}
