//! The sender that plays Slack towards the bridge: Events API envelopes (and the
//! `message` events in them: replies, bot posts, file shares, edits, deletions),
//! interactivity payloads (`block_actions`, `view_submission`) and slash commands, shaped
//! as Slack sends them and signed with the app's signing secret (`X-Slack-Signature:
//! v0=…`), or deliberately mis-signed. With a [`SlackStandIn`] at hand it uses the
//! stand-in's names and hands out `response_url`s the stand-in serves.

use axum::http::header;
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use super::SlackStandIn;
use super::message_events::channel_type;
use super::state::{World, counter, new_trigger_id, next_ts};
use super::wire::form_encode;
use crate::signature::unix_now;

/// `v0=<hex HMAC-SHA256(secret, "v0:{timestamp}:{body}")>`, Slack's request signature.
pub fn slack_signature(secret: &str, timestamp: i64, body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC accepts any key length");
    mac.update(format!("v0:{timestamp}:").as_bytes());
    mac.update(body.as_bytes());
    format!("v0={}", hex::encode(mac.finalize().into_bytes()))
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

    /// POST `{bridge}/slack/interactions` with `payload`, form-encoded and signed.
    pub async fn interaction(&self, payload: &Value) -> reqwest::Response {
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

    /// The payload of a Socket Mode `slash_commands` envelope: the same fields, as a JSON
    /// object of strings.
    pub fn command_payload(&self, user: &str, channel: &str, text: &str) -> Value {
        let fields = self.command_fields(user, channel, text);
        Value::Object(
            fields
                .into_iter()
                .map(|(k, v)| (k.to_owned(), Value::String(v)))
                .collect(),
        )
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
        self.try_send_signed(path, content_type, body, timestamp, secret, extra)
            .await
            .unwrap_or_else(|e| panic!("slack sender: POST {}{path} failed: {e}", self.base_url))
    }

    /// Like `send_signed`, but a bridge that cannot be reached is an `Err`, not a panic
    /// (for a sender that retries elsewhere, as Slack does).
    async fn try_send_signed(
        &self,
        path: &str,
        content_type: &str,
        body: String,
        timestamp: i64,
        secret: &str,
        extra: &[(&str, String)],
    ) -> Result<reqwest::Response, reqwest::Error> {
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
        req.body(body).send().await
    }

    /// [`Self::event`], with an unreachable bridge as an `Err`.
    pub async fn try_event(&self, event_id: &str, event: Value) -> Result<reqwest::Response, reqwest::Error> {
        let body = Self::event_envelope(event_id, event).to_string();
        self.try_send_signed("/slack/events", "application/json", body, unix_now(), &self.secret, &[])
            .await
    }

    /// [`Self::block_action`], with an unreachable bridge as an `Err`.
    pub async fn try_block_action(
        &self,
        user: &str,
        channel: &str,
        message_ts: &str,
        message: Value,
        action_id: &str,
        value: &str,
    ) -> Result<reqwest::Response, reqwest::Error> {
        let payload = self.block_action_payload(user, channel, message_ts, message, action_id, value);
        let body = form_encode(&[("payload", &payload.to_string())]);
        self.try_send_signed(
            "/slack/interactions",
            "application/x-www-form-urlencoded",
            body,
            unix_now(),
            &self.secret,
            &[],
        )
        .await
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
    use super::super::test_support::*;
    use super::*;
    use crate::standins::slack::wire::parse_form;
    use axum::routing::post;
    use axum::{Extension, Router};
    use serde_json::Map;
    use slack_morphism::prelude::*;
    use std::sync::{Arc, Mutex};

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
        let r = call(
            &slack,
            "views.open",
            json!({"trigger_id": ba.trigger_id.0, "view": modal}),
        )
        .await;
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
}
