//! A local stand-in for Discord: its REST API and its gateway.
//!
//! Tests never reach the internet, yet the bridge must be exercised end to end against
//! Discord with the real client library. [`DiscordStandIn`] is a stateful stand-in of
//! Discord's REST API (v10) and gateway on 127.0.0.1: serenity's `Http` is pointed at
//! [`DiscordStandIn::api_url`] (`HttpBuilder::proxy`, with its rate limiter disabled,
//! since serenity only honours the proxy then), its gateway `Client` follows
//! `GET /gateway` to [`DiscordStandIn::gateway_url`], and nothing else changes — the
//! same `/api/v10/...` paths, `Authorization: Bot <token>`, Discord's JSON objects and
//! error shapes (`401: Unauthorized`, `10003 Unknown Channel`, `10008 Unknown Message`,
//! `50007` for a user who does not accept DMs, `50035 Invalid Form Body` with its nested
//! field errors for the documented message limits, 429 with `retry_after` and the
//! `Retry-After`/`X-RateLimit-*` headers), and the gateway's HELLO, IDENTIFY/READY,
//! heartbeats, RESUME with replay, and dispatches filtered by intents.
//!
//! It keeps guilds and members, channels (text, forum, threads, DMs), users, messages
//! (content, embeds, components, flags, reactions, replies, nonces, who they pinged,
//! ephemeral ones and their viewer, users' files, served at signed, expiring links as
//! Discord's CDN serves them), interactions it handed out and their answers, and
//! registered commands; records every REST call for the tests to assert on; and
//! injects faults per route (429, any status, delays, calls that hang) and gateway
//! failures (dropped connections). Tests play the users: they post messages (with
//! files), edit and delete them, click buttons, pick from selects, submit modals and run
//! slash commands, and the bot hears of it over the gateway as it would from Discord.
//!
//! The files, by responsibility: `state` (the world, its JSON and its fault queue),
//! `server` (the HTTP side: route table, auth, faults, recording), `wire` (error shapes,
//! rate-limit headers, message limits), `messages`, `history`, `channels`, `members`
//! and `interactions` (the routes), `attachments` (users' files and the CDN serving
//! them), `mentions` (who a message pings), `gateway` (the WebSocket) and `sessions`
//! (gateway sessions, numbering, replay, intents), `users` and `user_interactions`
//! (what the test's users do).
//!
//! The module's tests drive the stand-in with serenity's own `Http` client and gateway
//! `Client`, which proves that it reads every answer and every dispatch, and maps every
//! error as it would Discord's; a bare WebSocket client checks the gateway protocol's
//! edges frame by frame.

mod attachments;
mod channels;
mod gateway;
#[cfg(test)]
mod gateway_tests;
#[cfg(test)]
mod gateway_wire_tests;
mod history;
mod interactions;
mod members;
mod mentions;
mod messages;
mod server;
mod sessions;
mod state;
#[cfg(test)]
mod tests;
mod user_interactions;
mod users;
mod wire;

pub use attachments::{CdnRequest, DiscordAttachment};
pub use sessions::GatewayStats;
pub use user_interactions::Interacted;

use std::sync::Arc;
use std::time::Duration;

use axum::http::Method;
use serde_json::Value;

use state::{Channel, Fault, Shared, User, World, kind};

/// One REST call the stand-in received, with what it answered.
#[derive(Debug, Clone)]
pub struct DiscordCall {
    /// The route as faults name it: method and path template, e.g.
    /// `"POST /channels/{channel_id}/messages"` (the method and raw path if unknown).
    pub route: String,
    pub method: String,
    /// The path under `/api/v10`, e.g. `"/channels/42/messages"`.
    pub path: String,
    /// The JSON body, `Null` if none or not JSON.
    pub body: Value,
    /// Whether the request carried `Authorization: Bot <the bot token>`.
    pub token_ok: bool,
    /// The HTTP status answered; 0 while a hung call has no answer.
    pub status: u16,
    /// The JSON answered (`Null` for a 204, and while a hung call has no answer).
    pub response: Value,
    /// When the stand-in received it.
    pub at: std::time::Instant,
}

/// A message as the stand-in holds it.
#[derive(Debug, Clone)]
pub struct DiscordMessage {
    pub id: u64,
    pub channel_id: u64,
    pub author_id: u64,
    pub content: String,
    pub embeds: Vec<Value>,
    pub components: Vec<Value>,
    pub flags: u64,
    /// Whether an edit changed it.
    pub edited: bool,
    /// The bot's reactions, in the order they were added.
    pub reactions: Vec<String>,
    /// The thread started from it (which has the message's id).
    pub thread_id: Option<u64>,
    /// The webhook that posted it (the application's id for interaction answers).
    pub webhook_id: Option<u64>,
    /// An ephemeral message's only viewer (flags has 64).
    pub visible_to: Option<u64>,
    /// The nonce it was created with (a number is given as its digits).
    pub nonce: Option<String>,
    /// The `allowed_mentions` it was sent with, `Null` if none.
    pub allowed_mentions: Value,
    /// Who Discord notified, given its content and `allowed_mentions`: `"@everyone"`,
    /// `"@here"`, `"user:<id>"`, `"role:<id>"`.
    pub pings: Vec<String>,
    /// The message it replies to.
    pub replied_to: Option<u64>,
    /// The files a user posted with it.
    pub attachments: Vec<DiscordAttachment>,
}

/// The Discord REST stand-in: an HTTP server on 127.0.0.1. Cheap to clone; the server
/// stops when every clone is dropped.
#[derive(Clone)]
pub struct DiscordStandIn {
    shared: Arc<Shared>,
    _guard: Arc<super::ServerGuard>,
    _sockets: Arc<SocketsGuard>,
    base_url: String,
}

/// Drops every gateway socket when the last clone of the stand-in goes: the sockets'
/// tasks would otherwise outlive the server.
struct SocketsGuard(tokio_util::sync::CancellationToken);

impl Drop for SocketsGuard {
    fn drop(&mut self) {
        self.0.cancel();
    }
}

impl std::fmt::Debug for DiscordStandIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DiscordStandIn")
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

impl DiscordStandIn {
    /// The bot's user id (`GET /users/@me`, the author of its messages).
    pub const BOT_USER_ID: u64 = 1_100_000_000_000_000_001;
    /// The bot's username.
    pub const BOT_NAME: &'static str = "handoff-bridge";
    /// The application's id (interaction webhooks, commands).
    pub const APPLICATION_ID: u64 = 1_100_000_000_000_000_002;

    /// Binds 127.0.0.1:0 and serves `/api/v10/...` and the gateway in a background task
    /// until every clone is dropped. Only `bot_token` is accepted (as `Authorization: Bot <bot_token>`).
    pub async fn start(bot_token: &str) -> DiscordStandIn {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("discord stand-in: bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("discord stand-in: local address");
        let base_url = format!("http://{addr}");
        let hangs = super::Hangs::new();
        let shared = Arc::new(Shared::new(bot_token, World::new(base_url.clone()), hangs.clone()));
        let guard = super::serve(listener, server::router(shared.clone()), "discord", hangs);
        DiscordStandIn {
            _sockets: Arc::new(SocketsGuard(shared.shutdown.clone())),
            shared,
            _guard: Arc::new(guard),
            base_url,
        }
    }

    /// `http://127.0.0.1:PORT` — what serenity's `HttpBuilder::proxy` wants: it replaces
    /// `https://discord.com` with it, so requests arrive at `/api/v10/...`.
    pub fn api_url(&self) -> String {
        self.base_url.clone()
    }

    /// `ws://127.0.0.1:PORT/gateway`, what `GET /gateway` answers and READY gives as
    /// `resume_gateway_url`.
    pub fn gateway_url(&self) -> String {
        format!("{}/gateway", self.base_url.replacen("http://", "ws://", 1))
    }

    // -----------------------------------------------------------------------------------
    // The directory

    pub fn add_guild(&self, id: u64, name: &str) {
        self.shared.lock().guilds.insert(id, name.to_string());
    }

    /// A text channel of `guild`.
    pub fn add_text_channel(&self, guild: u64, id: u64, name: &str) {
        let c = Channel::new(id, kind::GUILD_TEXT, Some(guild), name);
        self.shared.lock().channels.insert(id, c);
    }

    /// A forum channel of `guild`, with its available tags `(id, name)`.
    pub fn add_forum_channel(&self, guild: u64, id: u64, name: &str, tags: &[(u64, &str)]) {
        let mut c = Channel::new(id, kind::GUILD_FORUM, Some(guild), name);
        c.available_tags = tags.iter().map(|(t, n)| (*t, n.to_string())).collect();
        self.shared.lock().channels.insert(id, c);
    }

    /// A user, a member of every guild (with no permissions unless
    /// [`Self::set_member`] gives some). `dms_open: false` makes posting in the bot's DM
    /// with them fail with 50007.
    pub fn add_user(&self, id: u64, username: &str, dms_open: bool) {
        let mut user = User::new(username, false);
        user.dms_closed = !dms_open;
        self.shared.lock().users.insert(id, user);
    }

    /// Makes an interaction known, as if it had been dispatched now (without a
    /// dispatch: see `click_button` and the like for that): its token then answers on
    /// the callback and webhook routes. `message_id`: the message a component
    /// interaction is on.
    pub fn register_interaction(&self, id: u64, token: &str, channel_id: u64, message_id: Option<u64>) {
        let it = state::Interaction::new(id, channel_id, message_id, None);
        self.shared.lock().interactions.insert(token.to_string(), it);
    }

    // -----------------------------------------------------------------------------------
    // What happened

    /// The messages of a channel (or thread), oldest first.
    pub fn messages(&self, channel: u64) -> Vec<DiscordMessage> {
        let w = self.shared.lock();
        w.messages
            .get(&channel)
            .map(|ms| ms.values().map(public_message).collect())
            .unwrap_or_default()
    }

    pub fn message(&self, channel: u64, id: u64) -> Option<DiscordMessage> {
        let w = self.shared.lock();
        w.messages.get(&channel)?.get(&id).map(public_message)
    }

    /// A channel as `GET /channels/{id}` shows it.
    pub fn channel(&self, id: u64) -> Option<Value> {
        let w = self.shared.lock();
        w.channels.get(&id).map(|c| w.channel_json(c))
    }

    /// The bot's DM channel with `user`, once opened.
    pub fn dm_channel(&self, user: u64) -> Option<u64> {
        self.shared.lock().dms.get(&user).copied()
    }

    /// The guild's commands, as last written in bulk.
    pub fn commands(&self, guild: u64) -> Vec<Value> {
        let w = self.shared.lock();
        w.commands
            .get(&(Self::APPLICATION_ID, guild))
            .cloned()
            .unwrap_or_default()
    }

    /// The interaction callbacks received: (interaction id, body).
    pub fn interaction_callbacks(&self) -> Vec<(u64, Value)> {
        let w = self.shared.lock();
        w.callbacks.iter().map(|(id, _, b)| (*id, b.clone())).collect()
    }

    /// Every call so far, in arrival order.
    pub fn calls(&self) -> Vec<DiscordCall> {
        let w = self.shared.lock();
        w.calls.iter().map(|(_, c)| c.clone()).collect()
    }

    /// The calls recorded since the last `take_calls`, in arrival order (each once, even
    /// one that arrived before a call taken earlier but was answered after it).
    pub fn take_calls(&self) -> Vec<DiscordCall> {
        let mut w = self.shared.lock();
        let mut fresh = std::mem::take(&mut w.fresh);
        fresh.sort_unstable();
        fresh.dedup();
        fresh
            .iter()
            .filter_map(|seq| {
                let at = w.calls.binary_search_by_key(seq, |(s, _)| *s).ok()?;
                Some(w.calls[at].1.clone())
            })
            .collect()
    }

    // -----------------------------------------------------------------------------------
    // Faults. `route` is a method and path template, e.g.
    // `"POST /channels/{channel_id}/messages"` (see `DiscordCall::route`).

    /// The next `n` calls of `route` answer `status` without being carried out.
    pub fn fail_next(&self, route: &str, n: usize, status: u16) {
        self.push_faults(route, n, Fault::Status(status));
    }

    /// The next `n` calls of `route` are refused with Discord's JSON error `code` (e.g.
    /// 403 and 50013 Missing Permissions), without being carried out.
    pub fn refuse_next(&self, route: &str, n: usize, status: u16, code: u64) {
        self.push_faults(route, n, Fault::Refused(status, code));
    }

    /// The next `n` calls of `route` answer 429 with `retry_after` seconds.
    pub fn rate_limit_next(&self, route: &str, n: usize, retry_after_secs: f64) {
        self.push_faults(route, n, Fault::RateLimited(retry_after_secs));
    }

    /// The next `n` calls of `route` are carried out after `delay`.
    pub fn delay_next(&self, route: &str, n: usize, delay: Duration) {
        self.push_faults(route, n, Fault::Delay(delay));
    }

    /// The next `n` calls of `route` hang, unanswered and not carried out, until
    /// [`Self::clear_faults`] (then they answer 503) or the stand-in stops.
    pub fn hang_next(&self, route: &str, n: usize) {
        self.push_faults(route, n, Fault::Hang);
    }

    /// The next `n` calls of `route` are carried out, but answer 504 as if the answer was
    /// lost on the way (the call's `response["lost"]` holds what it would have said).
    pub fn lose_response_next(&self, route: &str, n: usize) {
        self.push_faults(route, n, Fault::LoseResponse);
    }

    /// Drops the queued faults and lets hung calls go.
    pub fn clear_faults(&self) {
        let mut w = self.shared.lock();
        w.faults.clear();
        self.shared.hangs.release();
    }

    /// Random faults for every call without a queued one (`None`: none).
    pub fn set_chaos(&self, chaos: Option<crate::standins::chaos::Chaos>) {
        self.shared.lock().chaos = chaos;
    }

    /// The calls that came inside a 429's `Retry-After`: lane, when the 429 was
    /// answered, when the call came.
    pub fn retry_after_ignored_on(&self) -> Vec<(String, std::time::Instant, std::time::Instant)> {
        self.shared.lock().referee.ignored_on.clone()
    }

    /// 429s answered, and calls that came inside a 429's `Retry-After` on its lane.
    pub fn retry_after_record(&self) -> (u64, u64) {
        let w = self.shared.lock();
        (w.referee.rate_limited, w.referee.ignored)
    }

    fn push_faults(&self, route: &str, n: usize, fault: Fault) {
        let key = normalise_route(route);
        let mut w = self.shared.lock();
        w.faults.entry(key).or_default().extend(std::iter::repeat_n(fault, n));
    }
}

/// A route as faults are keyed: `"post /channels/{channel_id}/messages"` →
/// `"POST /channels/{channel_id}/messages"`.
fn normalise_route(route: &str) -> String {
    let (method, path) = route.trim().split_once(' ').unwrap_or(("GET", route));
    let method = Method::from_bytes(method.to_ascii_uppercase().as_bytes()).unwrap_or(Method::GET);
    server::route_key(&method, path.trim())
}

fn public_message(m: &state::Msg) -> DiscordMessage {
    DiscordMessage {
        id: m.id,
        channel_id: m.channel_id,
        author_id: m.author_id,
        content: m.content.clone(),
        embeds: m.embeds.clone(),
        components: m.components.clone(),
        flags: m.flags,
        edited: m.edited_timestamp.is_some(),
        reactions: m.reactions.clone(),
        thread_id: m.thread_id,
        webhook_id: m.webhook_id,
        visible_to: m.visible_to,
        nonce: m
            .nonce
            .as_ref()
            .map(|n| n.as_str().map_or_else(|| n.to_string(), str::to_string)),
        allowed_mentions: m.allowed_mentions.clone(),
        pings: m.pings.clone(),
        replied_to: m.reference.map(|(_, id)| id),
        attachments: m
            .attachments
            .iter()
            .map(|a| DiscordAttachment {
                id: a.id,
                filename: a.filename.clone(),
                content_type: a.content_type.clone(),
                size: a.bytes.len(),
            })
            .collect(),
    }
}
