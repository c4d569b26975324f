//! The Discord stand-in's gateway read frame by frame with a bare WebSocket client:
//! the protocol's edges that serenity's `Client` never shows on a good day — RESUME
//! replaying exactly what came after the given sequence number, unknown sessions,
//! superseded sessions, close codes, and which intents get which events.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::DiscordStandIn;

const TOKEN: &str = "stand-in-bot-token";
const GUILD: u64 = 920_000_000_000_000_001;
const TEXT: u64 = 920_000_000_000_000_010;
const ALICE: u64 = 920_000_000_000_000_100;
const WAIT: Duration = Duration::from_secs(10);
/// GUILDS | GUILD_MESSAGES | DIRECT_MESSAGES | MESSAGE_CONTENT.
const INTENTS: u64 = 1 | (1 << 9) | (1 << 12) | (1 << 15);

/// What the server sent.
#[derive(Debug, PartialEq)]
enum Frame {
    Json(Value),
    Closed(u16),
}

struct Raw(WebSocketStream<MaybeTlsStream<TcpStream>>);

impl Raw {
    /// Connects and reads HELLO.
    async fn connect(discord: &DiscordStandIn) -> Raw {
        let url = format!("{}?v=10", discord.gateway_url());
        let (ws, _) = tokio_tungstenite::connect_async(url).await.expect("connect");
        let mut raw = Raw(ws);
        let hello = raw.json().await;
        assert_eq!(hello["op"], 10);
        assert!(hello["d"]["heartbeat_interval"].as_u64().is_some());
        raw
    }

    async fn send(&mut self, v: Value) {
        self.0.send(Message::Text(v.to_string().into())).await.expect("send");
    }

    async fn frame(&mut self) -> Frame {
        loop {
            let next = tokio::time::timeout(WAIT, self.0.next())
                .await
                .expect("a frame in time");
            match next {
                Some(Ok(Message::Text(t))) => return Frame::Json(serde_json::from_str(t.as_str()).expect("json")),
                Some(Ok(Message::Close(f))) => return Frame::Closed(f.map_or(0, |f| u16::from(f.code))),
                Some(Ok(_)) => {}
                Some(Err(e)) => panic!("socket error: {e}"),
                None => panic!("socket ended without a close frame"),
            }
        }
    }

    async fn json(&mut self) -> Value {
        match self.frame().await {
            Frame::Json(v) => v,
            other => panic!("expected JSON, got {other:?}"),
        }
    }

    /// IDENTIFYs and answers READY's `d`.
    async fn identify(&mut self, token: &str, intents: u64) -> Value {
        self.send(
            json!({"op": 2, "d": {"token": token, "intents": intents, "properties": {},
                                        "compress": true, "shard": [0, 1]}}),
        )
        .await;
        let ready = self.json().await;
        assert_eq!(
            (ready["op"].as_u64(), ready["t"].as_str(), ready["s"].as_u64()),
            (Some(0), Some("READY"), Some(1))
        );
        ready["d"].clone()
    }

    async fn resume(&mut self, session: &str, seq: u64) {
        self.send(json!({"op": 6, "d": {"token": format!("Bot {TOKEN}"), "session_id": session, "seq": seq}}))
            .await;
    }
}

async fn stand_in() -> DiscordStandIn {
    let discord = DiscordStandIn::start(TOKEN).await;
    discord.add_guild(GUILD, "Support");
    discord.add_text_channel(GUILD, TEXT, "handoffs");
    discord.add_user(ALICE, "alice", true);
    discord
}

#[tokio::test]
async fn ready_carries_what_serenity_needs_and_heartbeats_are_acked() {
    let discord = stand_in().await;
    let mut raw = Raw::connect(&discord).await;
    raw.send(json!({"op": 1, "d": null})).await;
    assert_eq!(raw.json().await["op"], 11, "a heartbeat before IDENTIFY is acked too");
    let ready = raw.identify(TOKEN, INTENTS).await;
    assert_eq!(ready["v"], 10);
    assert_eq!(ready["user"]["id"], DiscordStandIn::BOT_USER_ID.to_string());
    assert_eq!(ready["guilds"], json!([{"id": GUILD.to_string(), "unavailable": true}]));
    assert_eq!(ready["resume_gateway_url"], discord.gateway_url());
    assert_eq!(ready["shard"], json!([0, 1]));
    assert_eq!(ready["application"]["id"], DiscordStandIn::APPLICATION_ID.to_string());
    assert!(ready["session_id"].as_str().is_some_and(|s| !s.is_empty()));
    raw.send(json!({"op": 1, "d": 1})).await;
    assert_eq!(raw.json().await, json!({"op": 11, "d": null}));
    let stats = discord.gateway();
    assert_eq!(
        (stats.heartbeats, stats.identifies, stats.intents),
        (2, 1, Some(INTENTS))
    );
    raw.send(json!({"op": 2, "d": {"token": TOKEN, "intents": 0}})).await;
    assert_eq!(raw.frame().await, Frame::Closed(4005));
}

#[tokio::test]
async fn a_resume_replays_exactly_what_followed_the_given_sequence() {
    let discord = stand_in().await;
    let mut first = Raw::connect(&discord).await;
    let session = first.identify(TOKEN, INTENTS).await["session_id"]
        .as_str()
        .expect("session")
        .to_string();
    let a = discord.user_message(TEXT, ALICE, "a");
    assert_eq!(first.json().await["s"], 2);
    discord.drop_connections();
    let b = discord.user_message(TEXT, ALICE, "b");
    let c = discord.user_message(TEXT, ALICE, "c");

    let mut second = Raw::connect(&discord).await;
    second.resume(&session, 1).await;
    let mut got = Vec::new();
    for _ in 0..4 {
        let f = second.json().await;
        got.push((
            f["s"].as_u64().unwrap_or(0),
            f["t"].as_str().unwrap_or("").to_string(),
            f["d"]["id"].clone(),
        ));
    }
    let id = |m: u64| Value::String(m.to_string());
    assert_eq!(
        got,
        [
            (2, "MESSAGE_CREATE".to_string(), id(a)),
            (3, "MESSAGE_CREATE".to_string(), id(b)),
            (4, "MESSAGE_CREATE".to_string(), id(c)),
            (5, "RESUMED".to_string(), Value::Null),
        ]
    );
    let stats = discord.gateway();
    assert_eq!((stats.resumes, stats.replayed, stats.connected), (1, 3, true));
}

#[tokio::test]
async fn unknown_sessions_are_invalid_and_bad_frames_close_the_socket() {
    let discord = stand_in().await;
    let mut raw = Raw::connect(&discord).await;
    raw.resume("no-such-session", 3).await;
    assert_eq!(raw.json().await, json!({"op": 9, "d": false}));

    let mut raw = Raw::connect(&discord).await;
    raw.send(json!({"op": 6, "d": {"token": "wrong", "session_id": "x", "seq": 1}}))
        .await;
    assert_eq!(raw.frame().await, Frame::Closed(4004));

    let mut raw = Raw::connect(&discord).await;
    raw.send(json!({"op": 2, "d": {"token": "Bot wrong", "intents": 0}}))
        .await;
    assert_eq!(raw.frame().await, Frame::Closed(4004));

    let mut raw = Raw::connect(&discord).await;
    raw.0.send(Message::Text("{not json".into())).await.expect("send");
    assert_eq!(raw.frame().await, Frame::Closed(4002));

    let mut raw = Raw::connect(&discord).await;
    raw.send(json!({"op": 3, "d": {}})).await;
    assert_eq!(raw.frame().await, Frame::Closed(4003));

    let mut raw = Raw::connect(&discord).await;
    raw.send(json!({"op": 42, "d": {}})).await;
    assert_eq!(raw.frame().await, Frame::Closed(4001));
    assert_eq!(discord.gateway().identifies, 0);
}

#[tokio::test]
async fn only_the_latest_session_hears_events_and_none_before_the_first() {
    let discord = stand_in().await;
    discord.user_message(TEXT, ALICE, "before anyone listens");
    assert_eq!(discord.gateway().dispatched, 0);

    let mut old = Raw::connect(&discord).await;
    let old_session = old.identify(TOKEN, INTENTS).await["session_id"]
        .as_str()
        .expect("session")
        .to_string();
    let mut new = Raw::connect(&discord).await;
    new.identify(&format!("Bot {TOKEN}"), INTENTS).await;
    let id = discord.user_message(TEXT, ALICE, "for the new session");
    let got = new.json().await;
    assert_eq!(
        (got["s"].as_u64(), got["d"]["id"].as_str()),
        (Some(2), Some(id.to_string().as_str()))
    );

    discord.drop_connections();
    let mut again = Raw::connect(&discord).await;
    again.resume(&old_session, 1).await;
    assert_eq!(
        again.json().await,
        json!({"op": 9, "d": false}),
        "a superseded session is gone"
    );
}

#[tokio::test]
async fn intents_decide_which_events_arrive() {
    let discord = stand_in().await;
    let mut raw = Raw::connect(&discord).await;
    // DIRECT_MESSAGES only: no guild messages, no threads; interactions always.
    raw.identify(TOKEN, 1 << 12).await;
    discord.user_message(TEXT, ALICE, "in a guild");
    let dm = discord.open_dm(ALICE);
    let id = discord.user_message(dm, ALICE, "in a DM");
    let got = raw.json().await;
    assert_eq!(
        (got["t"].as_str(), got["d"]["id"].as_str()),
        (Some("MESSAGE_CREATE"), Some(id.to_string().as_str()))
    );
    assert_eq!(
        got["d"]["content"], "in a DM",
        "DMs keep their content without the intent"
    );
    let sent = discord.user_message(TEXT, ALICE, "x");
    let click = discord.click_button(TEXT, sent, ALICE, "b");
    let got = raw.json().await;
    assert_eq!(
        (got["t"].as_str(), got["d"]["token"].as_str()),
        (Some("INTERACTION_CREATE"), Some(click.token.as_str()))
    );
    assert_eq!(got["d"]["attachment_size_limit"], 10 * 1024 * 1024);
    assert_eq!(got["d"]["member"]["permissions"], "0");
}
