//! A local stand-in for Slack (SPEC §4, §9).
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
//!   on, and injects faults per method (429, 5xx, `ok:false` errors, delays).
//!   It also serves the `response_url`s of the interactions and slash commands it hands
//!   out (see [`SlackStandIn::sender`]).
//! - [`SlackSender`] plays Slack towards the bridge: Events API envelopes, interactivity
//!   payloads and slash commands, shaped as Slack sends them and signed with the app's
//!   signing secret (`X-Slack-Signature: v0=…`), or deliberately mis-signed.
//!
//! The module's own tests prove the fidelity with slack-morphism: its Web API client
//! parses every answer, its error mapping sees Slack's errors, and its own event types
//! and axum middleware accept what [`SlackSender`] sends.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, post};
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Map, Value, json};
use sha2::Sha256;

use crate::signature::unix_now;

/// Where the stand-in's permalinks point (never fetched).
const PERMALINK_BASE: &str = "https://stand-in.slack.example";
/// Slack's limit on a message's `text`.
const MAX_TEXT_CHARS: usize = 40_000;
/// Blocks in a message / in a modal view.
const MAX_MESSAGE_BLOCKS: usize = 50;
const MAX_VIEW_BLOCKS: usize = 100;
/// How often a `response_url` may be used (Slack: 5 times within 30 minutes).
const MAX_RESPONSE_URL_USES: u32 = 5;

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
    /// The HTTP status answered (200 for Slack's `ok:false` errors too).
    pub status: u16,
    /// The JSON answered.
    pub response: Value,
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

/// An injected fault for one call of one method.
#[derive(Debug, Clone)]
enum Fault {
    RateLimited {
        retry_after_secs: u64,
    },
    Status(u16),
    Error(String),
    Delay(Duration),
    /// The call is carried out, but the answer is lost on the way back (a 504 from a
    /// proxy, a dropped connection): the client cannot tell that it worked.
    LostResponse,
}

#[derive(Debug, Clone)]
struct Channel {
    id: String,
    name: String,
    is_member: bool,
    /// For a DM: the other user.
    im_user: Option<String>,
    is_mpim: bool,
}

#[derive(Debug, Clone)]
struct User {
    id: String,
    name: String,
    real_name: String,
    is_admin: bool,
    is_owner: bool,
    is_bot: bool,
}

#[derive(Debug, Clone)]
struct Msg {
    ts: String,
    thread_ts: Option<String>,
    user: String,
    bot_id: Option<String>,
    text: String,
    blocks: Value,
    /// (name, users) in order of first use.
    reactions: Vec<(String, Vec<String>)>,
    /// (editor, edit ts).
    edited: Option<(String, String)>,
    /// `{"event_type": …, "event_payload": {…}}` as posted (`chat.postMessage`/`chat.update`).
    metadata: Option<Value>,
    /// `thread_broadcast` for a reply also sent to the channel; `bot_message`, … for
    /// recorded events that carried one.
    subtype: Option<String>,
}

/// A `response_url` handed out with an interaction or a slash command.
#[derive(Debug, Clone)]
struct Hook {
    channel: String,
    user: String,
    message_ts: Option<String>,
    thread_ts: Option<String>,
    uses: u32,
}

/// Everything the stand-in knows; one lock, short critical sections.
struct World {
    token: String,
    base_url: String,
    calls: Vec<(u64, SlackCall)>,
    next_seq: u64,
    taken: usize,
    faults: HashMap<String, VecDeque<Fault>>,
    channels: BTreeMap<String, Channel>,
    users: BTreeMap<String, User>,
    /// channel → ts → message (ts strings of equal length sort in time order).
    messages: HashMap<String, BTreeMap<String, Msg>>,
    ephemerals: Vec<Ephemeral>,
    dms: BTreeMap<String, String>,
    mpims: BTreeMap<String, String>,
    views: Vec<OpenedView>,
    triggers_used: HashSet<String>,
    hooks: HashMap<String, Hook>,
    next_id: u64,
}

struct Shared {
    world: Mutex<World>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, World> {
        // A panicking test thread must not hide the state from the others.
        self.world.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Stops the server when the last clone of the [`SlackStandIn`] is dropped.
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
        let shared = Arc::new(Shared {
            world: Mutex::new(World::new(bot_token, base_url.clone())),
        });
        let app = Router::new()
            .route("/api/{method}", any(api_handler))
            .route("/hooks/{kind}/{id}", post(hook_handler))
            .fallback(|| async { json_response(404, &api_error("unknown_method"), None) })
            .with_state(shared.clone());
        let guard = super::serve(listener, app, "slack");
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
            },
        );
    }

    /// Another app's bot user (`is_bot: true`; it cannot be DM'd).
    pub fn add_bot_user(&self, id: &str, name: &str) {
        self.world().users.insert(
            id.to_string(),
            User {
                id: id.to_string(),
                name: name.to_string(),
                real_name: name.to_string(),
                is_admin: false,
                is_owner: false,
                is_bot: true,
            },
        );
    }

    /// The next `n` calls of `method` get HTTP 429 with `Retry-After: retry_after_secs`
    /// and `{"ok":false,"error":"ratelimited"}`, and change nothing.
    pub fn rate_limit_next(&self, method: &str, n: usize, retry_after_secs: u64) {
        self.push_faults(method, n, Fault::RateLimited { retry_after_secs });
    }

    /// The next `n` calls of `method` get HTTP `status` (e.g. 500, 503) with a JSON body,
    /// and change nothing.
    pub fn fail_next(&self, method: &str, n: usize, status: u16) {
        self.push_faults(method, n, Fault::Status(status));
    }

    /// The next `n` calls of `method` get HTTP 200 `{"ok":false,"error":error}`, and change
    /// nothing.
    pub fn error_next(&self, method: &str, n: usize, error: &str) {
        self.push_faults(method, n, Fault::Error(error.to_string()));
    }

    /// The next `n` calls of `method` are answered (normally) only after `delay`.
    pub fn delay_next(&self, method: &str, n: usize, delay: Duration) {
        self.push_faults(method, n, Fault::Delay(delay));
    }

    /// The next `n` calls of `method` are carried out, but answered `504` as if the
    /// response had been lost on the way back (the recorded call keeps the real answer
    /// under `response.lost`).
    pub fn lose_response_next(&self, method: &str, n: usize) {
        self.push_faults(method, n, Fault::LostResponse);
    }

    /// Drops every queued fault.
    pub fn clear_faults(&self) {
        self.world().faults.clear();
    }

    fn push_faults(&self, method: &str, n: usize, fault: Fault) {
        self.world()
            .faults
            .entry(method.to_string())
            .or_default()
            .extend(std::iter::repeat_n(fault, n));
    }

    fn world(&self) -> MutexGuard<'_, World> {
        self.shared.lock()
    }

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
            .map(|m| m.values().map(|msg| public_message(channel, msg)).collect())
            .unwrap_or_default()
    }

    /// One message by ts.
    pub fn message(&self, channel: &str, ts: &str) -> Option<SlackMessage> {
        let w = self.world();
        w.messages
            .get(channel)
            .and_then(|m| m.get(ts))
            .map(|msg| public_message(channel, msg))
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

    /// Stores a `message` event built by [`SlackSender::thread_message`] or
    /// [`SlackSender::bot_message`] as if it had been posted in Slack, so that
    /// `reactions.add`, `chat.getPermalink` and thread listings know it.
    pub fn record_message(&self, event: &Value) {
        let channel = str_field(event, "channel");
        let ts = str_field(event, "ts");
        let user = event["user"]
            .as_str()
            .or_else(|| event["bot_id"].as_str())
            .unwrap_or_default()
            .to_string();
        let msg = Msg {
            ts: ts.clone(),
            thread_ts: event["thread_ts"].as_str().filter(|t| *t != ts).map(str::to_string),
            user,
            bot_id: event["bot_id"].as_str().map(str::to_string),
            text: str_field(event, "text"),
            blocks: event.get("blocks").cloned().unwrap_or(Value::Null),
            reactions: Vec::new(),
            edited: None,
            metadata: event.get("metadata").filter(|m| m.is_object()).cloned(),
            subtype: event["subtype"].as_str().map(str::to_string),
        };
        self.world().messages.entry(channel).or_default().insert(ts, msg);
    }

    /// A user's reply in a thread: builds the event with [`SlackSender::thread_message`],
    /// records it ([`Self::record_message`]) and returns it, ready for [`SlackSender::event`].
    pub fn user_reply(&self, channel: &str, user: &str, text: &str, thread_ts: &str) -> Value {
        let event = SlackSender::thread_message(channel, user, text, thread_ts);
        self.record_message(&event);
        event
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

    /// Registers a `response_url` for an interaction or command (see [`hook_handler`]).
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

fn public_message(channel: &str, m: &Msg) -> SlackMessage {
    SlackMessage {
        channel: channel.to_string(),
        ts: m.ts.clone(),
        thread_ts: m.thread_ts.clone(),
        user: m.user.clone(),
        text: m.text.clone(),
        blocks: m.blocks.clone(),
        reactions: m.reactions.iter().map(|(n, _)| n.clone()).collect(),
        edited: m.edited.is_some(),
        metadata: m.metadata.clone().unwrap_or(Value::Null),
    }
}

fn str_field(v: &Value, key: &str) -> String {
    v[key].as_str().unwrap_or_default().to_string()
}

// ---------------------------------------------------------------------------------------
// Timestamps and ids

/// A Slack message timestamp, `"<unix seconds>.<6 digits>"`: the current time in
/// microseconds, strictly increasing across the whole process (the stand-in and the
/// sender share it, so no two messages ever get the same ts).
pub fn next_ts() -> String {
    static LAST: AtomicU64 = AtomicU64::new(0);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0);
    let mut last = LAST.load(Ordering::Relaxed);
    loop {
        let next = now.max(last + 1);
        match LAST.compare_exchange_weak(last, next, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return format!("{}.{:06}", next / 1_000_000, next % 1_000_000),
            Err(seen) => last = seen,
        }
    }
}

fn counter() -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    COUNTER.fetch_add(1, Ordering::Relaxed) + 1
}

/// A trigger id shaped like Slack's (`"<digits>.<digits>.<32 hex>"`), never repeated.
fn new_trigger_id() -> String {
    format!(
        "{}{:04}.{}.{:032x}",
        unix_now(),
        counter() % 10_000,
        7_000_000 + counter(),
        rand::random::<u128>()
    )
}

// ---------------------------------------------------------------------------------------
// Request parsing

/// Request arguments: JSON body, form fields or query parameters.
struct Args(Map<String, Value>);

impl Args {
    /// A parameter as text (numbers and booleans too).
    fn str(&self, key: &str) -> Option<String> {
        match self.0.get(key)? {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }

    /// A non-empty parameter as text.
    fn non_empty(&self, key: &str) -> Option<String> {
        self.str(key).filter(|s| !s.trim().is_empty())
    }

    /// A JSON parameter: inline in a JSON body, or a JSON-encoded string in a form.
    /// `Err` if the string does not parse.
    fn json(&self, key: &str) -> Result<Option<Value>, ()> {
        match self.0.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
            Some(Value::String(s)) => serde_json::from_str(s).map(Some).map_err(|_| ()),
            Some(v) => Ok(Some(v.clone())),
        }
    }

    fn flag(&self, key: &str) -> bool {
        matches!(self.str(key).as_deref(), Some("true" | "1"))
    }

    /// A list parameter: a JSON array, or a comma-separated string.
    fn list(&self, key: &str) -> Vec<String> {
        match self.0.get(key) {
            Some(Value::String(s)) => s
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect(),
            Some(Value::Array(items)) => items.iter().filter_map(|v| v.as_str().map(str::to_string)).collect(),
            _ => Vec::new(),
        }
    }
}

/// Decodes `application/x-www-form-urlencoded` text (also query strings).
fn parse_form(s: &str) -> Vec<(String, String)> {
    s.split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    fn hex_digit(b: u8) -> Option<u8> {
        (b as char).to_digit(16).map(|d| d as u8)
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex_digit(bytes[i + 1]), hex_digit(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h * 16 + l);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Encodes `application/x-www-form-urlencoded` as browsers and Slack do.
fn form_encode(pairs: &[(&str, &str)]) -> String {
    fn enc(s: &str, out: &mut String) {
        for b in s.bytes() {
            match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => out.push(b as char),
                b' ' => out.push('+'),
                _ => {
                    let _ = write!(out, "%{b:02X}");
                }
            }
        }
    }
    let mut out = String::new();
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        enc(k, &mut out);
        out.push('=');
        enc(v, &mut out);
    }
    out
}

/// What a request carried: its arguments (or the Slack error for a malformed body) and
/// the token it presented.
struct Incoming {
    args: Result<Map<String, Value>, &'static str>,
    token: Option<String>,
}

fn parse_request(verb: &Method, query: Option<&str>, headers: &HeaderMap, body: &[u8]) -> Incoming {
    let mut args = Map::new();
    let mut param_token = None;
    let mut take = |k: String, v: String, args: &mut Map<String, Value>| {
        if k == "token" {
            param_token = Some(v.clone());
        }
        args.insert(k, Value::String(v));
    };
    for (k, v) in parse_form(query.unwrap_or("")) {
        take(k, v, &mut args);
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let parsed = if *verb != Method::POST || body.is_empty() {
        Ok(())
    } else if content_type.starts_with("application/json") {
        // Slack reads the token of a JSON body from the Authorization header only.
        match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(m)) => {
                args.extend(m);
                Ok(())
            }
            Ok(_) => Err("json_not_object"),
            Err(_) => Err("invalid_json"),
        }
    } else if content_type.starts_with("application/x-www-form-urlencoded") || content_type.starts_with("text/plain") {
        match std::str::from_utf8(body) {
            Ok(text) => {
                for (k, v) in parse_form(text) {
                    take(k, v, &mut args);
                }
                Ok(())
            }
            Err(_) => Err("invalid_form_data"),
        }
    } else if content_type.is_empty() {
        Err("missing_post_type")
    } else {
        Err("invalid_post_type")
    };
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|t| t.trim().to_string());
    Incoming {
        args: parsed.map(|()| args),
        token: bearer.or(param_token),
    }
}

// ---------------------------------------------------------------------------------------
// Responses

fn api_error(code: &str) -> Value {
    json!({"ok": false, "error": code})
}

/// Slack's answer to failed validation: the error code, `errors`, and the same problems
/// as `response_metadata.messages` prefixed with `[ERROR]`.
fn validation_error(code: &str, problems: &[String]) -> Value {
    json!({
        "ok": false,
        "error": code,
        "errors": problems,
        "response_metadata": {"messages": problems.iter().map(|p| format!("[ERROR] {p}")).collect::<Vec<_>>()}
    })
}

fn with_ok(mut v: Value) -> Value {
    if let Value::Object(m) = &mut v {
        m.insert("ok".to_string(), Value::Bool(true));
    }
    v
}

fn json_response(status: u16, body: &Value, retry_after: Option<u64>) -> Response {
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = (code, body.to_string()).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    if let Some(secs) = retry_after {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    response
}

/// The answer to an injected fault (`None` for a delay, which answers normally later).
fn fault_answer(fault: &Fault) -> Option<(u16, Value, Option<u64>)> {
    match fault {
        Fault::RateLimited { retry_after_secs } => Some((429, api_error("ratelimited"), Some(*retry_after_secs))),
        Fault::Status(s) => {
            let code = if *s == 503 {
                "service_unavailable"
            } else {
                "fatal_error"
            };
            Some((*s, api_error(code), None))
        }
        Fault::Error(e) => Some((200, api_error(e), None)),
        Fault::Delay(_) | Fault::LostResponse => None,
    }
}

/// The Web API methods the stand-in serves.
const METHODS: &[&str] = &[
    "auth.test",
    "chat.postMessage",
    "chat.update",
    "chat.postEphemeral",
    "chat.getPermalink",
    "conversations.open",
    "conversations.info",
    "conversations.history",
    "conversations.replies",
    "views.open",
    "views.update",
    "reactions.add",
    "users.info",
];

/// Takes the call's sequence number and its next fault, if any.
fn arrive(shared: &Shared, method: &str) -> (u64, Option<Fault>) {
    let mut w = shared.lock();
    let seq = w.next_seq;
    w.next_seq += 1;
    let fault = w.faults.get_mut(method).and_then(VecDeque::pop_front);
    (seq, fault)
}

fn record(w: &mut World, seq: u64, call: SlackCall) {
    tracing::debug!(method = %call.method, status = call.status, "slack stand-in call");
    let at = w.calls.partition_point(|(s, _)| *s < seq);
    w.calls.insert(at, (seq, call));
}

async fn api_handler(
    State(shared): State<Arc<Shared>>,
    Path(method): Path<String>,
    verb: Method,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let incoming = parse_request(&verb, query.as_deref(), &headers, &body);
    let (seq, fault) = arrive(&shared, &method);
    let args_value = incoming
        .args
        .as_ref()
        .map(|m| Value::Object(m.clone()))
        .unwrap_or(Value::Null);
    if let Some(Fault::Delay(d)) = &fault {
        tokio::time::sleep(*d).await;
    }
    let mut w = shared.lock();
    let token_ok = incoming.token.as_deref() == Some(w.token.as_str());
    let (status, response, retry_after) = match fault.as_ref().and_then(fault_answer) {
        Some(answer) => answer,
        None => {
            let answer = if !METHODS.contains(&method.as_str()) {
                json!({"ok": false, "error": "unknown_method", "req_method": method})
            } else if incoming.token.as_deref().is_none_or(str::is_empty) {
                api_error("not_authed")
            } else if !token_ok {
                api_error("invalid_auth")
            } else {
                match &incoming.args {
                    Err(code) => api_error(code),
                    Ok(args) => match w.dispatch(&method, &Args(args.clone())) {
                        Ok(v) => with_ok(v),
                        Err(e) => e,
                    },
                }
            };
            (200, answer, None)
        }
    };
    let (status, response) = match fault {
        Some(Fault::LostResponse) => (504, json!({"ok": false, "error": "gateway_timeout", "lost": response})),
        _ => (status, response),
    };
    record(
        &mut w,
        seq,
        SlackCall {
            method,
            args: args_value,
            token_ok,
            status,
            response: response.clone(),
        },
    );
    drop(w);
    json_response(status, &response, retry_after)
}

/// `POST /hooks/{kind}/{id}`: a `response_url` (JSON body, or form `payload=`).
async fn hook_handler(
    State(shared): State<Arc<Shared>>,
    Path((_kind, id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let incoming = parse_request(&Method::POST, None, &headers, &body);
    let args = match incoming.args {
        Ok(m) => match m.get("payload").and_then(Value::as_str) {
            Some(p) => serde_json::from_str(p).unwrap_or(Value::Null),
            None => Value::Object(m),
        },
        Err(_) => Value::Null,
    };
    let (seq, fault) = arrive(&shared, "response_url");
    if let Some(Fault::Delay(d)) = &fault {
        tokio::time::sleep(*d).await;
    }
    let mut w = shared.lock();
    let (status, response, retry_after) = match fault.as_ref().and_then(fault_answer) {
        Some(answer) => answer,
        None => {
            let (status, response) = w.respond(&id, &args);
            (status, response, None)
        }
    };
    record(
        &mut w,
        seq,
        SlackCall {
            method: "response_url".to_string(),
            args,
            token_ok: true,
            status,
            response: response.clone(),
        },
    );
    drop(w);
    json_response(status, &response, retry_after)
}

// ---------------------------------------------------------------------------------------
// The Web API methods

/// `Ok`: the success body without `ok`; `Err`: the whole error body.
type Reply = Result<Value, Value>;

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
        let problems = validate_blocks(b, "/blocks", MAX_MESSAGE_BLOCKS);
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

/// A Slack timestamp (`"1712345678.000100"`, also `"1712345678"` or fewer decimals) as
/// (seconds, microseconds), for ordering and time windows.
fn parse_ts(ts: &str) -> Option<(u64, u32)> {
    let ts = ts.trim();
    let (secs, frac) = ts.split_once('.').unwrap_or((ts, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if secs.is_empty() || !digits(secs) || !digits(frac) {
        return None;
    }
    let mut micros: String = frac.chars().take(6).collect();
    while micros.len() < 6 {
        micros.push('0');
    }
    Some((secs.parse().ok()?, micros.parse().ok()?))
}

fn ts_key(ts: &str) -> (u64, u32) {
    parse_ts(ts).unwrap_or((0, 0))
}

const BASE64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn base64_encode(bytes: &[u8]) -> String {
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(BASE64[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0u32);
    // A '+' that went through form decoding unescaped arrives as a space.
    for c in s
        .trim_end_matches('=')
        .bytes()
        .map(|c| if c == b' ' { b'+' } else { c })
    {
        let v = BASE64.iter().position(|&x| x == c)? as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push(((acc >> bits) & 0xff) as u8);
        }
    }
    Some(out)
}

/// Slack's cursor for the history methods: base64 of `next_ts:<ts without the dot>`,
/// naming the next message to return.
fn ts_cursor(ts: (u64, u32)) -> String {
    base64_encode(format!("next_ts:{}{:06}", ts.0, ts.1).as_bytes())
}

fn parse_ts_cursor(cursor: &str) -> Option<(u64, u32)> {
    let text = String::from_utf8(base64_decode(cursor)?).ok()?;
    let digits = text.strip_prefix("next_ts:")?;
    if digits.len() < 7 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (secs, micros) = digits.split_at(digits.len() - 6);
    Some((secs.parse().ok()?, micros.parse().ok()?))
}

/// The `oldest` / `latest` / `inclusive` window of the history methods.
struct Window {
    oldest: Option<(u64, u32)>,
    latest: Option<(u64, u32)>,
    inclusive: bool,
}

impl Window {
    fn from_args(a: &Args) -> Result<Window, Value> {
        let bound = |key: &str, error: &str| match a.non_empty(key) {
            None => Ok(None),
            Some(s) => parse_ts(&s).map(Some).ok_or_else(|| api_error(error)),
        };
        Ok(Window {
            oldest: bound("oldest", "invalid_ts_oldest")?,
            latest: bound("latest", "invalid_ts_latest")?,
            inclusive: a.flag("inclusive"),
        })
    }

    fn contains(&self, ts: (u64, u32)) -> bool {
        let after = self.oldest.is_none_or(|o| ts > o || (self.inclusive && ts == o));
        let before = self.latest.is_none_or(|l| ts < l || (self.inclusive && ts == l));
        after && before
    }
}

/// `limit`: `default` when absent, unparsable or 0; at most `max`.
fn page_limit(a: &Args, default: usize, max: usize) -> usize {
    match a.str("limit").and_then(|l| l.trim().parse::<usize>().ok()) {
        None | Some(0) => default,
        Some(n) => n.min(max),
    }
}

/// One page of `items` (in listing order) from the `cursor` on: `(page, next_cursor)`,
/// `next_cursor` empty on the last page. `ahead(a, b)`: whether `a` lists before `b`.
fn paginate<'a>(
    items: Vec<&'a Msg>,
    a: &Args,
    limit: usize,
    ahead: impl Fn((u64, u32), (u64, u32)) -> bool,
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

fn blocks_or_null(blocks: Option<Value>) -> Value {
    match blocks {
        Some(Value::Array(b)) if !b.is_empty() => Value::Array(b),
        _ => Value::Null,
    }
}

impl World {
    fn new(token: &str, base_url: String) -> World {
        let mut users = BTreeMap::new();
        users.insert(
            SlackStandIn::BOT_USER.to_string(),
            User {
                id: SlackStandIn::BOT_USER.to_string(),
                name: SlackStandIn::BOT_NAME.to_string(),
                real_name: "Handoff Bridge".to_string(),
                is_admin: false,
                is_owner: false,
                is_bot: true,
            },
        );
        World {
            token: token.to_string(),
            base_url,
            calls: Vec::new(),
            next_seq: 0,
            taken: 0,
            faults: HashMap::new(),
            channels: BTreeMap::new(),
            users,
            messages: HashMap::new(),
            ephemerals: Vec::new(),
            dms: BTreeMap::new(),
            mpims: BTreeMap::new(),
            views: Vec::new(),
            triggers_used: HashSet::new(),
            hooks: HashMap::new(),
            next_id: 0,
        }
    }

    fn new_id(&mut self, prefix: char) -> String {
        self.next_id += 1;
        format!("{prefix}0S{:07}", self.next_id)
    }

    fn dispatch(&mut self, method: &str, a: &Args) -> Reply {
        match method {
            "auth.test" => Ok(self.auth_test()),
            "chat.postMessage" => self.post_message(a),
            "chat.update" => self.update_message(a),
            "chat.postEphemeral" => self.post_ephemeral(a),
            "chat.getPermalink" => self.permalink(a),
            "conversations.open" => self.open_conversation(a),
            "conversations.info" => self.conversation_info(a),
            "conversations.history" => self.conversation_history(a),
            "conversations.replies" => self.conversation_replies(a),
            "views.open" => self.open_view(a),
            "views.update" => self.update_view(a),
            "reactions.add" => self.add_reaction(a),
            "users.info" => self.user_info(a),
            _ => Err(api_error("unknown_method")),
        }
    }

    fn auth_test(&self) -> Value {
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

    /// A channel by id (or by name, with or without `#`).
    fn channel_id(&self, raw: Option<String>) -> Result<String, Value> {
        let raw = raw
            .filter(|s| !s.trim().is_empty())
            .ok_or_else(|| api_error("channel_not_found"))?;
        if self.channels.contains_key(&raw) {
            return Ok(raw);
        }
        let name = raw.trim_start_matches('#');
        self.channels
            .values()
            .find(|c| c.name == name && c.im_user.is_none())
            .map(|c| c.id.clone())
            .ok_or_else(|| api_error("channel_not_found"))
    }

    /// A channel the bot may post in. A user id posts to the bot's DM with that user,
    /// as Slack does.
    fn postable_channel(&mut self, raw: Option<String>) -> Result<String, Value> {
        if let Some(user) = raw.as_deref()
            && (user.starts_with('U') || user.starts_with('W'))
            && self.users.get(user).is_some_and(|u| !u.is_bot)
        {
            return Ok(self.open_dm(user).0);
        }
        let id = self.channel_id(raw)?;
        if !self.channels[&id].is_member {
            return Err(api_error("not_in_channel"));
        }
        Ok(id)
    }

    fn member_channel(&self, raw: Option<String>) -> Result<String, Value> {
        let id = self.channel_id(raw)?;
        if !self.channels[&id].is_member {
            return Err(api_error("not_in_channel"));
        }
        Ok(id)
    }

    /// The root of the thread `thread_ts` names (a reply's ts names its thread, as in
    /// Slack); `None` if there is no such message.
    fn thread_root(&self, channel: &str, thread_ts: Option<String>) -> Option<String> {
        let t = thread_ts.filter(|t| !t.trim().is_empty())?;
        let m = self.messages.get(channel)?.get(&t)?;
        Some(m.thread_ts.clone().unwrap_or(t))
    }

    fn bot_message(ts: String, thread_ts: Option<String>, text: String, blocks: Value) -> Msg {
        Msg {
            ts,
            thread_ts,
            user: SlackStandIn::BOT_USER.to_string(),
            bot_id: Some(SlackStandIn::BOT_ID.to_string()),
            text,
            blocks,
            reactions: Vec::new(),
            edited: None,
            metadata: None,
            subtype: None,
        }
    }

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
    fn message_json(&self, channel: &str, m: &Msg) -> Value {
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
            let replies: Vec<&Msg> = self
                .messages
                .get(channel)
                .map(|ms| ms.values().filter(|r| r.thread_ts.as_deref() == Some(&m.ts)).collect())
                .unwrap_or_default();
            if let Some(latest) = replies.last() {
                let mut users: Vec<&str> = Vec::new();
                for r in &replies {
                    if !users.contains(&r.user.as_str()) {
                        users.push(&r.user);
                    }
                }
                v["thread_ts"] = json!(m.ts);
                v["reply_count"] = json!(replies.len());
                v["reply_users_count"] = json!(users.len());
                v["reply_users"] = json!(users);
                v["latest_reply"] = json!(latest.ts);
            }
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
        // Slack shows metadata in API answers and payloads; `conversations.history` and
        // `conversations.replies` only with `include_all_metadata` (see `listed`).
        if let Some(metadata) = &m.metadata {
            v["metadata"] = metadata.clone();
        }
        v
    }

    /// A message as `conversations.history` / `conversations.replies` list it.
    fn listed(&self, channel: &str, m: &Msg, include_metadata: bool) -> Value {
        let mut v = self.message_json(channel, m);
        if !include_metadata && let Value::Object(o) = &mut v {
            o.remove("metadata");
        }
        v
    }

    fn post_message(&mut self, a: &Args) -> Reply {
        let channel = self.postable_channel(a.str("channel"))?;
        let content = message_content(a)?;
        let metadata = message_metadata(a)?;
        // An unknown thread_ts posts to the channel itself.
        let thread_ts = self.thread_root(&channel, a.str("thread_ts"));
        let broadcast = thread_ts.is_some() && a.flag("reply_broadcast");
        let ts = next_ts();
        let mut msg = Self::bot_message(
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

    fn update_message(&mut self, a: &Args) -> Reply {
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

    fn post_ephemeral(&mut self, a: &Args) -> Reply {
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

    fn permalink(&mut self, a: &Args) -> Reply {
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

    /// The bot's DM channel with `user`, created on first use; `(id, already_open)`.
    fn open_dm(&mut self, user: &str) -> (String, bool) {
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

    fn open_conversation(&mut self, a: &Args) -> Reply {
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

    fn conversation_info(&mut self, a: &Args) -> Reply {
        let id = self.channel_id(a.str("channel"))?;
        Ok(json!({"channel": self.channel_json(&id)}))
    }

    /// A conversation the bot may read: by id only (`channel_not_found` otherwise), and one
    /// it is a member of (`not_in_channel`).
    fn readable_channel(&self, raw: Option<String>) -> Result<String, Value> {
        let id = raw
            .map(|s| s.trim().to_string())
            .filter(|id| self.channels.contains_key(id))
            .ok_or_else(|| api_error("channel_not_found"))?;
        if !self.channels[&id].is_member {
            return Err(api_error("not_in_channel"));
        }
        Ok(id)
    }

    /// `conversations.history`: the channel's top-level messages (and replies broadcast to
    /// it), newest first, within `oldest`/`latest` (exclusive unless `inclusive`), `limit`
    /// (default 100, at most 999) a page, continued with `cursor`. Metadata only with
    /// `include_all_metadata`.
    fn conversation_history(&mut self, a: &Args) -> Reply {
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
    fn conversation_replies(&mut self, a: &Args) -> Reply {
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

    fn add_reaction(&mut self, a: &Args) -> Reply {
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

    fn user_info(&mut self, a: &Args) -> Reply {
        let id = a.non_empty("user").ok_or_else(|| api_error("user_not_found"))?;
        let u = self.users.get(&id).ok_or_else(|| api_error("user_not_found"))?;
        Ok(json!({"user": {
            "id": u.id, "team_id": SlackStandIn::TEAM, "name": u.name, "deleted": false,
            "color": "9f69e7", "real_name": u.real_name, "tz": "Europe/London",
            "tz_label": "Greenwich Mean Time", "tz_offset": 0,
            "is_admin": u.is_admin, "is_owner": u.is_owner, "is_primary_owner": u.is_owner,
            "is_restricted": false, "is_ultra_restricted": false, "is_bot": u.is_bot,
            "is_app_user": false, "updated": 1_700_000_000, "has_2fa": false,
            "profile": {
                "real_name": u.real_name, "real_name_normalized": u.real_name,
                "display_name": u.name, "display_name_normalized": u.name,
                "team": SlackStandIn::TEAM
            }
        }}))
    }

    /// The view as Slack returns it: `view` plus the fields Slack adds.
    fn stateful_view(view: Value, id: &str, root: &str) -> Value {
        let mut v = match view {
            Value::Object(m) => m,
            _ => Map::new(),
        };
        let hash = format!("{}.{:08x}", unix_now(), rand::random::<u32>());
        let fixed = [
            ("id", json!(id)),
            ("team_id", json!(SlackStandIn::TEAM)),
            ("state", json!({"values": {}})),
            ("hash", json!(hash)),
            ("previous_view_id", Value::Null),
            ("root_view_id", json!(root)),
            ("app_id", json!(SlackStandIn::APP_ID)),
            ("app_installed_team_id", json!(SlackStandIn::TEAM)),
            ("bot_id", json!(SlackStandIn::BOT_ID)),
        ];
        for (k, val) in fixed {
            v.insert(k.to_string(), val);
        }
        let defaults = [
            ("private_metadata", json!("")),
            ("callback_id", json!("")),
            ("external_id", json!("")),
            ("clear_on_close", json!(false)),
            ("notify_on_close", json!(false)),
            ("close", Value::Null),
            ("submit", Value::Null),
        ];
        for (k, val) in defaults {
            v.entry(k.to_string()).or_insert(val);
        }
        Value::Object(v)
    }

    /// The `view` argument, parsed and checked against the modal limits.
    fn checked_view(a: &Args) -> Result<Value, Value> {
        let view = match a.json("view") {
            Ok(Some(v)) => v,
            Ok(None) => {
                return Err(validation_error(
                    "invalid_arguments",
                    &["missing required field: view".to_string()],
                ));
            }
            Err(()) => return Err(validation_error("invalid_arguments", &["invalid `view`".to_string()])),
        };
        let problems = validate_view(&view);
        if !problems.is_empty() {
            return Err(validation_error("invalid_arguments", &problems));
        }
        Ok(view)
    }

    fn open_view(&mut self, a: &Args) -> Reply {
        let trigger_id = a
            .non_empty("trigger_id")
            .ok_or_else(|| validation_error("invalid_arguments", &["invalid `trigger_id`".to_string()]))?;
        if self.triggers_used.contains(&trigger_id) {
            return Err(api_error("exchanged_trigger_id"));
        }
        let view = Self::checked_view(a)?;
        let id = self.new_id('V');
        let stored = Self::stateful_view(view, &id, &id);
        self.triggers_used.insert(trigger_id.clone());
        self.views.push(OpenedView {
            trigger_id,
            view_id: id,
            view: stored.clone(),
        });
        Ok(json!({"view": stored}))
    }

    fn update_view(&mut self, a: &Args) -> Reply {
        let view_id = a.non_empty("view_id");
        let external_id = a.non_empty("external_id");
        let idx = self
            .views
            .iter()
            .position(|v| {
                view_id.as_deref() == Some(v.view_id.as_str())
                    || (external_id.is_some() && external_id.as_deref() == v.view["external_id"].as_str())
            })
            .ok_or_else(|| api_error("not_found"))?;
        if let Some(hash) = a.non_empty("hash")
            && self.views[idx].view["hash"].as_str() != Some(hash.as_str())
        {
            return Err(api_error("hash_conflict"));
        }
        let view = Self::checked_view(a)?;
        let id = self.views[idx].view_id.clone();
        let root = self.views[idx].view["root_view_id"].as_str().unwrap_or(&id).to_string();
        let stored = Self::stateful_view(view, &id, &root);
        self.views[idx].view = stored.clone();
        Ok(json!({"view": stored}))
    }

    fn new_hook(&mut self, kind: &str, channel: &str, user: &str, message_ts: Option<&str>) -> String {
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
    fn respond(&mut self, id: &str, body: &Value) -> (u16, Value) {
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
            let problems = if b.is_array() {
                validate_blocks(b, "/blocks", MAX_MESSAGE_BLOCKS)
            } else {
                vec!["must be an array [json-pointer:/blocks]".to_string()]
            };
            if !problems.is_empty() {
                return (400, validation_error("invalid_blocks", &problems));
            }
        }
        let text = str_field(body, "text");
        let original = hook
            .message_ts
            .as_ref()
            .filter(|ts| self.messages.get(&hook.channel).is_some_and(|ms| ms.contains_key(*ts)));
        if body["delete_original"].as_bool() == Some(true) {
            if let Some(ts) = original
                && let Some(ms) = self.messages.get_mut(&hook.channel)
            {
                ms.remove(ts);
            }
            return (200, json!({"ok": true}));
        }
        if body["replace_original"].as_bool() == Some(true) {
            let Some(ts) = original else {
                return (404, api_error("message_not_found"));
            };
            let edit_ts = next_ts();
            if let Some(m) = self.messages.get_mut(&hook.channel).and_then(|ms| ms.get_mut(ts)) {
                m.text = text;
                m.blocks = blocks_or_null(blocks);
                m.edited = Some((SlackStandIn::BOT_USER.to_string(), edit_ts));
            }
            return (200, json!({"ok": true}));
        }
        let thread_ts = body["thread_ts"].as_str().map(str::to_string).or(hook.thread_ts);
        if body["response_type"].as_str() == Some("in_channel") {
            let ts = next_ts();
            let thread_ts = self.thread_root(&hook.channel, thread_ts);
            let msg = Self::bot_message(ts.clone(), thread_ts, text, blocks_or_null(blocks));
            self.messages.entry(hook.channel).or_default().insert(ts, msg);
        } else {
            self.ephemerals.push(Ephemeral {
                channel: hook.channel,
                user: hook.user,
                text,
                blocks: blocks_or_null(blocks),
                thread_ts,
            });
        }
        (200, json!({"ok": true}))
    }
}

// ---------------------------------------------------------------------------------------
// Block Kit validation (https://api.slack.com/reference/block-kit): Slack's documented
// limits, reported as Slack does: "<problem> [json-pointer:<where>]".

/// Collects validation problems.
#[derive(Default)]
struct Problems(Vec<String>);

impl Problems {
    fn add(&mut self, problem: impl std::fmt::Display, ptr: &str) {
        self.0.push(format!("{problem} [json-pointer:{ptr}]"));
    }

    /// A string field of at most `max` characters, if present.
    fn max_len(&mut self, obj: &Value, key: &str, max: usize, ptr: &str) {
        if let Some(s) = obj.get(key).and_then(Value::as_str)
            && s.chars().count() > max
        {
            self.add(
                format!("must be less than {} characters", max + 1),
                &format!("{ptr}/{key}"),
            );
        }
    }

    /// An array field of at most `max` items, if present.
    fn max_items(&mut self, obj: &Value, key: &str, max: usize, ptr: &str) {
        if let Some(items) = obj.get(key).and_then(Value::as_array)
            && items.len() > max
        {
            self.add(format!("must be less than {} items", max + 1), &format!("{ptr}/{key}"));
        }
    }
}

/// A text object: `plain_text` (or `mrkdwn` unless `plain_only`), 1 to `max` characters.
fn check_text(t: &Value, ptr: &str, max: usize, plain_only: bool, p: &mut Problems) {
    if !t.is_object() {
        p.add("must be a text object", ptr);
        return;
    }
    match t["type"].as_str() {
        Some("plain_text") => {}
        Some("mrkdwn") if !plain_only => {}
        Some("mrkdwn") => p.add("must be plain_text", &format!("{ptr}/type")),
        _ => p.add("must be one of plain_text or mrkdwn", &format!("{ptr}/type")),
    }
    match t["text"].as_str() {
        None => p.add("missing required field: text", ptr),
        Some("") => p.add("must be more than 0 characters", &format!("{ptr}/text")),
        Some(s) if s.chars().count() > max => p.add(
            format!("must be less than {} characters", max + 1),
            &format!("{ptr}/text"),
        ),
        Some(_) => {}
    }
}

/// An optional text object field.
fn check_text_field(obj: &Value, key: &str, max: usize, plain_only: bool, ptr: &str, p: &mut Problems) {
    if let Some(t) = obj.get(key).filter(|t| !t.is_null()) {
        check_text(t, &format!("{ptr}/{key}"), max, plain_only, p);
    }
}

/// A required text object field.
fn require_text_field(obj: &Value, key: &str, max: usize, plain_only: bool, ptr: &str, p: &mut Problems) {
    match obj.get(key).filter(|t| !t.is_null()) {
        Some(t) => check_text(t, &format!("{ptr}/{key}"), max, plain_only, p),
        None => p.add(format!("missing required field: {key}"), ptr),
    }
}

/// Options of a select, overflow, checkboxes or radio buttons.
fn check_options(el: &Value, max: usize, ptr: &str, p: &mut Problems) {
    p.max_items(el, "options", max, ptr);
    for (i, o) in el["options"].as_array().into_iter().flatten().enumerate() {
        let optr = format!("{ptr}/options/{i}");
        require_text_field(o, "text", 75, false, &optr, p);
        p.max_len(o, "value", 150, &optr);
        check_text_field(o, "description", 75, false, &optr, p);
    }
    p.max_items(el, "option_groups", 100, ptr);
}

const SELECTS: &[&str] = &[
    "static_select",
    "external_select",
    "users_select",
    "conversations_select",
    "channels_select",
    "multi_static_select",
    "multi_external_select",
    "multi_users_select",
    "multi_conversations_select",
    "multi_channels_select",
];

const OTHER_ELEMENTS: &[&str] = &[
    "datepicker",
    "timepicker",
    "datetimepicker",
    "plain_text_input",
    "email_text_input",
    "url_text_input",
    "number_input",
    "rich_text_input",
    "file_input",
    "workflow_button",
];

/// An interactive element (or an image, where `images_ok`).
fn check_element(el: &Value, ptr: &str, images_ok: bool, p: &mut Problems) {
    let Some(kind) = el["type"].as_str() else {
        p.add("missing required field: type", ptr);
        return;
    };
    p.max_len(el, "action_id", 255, ptr);
    match kind {
        "button" => {
            require_text_field(el, "text", 75, true, ptr, p);
            p.max_len(el, "value", 2000, ptr);
            p.max_len(el, "url", 3000, ptr);
            if let Some(style) = el.get("style").and_then(Value::as_str)
                && style != "primary"
                && style != "danger"
            {
                p.add("must be one of primary or danger", &format!("{ptr}/style"));
            }
        }
        k if SELECTS.contains(&k) => {
            check_text_field(el, "placeholder", 150, true, ptr, p);
            check_options(el, 100, ptr, p);
        }
        "overflow" => check_options(el, 5, ptr, p),
        "checkboxes" | "radio_buttons" => check_options(el, 10, ptr, p),
        k if OTHER_ELEMENTS.contains(&k) => {
            check_text_field(el, "placeholder", 150, true, ptr, p);
            if let Some(n) = el["max_length"].as_u64()
                && n > 3000
            {
                p.add("must be less than 3001", &format!("{ptr}/max_length"));
            }
        }
        "image" if images_ok => check_image(el, ptr, p),
        other => p.add(format!("unsupported element type `{other}`"), &format!("{ptr}/type")),
    }
}

/// An image block or image element.
fn check_image(el: &Value, ptr: &str, p: &mut Problems) {
    if el.get("image_url").is_none() && el.get("slack_file").is_none() {
        p.add("missing required field: image_url", ptr);
    }
    p.max_len(el, "image_url", 3000, ptr);
    match el["alt_text"].as_str() {
        None => p.add("missing required field: alt_text", ptr),
        Some(_) => p.max_len(el, "alt_text", 2000, ptr),
    }
}

fn check_section(b: &Value, ptr: &str, p: &mut Problems) {
    let has_text = b.get("text").is_some_and(|t| !t.is_null());
    let has_fields = b.get("fields").is_some_and(|f| !f.is_null());
    if !has_text && !has_fields {
        p.add("must provide either text or fields", ptr);
    }
    check_text_field(b, "text", 3000, false, ptr, p);
    if let Some(fields) = b.get("fields").and_then(Value::as_array) {
        p.max_items(b, "fields", 10, ptr);
        for (i, f) in fields.iter().enumerate() {
            check_text(f, &format!("{ptr}/fields/{i}"), 2000, false, p);
        }
    }
    if let Some(acc) = b.get("accessory").filter(|a| !a.is_null()) {
        check_element(acc, &format!("{ptr}/accessory"), true, p);
    }
}

/// The `elements` array of an actions or context block: 1 to `max` items.
fn elements<'a>(b: &'a Value, max: usize, ptr: &str, p: &mut Problems) -> &'a [Value] {
    match b["elements"].as_array() {
        None => {
            p.add("missing required field: elements", ptr);
            &[]
        }
        Some(items) if items.is_empty() => {
            p.add("must be more than 0 items", &format!("{ptr}/elements"));
            items
        }
        Some(items) => {
            p.max_items(b, "elements", max, ptr);
            items
        }
    }
}

fn check_actions(b: &Value, ptr: &str, p: &mut Problems) {
    let mut action_ids = HashSet::new();
    for (i, el) in elements(b, 25, ptr, p).iter().enumerate() {
        let eptr = format!("{ptr}/elements/{i}");
        check_element(el, &eptr, false, p);
        if let Some(id) = el["action_id"].as_str()
            && !action_ids.insert(id)
        {
            p.add(format!("duplicate action_id `{id}`"), &format!("{eptr}/action_id"));
        }
    }
}

fn check_context(b: &Value, ptr: &str, p: &mut Problems) {
    for (i, el) in elements(b, 10, ptr, p).iter().enumerate() {
        let eptr = format!("{ptr}/elements/{i}");
        match el["type"].as_str() {
            Some("image") => check_image(el, &eptr, p),
            _ => check_text(el, &eptr, 3000, false, p),
        }
    }
}

fn check_input(b: &Value, ptr: &str, p: &mut Problems) {
    require_text_field(b, "label", 2000, true, ptr, p);
    check_text_field(b, "hint", 2000, true, ptr, p);
    match b.get("element").filter(|e| !e.is_null()) {
        Some(el) => check_element(el, &format!("{ptr}/element"), false, p),
        None => p.add("missing required field: element", ptr),
    }
}

/// One block; `block_ids` collects the ids seen so far (they must be unique).
fn check_block<'a>(b: &'a Value, ptr: &str, block_ids: &mut HashSet<&'a str>, p: &mut Problems) {
    if !b.is_object() {
        p.add("must be an object", ptr);
        return;
    }
    p.max_len(b, "block_id", 255, ptr);
    if let Some(id) = b["block_id"].as_str()
        && !block_ids.insert(id)
    {
        p.add(format!("duplicate block_id `{id}`"), &format!("{ptr}/block_id"));
    }
    match b["type"].as_str() {
        None => p.add("missing required field: type", ptr),
        Some("section") => check_section(b, ptr, p),
        Some("header") => require_text_field(b, "text", 150, true, ptr, p),
        Some("actions") => check_actions(b, ptr, p),
        Some("context") => check_context(b, ptr, p),
        Some("input") => check_input(b, ptr, p),
        Some("image") => {
            check_image(b, ptr, p);
            check_text_field(b, "title", 2000, true, ptr, p);
        }
        Some("rich_text") => {
            if !b["elements"].is_array() {
                p.add("missing required field: elements", ptr);
            }
        }
        Some("markdown") => p.max_len(b, "text", 12_000, ptr),
        Some("divider" | "file" | "video" | "table") => {}
        Some(other) => p.add(format!("unsupported block type `{other}`"), &format!("{ptr}/type")),
    }
}

/// A blocks array of at most `max` blocks; returns the problems found.
fn validate_blocks(blocks: &Value, ptr: &str, max: usize) -> Vec<String> {
    let mut p = Problems::default();
    let Some(items) = blocks.as_array() else {
        p.add("must be an array", ptr);
        return p.0;
    };
    if items.len() > max {
        p.add(format!("must be less than {} items", max + 1), ptr);
    }
    let mut block_ids = HashSet::new();
    for (i, b) in items.iter().enumerate() {
        check_block(b, &format!("{ptr}/{i}"), &mut block_ids, &mut p);
    }
    p.0
}

/// A modal view for `views.open` / `views.update`; returns the problems found.
fn validate_view(view: &Value) -> Vec<String> {
    let ptr = "/view";
    let mut p = Problems::default();
    if !view.is_object() {
        p.add("must be an object", ptr);
        return p.0;
    }
    if view["type"].as_str() != Some("modal") {
        p.add("must be modal", "/view/type");
    }
    require_text_field(view, "title", 24, true, ptr, &mut p);
    check_text_field(view, "submit", 24, true, ptr, &mut p);
    check_text_field(view, "close", 24, true, ptr, &mut p);
    p.max_len(view, "private_metadata", 3000, ptr);
    p.max_len(view, "callback_id", 255, ptr);
    p.max_len(view, "external_id", 255, ptr);
    match view.get("blocks") {
        Some(blocks) => p.0.extend(validate_blocks(blocks, "/view/blocks", MAX_VIEW_BLOCKS)),
        None => p.add("missing required field: blocks", ptr),
    }
    let has_input = view["blocks"]
        .as_array()
        .is_some_and(|bs| bs.iter().any(|b| b["type"] == "input"));
    if has_input && view.get("submit").is_none_or(Value::is_null) {
        p.add(
            "missing required field: submit (a modal with input blocks needs one)",
            ptr,
        );
    }
    p.0
}

// ---------------------------------------------------------------------------------------
// The signed client that plays Slack towards the bridge

/// `v0=<hex HMAC-SHA256(secret, "v0:{timestamp}:{body}")>`, Slack's request signature.
pub fn slack_signature(secret: &str, timestamp: i64, body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC accepts any key length");
    mac.update(format!("v0:{timestamp}:").as_bytes());
    mac.update(body.as_bytes());
    format!("v0={}", hex::encode(mac.finalize().into_bytes()))
}

/// The `channel_type` of a message event in `channel`.
fn channel_type(channel: &str) -> &'static str {
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

/// Sends Slack's requests to the bridge: Events API, interactivity and slash commands,
/// shaped as Slack sends them and signed with the signing secret.
#[derive(Debug, Clone)]
pub struct SlackSender {
    base_url: String,
    secret: String,
    http: reqwest::Client,
    stand_in: Option<SlackStandIn>,
}

impl SlackSender {
    /// A sender towards the bridge at `bridge_base_url` (e.g. `http://127.0.0.1:PORT`).
    /// Without [`Self::with_stand_in`], names are derived from ids and `response_url`s
    /// point at an unreachable local port.
    pub fn new(bridge_base_url: &str, signing_secret: &str) -> Self {
        SlackSender {
            base_url: bridge_base_url.trim_end_matches('/').to_string(),
            secret: signing_secret.to_string(),
            http: reqwest::Client::new(),
            stand_in: None,
        }
    }

    /// Takes user and channel names from the stand-in's directory, and hands out
    /// `response_url`s the stand-in serves. (The sender then holds a handle on the
    /// stand-in: it keeps serving while the sender lives.)
    pub fn with_stand_in(mut self, stand_in: &SlackStandIn) -> Self {
        self.stand_in = Some(stand_in.clone());
        self
    }

    fn user_name(&self, user: &str) -> String {
        self.stand_in
            .as_ref()
            .and_then(|s| s.user_name(user))
            .unwrap_or_else(|| user.to_lowercase())
    }

    fn channel_name(&self, channel: &str) -> String {
        match channel_type(channel) {
            "im" => "directmessage".to_string(),
            _ => self
                .stand_in
                .as_ref()
                .and_then(|s| s.channel_name(channel))
                .unwrap_or_else(|| channel.to_lowercase()),
        }
    }

    fn response_url(&self, kind: &str, channel: &str, user: &str, message_ts: Option<&str>) -> String {
        match &self.stand_in {
            Some(s) => s.response_url(kind, channel, user, message_ts),
            None => format!(
                "http://127.0.0.1:9/hooks/{kind}/{}{:016x}",
                counter(),
                rand::random::<u64>()
            ),
        }
    }

    fn slack_user(&self, user: &str) -> Value {
        let name = self.user_name(user);
        json!({"id": user, "username": name, "name": name, "team_id": SlackStandIn::TEAM})
    }

    fn team() -> Value {
        json!({"id": SlackStandIn::TEAM, "domain": SlackStandIn::TEAM_DOMAIN})
    }

    /// The `event_callback` envelope Slack wraps around `event`.
    pub fn event_envelope(event_id: &str, event: Value) -> Value {
        let context = json!({"et": event["type"], "tid": SlackStandIn::TEAM, "aid": SlackStandIn::APP_ID,
                             "cid": event["channel"]});
        json!({
            "token": SlackStandIn::VERIFICATION_TOKEN,
            "team_id": SlackStandIn::TEAM,
            "context_team_id": SlackStandIn::TEAM,
            "context_enterprise_id": null,
            "api_app_id": SlackStandIn::APP_ID,
            "event": event,
            "type": "event_callback",
            "event_id": event_id,
            "event_time": unix_now(),
            "authorizations": [{
                "enterprise_id": null,
                "team_id": SlackStandIn::TEAM,
                "user_id": SlackStandIn::BOT_USER,
                "is_bot": true,
                "is_enterprise_install": false
            }],
            "is_ext_shared_channel": false,
            "event_context": format!("4-{}", hex::encode(context.to_string()))
        })
    }

    /// POST `{bridge}/slack/events`: `event` in an `event_callback` envelope, signed now.
    pub async fn event(&self, event_id: &str, event: Value) -> reqwest::Response {
        let body = Self::event_envelope(event_id, event).to_string();
        self.post("/slack/events", "application/json", body, &[]).await
    }

    /// The same delivery again, as Slack retries it: `X-Slack-Retry-Num: retry_num` and
    /// `X-Slack-Retry-Reason: http_timeout`.
    pub async fn event_retry(&self, event_id: &str, event: Value, retry_num: u32) -> reqwest::Response {
        let body = Self::event_envelope(event_id, event).to_string();
        let headers = [
            ("x-slack-retry-num", retry_num.to_string()),
            ("x-slack-retry-reason", "http_timeout".to_string()),
        ];
        self.post("/slack/events", "application/json", body, &headers).await
    }

    /// POST `{bridge}/slack/events`: the `url_verification` handshake.
    pub async fn url_verification(&self, challenge: &str) -> reqwest::Response {
        let body = json!({
            "token": SlackStandIn::VERIFICATION_TOKEN,
            "challenge": challenge,
            "type": "url_verification"
        })
        .to_string();
        self.post("/slack/events", "application/json", body, &[]).await
    }

    /// The `block_actions` payload of a button click on `message` (the message as the
    /// stand-in holds it, see [`SlackStandIn::message_json`]). The button is looked up in
    /// the message's blocks for its `block_id`, text and style.
    pub fn block_action_payload(
        &self,
        user: &str,
        channel: &str,
        message_ts: &str,
        message: Value,
        action_id: &str,
        value: &str,
    ) -> Value {
        let (block_id, button) = find_action(&message, action_id)
            .unwrap_or_else(|| (format!("{:05x}", rand::random::<u32>() & 0xfffff), Value::Null));
        let text = button
            .get("text")
            .cloned()
            .unwrap_or_else(|| json!({"type": "plain_text", "text": action_id, "emoji": true}));
        let mut action = json!({
            "action_id": action_id,
            "block_id": block_id,
            "text": text,
            "value": value,
            "type": "button",
            "action_ts": next_ts()
        });
        if let Some(style) = button.get("style") {
            action["style"] = style.clone();
        }
        json!({
            "type": "block_actions",
            "user": self.slack_user(user),
            "api_app_id": SlackStandIn::APP_ID,
            "token": SlackStandIn::VERIFICATION_TOKEN,
            "container": {"type": "message", "message_ts": message_ts, "channel_id": channel, "is_ephemeral": false},
            "trigger_id": new_trigger_id(),
            "team": Self::team(),
            "enterprise": null,
            "is_enterprise_install": false,
            "channel": {"id": channel, "name": self.channel_name(channel)},
            "message": message,
            "state": {"values": {}},
            "response_url": self.response_url("actions", channel, user, Some(message_ts)),
            "actions": [action]
        })
    }

    /// POST `{bridge}/slack/interactions`: a button click (see [`Self::block_action_payload`]).
    pub async fn block_action(
        &self,
        user: &str,
        channel: &str,
        message_ts: &str,
        message: Value,
        action_id: &str,
        value: &str,
    ) -> reqwest::Response {
        let payload = self.block_action_payload(user, channel, message_ts, message, action_id, value);
        self.interaction(&payload).await
    }

    /// The `view_submission` payload of `view` (as [`SlackStandIn::views`] holds it, or
    /// any modal JSON) submitted by `user` with `state.values = values`.
    pub fn view_submission_payload(&self, user: &str, view: Value, values: Value) -> Value {
        let id = view["id"]
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| format!("V0S{:07}", counter()));
        let mut view = World::stateful_view_keep(view, &id);
        view["state"] = json!({"values": values});
        json!({
            "type": "view_submission",
            "team": Self::team(),
            "user": self.slack_user(user),
            "api_app_id": SlackStandIn::APP_ID,
            "token": SlackStandIn::VERIFICATION_TOKEN,
            "trigger_id": new_trigger_id(),
            "view": view,
            "response_urls": [],
            "is_enterprise_install": false,
            "enterprise": null
        })
    }

    /// POST `{bridge}/slack/interactions`: a modal submitted (see [`Self::view_submission_payload`]).
    pub async fn view_submission(&self, user: &str, view: Value, values: Value) -> reqwest::Response {
        let payload = self.view_submission_payload(user, view, values);
        self.interaction(&payload).await
    }

    async fn interaction(&self, payload: &Value) -> reqwest::Response {
        let body = form_encode(&[("payload", &payload.to_string())]);
        self.post("/slack/interactions", "application/x-www-form-urlencoded", body, &[])
            .await
    }

    /// The form fields of `/handoff <text>` typed by `user` in `channel`, in Slack's order.
    pub fn command_fields(&self, user: &str, channel: &str, text: &str) -> Vec<(&'static str, String)> {
        vec![
            ("token", SlackStandIn::VERIFICATION_TOKEN.to_string()),
            ("team_id", SlackStandIn::TEAM.to_string()),
            ("team_domain", SlackStandIn::TEAM_DOMAIN.to_string()),
            ("channel_id", channel.to_string()),
            ("channel_name", self.channel_name(channel)),
            ("user_id", user.to_string()),
            ("user_name", self.user_name(user)),
            ("command", "/handoff".to_string()),
            ("text", text.to_string()),
            ("api_app_id", SlackStandIn::APP_ID.to_string()),
            ("is_enterprise_install", "false".to_string()),
            ("response_url", self.response_url("commands", channel, user, None)),
            ("trigger_id", new_trigger_id()),
        ]
    }

    /// POST `{bridge}/slack/commands`: `/handoff <text>`, form-encoded as Slack sends it.
    pub async fn command(&self, user: &str, channel: &str, text: &str) -> reqwest::Response {
        let fields = self.command_fields(user, channel, text);
        let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let body = form_encode(&pairs);
        self.post("/slack/commands", "application/x-www-form-urlencoded", body, &[])
            .await
    }

    /// Any body to any path, signed at `timestamp` with `secret` (for bad-signature and
    /// stale-timestamp tests).
    pub async fn send_raw(
        &self,
        path: &str,
        content_type: &str,
        body: String,
        timestamp: i64,
        secret: &str,
    ) -> reqwest::Response {
        self.send_signed(path, content_type, body, timestamp, secret, &[]).await
    }

    async fn post(&self, path: &str, content_type: &str, body: String, extra: &[(&str, String)]) -> reqwest::Response {
        self.send_signed(path, content_type, body, unix_now(), &self.secret, extra)
            .await
    }

    async fn send_signed(
        &self,
        path: &str,
        content_type: &str,
        body: String,
        timestamp: i64,
        secret: &str,
        extra: &[(&str, String)],
    ) -> reqwest::Response {
        let url = format!("{}{path}", self.base_url);
        let mut req = self
            .http
            .post(&url)
            .header(header::CONTENT_TYPE, content_type)
            .header("x-slack-request-timestamp", timestamp.to_string())
            .header("x-slack-signature", slack_signature(secret, timestamp, &body));
        for (k, v) in extra {
            req = req.header(*k, v);
        }
        req.body(body)
            .send()
            .await
            .unwrap_or_else(|e| panic!("slack sender: POST {url} failed: {e}"))
    }

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

impl World {
    /// Like [`World::stateful_view`] but keeps whatever Slack fields `view` already has.
    fn stateful_view_keep(view: Value, id: &str) -> Value {
        let filled = Self::stateful_view(Value::Object(Map::new()), id, id);
        let mut v = match view {
            Value::Object(m) => m,
            _ => Map::new(),
        };
        v.entry("type".to_string()).or_insert(json!("modal"));
        if let Value::Object(defaults) = filled {
            for (k, val) in defaults {
                v.entry(k).or_insert(val);
            }
        }
        Value::Object(v)
    }
}

/// The `(block_id, element)` of the element with `action_id` in a message's blocks
/// (actions blocks and section accessories).
fn find_action(message: &Value, action_id: &str) -> Option<(String, Value)> {
    for b in message["blocks"].as_array()? {
        let block_id = b["block_id"].as_str().unwrap_or_default().to_string();
        let candidates = b["elements"].as_array().into_iter().flatten().chain(b.get("accessory"));
        for el in candidates {
            if el["action_id"].as_str() == Some(action_id) {
                return Some((block_id, el.clone()));
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::Extension;
    use slack_morphism::errors::SlackClientError;
    use slack_morphism::prelude::*;

    const TOKEN: &str = "xoxb-stand-in-token";
    const SIGNING: &str = "stand-in-signing-secret";
    const CH: &str = "C0HANDOFF";

    fn client_for(slack: &SlackStandIn) -> SlackHyperClient {
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_webpki_roots()
            .https_or_http()
            .enable_http1()
            .build();
        SlackClient::new(SlackClientHyperConnector::with_connector(https).with_slack_api_url(&slack.api_url()))
    }

    async fn setup() -> SlackStandIn {
        let slack = SlackStandIn::start(TOKEN).await;
        slack.add_channel(CH, "handoffs", true);
        slack.add_channel("C0OUTSIDE", "random", false);
        slack.add_user("U0ADA", "ada", "Ada Lovelace", false, false);
        slack.add_user("U0GRACE", "grace", "Grace Hopper", true, true);
        slack.add_bot_user("U0OTHERBOT", "otherbot");
        slack
    }

    fn blocks(v: Value) -> Vec<SlackBlock> {
        serde_json::from_value(v).expect("blocks parse as slack-morphism blocks")
    }

    fn root_blocks() -> Vec<SlackBlock> {
        let accept = SlackBlockButtonElement::new(pt!("Accept"))
            .with_action_id("accept".into())
            .with_value("conv_42".into())
            .with_style(SlackBlockButtonStyle::Primary);
        let mut b = blocks(json!([
            {"type": "header", "text": {"type": "plain_text", "text": "Ada needs a human"}},
            {"type": "section", "block_id": "summary", "text": {"type": "mrkdwn", "text": "*Wants a refund*"},
             "fields": [{"type": "mrkdwn", "text": "*Status*\nUnassigned"}]},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": "widget `support`"}]},
            {"type": "divider"}
        ]));
        b.push(SlackBlock::Actions(
            SlackActionsBlock::new(vec![accept.into()]).with_block_id("root_actions".into()),
        ));
        b
    }

    fn methods(calls: &[SlackCall]) -> Vec<&str> {
        calls.iter().map(|c| c.method.as_str()).collect()
    }

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
    async fn slack_morphism_sees_slack_errors() {
        let slack = setup().await;
        let client = client_for(&slack);
        let token = SlackApiToken::new(TOKEN.into());
        let session = client.open_session(&token);
        let text = |t: &str| SlackMessageContent::new().with_text(t.into());

        let r = session
            .chat_post_message(&SlackApiChatPostMessageRequest::new("C0NOPE".into(), text("hi")))
            .await;
        assert!(matches!(r, Err(SlackClientError::ApiError(e)) if e.code == "channel_not_found"));

        let r = session
            .chat_post_message(&SlackApiChatPostMessageRequest::new("C0OUTSIDE".into(), text("hi")))
            .await;
        assert!(matches!(r, Err(SlackClientError::ApiError(e)) if e.code == "not_in_channel"));

        slack.rate_limit_next("chat.postMessage", 1, 7);
        let r = session
            .chat_post_message(&SlackApiChatPostMessageRequest::new(CH.into(), text("hi")))
            .await;
        match r {
            Err(SlackClientError::RateLimitError(e)) => {
                assert_eq!(e.retry_after, Some(Duration::from_secs(7)));
                assert_eq!(e.code.as_deref(), Some("ratelimited"));
            }
            other => panic!("expected a rate limit error, got {other:?}"),
        }

        let many: Vec<Value> = (0..51).map(|_| json!({"type": "divider"})).collect();
        let r = session
            .chat_post_message(&SlackApiChatPostMessageRequest::new(
                CH.into(),
                text("hi").with_blocks(blocks(Value::Array(many))),
            ))
            .await;
        match r {
            Err(SlackClientError::ApiError(e)) => {
                assert_eq!(e.code, "invalid_blocks");
                let errors = e.errors.unwrap_or_default();
                assert_eq!(errors, ["must be less than 51 items [json-pointer:/blocks]"]);
            }
            other => panic!("expected invalid_blocks, got {other:?}"),
        }

        let r = session
            .chat_post_message(&SlackApiChatPostMessageRequest::new(
                CH.into(),
                text(&"x".repeat(40_001)),
            ))
            .await;
        assert!(matches!(r, Err(SlackClientError::ApiError(e)) if e.code == "msg_too_long"));

        slack.fail_next("chat.update", 1, 503);
        let r = session
            .chat_update(&SlackApiChatUpdateRequest::new(CH.into(), text("x"), "1.000001".into()))
            .await;
        assert!(matches!(r, Err(SlackClientError::HttpError(e)) if e.status_code.as_u16() == 503));
        let r = session
            .chat_update(&SlackApiChatUpdateRequest::new(CH.into(), text("x"), "1.000001".into()))
            .await;
        assert!(matches!(r, Err(SlackClientError::ApiError(e)) if e.code == "message_not_found"));

        slack.error_next("users.info", 1, "fatal_error");
        let r = session.users_info(&SlackApiUsersInfoRequest::new("U0ADA".into())).await;
        assert!(matches!(r, Err(SlackClientError::ApiError(e)) if e.code == "fatal_error"));
        let r = session
            .users_info(&SlackApiUsersInfoRequest::new("U0NOBODY".into()))
            .await;
        assert!(matches!(r, Err(SlackClientError::ApiError(e)) if e.code == "user_not_found"));

        let r = session
            .conversations_open(&SlackApiConversationsOpenRequest::new().with_users(vec!["U0NOBODY".into()]))
            .await;
        assert!(matches!(r, Err(SlackClientError::ApiError(e)) if e.code == "user_not_found"));

        let long_title = SlackView::Modal(SlackModalView::new(pt!("A title far longer than 24 chars"), vec![]));
        let r = session
            .views_open(&SlackApiViewsOpenRequest::new("1.2.3".into(), long_title))
            .await;
        match r {
            Err(SlackClientError::ApiError(e)) => {
                assert_eq!(e.code, "invalid_arguments");
                assert_eq!(
                    e.errors.unwrap_or_default(),
                    ["must be less than 25 characters [json-pointer:/view/title/text]"]
                );
            }
            other => panic!("expected invalid_arguments, got {other:?}"),
        }

        let wrong = SlackApiToken::new("xoxb-wrong".into());
        let r = client.open_session(&wrong).auth_test().await;
        assert!(matches!(r, Err(SlackClientError::ApiError(e)) if e.code == "invalid_auth"));

        let calls = slack.take_calls();
        let statuses: Vec<u16> = calls.iter().map(|c| c.status).collect();
        assert_eq!(statuses, [200, 200, 429, 200, 200, 503, 200, 200, 200, 200, 200, 200]);
        assert!(!calls.last().unwrap().token_ok);
        assert!(
            slack.messages(CH).is_empty(),
            "refused and faulted calls change nothing"
        );
        slack.assert_all_seen();
    }

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
        let post_json = |method: &str, body: Value| {
            let req = http.post(format!("{api}/{method}")).bearer_auth(TOKEN).json(&body);
            async move { req.send().await.unwrap().json::<Value>().await.unwrap() }
        };
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
        let listed: Vec<&str> = h["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["ts"].as_str().unwrap())
            .collect();
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
        let listed: Vec<&str> = p1["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["ts"].as_str().unwrap())
            .collect();
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
        let listed: Vec<&str> = newer["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["ts"].as_str().unwrap())
            .collect();
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

    #[tokio::test]
    async fn form_get_auth_and_unknown_methods() {
        let slack = setup().await;
        let http = reqwest::Client::new();
        let api = slack.api_url();

        // Form-encoded, token as a parameter, blocks as a JSON string.
        let blocks = json!([{"type": "section", "text": {"type": "plain_text", "text": "hi & bye"}}]).to_string();
        let body = form_encode(&[
            ("token", TOKEN),
            ("channel", "#handoffs"),
            ("text", "hi & bye"),
            ("blocks", &blocks),
        ]);
        let r = http
            .post(format!("{api}/chat.postMessage"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert!(
            r.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("application/json")
        );
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["ok"], true, "{v}");
        assert_eq!(v["channel"], CH);
        assert_eq!(v["message"]["text"], "hi & bye");
        let ts = v["ts"].as_str().unwrap().to_string();

        // GET with query parameters and a bearer token.
        let r = http
            .get(format!("{api}/chat.getPermalink?channel={CH}&message_ts={ts}"))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap();
        let v: Value = r.json().await.unwrap();
        assert_eq!(
            v["permalink"],
            format!("{PERMALINK_BASE}/archives/{CH}/p{}", ts.replace('.', ""))
        );

        let r: Value = http
            .get(format!("{api}/auth.test"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(r, json!({"ok": false, "error": "not_authed"}));
        let r: Value = http
            .get(format!("{api}/auth.test?token=nope"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(r["error"], "invalid_auth");
        let r: Value = http
            .post(format!("{api}/chat.delete"))
            .bearer_auth(TOKEN)
            .json(&json!({}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(r["error"], "unknown_method");
        let r: Value = http
            .post(format!("{api}/chat.postMessage"))
            .bearer_auth(TOKEN)
            .json(&json!({"channel": CH}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(r["error"], "no_text");
        let r: Value = http
            .post(format!("{api}/reactions.add"))
            .bearer_auth(TOKEN)
            .json(&json!({"channel": CH, "timestamp": ts, "name": "eyes"}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(r, json!({"ok": true}));
        let r: Value = http
            .post(format!("{api}/reactions.add"))
            .bearer_auth(TOKEN)
            .json(&json!({"channel": CH, "timestamp": ts, "name": "eyes"}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(r["error"], "already_reacted");

        let calls = slack.take_calls();
        assert_eq!(calls[0].args["blocks"], blocks, "form fields are recorded as strings");
        assert_eq!(calls[0].args["token"], TOKEN);
        assert!(calls[0].token_ok);
        assert_eq!(calls.len(), 8);
        slack.assert_all_seen();
    }

    #[test]
    fn block_kit_limits() {
        let ok = json!([
            {"type": "section", "block_id": "a", "text": {"type": "mrkdwn", "text": "x"},
             "accessory": {"type": "button", "text": {"type": "plain_text", "text": "Go"}, "action_id": "go"}},
            {"type": "actions", "block_id": "b", "elements": [
                {"type": "button", "text": {"type": "plain_text", "text": "Accept"}, "action_id": "accept",
                 "value": "conv_42", "style": "primary"},
                {"type": "static_select", "action_id": "pick", "placeholder": {"type": "plain_text", "text": "Team"},
                 "options": [{"text": {"type": "plain_text", "text": "Billing"}, "value": "t1"}]}]},
            {"type": "rich_text", "elements": []},
            {"type": "image", "image_url": "https://example.com/a.png", "alt_text": "a"}
        ]);
        assert_eq!(validate_blocks(&ok, "/blocks", 50), Vec::<String>::new());

        let one = |b: Value| validate_blocks(&json!([b]), "/blocks", 50);
        let long = |n: usize| "x".repeat(n);
        let pt = |t: String| json!({"type": "plain_text", "text": t});
        let button =
            |text: String| json!({"type": "button", "text": {"type": "plain_text", "text": text}, "action_id": "a"});

        assert_eq!(
            one(json!({"type": "section", "text": {"type": "mrkdwn", "text": long(3001)}})),
            ["must be less than 3001 characters [json-pointer:/blocks/0/text/text]"]
        );
        assert!(one(json!({"type": "section", "text": {"type": "mrkdwn", "text": long(3000)}})).is_empty());
        let fields: Vec<Value> = (0..11).map(|_| json!({"type": "mrkdwn", "text": "f"})).collect();
        assert_eq!(
            one(json!({"type": "section", "fields": fields})),
            ["must be less than 11 items [json-pointer:/blocks/0/fields]"]
        );
        assert_eq!(
            one(json!({"type": "section", "fields": [{"type": "mrkdwn", "text": long(2001)}]})),
            ["must be less than 2001 characters [json-pointer:/blocks/0/fields/0/text]"]
        );
        assert_eq!(
            one(json!({"type": "header", "text": pt(long(151))})),
            ["must be less than 151 characters [json-pointer:/blocks/0/text/text]"]
        );
        assert_eq!(
            one(json!({"type": "header", "text": {"type": "mrkdwn", "text": "x"}})),
            ["must be plain_text [json-pointer:/blocks/0/text/type]"]
        );
        let ctx: Vec<Value> = (0..11).map(|_| json!({"type": "mrkdwn", "text": "c"})).collect();
        assert_eq!(
            one(json!({"type": "context", "elements": ctx})),
            ["must be less than 11 items [json-pointer:/blocks/0/elements]"]
        );
        let acts: Vec<Value> = (0..26)
            .map(|i| json!({"type": "button", "text": pt("b".into()), "action_id": format!("a{i}")}))
            .collect();
        assert_eq!(
            one(json!({"type": "actions", "elements": acts})),
            ["must be less than 26 items [json-pointer:/blocks/0/elements]"]
        );
        assert_eq!(
            one(json!({"type": "actions", "elements": [button(long(76))]})),
            ["must be less than 76 characters [json-pointer:/blocks/0/elements/0/text/text]"]
        );
        let mut b = button("ok".into());
        b["value"] = json!(long(2001));
        b["url"] = json!(long(3001));
        b["action_id"] = json!(long(256));
        assert_eq!(
            one(json!({"type": "actions", "elements": [b]})),
            [
                "must be less than 256 characters [json-pointer:/blocks/0/elements/0/action_id]",
                "must be less than 2001 characters [json-pointer:/blocks/0/elements/0/value]",
                "must be less than 3001 characters [json-pointer:/blocks/0/elements/0/url]"
            ]
        );
        assert_eq!(
            one(json!({"type": "divider", "block_id": long(256)})),
            ["must be less than 256 characters [json-pointer:/blocks/0/block_id]"]
        );
        assert_eq!(
            validate_blocks(
                &json!([{"type": "divider", "block_id": "x"}, {"type": "divider", "block_id": "x"}]),
                "/blocks",
                50
            ),
            ["duplicate block_id `x` [json-pointer:/blocks/1/block_id]"]
        );
        assert_eq!(
            one(json!({"type": "carousel"})),
            ["unsupported block type `carousel` [json-pointer:/blocks/0/type]"]
        );
        assert_eq!(
            one(json!({"text": "x"})),
            ["missing required field: type [json-pointer:/blocks/0]"]
        );
        assert_eq!(
            one(json!({"type": "section", "text": {"type": "mrkdwn", "text": ""}})),
            ["must be more than 0 characters [json-pointer:/blocks/0/text/text]"]
        );
        let dividers = Value::Array((0..100).map(|_| json!({"type": "divider"})).collect());
        assert_eq!(validate_blocks(&dividers, "/blocks", 50).len(), 1);
        assert!(validate_blocks(&dividers, "/view/blocks", 100).is_empty());

        let view = |extra: Value| {
            let mut v = json!({"type": "modal", "title": pt("Resolve".into()), "blocks": []});
            for (k, val) in extra.as_object().unwrap() {
                v[k] = val.clone();
            }
            validate_view(&v)
        };
        assert!(view(json!({})).is_empty());
        assert_eq!(
            view(json!({"title": pt(long(25))})),
            ["must be less than 25 characters [json-pointer:/view/title/text]"]
        );
        assert_eq!(
            view(json!({"submit": pt(long(25)), "close": pt(long(25))})),
            [
                "must be less than 25 characters [json-pointer:/view/submit/text]",
                "must be less than 25 characters [json-pointer:/view/close/text]"
            ]
        );
        assert_eq!(
            view(json!({"private_metadata": long(3001), "callback_id": long(256)})),
            [
                "must be less than 3001 characters [json-pointer:/view/private_metadata]",
                "must be less than 256 characters [json-pointer:/view/callback_id]"
            ]
        );
        let input = json!([{"type": "input", "label": pt("Topic".into()),
                            "element": {"type": "plain_text_input", "action_id": "topic"}}]);
        assert_eq!(
            view(json!({"blocks": input})),
            ["missing required field: submit (a modal with input blocks needs one) [json-pointer:/view]"]
        );
        assert!(view(json!({"blocks": input, "submit": pt("Resolve".into())})).is_empty());
        assert_eq!(view(json!({"blocks": dividers})).len(), 0);
        let too_many = Value::Array((0..101).map(|_| json!({"type": "divider"})).collect());
        assert_eq!(
            view(json!({"blocks": too_many})),
            ["must be less than 101 items [json-pointer:/view/blocks]"]
        );
    }

    #[test]
    fn form_encoding_round_trips() {
        let original = "payload={\"a\": \"b c&d=e+f%ü\"}";
        let encoded = form_encode(&[("k", original), ("empty", "")]);
        assert_eq!(
            parse_form(&encoded),
            [
                ("k".to_string(), original.to_string()),
                ("empty".to_string(), String::new())
            ]
        );
        assert_eq!(percent_decode("a%2"), "a%2");
    }

    #[test]
    fn history_cursors_and_timestamps() {
        // The cursor of Slack's own conversations.history example.
        let ts = (1_512_085_861, 543);
        assert_eq!(ts_cursor(ts), "bmV4dF90czoxNTEyMDg1ODYxMDAwNTQz");
        assert_eq!(parse_ts_cursor("bmV4dF90czoxNTEyMDg1ODYxMDAwNTQz"), Some(ts));
        for bytes in [&b""[..], b"a", b"ab", b"abc", b"abcd"] {
            assert_eq!(base64_decode(&base64_encode(bytes)).as_deref(), Some(bytes));
        }
        assert_eq!(base64_encode(b"user:U061NFTT2"), "dXNlcjpVMDYxTkZUVDI=");
        assert_eq!(parse_ts_cursor("dXNlcjpVMDYxTkZUVDI="), None);
        assert_eq!(parse_ts("1700000000.000100"), Some((1_700_000_000, 100)));
        assert_eq!(parse_ts("1700000000.5"), Some((1_700_000_000, 500_000)));
        assert_eq!(parse_ts("1700000000"), Some((1_700_000_000, 0)));
        assert_eq!(parse_ts("-1"), None);
        assert_eq!(parse_ts(".5"), None);
    }

    #[tokio::test]
    async fn sender_payloads_parse_as_slack_morphism_events() {
        let slack = setup().await;
        let sender = slack.sender("http://127.0.0.1:9", SIGNING);

        // Events API: a user's thread reply, the bridge's own echo, another bot, a legacy bot.
        let ev = slack.user_reply(CH, "U0ADA", "On it", "1700000000.000100");
        let parsed: SlackPushEvent = serde_json::from_value(SlackSender::event_envelope("Ev01", ev.clone())).unwrap();
        let SlackPushEvent::EventCallback(cb) = parsed else {
            panic!("not an event_callback")
        };
        assert_eq!(cb.event_id.0, "Ev01");
        assert_eq!(cb.team_id.0, SlackStandIn::TEAM);
        assert_eq!(cb.authorizations.unwrap()[0].user_id.0, SlackStandIn::BOT_USER);
        let SlackEventCallbackBody::Message(m) = cb.event else {
            panic!("the message event did not parse as a Message: {:?}", cb.event)
        };
        assert_eq!(m.sender.user.unwrap().0, "U0ADA");
        assert_eq!(m.origin.thread_ts.unwrap().0, "1700000000.000100");
        assert_eq!(m.origin.channel_type.unwrap().0, "channel");
        assert_eq!(m.content.as_ref().unwrap().text.as_deref(), Some("On it"));
        assert!(matches!(m.content.unwrap().blocks.unwrap()[0], SlackBlock::RichText(_)));
        assert!(m.subtype.is_none());
        assert_eq!(slack.message(CH, ev["ts"].as_str().unwrap()).unwrap().user, "U0ADA");

        for (event, bot) in [
            (
                SlackSender::bot_message(CH, SlackStandIn::BOT_ID, "echo", "1.1"),
                SlackStandIn::BOT_ID,
            ),
            (SlackSender::bot_message(CH, "B0OTHER", "hello", "1.1"), "B0OTHER"),
            (
                SlackSender::legacy_bot_message(CH, "B0HOOK", "webhook", "hi", "1.1"),
                "B0HOOK",
            ),
        ] {
            let parsed: SlackPushEvent = serde_json::from_value(SlackSender::event_envelope("Ev02", event)).unwrap();
            let SlackPushEvent::EventCallback(cb) = parsed else {
                panic!()
            };
            let SlackEventCallbackBody::Message(m) = cb.event else {
                panic!("a bot message did not parse as a Message: {:?}", cb.event)
            };
            assert_eq!(m.sender.bot_id.unwrap().0, bot);
        }
        let own = SlackSender::bot_message(CH, SlackStandIn::BOT_ID, "echo", "1.1");
        assert_eq!(own["user"], SlackStandIn::BOT_USER);
        let legacy = SlackSender::legacy_bot_message(CH, "B0HOOK", "webhook", "hi", "1.1");
        assert_eq!(legacy["subtype"], "bot_message");

        // Interactivity: a button click on a message the stand-in holds.
        let client = client_for(&slack);
        let token = SlackApiToken::new(TOKEN.into());
        let root = client
            .open_session(&token)
            .chat_post_message(&SlackApiChatPostMessageRequest::new(
                CH.into(),
                SlackMessageContent::new()
                    .with_text("root".into())
                    .with_blocks(root_blocks()),
            ))
            .await
            .unwrap();
        let message = slack.message_json(CH, &root.ts.0).unwrap();
        let payload = sender.block_action_payload("U0ADA", CH, &root.ts.0, message, "accept", "conv_42");
        assert_eq!(payload["actions"][0]["block_id"], "root_actions");
        assert_eq!(payload["actions"][0]["text"]["text"], "Accept");
        assert_eq!(payload["user"]["username"], "ada");
        assert_eq!(payload["channel"]["name"], "handoffs");
        let parsed: SlackInteractionEvent = serde_json::from_value(payload.clone()).unwrap();
        let SlackInteractionEvent::BlockActions(ba) = parsed else {
            panic!()
        };
        assert_eq!(ba.user.unwrap().id.0, "U0ADA");
        assert_eq!(ba.trigger_id.0, payload["trigger_id"].as_str().unwrap());
        assert_eq!(ba.message.unwrap().origin.ts.0, root.ts.0);
        let action = &ba.actions.unwrap()[0];
        assert_eq!(
            (action.action_id.0.as_str(), action.value.as_deref()),
            ("accept", Some("conv_42"))
        );
        let SlackInteractionActionContainer::Message(c) = ba.container else {
            panic!()
        };
        assert_eq!(c.channel_id.unwrap().0, CH);

        // A view submission of a modal the stand-in opened.
        let modal = json!({"type": "modal", "callback_id": "resolve", "private_metadata": "conv_42",
            "title": {"type": "plain_text", "text": "Resolve"}, "submit": {"type": "plain_text", "text": "Resolve"},
            "blocks": [{"type": "input", "block_id": "topic", "label": {"type": "plain_text", "text": "Topic"},
                        "element": {"type": "plain_text_input", "action_id": "topic"}}]});
        let r: Value = reqwest::Client::new()
            .post(format!("{}/views.open", slack.api_url()))
            .bearer_auth(TOKEN)
            .json(&json!({"trigger_id": ba.trigger_id.0, "view": modal}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(r["ok"], true, "{r}");
        let opened = slack.views().pop().unwrap();
        let values = json!({"topic": {"topic": {"type": "plain_text_input", "value": "Refund"}}});
        let payload = sender.view_submission_payload("U0ADA", opened.view.clone(), values);
        let parsed: SlackInteractionEvent = serde_json::from_value(payload).unwrap();
        let SlackInteractionEvent::ViewSubmission(vs) = parsed else {
            panic!()
        };
        assert_eq!(vs.user.id.0, "U0ADA");
        assert_eq!(vs.view.state_params.id.0, opened.view_id);
        let state = vs.view.state_params.state.unwrap();
        assert_eq!(
            state.values[&SlackBlockId("topic".into())][&SlackActionId("topic".into())]
                .value
                .as_deref(),
            Some("Refund")
        );
        let SlackView::Modal(m) = vs.view.view else { panic!() };
        assert_eq!(m.private_metadata.as_deref(), Some("conv_42"));

        // A slash command, decoded from the form body as slack-morphism's extractor does.
        let fields = sender.command_fields("U0GRACE", CH, "routing support round-robin");
        let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let decoded: Map<String, Value> = parse_form(&form_encode(&pairs))
            .into_iter()
            .map(|(k, v)| (k, Value::String(v)))
            .collect();
        let cmd: SlackCommandEvent = serde_json::from_value(Value::Object(decoded)).unwrap();
        assert_eq!(cmd.command.0, "/handoff");
        assert_eq!(cmd.text.as_deref(), Some("routing support round-robin"));
        assert_eq!(cmd.user_id.0, "U0GRACE");
        assert_eq!(cmd.channel_name.as_deref(), Some("handoffs"));
        slack.take_calls();
    }

    /// What the test listener saw, one line per request.
    type Seen = Arc<Mutex<Vec<String>>>;

    async fn morphism_listener(slack: &SlackStandIn) -> (String, Seen) {
        let env: Arc<SlackHyperListenerEnvironment> =
            Arc::new(SlackClientEventsListenerEnvironment::new(Arc::new(client_for(slack))));
        let listener: SlackEventsAxumListener<SlackHyperHttpsConnector> = SlackEventsAxumListener::new(env);
        let secret = SlackSigningSecret::new(SIGNING.into());
        let seen: Seen = Arc::default();
        let (s1, s2, s3) = (seen.clone(), seen.clone(), seen.clone());
        let app = Router::new()
            .route(
                "/slack/events",
                post(move |Extension(ev): Extension<SlackPushEvent>| async move {
                    let line = match ev {
                        SlackPushEvent::UrlVerification(v) => return v.challenge,
                        SlackPushEvent::EventCallback(cb) => match cb.event {
                            SlackEventCallbackBody::Message(m) => format!(
                                "message {} {}",
                                cb.event_id.0,
                                m.content.and_then(|c| c.text).unwrap_or_default()
                            ),
                            other => format!("other {other:?}"),
                        },
                        other => format!("other {other:?}"),
                    };
                    s1.lock().unwrap().push(line);
                    String::new()
                })
                .layer(
                    listener
                        .events_layer(&secret)
                        .with_event_extractor(SlackEventsExtractors::push_event()),
                ),
            )
            .route(
                "/slack/interactions",
                post(move |Extension(ev): Extension<SlackInteractionEvent>| async move {
                    let line = match ev {
                        SlackInteractionEvent::BlockActions(ba) => {
                            format!("block_actions {}", ba.actions.unwrap()[0].action_id.0)
                        }
                        SlackInteractionEvent::ViewSubmission(vs) => format!("view_submission {}", vs.user.id.0),
                        other => format!("other {other:?}"),
                    };
                    s2.lock().unwrap().push(line);
                })
                .layer(
                    listener
                        .events_layer(&secret)
                        .with_event_extractor(SlackEventsExtractors::interaction_event()),
                ),
            )
            .route(
                "/slack/commands",
                post(move |Extension(ev): Extension<SlackCommandEvent>| async move {
                    s3.lock()
                        .unwrap()
                        .push(format!("command {} {}", ev.command.0, ev.text.unwrap_or_default()));
                })
                .layer(
                    listener
                        .events_layer(&secret)
                        .with_event_extractor(SlackEventsExtractors::command_event()),
                ),
            );
        let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", tcp.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(tcp, app).await.unwrap() });
        (url, seen)
    }

    #[tokio::test]
    async fn signed_requests_pass_slack_morphism_middleware() {
        let slack = setup().await;
        let (bridge, seen) = morphism_listener(&slack).await;
        let sender = slack.sender(&bridge, SIGNING);

        let r = sender.url_verification("challenge-123").await;
        assert_eq!(r.status(), 200);
        assert_eq!(r.text().await.unwrap(), "challenge-123");

        let ev = SlackSender::thread_message(CH, "U0ADA", "hello & welcome", "1700000000.000100");
        assert_eq!(sender.event("Ev10", ev.clone()).await.status(), 200);
        assert_eq!(sender.event_retry("Ev10", ev, 1).await.status(), 200);

        let message = json!({"type": "message", "user": SlackStandIn::BOT_USER, "bot_id": SlackStandIn::BOT_ID,
                             "text": "root", "ts": "1700000000.000100"});
        let r = sender
            .block_action("U0ADA", CH, "1700000000.000100", message, "accept", "conv_42")
            .await;
        assert_eq!(r.status(), 200);
        let view = json!({"type": "modal", "title": {"type": "plain_text", "text": "T"}, "blocks": []});
        assert_eq!(sender.view_submission("U0ADA", view, json!({})).await.status(), 200);
        assert_eq!(sender.command("U0GRACE", CH, "claim").await.status(), 200);

        // Wrong secret, stale timestamp: refused before any handler runs.
        let body =
            SlackSender::event_envelope("Ev11", SlackSender::thread_message(CH, "U0ADA", "x", "1.1")).to_string();
        let r = sender
            .send_raw("/slack/events", "application/json", body.clone(), unix_now(), "wrong")
            .await;
        assert!(r.status().is_client_error(), "{}", r.status());
        let r = sender
            .send_raw(
                "/slack/events",
                "application/json",
                body.clone(),
                unix_now() - 600,
                SIGNING,
            )
            .await;
        assert!(r.status().is_client_error(), "{}", r.status());
        let r = sender
            .send_raw("/slack/events", "application/json", body, unix_now(), SIGNING)
            .await;
        assert_eq!(r.status(), 200);

        assert_eq!(
            *seen.lock().unwrap(),
            [
                "message Ev10 hello & welcome",
                "message Ev10 hello & welcome",
                "block_actions accept",
                "view_submission U0ADA",
                "command /handoff claim",
                "message Ev11 x"
            ]
        );
        slack.assert_all_seen();
    }

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
