//! The Slack stand-in's world: channels, users, messages, files, views and `response_url`s,
//! the calls it recorded and the faults queued for the next ones — all behind one lock that
//! is only ever held for short, synchronous sections (never across a delay or a hang).
//! Also the lookups the Web API methods share, and Slack-shaped timestamps and ids.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::http::HeaderValue;
use serde_json::Value;

use super::wire::api_error;
use super::{Ephemeral, OpenedView, SlackCall, SlackDownload, SlackMessage, SlackStandIn};
use crate::signature::unix_now;
use crate::standins::{HangTicket, Hangs};

/// An injected fault for one call of one method.
#[derive(Debug, Clone)]
pub(super) enum Fault {
    /// 429 `ratelimited` with this `Retry-After`, sent as it is.
    RateLimited(HeaderValue),
    Status(u16),
    Error(String),
    Delay(Duration),
    /// The call is carried out, but the answer is lost on the way back (a 504 from a
    /// proxy, a dropped connection): the client cannot tell that it worked.
    LostResponse,
    /// The call is neither carried out nor answered until the hangs are released.
    Hang,
}

#[derive(Debug, Clone)]
pub(super) struct Channel {
    pub(super) id: String,
    pub(super) name: String,
    pub(super) is_member: bool,
    /// For a DM: the other user.
    pub(super) im_user: Option<String>,
    pub(super) is_mpim: bool,
}

#[derive(Debug, Clone)]
pub(super) struct User {
    pub(super) id: String,
    pub(super) name: String,
    pub(super) real_name: String,
    pub(super) is_admin: bool,
    pub(super) is_owner: bool,
    pub(super) is_bot: bool,
    /// Which kind of account: a member, a guest, or from elsewhere.
    pub(super) kind: super::UserKind,
}

impl User {
    pub(super) fn bot(id: &str, name: &str, real_name: &str) -> User {
        User {
            id: id.to_string(),
            name: name.to_string(),
            real_name: real_name.to_string(),
            is_admin: false,
            is_owner: false,
            is_bot: true,
            kind: super::UserKind::Member,
        }
    }
}

#[derive(Debug, Clone)]
pub(super) struct Msg {
    pub(super) ts: String,
    pub(super) thread_ts: Option<String>,
    pub(super) user: String,
    pub(super) bot_id: Option<String>,
    pub(super) text: String,
    pub(super) blocks: Value,
    /// (name, users) in order of first use.
    pub(super) reactions: Vec<(String, Vec<String>)>,
    /// (editor, edit ts).
    pub(super) edited: Option<(String, String)>,
    /// `{"event_type": …, "event_payload": {…}}` as posted (`chat.postMessage`/`chat.update`).
    pub(super) metadata: Option<Value>,
    /// `thread_broadcast` for a reply also sent to the channel; `bot_message`,
    /// `file_share`, … for recorded events that carried one.
    pub(super) subtype: Option<String>,
    /// The file objects a `file_share` message carried (empty for any other).
    pub(super) files: Vec<Value>,
}

impl Msg {
    /// A message posted by the bridge's bot.
    pub(super) fn from_bot(ts: String, thread_ts: Option<String>, text: String, blocks: Value) -> Msg {
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
            files: Vec::new(),
        }
    }

    /// The channel and message of a `message` event, as if it had been posted.
    pub(super) fn from_event(event: &Value) -> (String, Msg) {
        let ts = str_field(event, "ts");
        let user = event["user"]
            .as_str()
            .or_else(|| event["bot_id"].as_str())
            .unwrap_or_default()
            .to_string();
        let msg = Msg {
            thread_ts: event["thread_ts"].as_str().filter(|t| *t != ts).map(str::to_string),
            user,
            bot_id: event["bot_id"].as_str().map(str::to_string),
            text: str_field(event, "text"),
            blocks: event.get("blocks").cloned().unwrap_or(Value::Null),
            reactions: Vec::new(),
            edited: None,
            metadata: event.get("metadata").filter(|m| m.is_object()).cloned(),
            subtype: event["subtype"].as_str().map(str::to_string),
            files: event["files"].as_array().cloned().unwrap_or_default(),
            ts,
        };
        (str_field(event, "channel"), msg)
    }

    /// The message as the stand-in's public API shows it.
    pub(super) fn public(&self, channel: &str) -> SlackMessage {
        SlackMessage {
            channel: channel.to_string(),
            ts: self.ts.clone(),
            thread_ts: self.thread_ts.clone(),
            user: self.user.clone(),
            text: self.text.clone(),
            blocks: self.blocks.clone(),
            reactions: self.reactions.iter().map(|(n, _)| n.clone()).collect(),
            edited: self.edited.is_some(),
            metadata: self.metadata.clone().unwrap_or(Value::Null),
            files: self.files.clone(),
        }
    }
}

/// A file uploaded to the workspace: its file object and its bytes.
#[derive(Debug, Clone)]
pub(super) struct StoredFile {
    /// The file object as `files.info` answers it.
    pub(super) json: Value,
    pub(super) bytes: axum::body::Bytes,
    /// Deleted: `files.info` answers `file_deleted`, downloads 404.
    pub(super) deleted: bool,
}

/// A `response_url` handed out with an interaction or a slash command.
#[derive(Debug, Clone)]
pub(super) struct Hook {
    pub(super) channel: String,
    pub(super) user: String,
    pub(super) message_ts: Option<String>,
    pub(super) thread_ts: Option<String>,
    pub(super) uses: u32,
}

/// Everything the stand-in knows; one lock, short critical sections.
pub(super) struct World {
    pub(super) base_url: String,
    /// Recorded calls with their arrival sequence number, kept sorted by it.
    pub(super) calls: Vec<(u64, SlackCall)>,
    pub(super) next_seq: u64,
    pub(super) taken: usize,
    pub(super) faults: HashMap<String, VecDeque<Fault>>,
    pub(super) channels: BTreeMap<String, Channel>,
    pub(super) users: BTreeMap<String, User>,
    /// channel → ts → message (ts strings of equal length sort in time order).
    pub(super) messages: HashMap<String, BTreeMap<String, Msg>>,
    pub(super) ephemerals: Vec<Ephemeral>,
    pub(super) dms: BTreeMap<String, String>,
    pub(super) mpims: BTreeMap<String, String>,
    pub(super) views: Vec<OpenedView>,
    pub(super) triggers_used: HashSet<String>,
    pub(super) hooks: HashMap<String, Hook>,
    /// Files by id, as `add_file` stored them (see `files`).
    pub(super) files: BTreeMap<String, StoredFile>,
    /// Every request for a file's bytes, in order (never taken).
    pub(super) downloads: Vec<SlackDownload>,
    pub(super) next_id: u64,
    /// Random faults for calls without a queued one (a chaos run).
    pub(super) chaos: Option<crate::standins::chaos::Chaos>,
    pub(super) referee: crate::standins::chaos::Referee,
}

/// What one 429 holds: a channel's posts, or a method.
pub(super) fn lane(call: &SlackCall) -> String {
    if call.method == "chat.postMessage" {
        format!("post:{}", call.args["channel"].as_str().unwrap_or_default())
    } else {
        call.method.clone()
    }
}

/// A chaos roll as a fault; start-up and `response_url` calls are left alone.
fn chaos_fault(chaos: &crate::standins::chaos::Chaos, method: &str) -> Option<Fault> {
    use crate::standins::chaos::Roll;
    if matches!(method, "auth.test" | "response_url") {
        return None;
    }
    match chaos.roll() {
        Roll::Normal => None,
        Roll::ServerError => Some(Fault::Status(503)),
        Roll::RateLimited(secs) => Some(Fault::RateLimited(HeaderValue::from(secs))),
        Roll::Delayed(d) => Some(Fault::Delay(d)),
    }
}

/// What the server's handlers and the handles share.
pub(super) struct Shared {
    /// The one bot token accepted.
    pub(super) token: String,
    world: Mutex<World>,
    /// Calls held by [`Fault::Hang`].
    pub(super) hangs: Arc<Hangs>,
    /// Socket Mode: its connections and envelopes (`socket`).
    pub(super) sockets: Arc<super::socket::Sockets>,
}

impl Shared {
    pub(super) fn new(token: &str, world: World, hangs: Arc<Hangs>) -> Shared {
        Shared {
            token: token.to_string(),
            world: Mutex::new(world),
            hangs,
            sockets: Arc::default(),
        }
    }

    pub(super) fn lock(&self) -> MutexGuard<'_, World> {
        // A panicking test thread must not hide the state from the others.
        self.world.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Numbers an arriving call and takes its next fault. A hung call is recorded at once,
    /// unanswered, and gets the ticket that tells it when it is let go.
    pub(super) fn arrive(&self, call: &SlackCall) -> Arrival {
        let mut w = self.lock();
        let seq = w.next_seq;
        w.next_seq += 1;
        w.referee.arrive(&lane(call));
        let fault = match w.faults.get_mut(&call.method).and_then(VecDeque::pop_front) {
            Some(f) => Some(f),
            None => w.chaos.as_ref().and_then(|c| chaos_fault(c, &call.method)),
        };
        let hang = matches!(fault, Some(Fault::Hang)).then(|| {
            w.record(seq, call.clone());
            self.hangs.ticket()
        });
        Arrival { seq, fault, hang }
    }
}

/// An arriving call's place in the order, its fault, and for a hung call its ticket.
pub(super) struct Arrival {
    pub(super) seq: u64,
    pub(super) fault: Option<Fault>,
    pub(super) hang: Option<HangTicket>,
}

impl World {
    pub(super) fn new(base_url: String) -> World {
        let mut users = BTreeMap::new();
        users.insert(
            SlackStandIn::BOT_USER.to_string(),
            User::bot(SlackStandIn::BOT_USER, SlackStandIn::BOT_NAME, "Handoff Bridge"),
        );
        World {
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
            files: BTreeMap::new(),
            downloads: Vec::new(),
            chaos: None,
            referee: Default::default(),
            next_id: 0,
        }
    }

    /// Keeps a call in arrival order.
    pub(super) fn record(&mut self, seq: u64, call: SlackCall) {
        tracing::debug!(method = %call.method, status = call.status, "slack stand-in call");
        let at = self.calls.partition_point(|(s, _)| *s < seq);
        self.calls.insert(at, (seq, call));
    }

    /// Sets the answer of a call recorded earlier, if it was not taken since.
    pub(super) fn settle(&mut self, seq: u64, status: u16, response: &Value) {
        if let Some((_, call)) = self.calls.iter_mut().find(|(s, _)| *s == seq) {
            call.status = status;
            call.response = response.clone();
        }
    }

    pub(super) fn new_id(&mut self, prefix: char) -> String {
        self.next_id += 1;
        format!("{prefix}0S{:07}", self.next_id)
    }

    /// A channel by id (or by name, with or without `#`).
    pub(super) fn channel_id(&self, raw: Option<String>) -> Result<String, Value> {
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
    pub(super) fn postable_channel(&mut self, raw: Option<String>) -> Result<String, Value> {
        if let Some(user) = raw.as_deref()
            && (user.starts_with('U') || user.starts_with('W'))
            && self.users.get(user).is_some_and(|u| !u.is_bot)
        {
            return Ok(self.open_dm(user).0);
        }
        self.member_channel(raw)
    }

    /// A channel (by id or name) the bot is a member of.
    pub(super) fn member_channel(&self, raw: Option<String>) -> Result<String, Value> {
        let id = self.channel_id(raw)?;
        self.as_member(id)
    }

    /// A conversation the bot may read: by id only (`channel_not_found` otherwise), and one
    /// it is a member of (`not_in_channel`).
    pub(super) fn readable_channel(&self, raw: Option<String>) -> Result<String, Value> {
        let id = raw
            .map(|s| s.trim().to_string())
            .filter(|id| self.channels.contains_key(id))
            .ok_or_else(|| api_error("channel_not_found"))?;
        self.as_member(id)
    }

    fn as_member(&self, id: String) -> Result<String, Value> {
        if !self.channels[&id].is_member {
            return Err(api_error("not_in_channel"));
        }
        Ok(id)
    }

    /// The root of the thread `thread_ts` names (a reply's ts names its thread, as in
    /// Slack); `None` if there is no such message.
    pub(super) fn thread_root(&self, channel: &str, thread_ts: Option<String>) -> Option<String> {
        let t = thread_ts.filter(|t| !t.trim().is_empty())?;
        let m = self.messages.get(channel)?.get(&t)?;
        Some(m.thread_ts.clone().unwrap_or(t))
    }
}

/// A string field of a JSON object, `""` if absent.
pub(super) fn str_field(v: &Value, key: &str) -> String {
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

/// A process-wide counter, for ids that must never repeat.
pub(super) fn counter() -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    COUNTER.fetch_add(1, Ordering::Relaxed) + 1
}

/// A trigger id shaped like Slack's (`"<digits>.<digits>.<32 hex>"`), never repeated.
pub(super) fn new_trigger_id() -> String {
    format!(
        "{}{:04}.{}.{:032x}",
        unix_now(),
        counter() % 10_000,
        7_000_000 + counter(),
        rand::random::<u128>()
    )
}
