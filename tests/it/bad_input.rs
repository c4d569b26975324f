//! Hostile and broken requests against every front door, as tables: truncated JSON,
//! wrong types, huge fields, unknown ids, replays, forged and stale signatures, and
//! markup that would ping a channel. Each row says what the caller must get back; after
//! every row the stored state is compared with what it was before, so a refusal that
//! still wrote something fails here, and no message may ping anyone the visitor named.

use crate::both_platforms;
use crate::discord_helpers::{self, DiscordApp, EVE, GUILD, MAX};
use crate::helpers::*;
use crate::on_both_databases;
use crate::slack_helpers::{ADA, CHANNEL, SLACK_SECRET, SlackApp};
use handoff_bridge::signature::{self, unix_now};
use handoff_bridge::standins::discord::Interacted;
use handoff_bridge::standins::slack::SlackSender;
use handoff_bridge::standins::widget::WidgetClient;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// An HTTP API row: what, method, path, bearer token, body, the status it must get.
type ApiRow<'a> = (&'a str, Method, String, Option<&'a str>, Option<Vec<u8>>, StatusCode);

/// Every table a request can write to, and the conversations' versions.
const TABLES: &[&str] = &[
    "workspaces",
    "operators",
    "operator_identities",
    "teams",
    "team_members",
    "widgets",
    "widget_eligible",
    "widget_channels",
    "conversations",
    "messages",
    "declines",
    "assignment_events",
    "inbound_events",
    "api_tokens",
    "conversation_refs",
    "message_refs",
    "link_codes",
];

/// The outbox rows that answer one person privately (an ephemeral message, an
/// interaction's reply): a refusal may queue one of these, and nothing else.
const PRIVATE_ANSWERS: &str = "('ephemeral', 'respond', 'followup', 'edit_original')";

/// What is stored, as counts per table and the sum of the conversations' versions.
async fn state(app: &TestApp) -> Vec<(String, i64)> {
    let mut out = Vec::new();
    for t in TABLES {
        out.push((t.to_string(), app.count(&format!("select count(*) from {t}")).await));
    }
    let outbox = format!("select count(*) from outbox where kind not in {PRIVATE_ANSWERS}");
    out.push(("outbox (besides private answers)".into(), app.count(&outbox).await));
    let versions = app
        .count("select cast(coalesce(sum(version), 0) as bigint) from conversations")
        .await;
    out.push(("versions".into(), versions));
    out
}

/// Checks that a row left the stored state as it was.
async fn unchanged(app: &TestApp, row: &str, before: &[(String, i64)]) {
    let after = state(app).await;
    let changed: Vec<String> = before
        .iter()
        .zip(&after)
        .filter(|(b, a)| b != a)
        .map(|((t, b), (_, a))| format!("{t}: {b} → {a}"))
        .collect();
    assert!(changed.is_empty(), "{row}: the state changed: {}", changed.join(", "));
}

/// The JSON error shape every refusal has: `{"error": {"code", "message"}}` with a
/// message that says what is wrong.
fn says_why(row: &str, body: &str) {
    let v: Value = serde_json::from_str(body).unwrap_or_else(|_| panic!("{row}: the error is JSON: {body}"));
    let message = v["error"]["message"].as_str().unwrap_or_default();
    assert!(
        !message.is_empty() && v["error"]["code"].is_string(),
        "{row}: a code and a message: {body}"
    );
}

fn nested(depth: usize) -> Vec<u8> {
    let mut s = "[".repeat(depth);
    s.push_str(&"]".repeat(depth));
    s.into_bytes()
}

on_both_databases! {
    async fn every_bad_widget_event_is_refused_and_changes_nothing(db) {
        let app = TestApp::spawn(&db).await;
        app.handoff("c1", "support").await;
        let now = unix_now();
        let event = |v: Value| serde_json::to_vec(&v).unwrap();
        let mut handoff = WidgetClient::handoff_event("c2", "support");
        let with = |path: &[&str], value: Value| {
            let mut v = WidgetClient::handoff_event("c2", "support");
            let mut at = &mut v;
            for p in &path[..path.len() - 1] {
                at = &mut at[*p];
            }
            at[path[path.len() - 1]] = value;
            event(v)
        };
        let long_transcript: Vec<Value> = (0..1_001).map(|i| json!({"author": "visitor", "text": format!("line {i}")})).collect();
        let rows: Vec<(&str, Vec<u8>, i64, &str, StatusCode)> = vec![
            ("truncated JSON", b"{\"id\": \"e1\", \"type\": \"conversation.hand".to_vec(), now, WIDGET_SECRET, StatusCode::BAD_REQUEST),
            ("not JSON at all", b"id=e1&type=handoff".to_vec(), now, WIDGET_SECRET, StatusCode::BAD_REQUEST),
            ("an empty body", Vec::new(), now, WIDGET_SECRET, StatusCode::BAD_REQUEST),
            ("JSON nested past any sense", nested(10_000), now, WIDGET_SECRET, StatusCode::BAD_REQUEST),
            ("an array, not an event", b"[1, 2, 3]".to_vec(), now, WIDGET_SECRET, StatusCode::UNPROCESSABLE_ENTITY),
            ("a number for the conversation id", with(&["conversation", "id"], json!(5)), now, WIDGET_SECRET, StatusCode::UNPROCESSABLE_ENTITY),
            ("a string for the transcript", with(&["conversation", "transcript"], json!("hi")), now, WIDGET_SECRET, StatusCode::UNPROCESSABLE_ENTITY),
            ("no conversation", event(json!({"id": "e9", "type": "conversation.handed_off"})), now, WIDGET_SECRET, StatusCode::UNPROCESSABLE_ENTITY),
            ("an unknown event type", with(&["type"], json!("conversation.exploded")), now, WIDGET_SECRET, StatusCode::UNPROCESSABLE_ENTITY),
            ("an empty conversation id", with(&["conversation", "id"], json!("")), now, WIDGET_SECRET, StatusCode::UNPROCESSABLE_ENTITY),
            ("a 10 kB conversation id", with(&["conversation", "id"], json!("c".repeat(10_000))), now, WIDGET_SECRET, StatusCode::UNPROCESSABLE_ENTITY),
            ("1,001 transcript lines", with(&["conversation", "transcript"], json!(long_transcript)), now, WIDGET_SECRET, StatusCode::UNPROCESSABLE_ENTITY),
            ("a body past the size limit", with(&["conversation", "summary"], json!("x".repeat(2 * 1024 * 1024))), now, WIDGET_SECRET, StatusCode::PAYLOAD_TOO_LARGE),
            ("a message in a conversation nobody handed off", event(WidgetClient::message_event("nobody-knows", "visitor", "hi")), now, WIDGET_SECRET, StatusCode::NOT_FOUND),
            ("closing a conversation nobody handed off", event(WidgetClient::closed_event("nobody-knows")), now, WIDGET_SECRET, StatusCode::NOT_FOUND),
            ("signed with another secret", event(handoff.clone()), now, "not-the-widget-secret", StatusCode::UNAUTHORIZED),
            ("signed an hour ago", event(handoff.clone()), now - 3_600, WIDGET_SECRET, StatusCode::UNAUTHORIZED),
            ("signed an hour from now", event(handoff.clone()), now + 3_600, WIDGET_SECRET, StatusCode::UNAUTHORIZED),
        ];
        let before = state(&app).await;
        for (row, body, signed_at, secret, want) in rows {
            let res = app.client.send_raw(body, signed_at, secret).await;
            let status = res.status();
            let text = res.text().await.unwrap();
            assert_eq!(status, want, "{row}: {text}");
            says_why(row, &text);
            unchanged(&app, row, &before).await;
        }

        // Unsigned, and with a signature header that is not one.
        let body = event(handoff.clone());
        for (row, header) in [("unsigned", None), ("a garbled signature", Some("v1=zz,t=no"))] {
            let mut req = app.http.post(app.url("/v1/widget/events")).header("content-type", "application/json");
            if let Some(h) = header {
                req = req.header(signature::HEADER, h);
            }
            let res = req.body(body.clone()).send().await.unwrap();
            assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{row}");
            says_why(row, &res.text().await.unwrap());
            unchanged(&app, row, &before).await;
        }

        // A replay acts once: the first delivery is taken, the same event again changes nothing.
        handoff["id"] = json!("evt-replayed");
        let body = event(handoff);
        assert_eq!(app.client.send_raw(body.clone(), now, WIDGET_SECRET).await.status(), StatusCode::OK);
        let before = state(&app).await;
        for row in ["the same event again", "the same event a third time"] {
            assert_eq!(app.client.send_raw(body.clone(), unix_now(), WIDGET_SECRET).await.status(), StatusCode::OK, "{row}");
            unchanged(&app, row, &before).await;
        }
        assert_eq!(app.count("select count(*) from conversations where id = 'c2'").await, 1);
    }

    async fn every_bad_api_request_is_refused_and_changes_nothing(db) {
        let app = TestApp::spawn(&db).await;
        let ada = app.operator("Ada", "agent").await;
        app.handoff("c1", "support").await;
        let huge = "x".repeat(2 * 1024 * 1024);
        let rows: Vec<ApiRow> = vec![
            ("no token", Method::POST, "/v1/conversations/c1/claim".into(), None, Some(b"{}".to_vec()), StatusCode::UNAUTHORIZED),
            ("a token nobody issued", Method::POST, "/v1/conversations/c1/claim".into(), Some("not-a-token"), Some(b"{}".to_vec()), StatusCode::UNAUTHORIZED),
            ("truncated JSON", Method::POST, "/v1/conversations/c1/messages".into(), Some(&ada.token), Some(b"{\"text\": \"hel".to_vec()), StatusCode::BAD_REQUEST),
            ("a number for the reply text", Method::POST, "/v1/conversations/c1/messages".into(), Some(&ada.token), Some(b"{\"text\": 5}".to_vec()), StatusCode::UNPROCESSABLE_ENTITY),
            ("a string for the operator id", Method::POST, "/v1/conversations/c1/transfer".into(), Some(ADMIN_TOKEN), Some(b"{\"operator_id\": \"ada\"}".to_vec()), StatusCode::UNPROCESSABLE_ENTITY),
            ("an unknown role", Method::POST, "/v1/operators".into(), Some(ADMIN_TOKEN), Some(b"{\"name\": \"Eve\", \"role\": \"overlord\"}".to_vec()), StatusCode::UNPROCESSABLE_ENTITY),
            ("a body past the size limit", Method::POST, "/v1/conversations/c1/messages".into(), Some(&ada.token), Some(format!("{{\"text\": \"{huge}\"}}").into_bytes()), StatusCode::PAYLOAD_TOO_LARGE),
            ("an unknown conversation", Method::POST, "/v1/conversations/nope/claim".into(), Some(&ada.token), Some(b"{}".to_vec()), StatusCode::NOT_FOUND),
            ("a transfer to an unknown operator", Method::POST, "/v1/conversations/c1/transfer".into(), Some(ADMIN_TOKEN), Some(b"{\"operator_id\": 999999}".to_vec()), StatusCode::NOT_FOUND),
            ("an unknown operator", Method::PATCH, "/v1/operators/999999".into(), Some(ADMIN_TOKEN), Some(b"{\"name\": \"X\"}".to_vec()), StatusCode::NOT_FOUND),
            ("an operator id that is not a number", Method::PATCH, "/v1/operators/ada".into(), Some(ADMIN_TOKEN), Some(b"{\"name\": \"X\"}".to_vec()), StatusCode::NOT_FOUND),
            ("an unknown route", Method::GET, "/v1/nothing-here".into(), Some(ADMIN_TOKEN), None, StatusCode::NOT_FOUND),
            ("a method the route does not take", Method::DELETE, "/v1/conversations/c1/claim".into(), Some(ADMIN_TOKEN), None, StatusCode::METHOD_NOT_ALLOWED),
            ("an agent creating an operator", Method::POST, "/v1/operators".into(), Some(&ada.token), Some(b"{\"name\": \"Eve\"}".to_vec()), StatusCode::FORBIDDEN),
            ("a reply to an unknown conversation", Method::POST, "/v1/conversations/nope/messages".into(), Some(&ada.token), Some(b"{\"text\": \"hi\"}".to_vec()), StatusCode::NOT_FOUND),
            ("an empty reply", Method::POST, "/v1/conversations/c1/messages".into(), Some(&ada.token), Some(b"{\"text\": \"\"}".to_vec()), StatusCode::UNPROCESSABLE_ENTITY),
        ];
        let before = state(&app).await;
        for (row, method, path, token, body, want) in rows {
            let mut req = app.http.request(method, app.url(&path)).header("content-type", "application/json");
            if let Some(t) = token {
                req = req.bearer_auth(t);
            }
            if let Some(b) = body {
                req = req.body(b);
            }
            let res = req.send().await.unwrap();
            let status = res.status();
            let text = res.text().await.unwrap();
            assert_eq!(status, want, "{row}: {text}");
            says_why(row, &text);
            unchanged(&app, row, &before).await;
        }
    }

    async fn every_bad_slack_request_is_refused_and_changes_nothing(db) {
        let s = SlackApp::spawn(&db).await;
        let root = s.handoff("c1").await;
        let now = unix_now();
        let form = "application/x-www-form-urlencoded";
        let json_type = "application/json";
        let envelope = |id: &str, event: Value| SlackSender::event_envelope(id, event).to_string();
        let reply = SlackSender::thread_message(CHANNEL, ADA, "hello from Ada", &root);
        let interaction = |value: &str| {
            let payload = s.sender.block_action_payload(ADA, CHANNEL, &root, s.slack.message_json(CHANNEL, &root).unwrap(), "hb_accept", value);
            format!("payload={}", urlencode(&payload.to_string()))
        };
        let command = |text: &str| {
            s.sender
                .command_fields(ADA, CHANNEL, text)
                .into_iter()
                .map(|(k, v)| format!("{k}={}", urlencode(&v)))
                .collect::<Vec<_>>()
                .join("&")
        };
        let events = "/slack/events";
        let interactions = "/slack/interactions";
        let commands = "/slack/commands";
        let rows: Vec<(&str, &str, &str, String, i64, &str, StatusCode)> = vec![
            ("an event signed with another secret", events, json_type, envelope("Ev1", reply.clone()), now, "not-the-secret", StatusCode::UNAUTHORIZED),
            ("an event signed ten minutes ago", events, json_type, envelope("Ev1", reply.clone()), now - 600, SLACK_SECRET, StatusCode::UNAUTHORIZED),
            ("an event signed ten minutes ahead", events, json_type, envelope("Ev1", reply.clone()), now + 600, SLACK_SECRET, StatusCode::UNAUTHORIZED),
            ("a truncated event", events, json_type, envelope("Ev1", reply.clone())[..40].to_string(), now, SLACK_SECRET, StatusCode::BAD_REQUEST),
            ("an event of the wrong shape", events, json_type, json!({"type": "event_callback", "event_id": 5}).to_string(), now, SLACK_SECRET, StatusCode::UNPROCESSABLE_ENTITY),
            ("a click signed with another secret", interactions, form, interaction("1:c1"), now, "not-the-secret", StatusCode::UNAUTHORIZED),
            ("a click signed ten minutes ago", interactions, form, interaction("1:c1"), now - 600, SLACK_SECRET, StatusCode::UNAUTHORIZED),
            ("a click without a payload", interactions, form, "user=U0ADA".into(), now, SLACK_SECRET, StatusCode::BAD_REQUEST),
            ("a click whose payload is not JSON", interactions, form, "payload=%7B%22type%22%3A".into(), now, SLACK_SECRET, StatusCode::BAD_REQUEST),
            ("a command signed with another secret", commands, form, command("claim c1"), now, "not-the-secret", StatusCode::UNAUTHORIZED),
            ("a command signed ten minutes ago", commands, form, command("claim c1"), now - 600, SLACK_SECRET, StatusCode::UNAUTHORIZED),
            ("a command without a user", commands, form, "command=%2Fhandoff&text=claim+c1".into(), now, SLACK_SECRET, StatusCode::BAD_REQUEST),
        ];
        s.settle().await;
        let before = state(&s).await;
        for (row, path, content_type, body, ts, secret, want) in rows {
            let res = s.sender.send_raw(path, content_type, body, ts, secret).await;
            let status = res.status();
            let text = res.text().await.unwrap();
            assert_eq!(status, want, "{row}: {text}");
            says_why(row, &text);
            unchanged(&s, row, &before).await;
        }
        let unsigned = s.http.post(s.url(events)).header("content-type", json_type).body(envelope("Ev1", reply.clone())).send().await.unwrap();
        assert_eq!(unsigned.status(), StatusCode::UNAUTHORIZED, "an unsigned event");
        unchanged(&s, "an unsigned event", &before).await;
        assert!(s.slack.take_calls().is_empty(), "a refused request made no Slack call");

        // Forged button values and unknown command words: Slack gets its 200, the
        // person a private answer saying why, and nothing changes.
        let forged: Vec<(&str, String)> = vec![
            ("a button value that is not one", interaction("garbage")),
            ("a button for an unknown conversation", interaction("1:nope")),
            ("an unknown command word", command("frobnicate c1")),
            ("a claim of an unknown conversation", command("claim nope")),
            ("routing an unknown widget", command("routing nope round-robin")),
        ];
        for (row, body) in forged {
            let path = if body.starts_with("payload=") { interactions } else { commands };
            let res = s.sender.send_raw(path, form, body, unix_now(), SLACK_SECRET).await;
            assert_eq!(res.status(), StatusCode::OK, "{row}");
            let answer = res.text().await.unwrap();
            s.settle().await;
            let calls = s.slack.take_calls();
            let ephemerals: Vec<String> = calls
                .iter()
                .filter(|c| c.method == "chat.postEphemeral" || c.method == "response_url")
                .map(|c| c.args.to_string())
                .collect();
            assert!(
                answer.contains("ephemeral") || !ephemerals.is_empty(),
                "{row}: a private answer: {answer} {calls:#?}"
            );
            assert!(calls.iter().all(|c| c.method != "chat.postMessage" && c.method != "chat.update"), "{row}: nothing public: {calls:#?}");
            unchanged(&s, row, &before).await;
        }

        // A replayed event acts once, whether Slack says it is a retry or not.
        let event = envelope("EvReplayed", reply);
        assert_eq!(s.sender.send_raw(events, json_type, event.clone(), unix_now(), SLACK_SECRET).await.status(), StatusCode::OK);
        s.settle().await;
        s.slack.take_calls();
        let before = state(&s).await;
        let delivered = s.widget.delivered().len();
        for row in ["the same event again", "the same event a third time"] {
            assert_eq!(s.sender.send_raw(events, json_type, event.clone(), unix_now(), SLACK_SECRET).await.status(), StatusCode::OK);
            s.settle().await;
            unchanged(&s, row, &before).await;
        }
        assert_eq!(s.widget.delivered().len(), delivered, "the reply reached the widget once");
        assert!(s.slack.take_calls().is_empty(), "a replay made no Slack call");
    }

    async fn every_forged_discord_interaction_is_answered_privately_and_changes_nothing(db) {
        // Only operators an admin added may act, so a stranger's click changes nothing.
        let d = DiscordApp::spawn_with(&db, &[("HANDOFF_PROVISIONING", "invite")]).await;
        let thread = d.handoff("c1").await;
        let root = d.root("c1").await;
        let sub = |name: &str, options: Value| json!([{"name": name, "type": 1, "options": options}]);
        let word = |name: &str, value: &str| json!({"name": name, "type": 3, "value": value});
        let before = state(&d).await;
        let clicks = [
            ("a custom id that is not one", "garbage"),
            ("a custom id with no conversation", "hb:claim:1:"),
            ("an unknown verb", "hb:frobnicate:1:c1"),
            ("a button for an unknown conversation", "hb:claim:1:nope"),
            ("a version that is not a number", "hb:claim:x:c1"),
        ];
        for (row, custom_id) in clicks {
            let i = d.discord.click_button(root.channel_id, root.id, discord_helpers::ADA, custom_id);
            privately_answered(&d, row, &i).await;
            unchanged(&d, row, &before).await;
        }
        // Someone the bridge has never seen, clicking Accept, is not made an agent.
        let (accept, _) = DiscordApp::buttons(&root).into_iter().find(|(_, l)| l == "Accept").unwrap();
        let i = d.discord.click_button(root.channel_id, root.id, EVE, &accept);
        privately_answered(&d, "a stranger's Accept", &i).await;
        unchanged(&d, "a stranger's Accept", &before).await;
        // Commands with words the bridge does not know, from a manager.
        for (row, options) in [
            ("routing an unknown widget", sub("routing", json!([word("widget", "nope"), word("mode", "round-robin")]))),
            ("claiming an unknown conversation", sub("claim", json!([word("conversation", "nope")]))),
        ] {
            let i = d.discord.run_command(GUILD, thread, MAX, "handoff", options);
            privately_answered(&d, row, &i).await;
        }
        d.settle().await;
        let calls = d.discord.take_calls();
        assert!(
            calls.iter().all(|c| !c.route.starts_with("POST /channels/{channel_id}/messages") && !c.route.starts_with("PATCH /channels/{channel_id}/messages")),
            "nothing public: {:#?}", calls.iter().map(|c| &c.route).collect::<Vec<_>>()
        );
        unchanged(&d, "the commands", &before).await;
        assert!(d.conversation("c1").await["assignee"].is_null());
    }

    async fn markup_a_visitor_types_pings_nobody_on_either_platform(db) {
        let b = both_platforms::spawn(&db).await;
        let markup = "<!channel> <!here> <!everyone> <!subteam^S0OPS|@ops> <@U0EVE> @everyone @here <@700000000000000104> <@&700000000000000999>";
        let mut handoff = WidgetClient::handoff_event("c1", "support");
        handoff["conversation"]["visitor"]["name"] = json!(markup);
        handoff["conversation"]["summary"] = json!(markup);
        handoff["conversation"]["transcript"][0]["text"] = json!(markup);
        assert_eq!(b.d.client.send(&handoff).await.status(), StatusCode::OK);
        let message = WidgetClient::message_event("c1", "visitor", markup);
        assert_eq!(b.d.client.send(&message).await.status(), StatusCode::OK);
        b.d.settle().await;
        b.slack.take_calls();
        b.d.discord.take_calls();

        let slack = b.slack.messages(crate::slack_helpers::CHANNEL);
        assert!(slack.len() >= 3, "the root, the transcript and the message: {slack:#?}");
        for m in &slack {
            assert!(m.pings().is_empty(), "Slack pinged {:?} for {m:#?}", m.pings());
        }
        let thread = b.d.thread_of("c1").await;
        let mut discord = b.d.discord.messages(discord_helpers::CHANNEL);
        discord.extend(b.d.discord.messages(thread));
        assert!(discord.len() >= 3, "the root, the transcript and the message: {discord:#?}");
        for m in &discord {
            assert!(m.pings.is_empty(), "Discord pinged {:?} for {m:#?}", m.pings);
        }
        // The text still shows as the visitor typed it.
        let shown: String = discord.iter().map(DiscordApp::text).collect();
        assert!(shown.contains("everyone"), "{shown}");
    }
}

/// Waits until an interaction got an answer only its author sees.
async fn privately_answered(d: &DiscordApp, row: &str, i: &Interacted) {
    let private = |x: &Value| x["body"]["data"]["flags"] == 64 || x["body"]["flags"] == 64;
    eventually(&format!("{row}: a private answer"), || async {
        d.discord
            .interaction_responses(&i.token)
            .iter()
            .any(private)
            .then_some(())
    })
    .await;
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}
