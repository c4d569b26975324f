//! A local stand-in for Slack.
//!
//! Tests never reach the internet, yet the bridge must be exercised end to end against
//! Slack in both directions, with the real client library:
//!
//! - [`SlackStandIn`] is a stateful stand-in of the Slack Web API on 127.0.0.1. The
//!   bridge's real client (slack-morphism) is pointed at [`SlackStandIn::api_url`] and
//!   nothing else changes: the same `/api/{method}` paths, JSON, form-encoded and GET
//!   requests, bearer or `token`-parameter auth, Slack's response shapes and error codes
//!   (`channel_not_found`, `not_in_channel`, `message_not_found`, `thread_not_found`,
//!   `msg_too_long`, `no_text`, `invalid_blocks`, `invalid_metadata_format`,
//!   `ratelimited` with `Retry-After`, …) and the documented Block Kit limits. It keeps
//!   channels, users, messages (with their message metadata) and threads, reactions,
//!   ephemeral messages, DM channels and opened modals, reads them back through
//!   `conversations.history` and `conversations.replies` (cursor-paginated, metadata only
//!   with `include_all_metadata`, as Slack), records every call for the tests to assert
//!   on, and injects faults per method (429 with any `Retry-After`, 5xx, `ok:false`
//!   errors, delays, lost answers, calls that hang).
//!   It also serves the `response_url`s of the interactions and slash commands it hands
//!   out (see [`SlackStandIn::sender`]), and the files users share
//!   ([`SlackStandIn::add_file`], `files.info`, and their `url_private*` URLs, which give
//!   the bytes only with the bot token and otherwise redirect to a sign-in page, as Slack's
//!   do).
//! - Socket Mode (`socket`): `apps.connections.open` with the app-level token hands out
//!   `ws://` URLs where the stand-in sends `hello` and the envelopes a test asks for,
//!   records every ack with its payload and delay, redelivers, and sends `disconnect`
//!   or drops the sockets on demand.
//! - [`SlackSender`] plays Slack towards the bridge: Events API envelopes (messages, file
//!   shares, edits and deletions), interactivity payloads and slash commands, shaped as Slack sends them and signed with the app's
//!   signing secret (`X-Slack-Signature: v0=…`), or deliberately mis-signed.
//!
//! The files, by responsibility: `state` (the world and its fault queue), `faults` (how a
//! test queues faults), `user_actions` (what people do in Slack: replies, file shares,
//! edits, deletions), `message_events` (the `message` events [`SlackSender`] delivers),
//! `server` (the HTTP side: faults, recording, the method table), `wire` (arguments, answers, error
//! shapes, timestamps and cursors), `chat`, `conversations` and `views` (the Web API
//! methods), `files` (files, `files.info` and the download URLs), `blocks` (Block Kit limits), `mentions` (who a message pings) and `sender`
//! ([`SlackSender`]).
//!
//! The module's own tests prove the fidelity with slack-morphism: its Web API client
//! parses every answer, its error mapping sees Slack's errors, and its own event types
//! and axum middleware accept what [`SlackSender`] sends.

mod blocks;
mod chat;
mod conversations;
mod faults;
mod files;
mod mentions;
mod message_events;
mod sender;
mod server;
mod socket;
mod state;
#[cfg(test)]
mod test_support;
mod user_actions;
mod views;
mod wire;

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;

pub use sender::{SlackSender, slack_signature};
pub use socket::SocketAck;
pub use state::next_ts;

use state::{Channel, Shared, User, World};

/// Where the stand-in's permalinks point (never fetched).
const PERMALINK_BASE: &str = "https://stand-in.slack.example";

/// One Web API call the stand-in received, with what it answered.
#[derive(Debug, Clone)]
pub struct SlackCall {
    /// The Web API method, e.g. `"chat.postMessage"`; `"response_url"` for a POST to a
    /// `response_url` the stand-in handed out.
    pub method: String,
    /// The JSON body, or the form/query parameters as a JSON object of strings (both
    /// merged when a POST also had query parameters). `Null` if the body did not parse.
    pub args: Value,
    /// Whether the request carried the bot token (`Authorization: Bearer` or `token`).
    pub token_ok: bool,
    /// The HTTP status answered (200 for Slack's `ok:false` errors too); 0 while a hung
    /// call has no answer (see [`SlackStandIn::hang_next`]).
    pub status: u16,
    /// The JSON answered (`Null` while a hung call has no answer).
    pub response: Value,
    /// When the stand-in received it.
    pub at: std::time::Instant,
}

/// One request for a file's bytes at its `url_private` or `url_private_download` (see
/// [`SlackStandIn::add_file`]); each is also recorded as a [`SlackCall`] `"files.download"`.
#[derive(Debug, Clone)]
pub struct SlackDownload {
    /// The file id in the URL (`""` if the URL named none of this workspace).
    pub file: String,
    /// Whether it was the `url_private_download` (else the `url_private`).
    pub download: bool,
    /// Whether it carried the bot token in `Authorization: Bearer`.
    pub token_ok: bool,
    /// The status answered: 200 with the bytes, 302 to the sign-in page without the
    /// token, 404 for an unknown or deleted file, or an injected fault's.
    pub status: u16,
    /// When the stand-in received it.
    pub at: std::time::Instant,
}

/// What kind of Slack account a user is, as `users.info` tells it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserKind {
    /// A full member of the workspace.
    Member,
    /// A multi-channel guest (`is_restricted`).
    Guest,
    /// A single-channel guest (`is_restricted` and `is_ultra_restricted`).
    SingleChannelGuest,
    /// A Slack Connect user from another organisation (`is_stranger`).
    Stranger,
    /// A user of another workspace, by its team id.
    OtherTeam(String),
}

/// A message as the stand-in holds it.
#[derive(Debug, Clone)]
pub struct SlackMessage {
    pub channel: String,
    pub ts: String,
    /// The thread's root ts for a reply; `None` for a top-level message.
    pub thread_ts: Option<String>,
    /// The author's user id ([`SlackStandIn::BOT_USER`] for the bridge's posts).
    pub user: String,
    pub text: String,
    /// The blocks array, `Null` if none.
    pub blocks: Value,
    /// Reaction names, in the order they were first added.
    pub reactions: Vec<String>,
    /// Whether `chat.update` (or a `response_url` replace) changed it.
    pub edited: bool,
    /// The message metadata (`{"event_type": …, "event_payload": {…}}`), `Null` if none.
    pub metadata: Value,
    /// The file objects of a `file_share` message (empty for any other).
    pub files: Vec<Value>,
}

impl SlackMessage {
    /// Who Slack notified for it: `"@channel"`, `"@here"`, `"@everyone"`,
    /// `"subteam:<id>"`, `"user:<id>"` (see `mentions`).
    pub fn pings(&self) -> Vec<String> {
        mentions::pings(&self.text, &self.blocks)
    }
}

/// A message only one user sees (`chat.postEphemeral`, or an ephemeral `response_url` reply).
#[derive(Debug, Clone)]
pub struct Ephemeral {
    pub channel: String,
    pub user: String,
    pub text: String,
    pub blocks: Value,
    pub thread_ts: Option<String>,
}

/// A modal opened with `views.open` (its current content, after any `views.update`).
#[derive(Debug, Clone)]
pub struct OpenedView {
    pub trigger_id: String,
    pub view_id: String,
    /// The view as Slack returns it: the submitted view plus `id`, `team_id`, `hash`,
    /// `state`, `root_view_id`, `app_id`, `bot_id`, ….
    pub view: Value,
}

/// The Slack Web API stand-in: an HTTP server on 127.0.0.1. Cheap to clone; the server
/// stops when every clone is dropped.
#[derive(Clone)]
pub struct SlackStandIn {
    shared: Arc<Shared>,
    _guard: Arc<super::ServerGuard>,
    base_url: String,
}

impl std::fmt::Debug for SlackStandIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SlackStandIn")
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

impl SlackStandIn {
    /// The bridge's bot user id (what `auth.test` answers as `user_id`).
    pub const BOT_USER: &'static str = "UBOT0001";
    /// The bridge's bot id (`bot_id` on its messages).
    pub const BOT_ID: &'static str = "BBOT0001";
    /// The workspace (team) id.
    pub const TEAM: &'static str = "T0001";
    /// The workspace's domain (`team.domain`, `team_domain`).
    pub const TEAM_DOMAIN: &'static str = "stand-in";
    /// The Slack app's id (`api_app_id`, `app_id`).
    pub const APP_ID: &'static str = "A0001";
    /// The bot user's name.
    pub const BOT_NAME: &'static str = "handoff-bridge";
    /// The legacy verification token carried in payloads (`token`).
    pub const VERIFICATION_TOKEN: &'static str = "stand-in-verification-token";

    /// Binds 127.0.0.1:0 and serves `GET|POST /api/{method}` (and the `response_url`s it
    /// hands out) in a background task until every clone is dropped. Only `bot_token` is
    /// accepted as a token. The bridge's own bot user ([`Self::BOT_USER`]) is in the
    /// user directory from the start.
    pub async fn start(bot_token: &str) -> SlackStandIn {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("slack stand-in: bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("slack stand-in: local address");
        let base_url = format!("http://{addr}");
        let hangs = super::Hangs::new();
        let shared = Arc::new(Shared::new(bot_token, World::new(base_url.clone()), hangs.clone()));
        let guard = super::serve(listener, server::router(shared.clone()), "slack", hangs);
        SlackStandIn {
            shared,
            _guard: Arc::new(guard),
            base_url,
        }
    }

    /// `http://127.0.0.1:PORT/api` — what slack-morphism's `with_slack_api_url` wants
    /// (and `HANDOFF_SLACK_API_URL`).
    pub fn api_url(&self) -> String {
        format!("{}/api", self.base_url)
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        self.base_url.clone()
    }

    /// A [`SlackSender`] towards the bridge that knows this stand-in: payloads carry the
    /// user and channel names of its directory, and their `response_url`s point here.
    pub fn sender(&self, bridge_base_url: &str, signing_secret: &str) -> SlackSender {
        SlackSender::new(bridge_base_url, signing_secret).with_stand_in(self)
    }

    // -----------------------------------------------------------------------------------
    // The directory

    /// A public channel. `bot_is_member`: whether the bridge's bot was invited (posting
    /// to a channel it is not in fails with `not_in_channel`).
    pub fn add_channel(&self, id: &str, name: &str, bot_is_member: bool) {
        self.world().channels.insert(
            id.to_string(),
            Channel {
                id: id.to_string(),
                name: name.to_string(),
                is_member: bot_is_member,
                im_user: None,
                is_mpim: false,
            },
        );
    }

    /// Invites the bot to (or removes it from) a known channel.
    pub fn set_bot_member(&self, channel: &str, is_member: bool) {
        if let Some(c) = self.world().channels.get_mut(channel) {
            c.is_member = is_member;
        }
    }

    /// A human member of the workspace.
    pub fn add_user(&self, id: &str, name: &str, real_name: &str, is_admin: bool, is_owner: bool) {
        self.world().users.insert(
            id.to_string(),
            User {
                id: id.to_string(),
                name: name.to_string(),
                real_name: real_name.to_string(),
                is_admin,
                is_owner,
                is_bot: false,
                kind: UserKind::Member,
            },
        );
    }

    /// A person who is not a full member of the workspace: a guest, a Slack Connect
    /// user from another organisation, or a user of another workspace.
    pub fn add_outsider(&self, id: &str, name: &str, kind: UserKind) {
        self.world().users.insert(
            id.to_string(),
            User {
                id: id.to_string(),
                name: name.to_string(),
                real_name: name.to_string(),
                is_admin: false,
                is_owner: false,
                is_bot: false,
                kind,
            },
        );
    }

    /// Another app's bot user (`is_bot: true`; it cannot be DM'd).
    pub fn add_bot_user(&self, id: &str, name: &str) {
        self.world().users.insert(id.to_string(), User::bot(id, name, name));
    }

    fn world(&self) -> std::sync::MutexGuard<'_, World> {
        self.shared.lock()
    }

    // -----------------------------------------------------------------------------------
    // What the stand-in saw and holds

    /// Every call not yet taken by [`Self::take_calls`], in arrival order, including
    /// refused and faulted ones.
    pub fn calls(&self) -> Vec<SlackCall> {
        self.world().calls.iter().map(|(_, c)| c.clone()).collect()
    }

    /// Returns the calls not yet taken and forgets them (they no longer appear in
    /// [`Self::calls`] nor trouble [`Self::assert_all_seen`]).
    pub fn take_calls(&self) -> Vec<SlackCall> {
        let mut w = self.world();
        let calls: Vec<SlackCall> = std::mem::take(&mut w.calls).into_iter().map(|(_, c)| c).collect();
        w.taken += calls.len();
        calls
    }

    /// Like [`Self::take_calls`], but only the calls already answered (with their
    /// answer); those still in progress stay for a later take.
    pub fn take_answered_calls(&self) -> Vec<SlackCall> {
        let mut w = self.world();
        let (answered, waiting): (Vec<_>, Vec<_>) = std::mem::take(&mut w.calls)
            .into_iter()
            .partition(|(_, c)| c.status != 0);
        w.calls = waiting;
        w.taken += answered.len();
        answered.into_iter().map(|(_, c)| c).collect()
    }

    /// Panics listing every call nobody took with [`Self::take_calls`].
    pub fn assert_all_seen(&self) {
        let calls = self.calls();
        if !calls.is_empty() {
            panic!(
                "slack stand-in: {} call(s) nobody asserted on:{}",
                calls.len(),
                summarize(&calls)
            );
        }
    }

    /// The channel's messages, top-level and replies, in ts order.
    pub fn messages(&self, channel: &str) -> Vec<SlackMessage> {
        let w = self.world();
        w.messages
            .get(channel)
            .map(|m| m.values().map(|msg| msg.public(channel)).collect())
            .unwrap_or_default()
    }

    /// One message by ts.
    pub fn message(&self, channel: &str, ts: &str) -> Option<SlackMessage> {
        let w = self.world();
        w.messages
            .get(channel)
            .and_then(|m| m.get(ts))
            .map(|msg| msg.public(channel))
    }

    /// The replies in a thread (not its root), in ts order.
    pub fn replies(&self, channel: &str, thread_ts: &str) -> Vec<SlackMessage> {
        self.messages(channel)
            .into_iter()
            .filter(|m| m.thread_ts.as_deref() == Some(thread_ts))
            .collect()
    }

    /// A message as Slack shows it in payloads (`type`, `user`, `bot_id`, `text`, `ts`,
    /// `blocks`, `thread_ts`, `reply_count`, `reactions`, `edited`, …) — what
    /// [`SlackSender::block_action`] wants as `message`.
    pub fn message_json(&self, channel: &str, ts: &str) -> Option<Value> {
        let w = self.world();
        let msg = w.messages.get(channel)?.get(ts)?;
        Some(w.message_json(channel, msg))
    }

    /// Every ephemeral message, in order.
    pub fn ephemerals(&self) -> Vec<Ephemeral> {
        self.world().ephemerals.clone()
    }

    /// The IM channel id `conversations.open` gave for `user`, if any.
    pub fn dm_channel(&self, user: &str) -> Option<String> {
        self.world().dms.get(user).cloned()
    }

    /// Every modal opened, with its current content.
    pub fn views(&self) -> Vec<OpenedView> {
        self.world().views.clone()
    }

    /// Polls every ~10ms until `pred(self)` holds; panics after `deadline` with `what`
    /// and a summary of the calls so far.
    pub async fn wait_for(&self, deadline: Duration, what: &str, pred: impl Fn(&SlackStandIn) -> bool) {
        let start = Instant::now();
        loop {
            if pred(self) {
                return;
            }
            if start.elapsed() >= deadline {
                let calls = self.calls();
                let taken = self.world().taken;
                panic!(
                    "slack stand-in: timed out after {deadline:?} waiting for {what}; {taken} call(s) taken \
                     earlier, {} since:{}",
                    calls.len(),
                    summarize(&calls)
                );
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    // -----------------------------------------------------------------------------------
    // For the sender

    /// Registers a `response_url` for an interaction or command (see `server`).
    fn response_url(&self, kind: &str, channel: &str, user: &str, message_ts: Option<&str>) -> String {
        self.world().new_hook(kind, channel, user, message_ts)
    }

    fn user_name(&self, id: &str) -> Option<String> {
        self.world().users.get(id).map(|u| u.name.clone())
    }

    fn channel_name(&self, id: &str) -> Option<String> {
        self.world().channels.get(id).map(|c| c.name.clone())
    }
}

fn summarize(calls: &[SlackCall]) -> String {
    let mut out = String::new();
    for (i, c) in calls.iter().enumerate() {
        let _ = write!(
            out,
            "\n  #{i}: {} {} -> {} (token_ok={}) {}",
            c.method, c.args, c.status, c.token_ok, c.response
        );
    }
    if calls.is_empty() {
        out.push_str(" none");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::test_support::{CH, TOKEN, blocks, client_for, methods, root_blocks, setup};
    use super::*;
    use serde_json::json;
    use slack_morphism::errors::SlackClientError;
    use slack_morphism::prelude::*;

    #[tokio::test]
    async fn slack_morphism_client_round_trip() {
        let slack = setup().await;
        let client = client_for(&slack);
        let token = SlackApiToken::new(TOKEN.into());
        let session = client.open_session(&token);

        let me = session.auth_test().await.expect("auth.test");
        assert_eq!(me.user_id.0, SlackStandIn::BOT_USER);
        assert_eq!(me.bot_id.as_ref().map(|b| b.0.as_str()), Some(SlackStandIn::BOT_ID));
        assert_eq!(me.team_id.0, SlackStandIn::TEAM);

        let content = SlackMessageContent::new()
            .with_text("Ada needs a human".into())
            .with_blocks(root_blocks());
        let root = session
            .chat_post_message(&SlackApiChatPostMessageRequest::new(CH.into(), content))
            .await
            .expect("chat.postMessage root");
        assert_eq!(root.channel.0, CH);
        assert_eq!(root.message.sender.bot_id.as_ref().unwrap().0, SlackStandIn::BOT_ID);
        let root_ts = root.ts.0.clone();
        assert_eq!(root_ts.len(), "1700000000.000100".len());

        let reply = session
            .chat_post_message(
                &SlackApiChatPostMessageRequest::new(
                    CH.into(),
                    SlackMessageContent::new().with_text("visitor: Hi".into()),
                )
                .with_thread_ts(root.ts.clone()),
            )
            .await
            .expect("chat.postMessage reply");
        assert!(reply.ts.0 > root_ts, "timestamps increase");
        assert_eq!(reply.message.origin.thread_ts.as_ref().unwrap().0, root_ts);

        let updated = session
            .chat_update(&SlackApiChatUpdateRequest::new(
                CH.into(),
                SlackMessageContent::new()
                    .with_text("Assigned to Ada".into())
                    .with_blocks(root_blocks()),
                root.ts.clone(),
            ))
            .await
            .expect("chat.update");
        assert_eq!(updated.ts.0, root_ts);
        assert!(updated.message.edited.is_some());

        session
            .chat_post_ephemeral(
                &SlackApiChatPostEphemeralRequest::new(
                    CH.into(),
                    "U0ADA".into(),
                    SlackMessageContent::new().with_text("Grace has it".into()),
                )
                .with_thread_ts(root.ts.clone()),
            )
            .await
            .expect("chat.postEphemeral");

        let link = session
            .chat_get_permalink(&SlackApiChatGetPermalinkRequest::new(CH.into(), reply.ts.clone()))
            .await
            .expect("chat.getPermalink");
        let expected = format!(
            "{PERMALINK_BASE}/archives/{CH}/p{}?thread_ts={root_ts}&cid={CH}",
            reply.ts.0.replace('.', "")
        );
        assert_eq!(link.permalink.as_str(), expected);

        let dm = session
            .conversations_open(&SlackApiConversationsOpenRequest::new().with_users(vec!["U0ADA".into()]))
            .await
            .expect("conversations.open");
        let again = session
            .conversations_open_full(&SlackApiConversationsOpenRequest::new().with_users(vec!["U0ADA".into()]))
            .await
            .expect("conversations.open (return_im)");
        assert_eq!(dm.channel.id, again.channel.id);
        assert_eq!(again.channel.flags.is_im, Some(true));
        assert_eq!(slack.dm_channel("U0ADA").as_deref(), Some(dm.channel.id.0.as_str()));
        session
            .chat_post_message(&SlackApiChatPostMessageRequest::new(
                dm.channel.id.clone(),
                SlackMessageContent::new().with_text("You have a new conversation".into()),
            ))
            .await
            .expect("a DM");

        let modal = SlackView::Modal(
            SlackModalView::new(
                pt!("Transfer"),
                blocks(json!([{
                    "type": "input", "block_id": "target",
                    "label": {"type": "plain_text", "text": "Operator"},
                    "element": {"type": "users_select", "action_id": "operator"}
                }])),
            )
            .with_submit(pt!("Transfer"))
            .with_callback_id("transfer".into())
            .with_private_metadata("conv_42".into()),
        );
        let opened = session
            .views_open(&SlackApiViewsOpenRequest::new("1337.42.abcdef".into(), modal.clone()))
            .await
            .expect("views.open");
        let view_id = opened.view.state_params.id.clone();
        let reused = session
            .views_open(&SlackApiViewsOpenRequest::new("1337.42.abcdef".into(), modal.clone()))
            .await;
        assert!(matches!(reused, Err(SlackClientError::ApiError(e)) if e.code == "exchanged_trigger_id"));
        let updated_view = session
            .views_update(&SlackApiViewsUpdateRequest::new(modal).with_view_id(view_id.clone()))
            .await
            .expect("views.update");
        assert_eq!(updated_view.view.state_params.id, view_id);

        session
            .reactions_add(&SlackApiReactionsAddRequest::new(
                CH.into(),
                SlackReactionName("white_check_mark".into()),
                reply.ts.clone(),
            ))
            .await
            .expect("reactions.add");

        let ada = session
            .users_info(&SlackApiUsersInfoRequest::new("U0GRACE".into()))
            .await
            .expect("users.info");
        assert_eq!(ada.user.flags.is_admin, Some(true));
        assert_eq!(ada.user.flags.is_owner, Some(true));
        assert_eq!(ada.user.real_name.as_deref(), Some("Grace Hopper"));

        let info = session
            .conversations_info(&SlackApiConversationsInfoRequest::new(CH.into()))
            .await
            .expect("conversations.info");
        assert_eq!(info.channel.name.as_deref(), Some("handoffs"));
        assert_eq!(info.channel.flags.is_member, Some(true));

        // The state the stand-in kept.
        let all = slack.messages(CH);
        assert_eq!(all.len(), 2);
        assert_eq!(all[0].text, "Assigned to Ada");
        assert!(all[0].edited && all[0].thread_ts.is_none());
        assert_eq!(all[0].blocks.as_array().map(Vec::len), Some(5));
        let replies = slack.replies(CH, &root_ts);
        assert_eq!(replies.len(), 1);
        assert_eq!(replies[0].reactions, ["white_check_mark"]);
        assert_eq!(replies[0].user, SlackStandIn::BOT_USER);
        let eph = slack.ephemerals();
        assert_eq!(
            (eph[0].user.as_str(), eph[0].thread_ts.as_deref()),
            ("U0ADA", Some(root_ts.as_str()))
        );
        let views = slack.views();
        assert_eq!(views.len(), 1);
        assert_eq!(views[0].trigger_id, "1337.42.abcdef");
        assert_eq!(views[0].view["callback_id"], "transfer");
        let root_json = slack.message_json(CH, &root_ts).unwrap();
        assert_eq!(root_json["reply_count"], 1);

        let calls = slack.take_calls();
        assert_eq!(
            methods(&calls),
            [
                "auth.test",
                "chat.postMessage",
                "chat.postMessage",
                "chat.update",
                "chat.postEphemeral",
                "chat.getPermalink",
                "conversations.open",
                "conversations.open",
                "chat.postMessage",
                "views.open",
                "views.open",
                "views.update",
                "reactions.add",
                "users.info",
                "conversations.info"
            ]
        );
        assert!(calls.iter().all(|c| c.token_ok && c.status == 200));
        // Reads are GETs with query parameters: strings.
        assert_eq!(calls[13].args["user"], "U0GRACE");
        assert_eq!(calls[1].args["channel"], CH);
        slack.assert_all_seen();
    }

    #[tokio::test]
    #[should_panic(expected = "nobody asserted on")]
    async fn assert_all_seen_names_untaken_calls() {
        let slack = setup().await;
        let _ = reqwest::Client::new()
            .get(format!("{}/auth.test", slack.api_url()))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap();
        slack.assert_all_seen();
    }

    #[tokio::test]
    async fn wait_for_and_shutdown() {
        let slack = setup().await;
        let s2 = slack.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(30)).await;
            s2.add_channel("C0LATE", "late", true);
        });
        slack
            .wait_for(Duration::from_secs(2), "the late channel", |s| {
                s.world().channels.contains_key("C0LATE")
            })
            .await;
        let url = format!("{}/auth.test", slack.api_url());
        drop(slack);
        let http = reqwest::Client::new();
        let mut refused = false;
        for _ in 0..100 {
            if http.get(&url).send().await.is_err() {
                refused = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(refused, "the stand-in kept serving after its last handle was dropped");
    }
}
