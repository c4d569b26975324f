//! The Discord stand-in's gateway: the WebSocket that serenity's `Client` connects to
//! (at the URL `GET /gateway` names, with `?v=10`), speaking Discord's JSON protocol in
//! text frames (<https://discord.com/developers/docs/events/gateway>).
//!
//! The socket says HELLO, then answers IDENTIFY with READY (a wrong token closes with
//! 4004), heartbeats with HEARTBEAT_ACK, and RESUME with the missed dispatches and
//! RESUMED (an unknown session gets INVALID_SESSION). Payload compression is never
//! used: serenity asks for it in IDENTIFY (`compress: true`) but reads text frames
//! just as well. Sessions and dispatch numbering live in `sessions`; this module only
//! moves frames between a socket and the world.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use serde_json::{Value, json};

use super::sessions::{GatewayStats, Out, ResumeRefused};
use super::state::Shared;

/// How long a closing socket waits for the client's close frame before it is dropped.
const CLOSE_GRACE: Duration = Duration::from_secs(2);

/// `GET /gateway`: the WebSocket upgrade.
pub(super) async fn upgrade(State(shared): State<Arc<Shared>>, ws: WebSocketUpgrade) -> Response {
    ws.on_upgrade(move |socket| serve(shared, socket))
}

/// One connection, from HELLO until either side leaves or the stand-in drops it.
async fn serve(shared: Arc<Shared>, mut socket: WebSocket) {
    let kill = shared.shutdown.child_token();
    let (conn, mut outgoing) = {
        let mut w = shared.lock();
        let (conn, rx) = w.gateway.open(kill.clone());
        let hello = json!({"op": 10, "d": {"heartbeat_interval": w.gateway.heartbeat_interval_ms}});
        w.gateway.send_json(conn, &hello);
        (conn, rx)
    };
    let mut closing: Option<tokio::time::Instant> = None;
    loop {
        let grace = closing.unwrap_or_else(|| tokio::time::Instant::now() + CLOSE_GRACE);
        tokio::select! {
            biased;
            () = kill.cancelled() => break,
            () = tokio::time::sleep_until(grace), if closing.is_some() => break,
            out = outgoing.recv(), if closing.is_none() => match out {
                Some(Out::Text(text)) => {
                    if socket.send(Message::Text(text.into())).await.is_err() {
                        break;
                    }
                }
                Some(Out::Close(code, reason)) => {
                    let frame = CloseFrame { code, reason: reason.into() };
                    let _ = socket.send(Message::Close(Some(frame))).await;
                    closing = Some(tokio::time::Instant::now() + CLOSE_GRACE);
                }
                None => break,
            },
            incoming = socket.recv() => match incoming {
                Some(Ok(Message::Text(text))) if closing.is_none() => receive(&shared, conn, text.as_str()),
                Some(Ok(Message::Binary(_))) if closing.is_none() => {
                    // Only JSON text is spoken here (no `encoding=etf`).
                    shared.lock().gateway.send(conn, Out::Close(4002, "Error while decoding payload."));
                }
                Some(Ok(Message::Close(frame))) => {
                    let clean = frame.is_some_and(|f| f.code == 1000 || f.code == 1001);
                    shared.lock().gateway.detach(conn, clean);
                    shared.gateway_changed.notify_waiters();
                    closing.get_or_insert_with(|| tokio::time::Instant::now() + CLOSE_GRACE);
                }
                Some(Ok(_)) => {}
                Some(Err(_)) | None => break,
            },
        }
    }
    shared.lock().gateway.close(conn);
    shared.gateway_changed.notify_waiters();
}

/// One text frame from the client.
fn receive(shared: &Shared, conn: u64, text: &str) {
    let mut w = shared.lock();
    let Ok(payload) = serde_json::from_str::<Value>(text) else {
        w.gateway.send(conn, Out::Close(4002, "Error while decoding payload."));
        return;
    };
    let d = &payload["d"];
    match payload["op"].as_u64() {
        Some(1) => w.gateway.heartbeat(conn),
        Some(2 | 6) if w.gateway.authenticated(conn) => {
            w.gateway.send(conn, Out::Close(4005, "Already authenticated."));
        }
        Some(2) => {
            if !token_ok(&shared.token, d) {
                w.gateway.send(conn, Out::Close(4004, "Authentication failed."));
            } else if let Some(intents) = d["intents"].as_u64() {
                let shard = d
                    .get("shard")
                    .filter(|s| s.is_array())
                    .cloned()
                    .unwrap_or(json!([0, 1]));
                w.identify(conn, intents, shard);
            } else {
                w.gateway.send(conn, Out::Close(4013, "Invalid intent(s)."));
            }
        }
        Some(6) => {
            let session = d["session_id"].as_str().unwrap_or_default();
            let seq = d["seq"].as_u64().unwrap_or(0);
            let resumed = if token_ok(&shared.token, d) {
                w.resume(conn, session, seq)
            } else {
                Err(ResumeRefused::Token)
            };
            match resumed {
                Ok(()) => {}
                Err(ResumeRefused::Token) => w.gateway.send(conn, Out::Close(4004, "Authentication failed.")),
                Err(ResumeRefused::Session) => w.gateway.send_json(conn, &json!({"op": 9, "d": false})),
            }
        }
        // Presence and voice state updates, guild member and soundboard requests: accepted,
        // nothing comes of them here.
        Some(3 | 4 | 8 | 31) if w.gateway.authenticated(conn) => {}
        Some(3 | 4 | 8 | 31) => w.gateway.send(conn, Out::Close(4003, "Not authenticated.")),
        _ => w.gateway.send(conn, Out::Close(4001, "Unknown opcode.")),
    }
    drop(w);
    shared.gateway_changed.notify_waiters();
}

/// Whether an IDENTIFY or RESUME carries the bot token (with or without `Bot `).
fn token_ok(expected: &str, d: &Value) -> bool {
    let given = d["token"].as_str().unwrap_or_default();
    given.strip_prefix("Bot ").unwrap_or(given) == expected
}

impl super::DiscordStandIn {
    /// How the gateway is doing: sessions started and resumed, heartbeats, whether the
    /// live session is connected, and with which intents.
    pub fn gateway(&self) -> GatewayStats {
        self.shared.lock().gateway.stats()
    }

    /// Waits until a session has identified or resumed and is connected; false if that
    /// did not happen within `timeout`.
    pub async fn wait_for_session(&self, timeout: Duration) -> bool {
        self.wait_for_gateway(timeout, |g| g.connected).await
    }

    /// Waits until the gateway's stats satisfy `ready`; false if they did not within
    /// `timeout`.
    pub async fn wait_for_gateway(&self, timeout: Duration, ready: impl Fn(&GatewayStats) -> bool) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let changed = self.shared.gateway_changed.notified();
            tokio::pin!(changed);
            // Registered before the check, so that no change between the two is missed.
            changed.as_mut().enable();
            if ready(&self.gateway()) {
                return true;
            }
            if tokio::time::timeout_at(deadline, changed).await.is_err() {
                return ready(&self.gateway());
            }
        }
    }

    /// Drops every gateway socket at once, without a close frame, as a network failure
    /// would: the sessions stay resumable, and what is dispatched meanwhile waits for
    /// the RESUME.
    pub fn drop_connections(&self) {
        self.shared.lock().gateway.drop_connections();
        self.shared.gateway_changed.notify_waiters();
    }

    /// The heartbeat interval HELLO announces to connections from now on (41250 ms
    /// unless set).
    pub fn set_heartbeat_interval(&self, ms: u64) {
        self.shared.lock().gateway.heartbeat_interval_ms = ms;
    }
}
