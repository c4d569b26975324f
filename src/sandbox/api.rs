//! The sandbox page and the controls it calls. The page reads one snapshot of the
//! world (`GET /sandbox/state`: the visitor chats, the Slack channel with its threads,
//! the Discord channel with its threads, each operator's DMs and private answers) and
//! acts only by sending what the real senders send: signed widget events, signed Slack
//! interactions, events and slash commands, and Discord gateway interactions and
//! messages. The inbox and the audit trail come from the HTTP API itself, with the demo
//! operator's token.

use super::world::{DISCORD_CHANNEL, SLACK_CHANNEL, World};
use crate::standins::widget::WidgetClient;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

const PAGE: &str = include_str!("page/index.html");
const SCRIPT: &str = include_str!("page/app.js");
const STYLE: &str = include_str!("page/app.css");

pub fn router(world: World) -> Router {
    Router::new()
        .route("/sandbox", get(|| async { page(PAGE, "text/html; charset=utf-8") }))
        .route(
            "/sandbox/app.js",
            get(|| async { page(SCRIPT, "text/javascript; charset=utf-8") }),
        )
        .route(
            "/sandbox/app.css",
            get(|| async { page(STYLE, "text/css; charset=utf-8") }),
        )
        .route("/sandbox/state", get(state))
        .route("/sandbox/visitor", post(visitor))
        .route("/sandbox/slack/click", post(slack_click))
        .route("/sandbox/slack/say", post(slack_say))
        .route("/sandbox/slack/command", post(slack_command))
        .route("/sandbox/discord/click", post(discord_click))
        .route("/sandbox/discord/say", post(discord_say))
        .route("/sandbox/modal", post(modal))
        .with_state(world)
}

fn page(body: &'static str, content_type: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body,
    )
        .into_response()
}

/// A refusal the page shows as it is.
fn refused(status: StatusCode, why: impl Into<String>) -> Response {
    (status, Json(json!({"error": {"message": why.into()}}))).into_response()
}

/// What came back from the service, passed on to the page.
async fn passed_on(sent: Result<reqwest::Response, reqwest::Error>) -> Response {
    match sent {
        Ok(res) => {
            let status = StatusCode::from_u16(res.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
            let body: Value = res.json().await.unwrap_or(Value::Null);
            (status, Json(json!({"status": status.as_u16(), "answer": body}))).into_response()
        }
        Err(e) => refused(StatusCode::BAD_GATEWAY, format!("the service did not answer: {e}")),
    }
}

/// The buttons of Slack blocks: (action_id, label, value).
fn slack_buttons(blocks: &Value) -> Vec<Value> {
    let mut out = Vec::new();
    for block in blocks.as_array().into_iter().flatten() {
        for el in block["elements"].as_array().into_iter().flatten() {
            if el["type"] == "button" {
                out.push(json!({"action_id": el["action_id"], "label": el["text"]["text"], "value": el["value"]}));
            }
        }
    }
    out
}

/// The text of Slack blocks (sections, contexts), one line each.
fn slack_text(blocks: &Value, fallback: &str) -> String {
    let mut lines = Vec::new();
    for block in blocks.as_array().into_iter().flatten() {
        if let Some(t) = block["text"]["text"].as_str() {
            lines.push(t.to_owned());
        }
        for el in block["elements"].as_array().into_iter().flatten() {
            if el["type"] != "button"
                && let Some(t) = el["text"].as_str()
            {
                lines.push(t.to_owned());
            }
        }
        for f in block["fields"].as_array().into_iter().flatten() {
            if let Some(t) = f["text"].as_str() {
                lines.push(t.to_owned());
            }
        }
    }
    if lines.is_empty() {
        fallback.to_owned()
    } else {
        lines.join("\n")
    }
}

/// The buttons of Discord components: (custom_id, label).
fn discord_buttons(components: &[Value]) -> Vec<Value> {
    let mut out = Vec::new();
    for row in components {
        for c in row["components"].as_array().into_iter().flatten() {
            if c["type"] == 2 && c["custom_id"].is_string() {
                out.push(json!({"custom_id": c["custom_id"], "label": c["label"]}));
            }
        }
    }
    out
}

fn discord_text(content: &str, embeds: &[Value]) -> String {
    let mut lines = vec![content.to_owned()];
    for e in embeds {
        for key in ["title", "description"] {
            if let Some(t) = e[key].as_str() {
                lines.push(t.to_owned());
            }
        }
        for f in e["fields"].as_array().into_iter().flatten() {
            lines.push(format!(
                "{}: {}",
                f["name"].as_str().unwrap_or(""),
                f["value"].as_str().unwrap_or("")
            ));
        }
    }
    lines.retain(|l| !l.is_empty());
    lines.join("\n")
}

async fn state(State(w): State<World>) -> Json<Value> {
    let cast = w.operators();
    let slack_user = |id: &str| -> String {
        match cast.iter().find(|o| o.slack_user == id) {
            Some(o) => o.name.clone(),
            None if id == crate::standins::slack::SlackStandIn::BOT_USER => "handoff-bridge".into(),
            None => id.to_owned(),
        }
    };
    let discord_user = |id: u64| -> String {
        match cast.iter().find(|o| o.discord_user == id.to_string()) {
            Some(o) => o.name.clone(),
            None if id == crate::standins::discord::DiscordStandIn::BOT_USER_ID => "handoff-bridge".into(),
            None => id.to_string(),
        }
    };
    // Mentions of the demo cast read as their names, as the platforms' clients show them.
    let names = |text: String| -> String {
        cast.iter().fold(text, |t, o| {
            t.replace(&format!("<@{}>", o.slack_user), &format!("@{}", o.name))
                .replace(&format!("<@{}>", o.discord_user), &format!("@{}", o.name))
        })
    };
    let slack_message = |m: &crate::standins::slack::SlackMessage| {
        json!({
            "ts": m.ts, "author": slack_user(&m.user), "text": names(slack_text(&m.blocks, &m.text)),
            "buttons": slack_buttons(&m.blocks), "reactions": m.reactions, "edited": m.edited,
        })
    };
    // Slack: the channel's roots, each with its thread.
    let all = w.slack.messages(SLACK_CHANNEL);
    let slack_threads: Vec<Value> = all
        .iter()
        .filter(|m| m.thread_ts.is_none())
        .map(|root| {
            let replies: Vec<Value> = all
                .iter()
                .filter(|m| m.thread_ts.as_deref() == Some(root.ts.as_str()) && m.ts != root.ts)
                .map(slack_message)
                .collect();
            json!({"root": slack_message(root), "replies": replies})
        })
        .collect();
    // Discord: the channel's roots, each with the thread started from it.
    let discord_message = |m: &crate::standins::discord::DiscordMessage| {
        json!({
            "id": m.id.to_string(), "channel": m.channel_id.to_string(), "author": discord_user(m.author_id),
            "text": names(discord_text(&m.content, &m.embeds)), "buttons": discord_buttons(&m.components),
            "reactions": m.reactions, "edited": m.edited,
        })
    };
    let discord_threads: Vec<Value> = w
        .discord
        .messages(DISCORD_CHANNEL)
        .iter()
        .filter(|m| m.author_id == crate::standins::discord::DiscordStandIn::BOT_USER_ID && m.webhook_id.is_none())
        .map(|root| {
            let replies: Vec<Value> = root
                .thread_id
                .map(|t| w.discord.messages(t).iter().map(discord_message).collect())
                .unwrap_or_default();
            json!({"root": discord_message(root), "thread": root.thread_id.map(|t| t.to_string()), "replies": replies})
        })
        .collect();
    // Each operator's DMs and private answers, on both platforms.
    let memory = w.memory();
    let operators: Vec<Value> = cast
        .iter()
        .map(|o| {
            let slack_dms: Vec<Value> = w
                .slack
                .dm_channel(&o.slack_user)
                .map(|c| w.slack.messages(&c).iter().map(slack_message).collect())
                .unwrap_or_default();
            let slack_private: Vec<Value> = w
                .slack
                .ephemerals()
                .iter()
                .filter(|e| e.user == o.slack_user)
                .map(|e| json!({"text": names(slack_text(&e.blocks, &e.text)), "buttons": slack_buttons(&e.blocks)}))
                .collect();
            let discord_user_id: u64 = o.discord_user.parse().unwrap_or_default();
            let discord_dms: Vec<Value> = w
                .discord
                .dm_channel(discord_user_id)
                .map(|c| w.discord.messages(c).iter().map(discord_message).collect())
                .unwrap_or_default();
            let discord_private: Vec<Value> = memory
                .interactions
                .iter()
                .filter(|(u, ..)| *u == discord_user_id)
                .flat_map(|(_, i, ..)| w.discord.interaction_responses(&i.token))
                .filter_map(|r| {
                    let body = &r["body"];
                    let content = body["content"].as_str().or(body["data"]["content"].as_str())?;
                    Some(json!({"text": content}))
                })
                .collect();
            // Modals opened for them and not submitted yet.
            let mut modals: Vec<Value> = Vec::new();
            for (_, i, channel, message) in memory.interactions.iter().filter(|(u, ..)| *u == discord_user_id) {
                for r in w.discord.interaction_responses(&i.token) {
                    let data = &r["body"]["data"];
                    let Some(id) = data["custom_id"].as_str().filter(|_| r["body"]["type"] == 9) else { continue };
                    if memory.submitted.contains(id) {
                        continue;
                    }
                    let fields: Vec<Value> = data["components"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .flat_map(|row| row["components"].as_array().cloned().unwrap_or_default())
                        .map(|c| json!({"id": c["custom_id"], "label": c["label"], "kind": "text", "required": c["required"]}))
                        .collect();
                    modals.push(json!({
                        "platform": "discord", "id": id, "title": data["title"], "fields": fields,
                        "channel": channel.to_string(), "message": message.map(|m| m.to_string()),
                    }));
                }
            }
            if memory.slack_clicker == Some(o.id) {
                for v in w.slack.views().iter().filter(|v| !memory.submitted.contains(&v.view_id)) {
                    let fields: Vec<Value> = v.view["blocks"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter(|b| b["type"] == "input")
                        .map(|b| {
                            let el = &b["element"];
                            let options: Vec<Value> = el["options"]
                                .as_array()
                                .into_iter()
                                .flatten()
                                .map(|o| json!({"text": o["text"]["text"], "value": o["value"]}))
                                .collect();
                            let kind = match el["type"].as_str() {
                                Some("static_select") => "select",
                                Some("checkboxes") => "checkboxes",
                                _ => "text",
                            };
                            json!({
                                "id": b["block_id"], "action": el["action_id"], "label": b["label"]["text"],
                                "kind": kind,
                                "element": el["type"], "options": options, "required": !b["optional"].as_bool().unwrap_or(false),
                            })
                        })
                        .collect();
                    let errors = memory.view_errors.get(&v.view_id).cloned().unwrap_or_else(|| json!({}));
                    modals.push(json!({
                        "platform": "slack", "id": v.view_id, "title": v.view["title"]["text"],
                        "submit": v.view["submit"]["text"], "fields": fields, "errors": errors,
                    }));
                }
            }
            json!({
                "id": o.id, "name": o.name, "role": o.role, "token": o.token, "modals": modals,
                "slack_user": o.slack_user, "discord_user": o.discord_user,
                "slack": {"dms": slack_dms, "private": slack_private},
                "discord": {"dms": discord_dms, "private": discord_private},
            })
        })
        .collect();
    // The visitor chats: what each visitor wrote, and what reached them.
    let delivered = w.widget.delivered();
    let chats: Vec<Value> = memory
        .chats
        .iter()
        .map(|(conversation, widget, visitor)| {
            let mut lines: Vec<Value> = memory
                .visitor_lines
                .iter()
                .filter(|(c, _)| c == conversation)
                .map(|(_, t)| json!({"from": "visitor", "text": t}))
                .collect();
            for call in delivered
                .iter()
                .filter(|c| c.conversation.as_deref() == Some(conversation))
            {
                match call.kind.as_deref() {
                    Some("messages") => lines.push(json!({
                        "from": "operator",
                        "name": call.body["operator"]["name"],
                        "text": call.body["text"],
                    })),
                    Some("assignment") => lines.push(json!({"from": "system", "text": assignment_line(&call.body)})),
                    Some("handback") => lines.push(json!({"from": "system", "text": "Back with the AI bot."})),
                    _ => {}
                }
            }
            json!({"conversation": conversation, "widget": widget, "visitor": visitor, "lines": lines})
        })
        .collect();
    Json(json!({
        "widgets": super::world::WIDGETS.iter().map(|(id, routing)| json!({"id": id, "routing": routing})).collect::<Vec<_>>(),
        "operators": operators,
        "chats": chats,
        "slack": {"channel": SLACK_CHANNEL, "threads": slack_threads},
        "discord": {"channel": DISCORD_CHANNEL.to_string(), "threads": discord_threads},
    }))
}

/// What the visitor's widget shows of an assignment call.
fn assignment_line(body: &Value) -> String {
    let status = body["status"].as_str().unwrap_or("updated");
    match body["assignee"]["name"].as_str() {
        Some(name) => format!("{name} is on it ({status})."),
        None => format!("Waiting for a human ({status})."),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VisitorBody {
    widget: String,
    /// The chat to write in; none starts a new one.
    conversation: Option<String>,
    text: String,
    /// Ask for a human (a handoff) rather than send a message.
    #[serde(default)]
    handoff: bool,
}

async fn visitor(State(w): State<World>, Json(b): Json<VisitorBody>) -> Response {
    if !super::world::WIDGETS.iter().any(|(id, _)| *id == b.widget) {
        return refused(StatusCode::NOT_FOUND, format!("no demo widget `{}`", b.widget));
    }
    let text = b.text.trim().to_owned();
    if text.is_empty() && !b.handoff {
        return refused(StatusCode::UNPROCESSABLE_ENTITY, "write something first");
    }
    let conversation = b
        .conversation
        .unwrap_or_else(|| format!("sandbox-{}-{}", b.widget, hex::encode(rand::random::<[u8; 3]>())));
    let event = if b.handoff {
        let mut e = WidgetClient::handoff_event(&conversation, &b.widget);
        let convo = &mut e["conversation"];
        convo["visitor"] = json!({"name": "Sam (demo visitor)"});
        convo["summary"] = json!(if text.is_empty() {
            "Asked for a human".to_owned()
        } else {
            text.clone()
        });
        let mut transcript = vec![
            json!({"author": "bot", "text": "Hi! I'm the shop's AI assistant. How can I help?", "at": convo["transcript"][1]["at"]}),
        ];
        {
            let memory = w.memory();
            for (_, t) in memory.visitor_lines.iter().filter(|(c, _)| *c == conversation) {
                transcript.push(json!({"author": "visitor", "text": t, "at": convo["transcript"][1]["at"]}));
            }
        }
        if !text.is_empty() {
            transcript.push(json!({"author": "visitor", "text": text, "at": convo["transcript"][1]["at"]}));
        }
        convo["transcript"] = json!(transcript);
        e
    } else {
        WidgetClient::message_event(&conversation, "visitor", &text)
    };
    let sent = w.client().try_send(&event).await;
    if matches!(&sent, Ok(r) if r.status().is_success()) {
        let mut memory = w.memory();
        if !memory.chats.iter().any(|(c, _, _)| *c == conversation) {
            memory
                .chats
                .push((conversation.clone(), b.widget.clone(), "Sam (demo visitor)".into()));
        }
        if !text.is_empty() {
            memory.visitor_lines.push((conversation.clone(), text));
        }
    }
    let mut res = passed_on(sent).await;
    if let Ok(v) = header::HeaderValue::from_str(&conversation) {
        res.headers_mut().insert("x-sandbox-conversation", v);
    }
    res
}

/// A request for a demo operator there is not.
fn no_operator(id: i64) -> Response {
    refused(StatusCode::NOT_FOUND, format!("no demo operator {id}"))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SlackClick {
    operator: i64,
    /// The root (or DM) message the button is on.
    ts: String,
    action_id: String,
    value: String,
}

async fn slack_click(State(w): State<World>, Json(b): Json<SlackClick>) -> Response {
    let Some(o) = w.operator(b.operator) else {
        return no_operator(b.operator);
    };
    w.memory().slack_clicker = Some(o.id);
    let message = w
        .slack
        .message_json(SLACK_CHANNEL, &b.ts)
        .unwrap_or_else(|| json!({"ts": b.ts, "type": "message"}));
    let sent = w
        .sender()
        .try_block_action(&o.slack_user, SLACK_CHANNEL, &b.ts, message, &b.action_id, &b.value)
        .await;
    passed_on(sent).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SlackSay {
    operator: i64,
    thread_ts: String,
    text: String,
}

async fn slack_say(State(w): State<World>, Json(b): Json<SlackSay>) -> Response {
    let Some(o) = w.operator(b.operator) else {
        return no_operator(b.operator);
    };
    if b.text.trim().is_empty() {
        return refused(StatusCode::UNPROCESSABLE_ENTITY, "write something first");
    }
    let event = w.slack.user_reply(SLACK_CHANNEL, &o.slack_user, &b.text, &b.thread_ts);
    let id = format!("EvSandbox{}", hex::encode(rand::random::<[u8; 6]>()));
    passed_on(w.sender().try_event(&id, event).await).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SlackCommand {
    operator: i64,
    /// What follows `/handoff`.
    text: String,
}

async fn slack_command(State(w): State<World>, Json(b): Json<SlackCommand>) -> Response {
    let Some(o) = w.operator(b.operator) else {
        return no_operator(b.operator);
    };
    let res = w.sender().command(&o.slack_user, SLACK_CHANNEL, &b.text).await;
    passed_on(Ok(res)).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DiscordClick {
    operator: i64,
    channel: String,
    message: String,
    custom_id: String,
}

async fn discord_click(State(w): State<World>, Json(b): Json<DiscordClick>) -> Response {
    let Some(o) = w.operator(b.operator) else {
        return no_operator(b.operator);
    };
    let (Ok(channel), Ok(message), Ok(user)) = (b.channel.parse(), b.message.parse(), o.discord_user.parse::<u64>())
    else {
        return refused(StatusCode::BAD_REQUEST, "`channel` and `message` are Discord ids");
    };
    let i = w.discord.click_button(channel, message, user, &b.custom_id);
    w.memory().interactions.push((user, i, channel, Some(message)));
    (StatusCode::OK, Json(json!({"status": 200}))).into_response()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DiscordSay {
    operator: i64,
    thread: String,
    text: String,
}

async fn discord_say(State(w): State<World>, Json(b): Json<DiscordSay>) -> Response {
    let Some(o) = w.operator(b.operator) else {
        return no_operator(b.operator);
    };
    if b.text.trim().is_empty() {
        return refused(StatusCode::UNPROCESSABLE_ENTITY, "write something first");
    }
    let (Ok(thread), Ok(user)) = (b.thread.parse::<u64>(), o.discord_user.parse::<u64>()) else {
        return refused(StatusCode::BAD_REQUEST, "`thread` is a Discord id");
    };
    let id = w.discord.user_message(thread, user, &b.text);
    (StatusCode::OK, Json(json!({"status": 200, "message": id.to_string()}))).into_response()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ModalBody {
    operator: i64,
    platform: String,
    /// The Discord modal's custom id, or the Slack view's id.
    id: String,
    /// Field id → what was entered or picked.
    #[serde(default)]
    values: std::collections::BTreeMap<String, String>,
    channel: Option<String>,
    message: Option<String>,
}

/// Submits a modal the way the platform does: a Discord modal submit interaction, or a
/// Slack `view_submission`.
async fn modal(State(w): State<World>, Json(b): Json<ModalBody>) -> Response {
    let Some(o) = w.operator(b.operator) else {
        return no_operator(b.operator);
    };
    match b.platform.as_str() {
        "discord" => {
            let (Some(Ok(channel)), Ok(user)) = (
                b.channel.as_deref().map(str::parse::<u64>),
                o.discord_user.parse::<u64>(),
            ) else {
                return refused(StatusCode::BAD_REQUEST, "a Discord modal needs its `channel`");
            };
            let message = b.message.as_deref().and_then(|m| m.parse().ok());
            let fields: Vec<(&str, &str)> = b.values.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            let i = w.discord.submit_modal(channel, message, user, &b.id, &fields);
            let mut memory = w.memory();
            memory.submitted.insert(b.id.clone());
            memory.interactions.push((user, i, channel, message));
            (StatusCode::OK, Json(json!({"status": 200}))).into_response()
        }
        "slack" => {
            let Some(opened) = w.slack.views().into_iter().find(|v| v.view_id == b.id) else {
                return refused(StatusCode::NOT_FOUND, format!("no open Slack view `{}`", b.id));
            };
            let mut values = serde_json::Map::new();
            for block in opened.view["blocks"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|b| b["type"] == "input")
            {
                let (Some(block_id), Some(action)) =
                    (block["block_id"].as_str(), block["element"]["action_id"].as_str())
                else {
                    continue;
                };
                let Some(given) = b.values.get(block_id).filter(|v| !v.is_empty()) else {
                    continue;
                };
                let el = &block["element"];
                let options = el["options"].as_array().into_iter().flatten();
                let value = match el["type"].as_str() {
                    Some("static_select") => {
                        let picked = options.clone().find(|o| o["value"] == given.as_str());
                        json!({"type": "static_select", "selected_option": picked})
                    }
                    Some("checkboxes") => {
                        // The ticked boxes' values, comma-separated.
                        let ticked: Vec<&str> = given.split(',').map(str::trim).collect();
                        let picked: Vec<&Value> = options
                            .filter(|o| o["value"].as_str().is_some_and(|v| ticked.contains(&v)))
                            .collect();
                        json!({"type": "checkboxes", "selected_options": picked})
                    }
                    _ => json!({"type": el["type"], "value": given}),
                };
                values.insert(block_id.to_owned(), json!({ action: value }));
            }
            let res = w
                .sender()
                .view_submission(&o.slack_user, opened.view.clone(), Value::Object(values))
                .await;
            let status = res.status();
            let answer: Value = res.json().await.unwrap_or(Value::Null);
            let mut memory = w.memory();
            if answer["response_action"] == "errors" {
                // Slack keeps the modal open and shows each error under its field.
                memory.view_errors.insert(b.id, answer["errors"].clone());
            } else if status.is_success() {
                memory.view_errors.remove(&b.id);
                memory.submitted.insert(b.id);
            }
            let status = StatusCode::from_u16(status.as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
            (status, Json(json!({"status": status.as_u16(), "answer": answer}))).into_response()
        }
        other => refused(StatusCode::BAD_REQUEST, format!("no platform `{other}` in the sandbox")),
    }
}
