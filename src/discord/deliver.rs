//! The Discord outbox target: each row becomes REST calls. Rows carry ids only; what is
//! shown is rendered from the database at delivery time, so a root is always edited to
//! the latest state. What a call created (the root, the thread, a line's message) is
//! recorded at once; messages are created with a `nonce` and `enforce_nonce`, so a
//! retried row whose first answer was lost gets the same message back, not a second one.
//!
//! Threads: in a text channel the root is a message and the conversation's thread is
//! started from it (the thread has the root's id); in a forum channel each conversation
//! is a post whose first message is the root, and the status is shown as a forum tag
//! (created on the forum if missing). Threads are never renamed (Discord allows about
//! two renames in ten minutes); a resolved conversation's thread is archived, which
//! keeps the guild under its 1,000 active threads, and a later message reopens it.

use super::render::{self, RootContext};
use super::rest::RestError;
use super::{ChannelInfo, Discord, PLATFORM};
use crate::engine::{OperatorId, Status};
use crate::outbox::{Delivery, OutboxRow};
use crate::platform::Reaction;
use crate::platform::attachments::describe_all;
use crate::service::{Line, MessageRef, Planned, Receipt, ThreadRef, ThreadState};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// Discord's channel types the bridge posts in.
const FORUM: u64 = 15;
/// Discord's error codes the bridge acts on.
pub const CANNOT_DM: u64 = 50007;
const THREAD_EXISTS: u64 = 160004;
const THREAD_ARCHIVED: u64 = 50083;
/// A week: the longest auto-archive Discord offers.
const AUTO_ARCHIVE_MINUTES: u64 = 10080;

/// The rows that show an operator reply's delivery receipt where it stands in Discord: ✅
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
        let emoji = match reaction {
            Reaction::Delivered => "✅",
            Reaction::Edited => "✏️",
            Reaction::Warning => "⚠️",
        };
        rows.push(Planned {
            kind: "react",
            ordering_key: key.clone(),
            payload: json!({"channel": reply.channel, "message": reply.message, "emoji": emoji}),
        });
    }
    if let Some(text) = note {
        let channel = thread.and_then(|t| t.thread.as_deref()).unwrap_or(&reply.channel);
        rows.push(Planned {
            kind: "thread_note",
            ordering_key: key,
            payload: json!({"channel": channel, "text": text}),
        });
    }
    rows
}

/// A row's failure, already classified.
type Step<T> = Result<T, Delivery>;

fn internal(e: impl std::fmt::Display) -> Delivery {
    Delivery::Retry(format!("service: {e}"))
}

fn failed(e: RestError) -> Delivery {
    e.classify()
}

fn str_of<'a>(payload: &'a Value, key: &str) -> Step<&'a str> {
    payload[key]
        .as_str()
        .ok_or_else(|| Delivery::Dead(format!("payload has no `{key}`")))
}

fn id_of(v: &Value) -> Step<String> {
    v["id"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| Delivery::Retry("Discord answered without an id".into()))
}

/// A message nonce (at most 25 characters) that names what is posted, so that a retry
/// is recognised by Discord.
pub fn nonce(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))[..25].to_owned()
}

/// The forum tag that shows a status.
fn status_tag(status: Status) -> &'static str {
    match status {
        Status::HandedOff => "Waiting",
        Status::Active => "In progress",
        Status::Bot => "With the bot",
        Status::Resolved => "Resolved",
    }
}

const STATUS_TAGS: [&str; 4] = ["Waiting", "In progress", "With the bot", "Resolved"];

impl Discord {
    /// Delivers one outbox row.
    pub async fn deliver(&self, row: &OutboxRow) -> Delivery {
        let payload: Value = match serde_json::from_str(&row.payload) {
            Ok(p) => p,
            Err(e) => return Delivery::Dead(format!("unreadable payload: {e}")),
        };
        let step = match row.kind.as_str() {
            "open_thread" => self.open_thread(&payload).await,
            "render" => self.render_root(&payload).await,
            "mirror" => self.mirror(&payload).await,
            "redraw_line" => self.redraw_line(&payload).await,
            "dm" => self.dm(&payload).await,
            "notice" => self.notice(&payload).await,
            "react" => self.react(&payload).await,
            "thread_note" => self.thread_note(&payload).await,
            "thread_notice" => self.thread_notice(&payload, row.id).await,
            "followup" => self.followup(&payload).await,
            "edit_original" => self.edit_original(&payload).await,
            "register_commands" => self.register_commands(&payload).await,
            other => Err(Delivery::Dead(format!("unknown Discord row kind `{other}`"))),
        };
        match step {
            Ok(()) => Delivery::Delivered,
            Err(d) => d,
        }
    }

    /// A conversation as its Discord thread shows it (`None`: it no longer exists).
    async fn state(&self, id: &str) -> Step<Option<ThreadState>> {
        self.service().thread_state(PLATFORM, id).await.map_err(internal)
    }

    /// What kind of channel this is (asked once).
    pub(crate) async fn channel_info(&self, channel: &str) -> Result<ChannelInfo, RestError> {
        if let Some(info) = self.inner.channels.get(channel) {
            return Ok(info.clone());
        }
        let c = self.rest().get(&format!("/channels/{channel}")).await?;
        let info = ChannelInfo {
            kind: c["type"].as_u64().unwrap_or(0),
            guild: c["guild_id"].as_str().map(str::to_owned),
            parent: c["parent_id"].as_str().map(str::to_owned),
        };
        self.inner.channels.insert(channel.to_owned(), info.clone());
        Ok(info)
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
                    "widget `{widget}` has no Discord channel: run `/handoff connect widget:{widget}` in one, \
                     or set HANDOFF_DISCORD_DEFAULT_CHANNEL"
                ))
            })
    }

    fn context<'a>(state: &'a ThreadState, thread: Option<&'a str>) -> RootContext<'a> {
        RootContext {
            assignee_account: state.assignee_account.as_deref(),
            nobody_available: state.unrouted,
            thread,
            archived: state.conversation.status == Status::Resolved,
        }
    }

    /// Posts a message; `key` names it for the nonce.
    async fn post(&self, channel: &str, mut body: Value, key: Option<&str>) -> Result<String, RestError> {
        if let Some(key) = key {
            body["nonce"] = json!(nonce(key));
            body["enforce_nonce"] = json!(true);
        }
        let sent = self
            .rest()
            .post(&format!("/channels/{channel}/messages"), &body)
            .await?;
        sent["id"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| RestError::Transport("Discord answered without a message id".into()))
    }

    /// Posts the root and opens the thread (once; a conversation handed off again gets
    /// its root redrawn instead), then every transcript line not yet in the thread.
    async fn open_thread(&self, payload: &Value) -> Step<()> {
        let id = str_of(payload, "conversation")?;
        let Some(state) = self.state(id).await? else {
            return Ok(());
        };
        let thread = match state.thread.as_ref().and_then(|t| t.thread.clone()) {
            Some(thread) => {
                // Handed off again: the root shows the new state (and a forum post reopens).
                self.render_root(payload).await?;
                thread
            }
            None => {
                let channel = self.channel_for(&state)?;
                let info = self.channel_info(&channel).await.map_err(failed)?;
                let created = if info.kind == FORUM {
                    self.open_forum_post(&channel, &state).await?
                } else {
                    self.open_text_thread(&channel, &state).await?
                };
                self.service().record_thread(id, &created).await.map_err(internal)?;
                created.thread.unwrap_or_default()
            }
        };
        let pending = self.service().lines_to_mirror(PLATFORM, id).await.map_err(internal)?;
        for line in &pending {
            self.post_line(&thread, line).await?;
        }
        Ok(())
    }

    /// A text channel: the root message, then a thread started from it (the thread has
    /// the root's id, which the root's buttons may carry).
    async fn open_text_thread(&self, channel: &str, state: &ThreadState) -> Step<ThreadRef> {
        let c = &state.conversation;
        let body = render::root_body(c, &Self::context(state, None));
        let root = self
            .post(channel, body, Some(&format!("root:{}", c.id)))
            .await
            .map_err(failed)?;
        let start = json!({"name": render::thread_name(c), "auto_archive_duration": AUTO_ARCHIVE_MINUTES});
        match self
            .rest()
            .post(&format!("/channels/{channel}/messages/{root}/threads"), &start)
            .await
        {
            Ok(_) => {}
            Err(e) if e.code() == Some(THREAD_EXISTS) => {} // an earlier attempt started it
            Err(e) => return Err(failed(e)),
        }
        if c.id.len() > 70 {
            // Buttons drawn before the thread existed could not name it: draw them again.
            let body = render::root_body(c, &Self::context(state, Some(&root)));
            self.rest()
                .patch(&format!("/channels/{channel}/messages/{root}"), &body)
                .await
                .map_err(failed)?;
        }
        Ok(ThreadRef {
            platform: PLATFORM.into(),
            channel: channel.to_owned(),
            thread: Some(root.clone()),
            root_message: Some(root),
        })
    }

    /// A forum channel: one post per conversation, its first message the root, its tag
    /// the status.
    async fn open_forum_post(&self, forum: &str, state: &ThreadState) -> Step<ThreadRef> {
        let c = &state.conversation;
        let tag = self.tag_for(forum, c.status).await?;
        let body = json!({
            "name": render::thread_name(c),
            "auto_archive_duration": AUTO_ARCHIVE_MINUTES,
            "applied_tags": tag.into_iter().collect::<Vec<_>>(),
            "message": render::root_body(c, &Self::context(state, None)),
        });
        let post = self
            .rest()
            .post(&format!("/channels/{forum}/threads"), &body)
            .await
            .map_err(failed)?;
        let thread = id_of(&post)?;
        let root = post["message"]["id"].as_str().unwrap_or(&thread).to_owned();
        let info = ChannelInfo {
            kind: post["type"].as_u64().unwrap_or(11),
            guild: post["guild_id"].as_str().map(str::to_owned),
            parent: Some(forum.to_owned()),
        };
        self.inner.channels.insert(thread.clone(), info);
        Ok(ThreadRef {
            platform: PLATFORM.into(),
            // The root lives in the post itself.
            channel: thread.clone(),
            thread: Some(thread),
            root_message: Some(root),
        })
    }

    /// The id of the forum tag for `status`, creating the bridge's status tags on the
    /// forum if it lacks them (`None` if the forum cannot have them).
    async fn tag_for(&self, forum: &str, status: Status) -> Step<Option<String>> {
        let name = status_tag(status);
        if let Some(tags) = self.inner.forum_tags.get(forum) {
            return Ok(tags.get(name).cloned());
        }
        let channel = self.rest().get(&format!("/channels/{forum}")).await.map_err(failed)?;
        let mut tags: Vec<Value> = channel["available_tags"].as_array().cloned().unwrap_or_default();
        let missing: Vec<&str> = STATUS_TAGS
            .into_iter()
            .filter(|n| !tags.iter().any(|t| t["name"].as_str() == Some(*n)))
            .collect();
        let tags = if missing.is_empty() {
            channel["available_tags"].clone()
        } else {
            tags.extend(missing.iter().map(|n| json!({"name": n, "moderated": false})));
            tags.truncate(20);
            match self
                .rest()
                .patch(&format!("/channels/{forum}"), &json!({"available_tags": tags}))
                .await
            {
                Ok(updated) => updated["available_tags"].clone(),
                Err(e @ RestError::Api { status: 403, .. }) => {
                    tracing::warn!(forum, error = %e, "cannot create the status tags on the forum (Manage Channels missing); posts go untagged");
                    // Not asked again until a restart: refused calls count towards a ban.
                    self.inner.forum_tags.insert(forum.to_owned(), Default::default());
                    return Ok(None);
                }
                Err(e) => return Err(failed(e)),
            }
        };
        let known: std::collections::HashMap<String, String> = tags
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|t| Some((t["name"].as_str()?.to_owned(), t["id"].as_str()?.to_owned())))
            .collect();
        let tag = known.get(name).cloned();
        self.inner.forum_tags.insert(forum.to_owned(), known);
        Ok(tag)
    }

    /// Posts one transcript line into the thread (in pieces if long) and records where.
    async fn post_line(&self, thread: &str, line: &Line) -> Step<()> {
        let mut first = None;
        let pieces = render::transcript_line(line);
        let last = pieces.len() - 1;
        for (i, piece) in pieces.into_iter().enumerate() {
            let mut body = json!({"content": piece, "allowed_mentions": render::no_pings()});
            if i == last && !line.deleted && !line.attachments.is_empty() {
                body["embeds"] = json!(render::attachment_embeds(&describe_all(&line.attachments)));
            }
            let id = self
                .post(thread, body, Some(&format!("line:{}:{i}", line.id)))
                .await
                .map_err(failed)?;
            first.get_or_insert(id);
        }
        if let Some(message) = first {
            let at = MessageRef {
                platform: PLATFORM.into(),
                channel: thread.to_owned(),
                message,
            };
            self.service().record_line(line.id, &at).await.map_err(internal)?;
        }
        Ok(())
    }

    /// Edits the root in place, keeps a forum post's status tag, and archives the thread
    /// of a resolved conversation (saying so in the root).
    async fn render_root(&self, payload: &Value) -> Step<()> {
        let id = str_of(payload, "conversation")?;
        let Some(state) = self.state(id).await? else {
            return Ok(());
        };
        let Some(t) = state.thread.clone() else {
            return Ok(()); // no thread yet: the open_thread row draws it
        };
        let (Some(thread), Some(root)) = (t.thread.clone(), t.root_message.clone()) else {
            return Ok(());
        };
        let c = &state.conversation;
        let forum = t.channel == thread;
        if forum {
            // A post's root lives inside it: reopen it before editing, and set its tag.
            let forum_id = self.channel_info(&thread).await.map_err(failed)?.parent;
            let tag = match forum_id {
                Some(forum_id) => self.tag_for(&forum_id, c.status).await?,
                None => None,
            };
            let mut patch = json!({"archived": false});
            if let Some(tag) = tag {
                patch["applied_tags"] = json!([tag]);
            }
            self.rest()
                .patch(&format!("/channels/{thread}"), &patch)
                .await
                .map_err(failed)?;
        }
        let body = render::root_body(c, &Self::context(&state, Some(&thread)));
        let path = format!("/channels/{}/messages/{root}", t.channel);
        match self.rest().patch(&path, &body).await {
            Ok(_) => {}
            Err(e) if e.code() == Some(THREAD_ARCHIVED) => {
                self.rest()
                    .patch(&format!("/channels/{thread}"), &json!({"archived": false}))
                    .await
                    .map_err(failed)?;
                self.rest().patch(&path, &body).await.map_err(failed)?;
            }
            Err(e) => return Err(failed(e)),
        }
        if c.status == Status::Resolved {
            self.rest()
                .patch(&format!("/channels/{thread}"), &json!({"archived": true}))
                .await
                .map_err(failed)?;
        }
        Ok(())
    }

    /// Shows a transcript line in the thread (if the thread exists and it is not there yet).
    async fn mirror(&self, payload: &Value) -> Step<()> {
        let id = str_of(payload, "conversation")?;
        let message = crate::platform::line_id(payload)?;
        let Some(state) = self.state(id).await? else {
            return Ok(());
        };
        let Some(thread) = state.thread.as_ref().and_then(|t| t.thread.clone()) else {
            return Ok(()); // posted with the transcript when the thread opens
        };
        match self
            .service()
            .line_to_mirror(PLATFORM, message)
            .await
            .map_err(internal)?
        {
            Some(line) => self.post_line(&thread, &line).await,
            None => Ok(()),
        }
    }

    /// Draws an edited or deleted line again where it stands in the thread (if it is
    /// there yet: if not, it is posted as it is now).
    async fn redraw_line(&self, payload: &Value) -> Step<()> {
        let Some((line, at)) = crate::platform::line_to_redraw(self.service(), PLATFORM, payload).await? else {
            return Ok(());
        };
        let single = render::transcript_line(&line).len() == 1;
        let embeds = match single && !line.deleted {
            true => render::attachment_embeds(&describe_all(&line.attachments)),
            false => Vec::new(),
        };
        let body = json!({
            "content": render::redrawn_line(&line),
            "embeds": embeds,
            "allowed_mentions": render::no_pings(),
        });
        let path = format!("/channels/{}/messages/{}", at.channel, at.message);
        match self.rest().patch(&path, &body).await {
            Ok(_) => Ok(()),
            Err(e) if e.code() == Some(THREAD_ARCHIVED) => {
                self.rest()
                    .patch(&format!("/channels/{}", at.channel), &json!({"archived": false}))
                    .await
                    .map_err(failed)?;
                self.rest().patch(&path, &body).await.map_err(failed)?;
                Ok(())
            }
            Err(e) => Err(failed(e)),
        }
    }

    /// DMs the assignee the summary and a link to the thread. If their DMs are closed
    /// (50007), the thread gets one message that mentions only them.
    async fn dm(&self, payload: &Value) -> Step<()> {
        let id = str_of(payload, "conversation")?;
        let operator = payload["operator"]
            .as_i64()
            .ok_or_else(|| Delivery::Dead("payload has no `operator`".into()))?;
        let Some(user) = self
            .service()
            .account_of(PLATFORM, OperatorId(operator))
            .await
            .map_err(internal)?
        else {
            return Ok(()); // not on Discord
        };
        let Some(state) = self.state(id).await? else {
            return Ok(());
        };
        let thread = state.thread.as_ref().and_then(|t| t.thread.clone());
        let guild = match &state.thread {
            Some(t) => self.channel_info(&t.channel).await.map_err(failed)?.guild,
            None => None,
        };
        let link = thread.as_deref().map(|t| render::link(guild.as_deref(), t));
        let waited = payload["waited"].as_str();
        let text = render::dm(&state.conversation, link.as_deref(), waited);
        let fallback = match waited {
            Some(w) => format!(
                "<@{user}> the visitor has waited over {w} for your reply (your DMs are closed to the bridge, so it is said here)."
            ),
            None => {
                format!("<@{user}> this conversation is yours (your DMs are closed to the bridge, so it is said here).")
            }
        };
        // One DM per assignment, and one nudge per wait.
        let key = match waited {
            Some(_) => format!(
                "nudge:{id}:{operator}:{}",
                payload["since"].as_i64().unwrap_or_default()
            ),
            None => format!("dm:{id}:{operator}:{}", state.conversation.version),
        };
        self.private(
            &user,
            id,
            thread.as_deref(),
            json!({"content": text, "allowed_mentions": render::no_pings()}),
            &fallback,
            &key,
        )
        .await
    }

    /// A private message to one user (a held reply's notice): by DM, or if their DMs are
    /// closed, a thread message that mentions only them.
    async fn notice(&self, payload: &Value) -> Step<()> {
        let user = str_of(payload, "user")?;
        let conversation = str_of(payload, "conversation")?;
        let text = str_of(payload, "text")?;
        let mut body =
            json!({"content": render::trim(text, render::CONTENT_MAX), "allowed_mentions": render::no_pings()});
        if let Some(held) = payload["held"].as_i64() {
            body["components"] = json!(render::takeover_button(held));
        }
        let thread = match self.state(conversation).await? {
            Some(s) => s.thread.and_then(|t| t.thread),
            None => None,
        };
        let fallback = render::trim(&format!("<@{user}> {text}"), render::CONTENT_MAX);
        let key = format!("notice:{}", payload["key"].as_str().unwrap_or(text));
        self.private(user, conversation, thread.as_deref(), body, &fallback, &key)
            .await
    }

    /// Sends `body` to `user` by DM; if Discord refuses (DMs closed), posts `fallback` in
    /// the thread, pinging only them, and remembers not to try their DMs again.
    async fn private(
        &self,
        user: &str,
        conversation: &str,
        thread: Option<&str>,
        body: Value,
        fallback: &str,
        key: &str,
    ) -> Step<()> {
        if !self.inner.dms_closed.contains(user) {
            let dm = self
                .rest()
                .post("/users/@me/channels", &json!({"recipient_id": user}))
                .await
                .map_err(failed)?;
            let channel = id_of(&dm)?;
            match self.post(&channel, body, Some(key)).await {
                Ok(_) => return Ok(()),
                Err(e) if e.code() == Some(CANNOT_DM) => {
                    tracing::warn!(
                        discord_user = user,
                        conversation,
                        "Discord refused a DM (50007: the user's DMs are closed); they are mentioned in the thread instead"
                    );
                    self.inner.dms_closed.insert(user.to_owned());
                }
                Err(e) => return Err(failed(e)),
            }
        }
        let Some(thread) = thread else {
            tracing::warn!(
                discord_user = user,
                conversation,
                "no thread to mention a user with closed DMs in"
            );
            return Ok(());
        };
        let mention = user
            .parse::<u64>()
            .map(render::ping_only)
            .unwrap_or_else(|_| render::no_pings());
        let body = json!({"content": fallback, "allowed_mentions": mention});
        self.post(thread, body, Some(&format!("{key}:thread")))
            .await
            .map_err(failed)?;
        Ok(())
    }

    async fn react(&self, payload: &Value) -> Step<()> {
        let channel = str_of(payload, "channel")?;
        let message = str_of(payload, "message")?;
        let emoji = str_of(payload, "emoji")?;
        let path = format!(
            "/channels/{channel}/messages/{message}/reactions/{}/@me",
            url::form_urlencoded::byte_serialize(emoji.as_bytes()).collect::<String>()
        );
        match self.rest().put(&path, None::<&()>).await {
            Ok(_) => Ok(()),
            Err(e) if e.code() == Some(THREAD_ARCHIVED) => {
                self.rest()
                    .patch(&format!("/channels/{channel}"), &json!({"archived": false}))
                    .await
                    .map_err(failed)?;
                self.rest().put(&path, None::<&()>).await.map_err(failed)?;
                Ok(())
            }
            Err(e) => Err(failed(e)),
        }
    }

    async fn thread_note(&self, payload: &Value) -> Step<()> {
        let channel = str_of(payload, "channel")?;
        let text = str_of(payload, "text")?;
        let body = json!({"content": render::trim(text, render::CONTENT_MAX), "allowed_mentions": render::no_pings()});
        let key = payload["key"].as_str().map(str::to_owned);
        self.post(channel, body, key.as_deref()).await.map_err(failed)?;
        Ok(())
    }

    /// A notice to the team in the conversation's thread (`engine::effects::Notice`),
    /// keyed by its row so a retry does not post it twice.
    async fn thread_notice(&self, payload: &Value, row: i64) -> Step<()> {
        let id = str_of(payload, "conversation")?;
        let notice = crate::platform::notice_of(payload)
            .ok_or_else(|| Delivery::Dead(format!("unknown notice in {payload}")))?;
        let Some(thread) = self.state(id).await?.and_then(|s| s.thread).and_then(|t| t.thread) else {
            return Ok(()); // no thread to tell
        };
        // The widget's escalation role, once per conversation, and only it pinged.
        let role = self
            .service()
            .escalation_for(PLATFORM, id)
            .await
            .map_err(internal)?
            .and_then(|r| r.parse::<u64>().ok());
        let body = match role {
            Some(role) => json!({
                "content": render::trim(&format!("<@&{role}> {}", notice.text()), render::CONTENT_MAX),
                "allowed_mentions": render::ping_role_only(role),
            }),
            None => json!({"content": notice.text(), "allowed_mentions": render::no_pings()}),
        };
        self.post(&thread, body, Some(&format!("thread-notice:{row}")))
            .await
            .map_err(failed)?;
        Ok(())
    }

    /// An ephemeral follow-up to an interaction.
    async fn followup(&self, payload: &Value) -> Step<()> {
        let token = str_of(payload, "token")?;
        let mut body = payload["message"].clone();
        body["flags"] = json!(64);
        body["allowed_mentions"] = json!(render::no_pings());
        let path = format!("/webhooks/{}/{token}", self.application_id());
        self.rest().post(&path, &body).await.map_err(failed)?;
        Ok(())
    }

    /// Fills in (or replaces) an interaction's original response.
    async fn edit_original(&self, payload: &Value) -> Step<()> {
        let token = str_of(payload, "token")?;
        let mut body = payload["message"].clone();
        body["allowed_mentions"] = json!(render::no_pings());
        let path = format!("/webhooks/{}/{token}/messages/@original", self.application_id());
        self.rest().patch(&path, &body).await.map_err(failed)?;
        Ok(())
    }

    /// Writes the `/handoff` command to one guild (bulk overwrite, so it is idempotent).
    async fn register_commands(&self, payload: &Value) -> Step<()> {
        let guild = str_of(payload, "guild")?;
        let path = format!("/applications/{}/guilds/{guild}/commands", self.application_id());
        self.rest()
            .put(&path, Some(&super::commands::definitions()))
            .await
            .map_err(failed)?;
        tracing::info!(guild, "the /handoff command is registered");
        Ok(())
    }
}
