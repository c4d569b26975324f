//! The Slack side of the harness: the service with Slack on, against the Slack stand-in,
//! with three teammates linked to Slack users and the `support` widget's threads in
//! `#support`. Every Slack call the bridge makes must be taken and asserted on: a test
//! ends with [`SlackApp::finish`], which fails on any call nobody looked at.

use crate::helpers::*;
use handoff_bridge::standins::slack::{SlackCall, SlackMessage, SlackSender, SlackStandIn};
use serde_json::{Value, json};
use std::ops::Deref;

pub const SLACK_TOKEN: &str = "xoxb-test-bot-token";
pub const SLACK_SECRET: &str = "test-slack-signing-secret";
pub const SLACK_APP_TOKEN: &str = "xapp-1-A0001-test-app-token";
pub const CHANNEL: &str = "C0SUPPORT";
/// Agents.
pub const ADA: &str = "U0ADA";
pub const BO: &str = "U0BO";
/// A manager.
pub const MAX: &str = "U0MAX";

const SEED: &str = r#"
[[operators]]
name = "Ada"
slack_user_id = "U0ADA"

[[operators]]
name = "Bo"
slack_user_id = "U0BO"

[[operators]]
name = "Max"
role = "manager"
slack_user_id = "U0MAX"

[[widgets]]
id = "support"
slack_channel = "C0SUPPORT"
"#;

pub struct SlackApp {
    pub app: TestApp,
    pub slack: SlackStandIn,
    pub sender: SlackSender,
}

impl Deref for SlackApp {
    type Target = TestApp;
    fn deref(&self) -> &TestApp {
        &self.app
    }
}

impl SlackApp {
    pub async fn spawn(db: &Db) -> SlackApp {
        Self::spawn_with(db, &[]).await
    }

    pub async fn spawn_with(db: &Db, extra: &[(&str, &str)]) -> SlackApp {
        Self::spawn_on(SlackStandIn::start(SLACK_TOKEN).await, db, extra).await
    }

    /// With Slack in Socket Mode: the stand-in hands out its WebSocket, and the bridge
    /// has its connections open when this returns (their `apps.connections.open` calls
    /// taken).
    pub async fn spawn_socket_mode(db: &Db) -> SlackApp {
        let slack = SlackStandIn::start(SLACK_TOKEN).await;
        slack.enable_socket_mode(SLACK_APP_TOKEN);
        let s = Self::spawn_on(slack, db, &[("HANDOFF_SLACK_APP_TOKEN", SLACK_APP_TOKEN)]).await;
        eventually("the Socket Mode connections", || async {
            (s.slack.socket_connections() == 2).then_some(())
        })
        .await;
        s.take_socket_opens();
        s
    }

    /// Takes the `apps.connections.open` calls made so far: how many.
    pub fn take_socket_opens(&self) -> usize {
        let calls = self.slack.take_calls();
        let (opens, others): (Vec<_>, Vec<_>) = calls.into_iter().partition(|c| c.method == "apps.connections.open");
        assert!(others.is_empty(), "Slack calls besides Socket Mode's: {others:#?}");
        opens.len()
    }

    /// Another instance of the bridge on the same database, Slack stand-in and settings
    /// (PostgreSQL only: SQLite allows one instance).
    pub async fn another_instance(&self, db: &Db, extra: &[(&str, &str)]) -> TestApp {
        let api_url = self.slack.api_url();
        let mut env: Vec<(&str, &str)> = vec![
            ("HANDOFF_SLACK_BOT_TOKEN", SLACK_TOKEN),
            ("HANDOFF_SLACK_SIGNING_SECRET", SLACK_SECRET),
            ("HANDOFF_SLACK_API_URL", &api_url),
        ];
        env.extend_from_slice(extra);
        TestApp::launch(db, &env, Some(SEED)).await
    }

    async fn spawn_on(slack: SlackStandIn, db: &Db, extra: &[(&str, &str)]) -> SlackApp {
        slack.add_channel(CHANNEL, "support", true);
        slack.add_user(ADA, "ada", "Ada Lovelace", false, false);
        slack.add_user(BO, "bo", "Bo Diddley", false, false);
        slack.add_user(MAX, "max", "Max Planck", false, false);
        let api_url = slack.api_url();
        let mut env: Vec<(&str, &str)> = vec![
            ("HANDOFF_SLACK_BOT_TOKEN", SLACK_TOKEN),
            ("HANDOFF_SLACK_SIGNING_SECRET", SLACK_SECRET),
            ("HANDOFF_SLACK_API_URL", &api_url),
        ];
        env.extend_from_slice(extra);
        let app = TestApp::launch(db, &env, Some(SEED)).await;
        let sender = slack.sender(&app.base, SLACK_SECRET);
        SlackApp { app, slack, sender }
    }

    /// Settles, then takes every Slack call made since the last take.
    pub async fn calls(&self) -> Vec<SlackCall> {
        self.settle().await;
        self.slack.take_calls()
    }

    /// Settles and checks that the calls made since the last take were exactly these
    /// methods, in this order; returns them.
    pub async fn expect(&self, methods: &[&str]) -> Vec<SlackCall> {
        let calls = self.calls().await;
        let seen: Vec<&str> = calls.iter().map(|c| c.method.as_str()).collect();
        assert_eq!(seen, methods, "Slack calls: {calls:#?}");
        calls
    }

    /// Sends a handoff for `conversation` on `support` and returns its thread root's ts,
    /// taking the root and transcript posts.
    pub async fn handoff(&self, conversation: &str) -> String {
        self.app.handoff(conversation, "support").await;
        let calls = self.calls().await;
        let root = calls
            .iter()
            .find(|c| c.method == "chat.postMessage" && c.args["thread_ts"].is_null())
            .expect("a root was posted");
        root.response["ts"].as_str().unwrap().to_owned()
    }

    /// The thread root of a conversation, as Slack holds it now.
    pub async fn root(&self, conversation: &str) -> SlackMessage {
        let ts: String = sqlx::query_scalar(
            "select thread from conversation_refs where conversation_id = $1 and platform = 'slack'",
        )
        .bind(conversation)
        .fetch_one(&self.pool)
        .await
        .unwrap();
        self.slack.message(CHANNEL, &ts).expect("the root exists")
    }

    /// The buttons on a conversation's root: (action_id, label, value).
    pub async fn buttons(&self, conversation: &str) -> Vec<(String, String, String)> {
        buttons_of(&self.root(conversation).await.blocks)
    }

    /// Clicks the button `action` on a conversation's root, as `user`.
    pub async fn click(&self, user: &str, conversation: &str, action: &str) -> reqwest::StatusCode {
        let payload = self.click_payload(user, conversation, action).await;
        self.sender.interaction(&payload).await.status()
    }

    /// The interaction payload of `user` clicking the root's `action` button.
    pub async fn click_payload(&self, user: &str, conversation: &str, action: &str) -> Value {
        let root = self.root(conversation).await;
        let (_, _, value) = buttons_of(&root.blocks)
            .into_iter()
            .find(|(a, _, _)| a == action)
            .unwrap_or_else(|| panic!("no {action} button on the root of {conversation}"));
        let message = self.slack.message_json(CHANNEL, &root.ts).unwrap();
        self.sender
            .block_action_payload(user, CHANNEL, &root.ts, message, action, &value)
    }

    /// Fails if any Slack call was not taken and asserted on.
    pub async fn finish(&self) {
        self.settle().await;
        self.slack.assert_all_seen();
    }
}

pub fn buttons_of(blocks: &Value) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for block in blocks.as_array().into_iter().flatten() {
        for e in block["elements"].as_array().into_iter().flatten() {
            if e["type"] == "button" {
                out.push((
                    e["action_id"].as_str().unwrap_or_default().to_owned(),
                    e["text"]["text"].as_str().unwrap_or_default().to_owned(),
                    e["value"].as_str().unwrap_or_default().to_owned(),
                ));
            }
        }
    }
    out
}

/// The labels of the buttons in `blocks`.
pub fn labels(blocks: &Value) -> Vec<String> {
    buttons_of(blocks).into_iter().map(|(_, l, _)| l).collect()
}

/// All the text in a message's blocks and its fallback text, for assertions.
pub fn all_text(message: &Value) -> String {
    let mut out = message["text"].as_str().unwrap_or_default().to_owned();
    fn walk(v: &Value, out: &mut String) {
        match v {
            Value::String(s) => {
                out.push(' ');
                out.push_str(s);
            }
            Value::Array(a) => a.iter().for_each(|x| walk(x, out)),
            Value::Object(o) => o.values().for_each(|x| walk(x, out)),
            _ => {}
        }
    }
    walk(&message["blocks"], &mut out);
    out
}

/// `json!` of a view_submission's state values for the given inputs.
pub fn values(inputs: &[(&str, Value)]) -> Value {
    let mut v = serde_json::Map::new();
    for (block, value) in inputs {
        v.insert((*block).to_owned(), json!({ *block: value }));
    }
    Value::Object(v)
}
