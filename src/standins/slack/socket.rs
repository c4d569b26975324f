//! The Slack stand-in's Socket Mode: `apps.connections.open` (with the app-level token)
//! hands out `ws://` URLs of `/socket`, where Slack's side of the protocol is played.
//! Each connection gets `hello`; a test sends `events_api`, `interactive` and
//! `slash_commands` envelopes (each with an `envelope_id`), and the stand-in records each
//! acknowledgement with its payload and how long it took, so a test can check Slack's
//! 3-second deadline. It can redeliver an envelope (as Slack does when none was acked),
//! ask every connection to go (`disconnect`, e.g. `refresh_requested`), or drop the
//! sockets without a word.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use serde_json::{Value, json};
use tokio::sync::mpsc;

/// What a connection's task is told to do.
enum Order {
    Send(String),
    /// Close the TCP connection without a close frame.
    Drop,
}

/// One acknowledgement, as the stand-in received it.
#[derive(Debug, Clone)]
pub struct SocketAck {
    /// The `payload` the client sent with it (`Null` for a bare ack).
    pub payload: Value,
    /// From the envelope's (last) sending to its ack.
    pub after: Duration,
    /// The connection it came on.
    pub connection: u64,
}

#[derive(Default)]
struct Book {
    app_token: Option<String>,
    next_connection: u64,
    /// Open connections, by id: what to tell each.
    open: BTreeMap<u64, mpsc::UnboundedSender<Order>>,
    /// Connections that got `hello`, ever.
    greeted: u64,
    next_envelope: u64,
    /// Envelopes sent, by id: the envelope and when it last went out.
    sent: HashMap<String, (Value, Instant)>,
    /// Acks by envelope id, in order of arrival (a redelivered envelope may be acked twice).
    acks: HashMap<String, Vec<SocketAck>>,
    /// Where the next envelope goes among the open connections.
    turn: usize,
}

/// The Socket Mode side of one stand-in.
#[derive(Default)]
pub(super) struct Sockets {
    state: Mutex<Book>,
}

impl Sockets {
    fn lock(&self) -> MutexGuard<'_, Book> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(super) fn enable(&self, app_token: &str) {
        self.lock().app_token = Some(app_token.to_owned());
    }

    /// `apps.connections.open`: a URL of `/socket`, for the app-level token only.
    pub(super) fn open_url(&self, base_url: &str, token: Option<&str>) -> Value {
        let s = self.lock();
        match (&s.app_token, token) {
            (None, _) => json!({"ok": false, "error": "not_allowed_token_type"}),
            (Some(_), None) => json!({"ok": false, "error": "not_authed"}),
            (Some(app), Some(t)) if app != t => json!({"ok": false, "error": "invalid_auth"}),
            _ => {
                let ws = base_url.replacen("http://", "ws://", 1);
                json!({"ok": true, "url": format!("{ws}/socket?ticket={}", s.next_connection)})
            }
        }
    }

    /// Sends `envelope` on one open connection (taking turns); `None` when none is open.
    fn send(&self, envelope_id: &str, envelope: Value) -> Option<u64> {
        let mut s = self.lock();
        let ids: Vec<u64> = s.open.keys().copied().collect();
        if ids.is_empty() {
            return None;
        }
        let id = ids[s.turn % ids.len()];
        s.turn += 1;
        let text = envelope.to_string();
        s.sent.insert(envelope_id.to_owned(), (envelope, Instant::now()));
        s.open[&id].send(Order::Send(text)).ok()?;
        Some(id)
    }
}

/// `GET /socket`: one Socket Mode connection.
pub(super) async fn upgrade(State(sockets): State<Arc<Sockets>>, ws: WebSocketUpgrade) -> Response {
    ws.on_upgrade(move |socket| serve(sockets, socket))
}

async fn serve(sockets: Arc<Sockets>, mut socket: WebSocket) {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let id = {
        let mut s = sockets.lock();
        let id = s.next_connection;
        s.next_connection += 1;
        s.open.insert(id, tx);
        id
    };
    let hello = {
        let mut s = sockets.lock();
        s.greeted += 1;
        json!({
            "type": "hello",
            "num_connections": s.open.len(),
            "debug_info": {"host": "stand-in", "build_number": 1, "approximate_connection_time": 18060},
            "connection_info": {"app_id": super::SlackStandIn::APP_ID},
        })
    };
    if socket.send(Message::Text(hello.to_string().into())).await.is_ok() {
        loop {
            tokio::select! {
                order = rx.recv() => match order {
                    Some(Order::Send(text)) => {
                        if socket.send(Message::Text(text.into())).await.is_err() {
                            break;
                        }
                    }
                    Some(Order::Drop) | None => break,
                },
                incoming = socket.recv() => match incoming {
                    Some(Ok(Message::Text(text))) => acked(&sockets, id, text.as_str()),
                    Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Binary(_))) => {}
                    Some(Ok(Message::Close(_))) | Some(Err(_)) | None => break,
                },
            }
        }
    }
    sockets.lock().open.remove(&id);
}

/// An ack frame: `{"envelope_id": …, "payload": …}`.
fn acked(sockets: &Sockets, connection: u64, text: &str) {
    let Ok(frame) = serde_json::from_str::<Value>(text) else {
        tracing::warn!(%text, "slack stand-in: a Socket Mode frame that is not JSON");
        return;
    };
    let Some(envelope_id) = frame["envelope_id"].as_str() else {
        tracing::warn!(%text, "slack stand-in: a Socket Mode frame without envelope_id");
        return;
    };
    let mut s = sockets.lock();
    let after = s.sent.get(envelope_id).map(|(_, at)| at.elapsed()).unwrap_or_default();
    s.acks.entry(envelope_id.to_owned()).or_default().push(SocketAck {
        payload: frame.get("payload").cloned().unwrap_or(Value::Null),
        after,
        connection,
    });
}

impl super::SlackStandIn {
    fn sockets(&self) -> &Sockets {
        &self.shared.sockets
    }

    /// Turns Socket Mode on: `apps.connections.open` accepts `app_token` (an `xapp-`
    /// token) and hands out `ws://` URLs of this stand-in.
    pub fn enable_socket_mode(&self, app_token: &str) {
        self.sockets().enable(app_token);
    }

    /// Socket Mode connections open now.
    pub fn socket_connections(&self) -> usize {
        self.sockets().lock().open.len()
    }

    /// Socket Mode connections that were ever greeted with `hello`.
    pub fn socket_connections_greeted(&self) -> u64 {
        self.sockets().lock().greeted
    }

    /// Sends an envelope of `kind` (`events_api`, `interactive`, `slash_commands`) with
    /// `payload` on one open connection, and gives its `envelope_id`; `None` when no
    /// connection is open.
    pub fn send_envelope(&self, kind: &str, payload: Value) -> Option<String> {
        let envelope_id = {
            let mut s = self.sockets().lock();
            s.next_envelope += 1;
            format!("env-{:06}", s.next_envelope)
        };
        let envelope = json!({
            "envelope_id": envelope_id,
            "type": kind,
            "payload": payload,
            "accepts_response_payload": kind != "events_api",
            "retry_attempt": 0,
            "retry_reason": "",
        });
        self.sockets().send(&envelope_id, envelope)?;
        Some(envelope_id)
    }

    /// Sends an envelope again, as Slack does when it was not acked (`retry_attempt` one
    /// more, `retry_reason: "timeout"`), on whichever connection's turn it is.
    pub fn redeliver_envelope(&self, envelope_id: &str) -> Option<u64> {
        let mut envelope = self.sockets().lock().sent.get(envelope_id)?.0.clone();
        let attempt = envelope["retry_attempt"].as_u64().unwrap_or(0) + 1;
        envelope["retry_attempt"] = json!(attempt);
        envelope["retry_reason"] = json!("timeout");
        self.sockets().send(envelope_id, envelope)
    }

    /// Sends an envelope again on every open connection at once (several instances of
    /// the bridge may each hold some): how many it went to.
    pub fn redeliver_everywhere(&self, envelope_id: &str) -> usize {
        let Some(envelope) = self.sockets().lock().sent.get(envelope_id).map(|(e, _)| e.clone()) else {
            return 0;
        };
        let mut s = self.sockets().lock();
        s.sent
            .insert(envelope_id.to_owned(), (envelope.clone(), Instant::now()));
        let text = envelope.to_string();
        s.open
            .values()
            .filter(|tx| tx.send(Order::Send(text.clone())).is_ok())
            .count()
    }

    /// The acks of an envelope so far.
    pub fn envelope_acks(&self, envelope_id: &str) -> Vec<SocketAck> {
        self.sockets().lock().acks.get(envelope_id).cloned().unwrap_or_default()
    }

    /// Tells every open connection to go (`{"type": "disconnect", "reason": …}`), as Slack
    /// does before it closes one (`refresh_requested`, `warning`, `link_disabled`).
    pub fn socket_disconnect(&self, reason: &str) {
        let frame = json!({"type": "disconnect", "reason": reason, "debug_info": {"host": "stand-in"}}).to_string();
        for tx in self.sockets().lock().open.values() {
            let _ = tx.send(Order::Send(frame.clone()));
        }
    }

    /// Drops every open connection without a close frame, as a network failure would.
    pub fn drop_sockets(&self) {
        for tx in self.sockets().lock().open.values() {
            let _ = tx.send(Order::Drop);
        }
    }
}

#[cfg(test)]
mod tests {
    //! slack-morphism's own Socket Mode listener against the stand-in: it opens its
    //! connections with the app-level token, gets `hello`, receives each kind of
    //! envelope, and its acks (with their payloads) are what the stand-in records.

    use super::super::SlackSender;
    use super::super::test_support::*;
    use serde_json::{Value, json};
    use slack_morphism::prelude::*;
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, Instant};

    const APP_TOKEN: &str = "xapp-1-A0001-stand-in";

    /// What the listener's callbacks saw, in order.
    type Seen = Arc<Mutex<Vec<String>>>;

    async fn on_push(
        ev: SlackPushEventCallback,
        _: Arc<SlackHyperClient>,
        state: SlackClientEventsUserState,
    ) -> UserCallbackResult<()> {
        seen(&state)
            .await
            .lock()
            .unwrap()
            .push(format!("event {}", ev.event_id.0));
        Ok(())
    }

    async fn on_interaction(
        ev: SlackInteractionEvent,
        _: Arc<SlackHyperClient>,
        state: SlackClientEventsUserState,
    ) -> UserCallbackResult<SlackInteractionResponse> {
        let kind = match ev {
            SlackInteractionEvent::BlockActions(_) => "block_actions",
            _ => "other",
        };
        seen(&state).await.lock().unwrap().push(format!("interaction {kind}"));
        Ok(SlackInteractionResponse::Empty)
    }

    async fn on_command(
        ev: SlackCommandEvent,
        _: Arc<SlackHyperClient>,
        state: SlackClientEventsUserState,
    ) -> UserCallbackResult<SlackCommandEventResponse> {
        seen(&state)
            .await
            .lock()
            .unwrap()
            .push(format!("command {}", ev.text.unwrap_or_default()));
        Ok(SlackCommandEventResponse::new(
            SlackMessageContent::new().with_text("only you see this".into()),
        ))
    }

    async fn seen(state: &SlackClientEventsUserState) -> Seen {
        state
            .read()
            .await
            .get_user_state::<Seen>()
            .expect("the test's state")
            .clone()
    }

    fn until<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> impl std::future::Future<Output = T> {
        let what = what.to_owned();
        async move {
            let start = Instant::now();
            loop {
                if let Some(v) = f() {
                    return v;
                }
                assert!(
                    start.elapsed() < Duration::from_secs(20),
                    "timed out waiting for {what}"
                );
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }

    #[tokio::test]
    async fn slack_morphisms_listener_connects_gets_each_envelope_and_its_acks_are_recorded() {
        let slack = setup().await;
        // Without Socket Mode on, or with the bot token, no URL is handed out.
        let api = reqwest::Client::new();
        let open = |token: &'static str| {
            api.post(format!("{}/apps.connections.open", slack.api_url()))
                .bearer_auth(token)
                .send()
        };
        let off: Value = open(APP_TOKEN).await.unwrap().json().await.unwrap();
        assert_eq!(off["ok"], false, "{off}");
        slack.enable_socket_mode(APP_TOKEN);
        let wrong: Value = open(TOKEN).await.unwrap().json().await.unwrap();
        assert_eq!(wrong["error"], "invalid_auth", "{wrong}");

        let seen: Seen = Arc::default();
        let client = Arc::new(client_for(&slack));
        let env = Arc::new(SlackClientEventsListenerEnvironment::new(client).with_user_state(seen.clone()));
        let callbacks = SlackSocketModeListenerCallbacks::new()
            .with_push_events(on_push)
            .with_interaction_events(on_interaction)
            .with_command_events(on_command);
        let config = SlackClientSocketModeConfig::new()
            .with_max_connections_count(2)
            .with_initial_backoff_in_seconds(0);
        let listener = SlackClientSocketModeListener::new(&config, env, callbacks);
        listener
            .listen_for(&SlackApiToken::new(APP_TOKEN.into()))
            .await
            .expect("apps.connections.open");
        listener.start().await;
        until("two connections", || (slack.socket_connections() == 2).then_some(())).await;

        let sender = SlackSender::new("http://127.0.0.1:9", SIGNING).with_stand_in(&slack);
        let event = SlackSender::event_envelope(
            "Ev0001",
            SlackSender::thread_message(CH, "U0ADA", "hi", "1700000000.000100"),
        );
        let e1 = slack.send_envelope("events_api", event).unwrap();
        let root = json!({"type": "message", "user": "UBOT0001", "ts": "1700000000.000100", "text": "root"});
        let click = sender.block_action_payload("U0ADA", CH, "1700000000.000100", root, "accept", "v1:conv_42");
        let e2 = slack.send_envelope("interactive", click).unwrap();
        let e3 = slack
            .send_envelope("slash_commands", sender.command_payload("U0ADA", CH, "status"))
            .unwrap();
        for e in [&e1, &e2, &e3] {
            until("an ack", || slack.envelope_acks(e).first().cloned()).await;
        }
        let ack = &slack.envelope_acks(&e3)[0];
        assert_eq!(ack.payload["text"], "only you see this", "{:?}", ack.payload);
        assert!(ack.after < Duration::from_secs(3));
        // Two connections take turns: the order across them is Slack's too.
        let mut got = seen.lock().unwrap().clone();
        got.sort();
        assert_eq!(got, ["command status", "event Ev0001", "interaction block_actions"]);

        // Redelivered, it is acked again; after `disconnect` the listener connects anew.
        slack.redeliver_envelope(&e1).unwrap();
        until("the second ack", || (slack.envelope_acks(&e1).len() == 2).then_some(())).await;
        let greeted = slack.socket_connections_greeted();
        slack.socket_disconnect("refresh_requested");
        until("new connections", || {
            (slack.socket_connections_greeted() >= greeted + 2).then_some(())
        })
        .await;
        slack.drop_sockets();
        until("connections again after a drop", || {
            (slack.socket_connections_greeted() >= greeted + 4 && slack.socket_connections() == 2).then_some(())
        })
        .await;
        listener.shutdown().await;
    }
}
