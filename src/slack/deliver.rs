//! The Slack outbox target: each row becomes Web API calls through slack-morphism. Rows
//! carry ids only; what is shown is rendered from the database at delivery time, so a
//! root is always updated to the latest state. What a call created (the root's ts, a
//! transcript line's ts) is recorded at once, so a retried row does not post it again.
//! A thread root also carries message metadata naming its conversation: when its row
//! was claimed before (a lost response, a crash), the channel's history is searched for
//! it first, so a conversation never gets two threads.

use super::render::{self, RootContext};
use super::{PLATFORM, Slack};
use crate::engine::OperatorId;
use crate::outbox::Delivery;
use crate::outbox::OutboxRow;
use crate::platform::Reaction;
use crate::service::{Line, MessageRef, Planned, Receipt, ThreadRef, ThreadState};
use serde_json::Value;
use slack_morphism::errors::SlackClientError;
use slack_morphism::prelude::*;

/// The bridge's keyed messages in a thread: metadata key → ts.
type Posted = std::collections::HashMap<String, String>;

/// The metadata event type of the bridge's thread roots.
const METADATA_EVENT: &str = "handoff_bridge";

/// The rows that show an operator reply's delivery receipt where it stands in Slack: ✅
/// when the visitor got it, ⚠️ and a short thread note when not.
pub fn receipt(
    conversation: &str,
    thread: Option<&ThreadRef>,
    reply: &MessageRef,
    what: Receipt,
    failure: Option<&str>,
) -> Vec<Planned> {
    let key = super::ordering_key(conversation);
    let (reaction, note) = crate::platform::receipt_plan(what, failure);
    let mut rows = Vec::new();
    if let Some(reaction) = reaction {
        let name = match reaction {
            Reaction::Delivered => "white_check_mark",
            Reaction::Edited => "pencil2",
            Reaction::Warning => "warning",
        };
        rows.push(Planned {
            kind: "react",
            ordering_key: key.clone(),
            payload: serde_json::json!({"channel": reply.channel, "ts": reply.message, "name": name}),
        });
    }
    if let Some(text) = note {
        let thread_ts = thread.and_then(|t| t.thread.as_deref()).unwrap_or(&reply.message);
        rows.push(Planned {
            kind: "thread_note",
            ordering_key: key,
            payload: serde_json::json!({"channel": reply.channel, "thread_ts": thread_ts, "text": text}),
        });
    }
    rows
}

/// Maps a Slack client error to what the outbox should do with the row.
pub fn classify(e: &SlackClientError) -> Delivery {
    match e {
        // slack-morphism reads whole seconds only: anything else arrives as `None` and
        // gets the normal backoff.
        SlackClientError::RateLimitError(r) => Delivery::HoldBack(
            r.retry_after.map(|d| d.min(crate::outbox::MAX_HOLD_BACK)),
            "Slack: ratelimited".into(),
        ),
        SlackClientError::ApiError(a) => match a.code.as_str() {
            "ratelimited" => Delivery::HoldBack(None, "Slack: ratelimited".into()),
            "internal_error" | "fatal_error" | "service_unavailable" | "request_timeout" => {
                Delivery::Retry(format!("Slack: {}", a.code))
            }
            code => Delivery::Dead(format!("Slack: {code}")),
        },
        SlackClientError::HttpError(h) if h.status_code.as_u16() == 429 => {
            Delivery::HoldBack(None, "Slack: HTTP 429".into())
        }
        SlackClientError::HttpError(h) if h.status_code.is_server_error() => {
            Delivery::Retry(format!("Slack: HTTP {}", h.status_code))
        }
        SlackClientError::HttpError(h) => Delivery::Dead(format!("Slack: HTTP {}", h.status_code)),
        other => Delivery::Retry(format!("Slack: {other}")),
    }
}

impl Slack {
    /// Classifies a failed call of `method` (on `channel`, for posts); when Slack said
    /// how long to wait, the call's lane is held that long for every later call, on
    /// every instance, not only for this row.
    fn refused(&self, method: &str, channel: Option<&str>, e: &SlackClientError) -> Delivery {
        let delivery = classify(e);
        if let Delivery::HoldBack(Some(wait), _) = &delivery {
            self.hold(method, channel, *wait);
        }
        delivery
    }
}

/// A row's failure, already classified.
type Step<T> = Result<T, Delivery>;

/// The longest a call waits in place for its turn in Slack's rate limits; a turn further
/// off holds its row back until then. A row makes a few paced calls, and all their waits
/// must fit well inside its delivery's timeout.
const TURN_WAIT_AT_MOST: std::time::Duration = std::time::Duration::from_millis(250);

fn internal(e: impl std::fmt::Display) -> Delivery {
    Delivery::Retry(format!("service: {e}"))
}

fn str_of<'a>(payload: &'a Value, key: &str) -> Step<&'a str> {
    payload[key]
        .as_str()
        .ok_or_else(|| Delivery::Dead(format!("payload has no `{key}`")))
}

impl Slack {
    /// Waits this call's turn in Slack's rate limits if it comes soon; a turn further off
    /// holds the row back until then, which is not a failed attempt.
    async fn turn(&self, method: &str, channel: Option<&str>) -> Step<()> {
        self.inner
            .limits
            .turn(method, channel, TURN_WAIT_AT_MOST)
            .await
            .map_err(|wait| {
                Delivery::HoldBack(Some(wait), format!("waiting for its turn in Slack's pace for {method}"))
            })
    }

    /// Delivers one outbox row.
    pub async fn deliver(&self, row: &OutboxRow) -> Delivery {
        let payload: Value = match serde_json::from_str(&row.payload) {
            Ok(p) => p,
            Err(e) => return Delivery::Dead(format!("unreadable payload: {e}")),
        };
        // What an earlier attempt may have posted without a record: this row's own (it
        // was claimed before), or a row before it on its key that died mid-way.
        let claimed_before = match row.kind.as_str() {
            "open_thread" | "mirror" | "dm" if row.claims <= 1 => match self.service().died_before(row).await {
                Ok(died) => died,
                Err(e) => return internal(e),
            },
            _ => row.claims > 1,
        };
        let step = match row.kind.as_str() {
            "open_thread" => self.open_thread(&payload, claimed_before).await,
            "render" => self.render_root(&payload).await,
            "mirror" => self.mirror(&payload, claimed_before).await,
            "redraw_line" => self.redraw_line(&payload).await,
            "dm" => self.dm(&payload, row.id, claimed_before).await,
            "ephemeral" => self.ephemeral(&payload).await,
            "modal" => self.modal(&payload).await,
            "react" => self.react(&payload).await,
            "thread_note" => self.thread_note(&payload).await,
            "thread_notice" => self.thread_notice(&payload).await,
            "respond" => self.respond(&payload).await,
            other => Err(Delivery::Dead(format!("unknown Slack row kind `{other}`"))),
        };
        match step {
            Ok(()) => Delivery::Delivered,
            Err(d) => d,
        }
    }

    /// A conversation as its Slack thread shows it (`None`: it no longer exists).
    async fn state(&self, id: &str) -> Step<Option<ThreadState>> {
        self.service().thread_state(PLATFORM, id).await.map_err(internal)
    }

    /// Where a conversation's thread is posted: its channel and thread ts (`None`: no
    /// thread yet, or the conversation no longer exists).
    async fn thread_of(&self, id: &str) -> Step<Option<(String, String)>> {
        Ok(self
            .state(id)
            .await?
            .and_then(|s| s.thread)
            .and_then(|t| Some((t.channel, t.thread?))))
    }

    /// The channel a conversation's thread belongs in.
    fn channel_for(&self, state: &ThreadState) -> Step<String> {
        let widget = &state.conversation.widget_id;
        state
            .widget_channel
            .clone()
            .or_else(|| self.default_channel().map(str::to_owned))
            .ok_or_else(|| {
                Delivery::Dead(format!(
                    "widget `{widget}` has no Slack channel: run `/handoff connect {widget}` in one, or set HANDOFF_SLACK_DEFAULT_CHANNEL"
                ))
            })
    }

    /// The rendered root of a conversation, from its current state.
    fn root_content(state: &ThreadState) -> SlackMessageContent {
        let ctx = RootContext {
            assignee_slack: state.assignee_account.as_deref(),
            nobody_available: state.unrouted,
        };
        render::root(&state.conversation, &ctx)
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
        self.turn("chat.postMessage", Some(channel)).await?;
        let (client, token) = self.session();
        // Links are never unfurled: a visitor's URL must not draw a preview or ping anyone.
        let mut req = SlackApiChatPostMessageRequest::new(SlackChannelId(channel.to_owned()), content)
            .with_unfurl_links(false)
            .with_unfurl_media(false);
        if let Some(ts) = thread_ts {
            req = req.with_thread_ts(SlackTs(ts.to_owned()));
        }
        let res = client
            .open_session(&token)
            .chat_post_message(&req)
            .await
            .map_err(|e| self.refused("chat.postMessage", Some(channel), &e))?;
        Ok(res.ts.0)
    }

    /// Finds a message this bridge posted with `key` among the channel's latest messages.
    async fn find_posted(&self, channel: &str, key: &str) -> Step<Option<String>> {
        self.turn("conversations.history", None).await?;
        let (client, token) = self.session();
        let req = SlackApiConversationsHistoryRequest::new()
            .with_channel(SlackChannelId(channel.to_owned()))
            .with_limit(200)
            .with_include_all_metadata(true);
        let res = client
            .open_session(&token)
            .conversations_history(&req)
            .await
            .map_err(|e| self.refused("conversations.history", None, &e))?;
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
        let Some(state) = self.state(id).await? else {
            return Ok(());
        };
        let (channel, thread_ts) = match state
            .thread
            .as_ref()
            .and_then(|t| Some((t.channel.clone(), t.thread.clone()?)))
        {
            Some(known) => {
                // Handed off again: the root shows the new state.
                self.render_root(payload).await?;
                known
            }
            None => {
                let channel = self.channel_for(&state)?;
                let key = format!("root:{id}");
                let earlier = if claimed_before {
                    self.find_posted(&channel, &key).await?
                } else {
                    None
                };
                let ts = match earlier {
                    Some(ts) => ts,
                    None => {
                        self.post_keyed(&channel, Self::root_content(&state), None, Some(&key))
                            .await?
                    }
                };
                let thread = ThreadRef {
                    platform: PLATFORM.into(),
                    channel: channel.clone(),
                    thread: Some(ts.clone()),
                    root_message: Some(ts.clone()),
                };
                self.service().record_thread(id, &thread).await.map_err(internal)?;
                (channel, ts)
            }
        };
        let pending = self.service().lines_to_mirror(PLATFORM, id).await.map_err(internal)?;
        if pending.is_empty() {
            return Ok(());
        }
        let earlier = self.earlier_posts(&channel, &thread_ts, claimed_before).await?;
        for line in &pending {
            self.post_line(&channel, &thread_ts, line, &earlier).await?;
        }
        Ok(())
    }

    /// The bridge's keyed messages in a thread: key → ts.
    async fn posted_in_thread(&self, channel: &str, thread_ts: &str) -> Step<Posted> {
        self.turn("conversations.replies", None).await?;
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
            .map_err(|e| self.refused("conversations.replies", None, &e))?;
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
    async fn post_line(&self, channel: &str, thread_ts: &str, line: &Line, earlier: &Posted) -> Step<()> {
        let mut first_ts = None;
        let images = render::draws_images(line);
        let drawn = render::transcript_line(line, true);
        let last = drawn.len() - 1;
        for (i, content) in drawn.into_iter().enumerate() {
            let key = format!("line:{}:{i}", line.id);
            let ts = match earlier.get(&key) {
                Some(ts) => ts.clone(),
                None => match self.post_keyed(channel, content, Some(thread_ts), Some(&key)).await {
                    Ok(ts) => ts,
                    // Slack could not fetch an image (or took the message for bad): the
                    // same message with its images as links.
                    Err(Delivery::Dead(why)) if images && i == last => {
                        tracing::warn!(line = line.id, %why, "Slack refused a line with images; posting them as links");
                        let plain = render::transcript_line(line, false).swap_remove(i);
                        self.post_keyed(channel, plain, Some(thread_ts), Some(&key)).await?
                    }
                    Err(e) => return Err(e),
                },
            };
            first_ts.get_or_insert(ts);
        }
        if let Some(ts) = first_ts {
            let at = MessageRef {
                platform: PLATFORM.into(),
                channel: channel.to_owned(),
                message: ts,
            };
            self.service().record_line(line.id, &at).await.map_err(internal)?;
        }
        Ok(())
    }

    /// Updates the root in place.
    async fn render_root(&self, payload: &Value) -> Step<()> {
        let id = str_of(payload, "conversation")?;
        let Some(state) = self.state(id).await? else {
            return Ok(());
        };
        let Some((channel, ts)) = state
            .thread
            .as_ref()
            .and_then(|t| Some((t.channel.clone(), t.root_message.clone()?)))
        else {
            return Ok(()); // no thread (yet): the open_thread row renders it
        };
        let content = Self::root_content(&state);
        self.turn("chat.update", None).await?;
        let (client, token) = self.session();
        let req = SlackApiChatUpdateRequest::new(SlackChannelId(channel), content, SlackTs(ts));
        client
            .open_session(&token)
            .chat_update(&req)
            .await
            .map_err(|e| self.refused("chat.update", None, &e))?;
        Ok(())
    }

    /// Shows a transcript line in the thread (if the thread exists and it is not there yet).
    async fn mirror(&self, payload: &Value, claimed_before: bool) -> Step<()> {
        let id = str_of(payload, "conversation")?;
        let message = crate::platform::line_id(payload)?;
        let Some((channel, thread_ts)) = self.thread_of(id).await? else {
            return Ok(()); // posted with the transcript when the thread opens
        };
        let line = self
            .service()
            .line_to_mirror(PLATFORM, message)
            .await
            .map_err(internal)?;
        match line {
            Some(line) => {
                let earlier = self.earlier_posts(&channel, &thread_ts, claimed_before).await?;
                self.post_line(&channel, &thread_ts, &line, &earlier).await
            }
            None => Ok(()),
        }
    }

    /// Draws an edited or deleted line again where it stands in the thread (if it is
    /// there yet: if not, it is posted as it is now).
    async fn redraw_line(&self, payload: &Value) -> Step<()> {
        let Some((line, at)) = crate::platform::line_to_redraw(self.service(), PLATFORM, payload).await? else {
            return Ok(());
        };
        let mut images = render::draws_images(&line);
        loop {
            self.turn("chat.update", None).await?;
            let (client, token) = self.session();
            let req = SlackApiChatUpdateRequest::new(
                SlackChannelId(at.channel.clone()),
                render::redrawn_line(&line, images),
                SlackTs(at.message.clone()),
            );
            match client.open_session(&token).chat_update(&req).await {
                Ok(_) => return Ok(()),
                Err(e) => match self.refused("chat.update", Some(&at.channel), &e) {
                    // As when posting: the images as links.
                    Delivery::Dead(_) if images => images = false,
                    d => return Err(d),
                },
            }
        }
    }

    /// DMs the assignee: the summary and a permalink to the thread. The DM carries its
    /// row's key as metadata: when the row was claimed before (a lost answer), the DM's
    /// history is searched for it first, so a DM is not sent twice.
    async fn dm(&self, payload: &Value, row: i64, claimed_before: bool) -> Step<()> {
        let id = str_of(payload, "conversation")?;
        let operator = payload["operator"]
            .as_i64()
            .ok_or_else(|| Delivery::Dead("payload has no `operator`".into()))?;
        let slack_user = self
            .service()
            .account_of(PLATFORM, OperatorId(operator))
            .await
            .map_err(internal)?;
        let Some(slack_user) = slack_user else {
            return Ok(()); // not on Slack
        };
        let Some(state) = self.state(id).await? else {
            return Ok(());
        };
        let (client, token) = self.session();
        let session = client.open_session(&token);
        let permalink = match state.thread.as_ref().map(|t| (&t.channel, &t.root_message)) {
            Some((c, Some(ts))) => {
                self.turn("chat.getPermalink", None).await?;
                let req = SlackApiChatGetPermalinkRequest::new(SlackChannelId(c.clone()), SlackTs(ts.clone()));
                Some(
                    session
                        .chat_get_permalink(&req)
                        .await
                        .map_err(|e| self.refused("chat.getPermalink", None, &e))?
                        .permalink
                        .to_string(),
                )
            }
            _ => None,
        };
        self.turn("conversations.open", None).await?;
        let open = SlackApiConversationsOpenRequest::new().with_users(vec![SlackUserId(slack_user)]);
        let im = session
            .conversations_open(&open)
            .await
            .map_err(|e| self.refused("conversations.open", None, &e))?
            .channel
            .id;
        let key = format!("dm:{row}");
        if claimed_before && self.find_posted(&im.0, &key).await?.is_some() {
            return Ok(());
        }
        self.post_keyed(
            &im.0,
            render::dm(&state.conversation, permalink.as_deref(), payload["waited"].as_str()),
            None,
            Some(&key),
        )
        .await?;
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
        self.turn("chat.postEphemeral", None).await?;
        let (client, token) = self.session();
        client
            .open_session(&token)
            .chat_post_ephemeral(&req)
            .await
            .map_err(|e| self.refused("chat.postEphemeral", None, &e))?;
        Ok(())
    }

    async fn modal(&self, payload: &Value) -> Step<()> {
        let trigger = str_of(payload, "trigger_id")?;
        let view: SlackView =
            serde_json::from_value(payload["view"].clone()).map_err(|e| Delivery::Dead(format!("bad view: {e}")))?;
        self.turn("views.open", None).await?;
        let (client, token) = self.session();
        let req = SlackApiViewsOpenRequest::new(SlackTriggerId(trigger.to_owned()), view);
        client
            .open_session(&token)
            .views_open(&req)
            .await
            .map_err(|e| self.refused("views.open", None, &e))?;
        Ok(())
    }

    async fn react(&self, payload: &Value) -> Step<()> {
        let channel = str_of(payload, "channel")?;
        let ts = str_of(payload, "ts")?;
        let name = str_of(payload, "name")?;
        self.turn("reactions.add", None).await?;
        let (client, token) = self.session();
        let req = SlackApiReactionsAddRequest::new(
            SlackChannelId(channel.to_owned()),
            SlackReactionName(name.to_owned()),
            SlackTs(ts.to_owned()),
        );
        match client.open_session(&token).reactions_add(&req).await {
            Ok(_) => Ok(()),
            Err(SlackClientError::ApiError(a)) if a.code == "already_reacted" => Ok(()),
            Err(e) => Err(self.refused("reactions.add", None, &e)),
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

    /// A notice to the team in the conversation's thread (`engine::effects::Notice`).
    async fn thread_notice(&self, payload: &Value) -> Step<()> {
        let id = str_of(payload, "conversation")?;
        let notice = crate::platform::notice_of(payload)
            .ok_or_else(|| Delivery::Dead(format!("unknown notice in {payload}")))?;
        let Some((channel, thread_ts)) = self.thread_of(id).await? else {
            return Ok(()); // no thread to tell
        };
        // The widget's escalation user group, once per conversation.
        let text = match self.service().escalation_for(PLATFORM, id).await.map_err(internal)? {
            Some(group) => format!("<!subteam^{group}> {}", notice.text()),
            None => notice.text(),
        };
        self.post(&channel, SlackMessageContent::new().with_text(text), Some(&thread_ts))
            .await?;
        Ok(())
    }

    /// A late answer to a command, through its `response_url` (ephemeral by default).
    async fn respond(&self, payload: &Value) -> Step<()> {
        let url = str_of(payload, "response_url")?;
        let url: url::Url = url
            .parse()
            .map_err(|e| Delivery::Dead(format!("bad response_url: {e}")))?;
        let content: SlackMessageContent =
            serde_json::from_value(payload["body"].clone()).map_err(|e| Delivery::Dead(format!("bad answer: {e}")))?;
        let req = SlackApiPostWebhookMessageRequest::new(content);
        let (client, _) = self.session();
        client
            .respond_to_event(&SlackResponseUrl(url), &req)
            .await
            .map_err(|e| classify(&e))?;
        Ok(())
    }
}
