//! The Discord stand-in's world: guilds, members, channels (text, forum, threads, DMs),
//! users, messages (and users' files on them), registered commands, interactions and
//! their answers, gateway sessions, the calls it recorded and the faults queued for the
//! next ones — all behind one lock held only for short, synchronous sections (never
//! across a delay, a hang or a socket write). Also how each object is rendered as
//! Discord's JSON, and Discord-shaped ids (snowflakes) and timestamps.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::DiscordCall;
use super::attachments::{Attachment, Cdn};
use super::sessions::Gateway;
use crate::standins::{HangTicket, Hangs};

/// An injected fault for one call of one route.
#[derive(Debug, Clone)]
pub(super) enum Fault {
    /// 429 with Discord's rate-limit body and headers; `retry_after` in seconds.
    RateLimited(f64),
    Status(u16),
    /// A Discord error: HTTP status and JSON error code (50013 Missing Permissions…).
    Refused(u16, u64),
    Delay(Duration),
    /// The call is neither carried out nor answered until the hangs are released.
    Hang,
    /// The call is carried out, but its answer is lost on the way: a 504 comes back.
    LoseResponse,
}

/// Discord's channel types (`type`), as far as the stand-in keeps them.
pub(super) mod kind {
    pub(in super::super) const GUILD_TEXT: u8 = 0;
    pub(in super::super) const DM: u8 = 1;
    pub(in super::super) const PUBLIC_THREAD: u8 = 11;
    pub(in super::super) const PRIVATE_THREAD: u8 = 12;
    pub(in super::super) const GUILD_FORUM: u8 = 15;
}

#[derive(Debug, Clone)]
pub(super) struct Channel {
    pub(super) id: u64,
    pub(super) kind: u8,
    pub(super) guild_id: Option<u64>,
    pub(super) name: String,
    /// A thread's parent channel.
    pub(super) parent_id: Option<u64>,
    /// A DM's other user.
    pub(super) recipient: Option<u64>,
    /// A thread's creator.
    pub(super) owner_id: Option<u64>,
    /// A forum's tags: (id, name).
    pub(super) available_tags: Vec<(u64, String)>,
    /// A forum post's applied tag ids.
    pub(super) applied_tags: Vec<u64>,
    pub(super) archived: bool,
    pub(super) locked: bool,
    pub(super) last_message_id: Option<u64>,
    pub(super) message_count: u64,
}

impl Channel {
    pub(super) fn new(id: u64, kind: u8, guild_id: Option<u64>, name: &str) -> Channel {
        Channel {
            id,
            kind,
            guild_id,
            name: name.to_string(),
            parent_id: None,
            recipient: None,
            owner_id: None,
            available_tags: Vec::new(),
            applied_tags: Vec::new(),
            archived: false,
            locked: false,
            last_message_id: None,
            message_count: 0,
        }
    }

    pub(super) fn is_thread(&self) -> bool {
        matches!(self.kind, kind::PUBLIC_THREAD | kind::PRIVATE_THREAD)
    }
}

#[derive(Debug, Clone)]
pub(super) struct User {
    pub(super) username: String,
    pub(super) bot: bool,
    /// A webhook's stand-in user (the author of its messages): a member of no guild.
    pub(super) webhook: bool,
    /// The user does not accept DMs from the bot (posting there fails with 50007).
    pub(super) dms_closed: bool,
}

impl User {
    pub(super) fn new(username: &str, bot: bool) -> User {
        User {
            username: username.to_string(),
            bot,
            webhook: false,
            dms_closed: false,
        }
    }
}

#[derive(Debug, Clone)]
pub(super) struct Msg {
    pub(super) id: u64,
    pub(super) channel_id: u64,
    pub(super) author_id: u64,
    pub(super) content: String,
    pub(super) embeds: Vec<Value>,
    pub(super) components: Vec<Value>,
    pub(super) flags: u64,
    pub(super) timestamp: String,
    pub(super) edited_timestamp: Option<String>,
    /// Emoji, in the order they were first added by the bot.
    pub(super) reactions: Vec<String>,
    /// The thread started from this message.
    pub(super) thread_id: Option<u64>,
    /// The webhook that posted it, if any (the application's id for interaction answers).
    pub(super) webhook_id: Option<u64>,
    /// The `nonce` it was sent with, as sent (a string or a number).
    pub(super) nonce: Option<Value>,
    /// The `allowed_mentions` it was sent with, `Null` if none.
    pub(super) allowed_mentions: Value,
    /// Who Discord notified: `"@everyone"`, `"@here"`, `"user:<id>"`, `"role:<id>"`.
    pub(super) pings: Vec<String>,
    /// An ephemeral message's only viewer.
    pub(super) visible_to: Option<u64>,
    /// The message it replies to: (channel, message).
    pub(super) reference: Option<(u64, u64)>,
    /// The files a user posted with it.
    pub(super) attachments: Vec<Attachment>,
}

impl Msg {
    /// An empty message (no content, no flags) by `author`, posted now.
    pub(super) fn new(id: u64, channel_id: u64, author_id: u64) -> Msg {
        Msg {
            id,
            channel_id,
            author_id,
            content: String::new(),
            embeds: Vec::new(),
            components: Vec::new(),
            flags: 0,
            timestamp: now_timestamp(),
            edited_timestamp: None,
            reactions: Vec::new(),
            thread_id: None,
            webhook_id: None,
            nonce: None,
            allowed_mentions: Value::Null,
            pings: Vec::new(),
            visible_to: None,
            reference: None,
            attachments: Vec::new(),
        }
    }
}

/// Everything the stand-in knows; one lock, short critical sections.
pub(super) struct World {
    pub(super) base_url: String,
    /// Recorded calls with their arrival sequence number, kept sorted by it.
    pub(super) calls: Vec<(u64, DiscordCall)>,
    pub(super) next_seq: u64,
    /// The calls recorded since the last take, by sequence number: a call is recorded
    /// when it is answered, so one that arrived earlier may be recorded after a later one
    /// was taken.
    pub(super) fresh: Vec<u64>,
    pub(super) faults: HashMap<String, VecDeque<Fault>>,
    /// Random faults for calls without a queued one (a chaos run).
    pub(super) chaos: Option<crate::standins::chaos::Chaos>,
    pub(super) referee: crate::standins::chaos::Referee,
    pub(super) guilds: BTreeMap<u64, String>,
    pub(super) channels: BTreeMap<u64, Channel>,
    pub(super) users: BTreeMap<u64, User>,
    /// channel → message id → message.
    pub(super) messages: HashMap<u64, BTreeMap<u64, Msg>>,
    /// user → DM channel.
    pub(super) dms: BTreeMap<u64, u64>,
    /// (application, guild) → the commands last written in bulk.
    pub(super) commands: BTreeMap<(u64, u64), Vec<Value>>,
    /// Interaction callbacks received: (interaction id, token, body).
    pub(super) callbacks: Vec<(u64, String, Value)>,
    /// Interaction token → the original response's message (channel, id).
    pub(super) originals: HashMap<String, (u64, u64)>,
    /// Interaction token → the interaction handed out with it.
    pub(super) interactions: HashMap<String, Interaction>,
    /// How long after its dispatch an interaction may still be answered (3 s on Discord).
    pub(super) interaction_window: Duration,
    /// (guild, user) → the member's permissions, where set; every other known user is a
    /// member of every guild with none.
    pub(super) members: BTreeMap<(u64, u64), u64>,
    /// (channel, author, nonce) → the message created with it, and when: what
    /// `enforce_nonce` checks a repeat against.
    pub(super) nonces: HashMap<(u64, u64, String), (u64, Instant)>,
    /// channel → the webhook that posts there.
    pub(super) webhooks: BTreeMap<u64, u64>,
    /// Gateway sessions, their connections and what was dispatched to them.
    pub(super) gateway: Gateway,
    /// Where messages' files are served, and the requests for them.
    pub(super) cdn: Cdn,
    next_id: u64,
}

/// What the server's handlers and the handles share.
pub(super) struct Shared {
    /// The one bot token accepted (without the `Bot ` prefix).
    pub(super) token: String,
    world: Mutex<World>,
    /// Calls held by [`Fault::Hang`].
    pub(super) hangs: Arc<Hangs>,
    /// Woken whenever the gateway's state changes (a session identified, resumed or
    /// dropped, a heartbeat).
    pub(super) gateway_changed: Notify,
    /// Cancelled when the stand-in stops: every gateway socket is then dropped.
    pub(super) shutdown: CancellationToken,
}

/// An arriving call's place in the order, its fault, and for a hung call its ticket.
pub(super) struct Arrival {
    pub(super) seq: u64,
    pub(super) fault: Option<Fault>,
    pub(super) hang: Option<HangTicket>,
}

impl Shared {
    pub(super) fn new(token: &str, world: World, hangs: Arc<Hangs>) -> Shared {
        Shared {
            token: token.to_string(),
            world: Mutex::new(world),
            hangs,
            gateway_changed: Notify::new(),
            shutdown: CancellationToken::new(),
        }
    }

    pub(super) fn lock(&self) -> MutexGuard<'_, World> {
        // A panicking test thread must not hide the state from the others.
        self.world.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Numbers an arriving call and takes its next fault. A hung call is recorded at once,
    /// unanswered, and gets the ticket that tells it when it is let go.
    pub(super) fn arrive(&self, call: &DiscordCall) -> Arrival {
        let mut w = self.lock();
        let seq = w.next_seq;
        w.next_seq += 1;
        w.referee.arrive(&lane(call));
        let fault = match w.faults.get_mut(&call.route).and_then(VecDeque::pop_front) {
            Some(f) => Some(f),
            None => w.chaos.as_ref().and_then(|c| chaos_fault(c, &call.route)),
        };
        let hang = matches!(fault, Some(Fault::Hang)).then(|| {
            w.record(seq, call.clone());
            self.hangs.ticket()
        });
        Arrival { seq, fault, hang }
    }
}

/// What one 429 holds: the route with its major parameter (the channel, guild or
/// webhook id) kept, as Discord's buckets are.
pub(super) fn lane(call: &DiscordCall) -> String {
    let mut out = call.method.clone();
    let mut previous = "";
    for seg in call
        .path
        .split('?')
        .next()
        .unwrap_or_default()
        .split('/')
        .filter(|s| !s.is_empty())
    {
        out.push('/');
        if matches!(previous, "channels" | "guilds" | "webhooks") || !seg.bytes().all(|b| b.is_ascii_digit()) {
            out.push_str(seg);
        } else {
            out.push_str(":id");
        }
        previous = seg;
    }
    out
}

/// A chaos roll as a fault; finding the gateway is left alone.
fn chaos_fault(chaos: &crate::standins::chaos::Chaos, route: &str) -> Option<Fault> {
    use crate::standins::chaos::Roll;
    if route.starts_with("GET /gateway") {
        return None;
    }
    match chaos.roll() {
        Roll::Normal => None,
        Roll::ServerError => Some(Fault::Status(503)),
        Roll::RateLimited(secs) => Some(Fault::RateLimited(secs as f64)),
        Roll::Delayed(d) => Some(Fault::Delay(d)),
    }
}

/// Discord's epoch (2015-01-01T00:00:00Z) in Unix milliseconds, the base of snowflakes.
const DISCORD_EPOCH_MS: u64 = 1_420_070_400_000;

impl World {
    pub(super) fn new(base_url: String) -> World {
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(DISCORD_EPOCH_MS);
        let mut users = BTreeMap::new();
        users.insert(
            super::DiscordStandIn::BOT_USER_ID,
            User::new(super::DiscordStandIn::BOT_NAME, true),
        );
        World {
            base_url,
            calls: Vec::new(),
            next_seq: 0,
            fresh: Vec::new(),
            faults: HashMap::new(),
            chaos: None,
            referee: Default::default(),
            guilds: BTreeMap::new(),
            channels: BTreeMap::new(),
            users,
            messages: HashMap::new(),
            dms: BTreeMap::new(),
            commands: BTreeMap::new(),
            callbacks: Vec::new(),
            originals: HashMap::new(),
            interactions: HashMap::new(),
            interaction_window: Duration::from_secs(3),
            members: BTreeMap::new(),
            nonces: HashMap::new(),
            webhooks: BTreeMap::new(),
            gateway: Gateway::new(),
            cdn: Cdn::new(),
            next_id: (now_ms.saturating_sub(DISCORD_EPOCH_MS)) << 22,
        }
    }

    /// Keeps a call in arrival order.
    pub(super) fn record(&mut self, seq: u64, call: DiscordCall) {
        tracing::debug!(route = %call.route, status = call.status, "discord stand-in call");
        let at = self.calls.partition_point(|(s, _)| *s < seq);
        self.calls.insert(at, (seq, call));
        self.fresh.push(seq);
    }

    /// Sets the answer of a call recorded earlier, if it was not taken since.
    pub(super) fn settle(&mut self, seq: u64, status: u16, response: &Value) {
        if let Some((_, call)) = self.calls.iter_mut().find(|(s, _)| *s == seq) {
            call.status = status;
            call.response = response.clone();
        }
    }

    /// A fresh snowflake, increasing.
    pub(super) fn new_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    // -----------------------------------------------------------------------------------
    // Discord's JSON

    pub(super) fn user_json(&self, id: u64) -> Value {
        let user = self.users.get(&id);
        let username = user.map_or_else(|| format!("user{id}"), |u| u.username.clone());
        let webhook = user.is_some_and(|u| u.webhook);
        json!({
            "id": id.to_string(),
            "username": username,
            "discriminator": if webhook { "0000" } else { "0" },
            "global_name": if webhook { Value::Null } else { json!(username) },
            "avatar": null,
            "bot": user.is_some_and(|u| u.bot),
            "public_flags": 0,
            "flags": 0,
        })
    }

    pub(super) fn channel_json(&self, c: &Channel) -> Value {
        let id = |v: Option<u64>| v.map_or(Value::Null, |v| Value::String(v.to_string()));
        if c.kind == kind::DM {
            let recipients: Vec<Value> = c.recipient.iter().map(|u| self.user_json(*u)).collect();
            return json!({
                "id": c.id.to_string(),
                "type": c.kind,
                "flags": 0,
                "last_message_id": id(c.last_message_id),
                "recipients": recipients,
            });
        }
        let mut v = json!({
            "id": c.id.to_string(),
            "type": c.kind,
            "guild_id": id(c.guild_id),
            "name": c.name,
            "position": 0,
            "flags": 0,
            "permission_overwrites": [],
            "nsfw": false,
            "parent_id": id(c.parent_id),
            "last_message_id": id(c.last_message_id),
            "rate_limit_per_user": 0,
            "topic": null,
        });
        if c.kind == kind::GUILD_FORUM {
            v["available_tags"] = c
                .available_tags
                .iter()
                .map(|(tag, name)| {
                    json!({"id": tag.to_string(), "name": name, "moderated": false,
                           "emoji_id": null, "emoji_name": null})
                })
                .collect();
        }
        if c.is_thread() {
            v["owner_id"] = id(c.owner_id);
            v["message_count"] = json!(c.message_count);
            v["total_message_sent"] = json!(c.message_count);
            v["member_count"] = json!(1);
            v["applied_tags"] = c.applied_tags.iter().map(|t| Value::String(t.to_string())).collect();
            v["thread_metadata"] = json!({
                "archived": c.archived,
                "auto_archive_duration": 1440,
                "archive_timestamp": now_timestamp(),
                "locked": c.locked,
                "create_timestamp": now_timestamp(),
            });
        }
        v
    }

    /// A message as the REST API answers it.
    pub(super) fn message_json(&self, m: &Msg) -> Value {
        let mut v = self.message_json_shallow(m);
        if let Some(r) = m.reference.and_then(|(c, id)| self.messages.get(&c)?.get(&id)) {
            v["referenced_message"] = self.message_json_shallow(r);
        }
        v
    }

    /// A message without the message it replies to.
    fn message_json_shallow(&self, m: &Msg) -> Value {
        let guild_id = self.channels.get(&m.channel_id).and_then(|c| c.guild_id);
        let users: Vec<Value> = m
            .pings
            .iter()
            .filter_map(|p| p.strip_prefix("user:")?.parse().ok())
            .map(|u| self.user_json(u))
            .collect();
        let roles: Vec<&str> = m.pings.iter().filter_map(|p| p.strip_prefix("role:")).collect();
        let everyone = m.pings.iter().any(|p| p == "@everyone" || p == "@here");
        let mut v = json!({
            "id": m.id.to_string(),
            "type": if m.reference.is_some() { 19 } else { 0 },
            "channel_id": m.channel_id.to_string(),
            "author": self.user_json(m.author_id),
            "content": m.content,
            "timestamp": m.timestamp,
            "edited_timestamp": m.edited_timestamp,
            "tts": false,
            "mention_everyone": everyone,
            "mentions": users,
            "mention_roles": roles,
            "attachments": self.attachments_json(m),
            "embeds": m.embeds,
            "components": m.components,
            "pinned": false,
            "flags": m.flags,
        });
        if let Some(g) = guild_id {
            v["guild_id"] = json!(g.to_string());
        }
        if let Some(w) = m.webhook_id {
            v["webhook_id"] = json!(w.to_string());
            if w == super::DiscordStandIn::APPLICATION_ID {
                v["application_id"] = json!(w.to_string());
            }
        }
        if let Some(n) = &m.nonce {
            v["nonce"] = n.clone();
        }
        if let Some((c, id)) = m.reference {
            let mut r = json!({"type": 0, "channel_id": c.to_string(), "message_id": id.to_string()});
            if let Some(g) = guild_id {
                r["guild_id"] = json!(g.to_string());
            }
            v["message_reference"] = r;
            v["referenced_message"] = Value::Null;
        }
        if !m.reactions.is_empty() {
            v["reactions"] = m
                .reactions
                .iter()
                .map(|e| {
                    json!({
                        "count": 1,
                        "count_details": {"burst": 0, "normal": 1},
                        "burst_colors": [],
                        "me_burst": false,
                        "me": true,
                        "emoji": {"id": null, "name": e},
                    })
                })
                .collect();
        }
        if let Some(t) = m.thread_id.and_then(|t| self.channels.get(&t)) {
            v["thread"] = self.channel_json(t);
        }
        v
    }
}

/// The current time as Discord writes it (ISO 8601).
pub(super) fn now_timestamp() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// A handed-out interaction: where it came from and how it was answered.
#[derive(Debug, Clone)]
pub(super) struct Interaction {
    pub(super) id: u64,
    pub(super) channel_id: u64,
    /// The message a component interaction is on.
    pub(super) message_id: Option<u64>,
    /// Who acted (`None` for one made known with `register_interaction`).
    pub(super) user_id: Option<u64>,
    pub(super) answered: bool,
    /// When it was dispatched: the callback window runs from here.
    pub(super) dispatched_at: Instant,
    /// The original response is still the loading message of a deferred answer
    /// (type 5): the first follow-up fills it instead of posting.
    pub(super) loading: bool,
    /// What was done with its token: callbacks, edits of the original, follow-ups.
    pub(super) log: Vec<Value>,
}

impl Interaction {
    pub(super) fn new(id: u64, channel_id: u64, message_id: Option<u64>, user_id: Option<u64>) -> Interaction {
        Interaction {
            id,
            channel_id,
            message_id,
            user_id,
            answered: false,
            dispatched_at: Instant::now(),
            loading: false,
            log: Vec::new(),
        }
    }
}

/// A snowflake given as a string (as Discord and serenity send them) or a number.
pub(super) fn snowflake(v: &Value) -> Option<u64> {
    v.as_str().and_then(|s| s.parse().ok()).or_else(|| v.as_u64())
}
