//! The Discord stand-in's gateway sessions, kept with the world so that an event is
//! numbered and queued under the same lock that changed the state.
//!
//! Discord numbers a session's dispatches (`s`) and keeps them, so that a client that
//! lost its connection can RESUME with the last number it saw and get everything after
//! it. Here, too: every dispatch goes to the one live session (the last to IDENTIFY),
//! is appended to its log, and is written to its socket if it has one; while the socket
//! is down it waits in the log. Which events a session gets, and whether it sees message
//! content, follows the intents it identified with.
//!
//! Nothing here touches a socket: a connection is a queue of frames that the socket's
//! task (`gateway`) writes out in order, and a token that drops it.

use std::collections::{HashMap, VecDeque};

use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::DiscordStandIn;
use super::state::World;

/// Gateway intents the stand-in looks at
/// (<https://discord.com/developers/docs/events/gateway#gateway-intents>).
pub(super) mod intent {
    pub(in super::super) const GUILDS: u64 = 1 << 0;
    pub(in super::super) const GUILD_MESSAGES: u64 = 1 << 9;
    pub(in super::super) const DIRECT_MESSAGES: u64 = 1 << 12;
    pub(in super::super) const MESSAGE_CONTENT: u64 = 1 << 15;
}

/// How many dispatches a session keeps for a RESUME; one that missed more must
/// IDENTIFY again.
const LOG_LIMIT: usize = 1000;

/// What a connection's task writes to its socket.
#[derive(Debug)]
pub(super) enum Out {
    /// A JSON text frame.
    Text(String),
    /// A close frame with Discord's close code and reason; nothing is sent after it.
    Close(u16, &'static str),
}

/// How the gateway is doing, as [`DiscordStandIn::gateway`] reports it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GatewayStats {
    /// IDENTIFYs accepted (each starts a new session).
    pub identifies: u64,
    /// RESUMEs accepted.
    pub resumes: u64,
    /// Whether the live session has a socket (it identified or resumed, and was not
    /// dropped or closed since).
    pub connected: bool,
    /// Heartbeats received (op 1), on every connection.
    pub heartbeats: u64,
    /// The live session's intents.
    pub intents: Option<u64>,
    /// Dispatches sent again on RESUMEs.
    pub replayed: u64,
    /// Dispatches numbered for a session (delivered, or waiting for a RESUME).
    pub dispatched: u64,
    /// IDENTIFYs that came while another session was connected: two clients for one
    /// shard, which on Discord would each take the shard's events (or take them from
    /// each other).
    pub overlaps: u64,
}

struct Conn {
    tx: mpsc::UnboundedSender<Out>,
    kill: CancellationToken,
    /// The session this connection identified or resumed.
    session: Option<String>,
}

struct Session {
    intents: u64,
    /// The last `s` given.
    seq: u64,
    /// The frames dispatched, with their `s`, oldest first.
    log: VecDeque<(u64, String)>,
    /// The connection it is attached to, if any.
    conn: Option<u64>,
}

/// Every connection and session.
pub(super) struct Gateway {
    pub(super) heartbeat_interval_ms: u64,
    conns: HashMap<u64, Conn>,
    next_conn: u64,
    sessions: HashMap<String, Session>,
    /// The session that gets dispatches: the last to identify, until it is closed.
    live: Option<String>,
    stats: GatewayStats,
}

/// Why a RESUME failed.
pub(super) enum ResumeRefused {
    /// Wrong token: close with 4004.
    Token,
    /// Unknown session, or one that can no longer replay what was missed: op 9.
    Session,
}

impl Gateway {
    pub(super) fn new() -> Gateway {
        Gateway {
            heartbeat_interval_ms: 41_250,
            conns: HashMap::new(),
            next_conn: 0,
            sessions: HashMap::new(),
            live: None,
            stats: GatewayStats::default(),
        }
    }

    /// A new connection: its id, the frames to write and the token that drops it.
    pub(super) fn open(&mut self, kill: CancellationToken) -> (u64, mpsc::UnboundedReceiver<Out>) {
        let (tx, rx) = mpsc::unbounded_channel();
        self.next_conn += 1;
        let id = self.next_conn;
        self.conns.insert(
            id,
            Conn {
                tx,
                kill,
                session: None,
            },
        );
        (id, rx)
    }

    /// Queues a frame on a connection.
    pub(super) fn send(&self, conn: u64, out: Out) {
        if let Some(c) = self.conns.get(&conn) {
            let _ = c.tx.send(out);
        }
    }

    pub(super) fn send_json(&self, conn: u64, v: &Value) {
        self.send(conn, Out::Text(v.to_string()));
    }

    pub(super) fn heartbeat(&mut self, conn: u64) {
        self.stats.heartbeats += 1;
        self.send_json(conn, &json!({"op": 11, "d": null}));
    }

    /// Whether the connection has identified or resumed.
    pub(super) fn authenticated(&self, conn: u64) -> bool {
        self.conns.get(&conn).is_some_and(|c| c.session.is_some())
    }

    /// The connection went away. A clean close by the client (1000 or 1001) ends its
    /// session, as on Discord; otherwise the session waits for a RESUME.
    pub(super) fn detach(&mut self, conn: u64, clean: bool) {
        let Some(session) = self.conns.get_mut(&conn).and_then(|c| c.session.take()) else {
            return;
        };
        if clean {
            self.end_session(&session);
        } else if let Some(s) = self.sessions.get_mut(&session)
            && s.conn == Some(conn)
        {
            s.conn = None;
        }
    }

    /// Forgets a connection whose socket is gone.
    pub(super) fn close(&mut self, conn: u64) {
        self.detach(conn, false);
        self.conns.remove(&conn);
    }

    /// Drops every socket, without a close frame; sessions stay resumable.
    pub(super) fn drop_connections(&mut self) {
        for (id, c) in self.conns.drain() {
            c.kill.cancel();
            tracing::debug!(conn = id, "discord stand-in: gateway connection dropped");
        }
        for s in self.sessions.values_mut() {
            s.conn = None;
        }
    }

    pub(super) fn stats(&self) -> GatewayStats {
        let live = self.live.as_ref().and_then(|id| self.sessions.get(id));
        GatewayStats {
            connected: live.is_some_and(|s| s.conn.is_some()),
            intents: live.map(|s| s.intents),
            ..self.stats
        }
    }

    fn end_session(&mut self, id: &str) {
        self.sessions.remove(id);
        if self.live.as_deref() == Some(id) {
            self.live = None;
        }
    }

    /// Numbers a dispatch for `session`, keeps it, and writes it if connected.
    fn push(&mut self, session: &str, event: &str, d: Value) -> u64 {
        let Some(s) = self.sessions.get_mut(session) else {
            return 0;
        };
        s.seq += 1;
        let frame = json!({"op": 0, "t": event, "s": s.seq, "d": d}).to_string();
        if let Some(c) = s.conn.and_then(|c| self.conns.get(&c)) {
            let _ = c.tx.send(Out::Text(frame.clone()));
        }
        s.log.push_back((s.seq, frame));
        if s.log.len() > LOG_LIMIT {
            s.log.pop_front();
        }
        self.stats.dispatched += 1;
        s.seq
    }
}

impl World {
    /// IDENTIFY on `conn`: a new session, which becomes the live one (any earlier one
    /// ends), answered with READY.
    pub(super) fn identify(&mut self, conn: u64, intents: u64, shard: Value) {
        let id = hex::encode(rand::random::<[u8; 16]>());
        if self.gateway.sessions.values().any(|s| s.conn.is_some()) {
            self.gateway.stats.overlaps += 1;
        }
        for old in std::mem::take(&mut self.gateway.sessions).into_values() {
            if let Some(c) = old.conn.and_then(|c| self.gateway.conns.get_mut(&c)) {
                c.session = None;
            }
        }
        let session = Session {
            intents,
            seq: 0,
            log: VecDeque::new(),
            conn: Some(conn),
        };
        self.gateway.sessions.insert(id.clone(), session);
        self.gateway.live = Some(id.clone());
        if let Some(c) = self.gateway.conns.get_mut(&conn) {
            c.session = Some(id.clone());
        }
        self.gateway.stats.identifies += 1;
        let ready = self.ready_json(&id, shard);
        self.gateway.push(&id, "READY", ready);
    }

    /// READY's `d`, as serenity's `Ready` reads it: the bot, its guilds (unavailable
    /// until their GUILD_CREATE, which the stand-in does not send), the session.
    fn ready_json(&self, session: &str, shard: Value) -> Value {
        let guilds: Vec<Value> = self
            .guilds
            .keys()
            .map(|g| json!({"id": g.to_string(), "unavailable": true}))
            .collect();
        json!({
            "v": 10,
            "user": self.current_user_json(),
            "guilds": guilds,
            "session_id": session,
            "resume_gateway_url": self.gateway_url(),
            "shard": shard,
            "application": {"id": DiscordStandIn::APPLICATION_ID.to_string(), "flags": 0},
            "private_channels": [],
            "relationships": [],
            "presences": [],
            "guild_join_requests": [],
            "geo_ordered_rtc_regions": [],
            "user_settings": {},
            "_trace": ["stand-in"],
        })
    }

    /// RESUME on `conn`: the dispatches after `seq` again, in order, then RESUMED.
    pub(super) fn resume(&mut self, conn: u64, session_id: &str, seq: u64) -> Result<(), ResumeRefused> {
        let g = &mut self.gateway;
        let Some(s) = g.sessions.get_mut(session_id) else {
            return Err(ResumeRefused::Session);
        };
        let oldest = s.log.front().map_or(s.seq + 1, |(n, _)| *n);
        if seq > s.seq || seq + 1 < oldest {
            g.end_session(session_id);
            return Err(ResumeRefused::Session);
        }
        if let Some(old) = s.conn.replace(conn).filter(|c| *c != conn)
            && let Some(c) = g.conns.remove(&old)
        {
            c.kill.cancel();
        }
        let Some(c) = g.conns.get_mut(&conn) else {
            return Err(ResumeRefused::Session);
        };
        c.session = Some(session_id.to_string());
        let mut replayed = 0;
        for (_, frame) in s.log.iter().filter(|(n, _)| *n > seq) {
            let _ = c.tx.send(Out::Text(frame.clone()));
            replayed += 1;
        }
        g.stats.replayed += replayed;
        g.stats.resumes += 1;
        g.live = Some(session_id.to_string());
        g.push(session_id, "RESUMED", json!({"_trace": ["stand-in"]}));
        Ok(())
    }

    /// Dispatches an event to the live session, if there is one and its intents ask
    /// for it; message content is withheld as Discord does without the Message Content
    /// intent. Without a live session the event is lost, as when a bot is offline.
    pub(super) fn dispatch(&mut self, event: &str, mut d: Value) {
        let Some(live) = self.gateway.live.clone() else {
            return;
        };
        let Some(intents) = self.gateway.sessions.get(&live).map(|s| s.intents) else {
            return;
        };
        if !wanted(event, &d, intents) {
            return;
        }
        if matches!(event, "MESSAGE_CREATE" | "MESSAGE_UPDATE") && intents & intent::MESSAGE_CONTENT == 0 {
            withhold_content(&mut d);
        }
        self.gateway.push(&live, event, d);
    }
}

/// Whether a session with `intents` gets `event`.
fn wanted(event: &str, d: &Value, intents: u64) -> bool {
    let has = |i: u64| intents & i != 0;
    match event {
        "MESSAGE_CREATE" | "MESSAGE_UPDATE" | "MESSAGE_DELETE" => {
            if d.get("guild_id").is_some_and(|g| !g.is_null()) {
                has(intent::GUILD_MESSAGES)
            } else {
                has(intent::DIRECT_MESSAGES)
            }
        }
        "THREAD_CREATE" | "THREAD_UPDATE" | "THREAD_DELETE" => has(intent::GUILDS),
        _ => true,
    }
}

/// Empties what the Message Content intent guards, unless the app may see it anyway:
/// its own messages, DMs with it, and messages that mention it
/// (<https://discord.com/developers/docs/events/gateway#message-content-intent>).
fn withhold_content(d: &mut Value) {
    let bot = DiscordStandIn::BOT_USER_ID.to_string();
    let own = d["author"]["id"].as_str() == Some(bot.as_str());
    let dm = d.get("guild_id").is_none_or(Value::is_null);
    let mentioned = d["mentions"]
        .as_array()
        .is_some_and(|m| m.iter().any(|u| u["id"].as_str() == Some(bot.as_str())));
    if own || dm || mentioned {
        return;
    }
    d["content"] = json!("");
    d["embeds"] = json!([]);
    d["attachments"] = json!([]);
    d["components"] = json!([]);
    if let Some(o) = d.as_object_mut() {
        o.remove("poll");
    }
}
