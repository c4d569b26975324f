//! The Slack stand-in's HTTP side: the routes (`/api/{method}`, the `response_url`s, the
//! files' URLs), the table of Web API methods it serves, and the life of one call —
//! numbered on arrival, its injected fault applied (delays and hangs wait without the
//! world lock, so other calls go on), carried out under the lock, recorded, answered.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, Method};
use axum::response::Response;
use axum::routing::{any, get, post};
use serde_json::{Value, json};

use super::SlackCall;
use super::state::{Fault, Shared, World};
use super::wire::{Args, Reply, api_error, json_response, parse_request, with_ok};

/// The routes, on `shared`.
pub(super) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/api/{method}", any(api_handler))
        .route("/hooks/{kind}/{id}", post(hook_handler))
        .route("/files-pri/{team_file}/{name}", get(super::files::private_file))
        .route(
            "/files-pri/{team_file}/download/{name}",
            get(super::files::private_download),
        )
        .route("/signin", get(super::files::sign_in))
        .route(
            "/socket",
            axum::routing::get(super::socket::upgrade).with_state(shared.sockets.clone()),
        )
        .fallback(|| async { json_response(404, &api_error("unknown_method"), None) })
        .with_state(shared)
}

/// The Web API methods the stand-in serves.
const METHODS: &[&str] = &[
    "auth.test",
    "chat.postMessage",
    "chat.update",
    "chat.postEphemeral",
    "chat.getPermalink",
    "conversations.open",
    "conversations.info",
    "conversations.history",
    "conversations.replies",
    "views.open",
    "views.update",
    "reactions.add",
    "users.info",
    "files.info",
];

impl World {
    fn dispatch(&mut self, method: &str, a: &Args) -> Reply {
        match method {
            "auth.test" => Ok(Self::auth_test()),
            "chat.postMessage" => self.post_message(a),
            "chat.update" => self.update_message(a),
            "chat.postEphemeral" => self.post_ephemeral(a),
            "chat.getPermalink" => self.permalink(a),
            "conversations.open" => self.open_conversation(a),
            "conversations.info" => self.conversation_info(a),
            "conversations.history" => self.conversation_history(a),
            "conversations.replies" => self.conversation_replies(a),
            "views.open" => self.open_view(a),
            "views.update" => self.update_view(a),
            "reactions.add" => self.add_reaction(a),
            "users.info" => self.user_info(a),
            "files.info" => self.file_info(a),
            _ => Err(api_error("unknown_method")),
        }
    }
}

/// An answer: status, JSON body and `Retry-After`.
type Answer = (u16, Value, Option<HeaderValue>);

/// The answer to an injected fault (`None` for the faults that answer normally later).
fn fault_answer(fault: &Fault) -> Option<Answer> {
    match fault {
        Fault::RateLimited(retry_after) => Some((429, api_error("ratelimited"), Some(retry_after.clone()))),
        Fault::Status(s) => {
            let code = if *s == 503 {
                "service_unavailable"
            } else {
                "fatal_error"
            };
            Some((*s, api_error(code), None))
        }
        Fault::Error(e) => Some((200, api_error(e), None)),
        Fault::Delay(_) | Fault::LostResponse | Fault::Hang => None,
    }
}

/// `GET|POST /api/{method}`.
async fn api_handler(
    State(shared): State<Arc<Shared>>,
    Path(method): Path<String>,
    verb: Method,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let incoming = parse_request(&verb, query.as_deref(), &headers, &body);
    if method == "apps.connections.open" {
        // Socket Mode: the app-level token, not the bot token.
        let call = unanswered(&method, incoming.args_value(), false);
        let sockets = shared.sockets.clone();
        let token = incoming.token.clone();
        return run_call(&shared, call, move |w| {
            (200, sockets.open_url(&w.base_url, token.as_deref()))
        })
        .await;
    }
    let token_ok = incoming.token.as_deref() == Some(shared.token.as_str());
    let call = unanswered(&method, incoming.args_value(), token_ok);
    run_call(&shared, call, |w| {
        let answer = if !METHODS.contains(&method.as_str()) {
            json!({"ok": false, "error": "unknown_method", "req_method": method})
        } else if incoming.token.as_deref().is_none_or(str::is_empty) {
            api_error("not_authed")
        } else if !token_ok {
            api_error("invalid_auth")
        } else {
            match incoming.args {
                Err(code) => api_error(code),
                Ok(args) => w.dispatch(&method, &Args(args)).map_or_else(|e| e, with_ok),
            }
        };
        (200, answer)
    })
    .await
}

/// `POST /hooks/{kind}/{id}`: a `response_url` (JSON body, or form `payload=`).
async fn hook_handler(
    State(shared): State<Arc<Shared>>,
    Path((_kind, id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let incoming = parse_request(&Method::POST, None, &headers, &body);
    let args = match incoming.args {
        Ok(m) => match m.get("payload").and_then(Value::as_str) {
            Some(p) => serde_json::from_str(p).unwrap_or(Value::Null),
            None => Value::Object(m),
        },
        Err(_) => Value::Null,
    };
    let call = unanswered("response_url", args.clone(), true);
    run_call(&shared, call, |w| w.respond(&id, &args)).await
}

/// A call as recorded before it has an answer.
pub(super) fn unanswered(method: &str, args: Value, token_ok: bool) -> SlackCall {
    SlackCall {
        method: method.to_string(),
        args,
        token_ok,
        status: 0,
        response: Value::Null,
        at: std::time::Instant::now(),
    }
}

/// One call, from arrival to answer: its fault decides whether `carry_out` runs (under
/// the world lock) and what is answered.
async fn run_call(shared: &Shared, call: SlackCall, carry_out: impl FnOnce(&mut World) -> (u16, Value)) -> Response {
    run_raw_call(shared, call, |w| {
        let (status, body) = carry_out(w);
        let response = json_response(status, &body, None);
        (status, body, response)
    })
    .await
}

/// [`run_call`] for an answer that is not JSON (a file's bytes, a redirect): `carry_out`
/// gives the status and JSON to record, and the response to send. Faults are answered as
/// for any call (JSON; a lost answer is a 504).
pub(super) async fn run_raw_call(
    shared: &Shared,
    mut call: SlackCall,
    carry_out: impl FnOnce(&mut World) -> (u16, Value, Response),
) -> Response {
    let arrival = shared.arrive(&call);
    let seq = arrival.seq;
    if let Some(ticket) = arrival.hang {
        // Already recorded, unanswered; once let go it is cut off, having changed nothing.
        ticket.wait().await;
        let (status, response, _) = fault_answer(&Fault::Status(503)).expect("a status fault answers");
        shared.lock().settle(seq, status, &response);
        return json_response(status, &response, None);
    }
    if let Some(Fault::Delay(d)) = &arrival.fault {
        tokio::time::sleep(*d).await;
    }
    let mut w = shared.lock();
    let (status, response, sent) = match arrival.fault.as_ref().and_then(fault_answer) {
        Some((status, response, retry_after)) => {
            let sent = json_response(status, &response, retry_after);
            (status, response, sent)
        }
        None => carry_out(&mut w),
    };
    let (status, response, sent) = match arrival.fault {
        Some(Fault::LostResponse) => {
            let lost = json!({"ok": false, "error": "gateway_timeout", "lost": response});
            let sent = json_response(504, &lost, None);
            (504, lost, sent)
        }
        _ => (status, response, sent),
    };
    if status == 429 {
        let secs = sent
            .headers()
            .get(axum::http::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0);
        w.referee
            .answered_429(&super::state::lane(&call), std::time::Duration::from_secs(secs));
    }
    call.status = status;
    call.response = response.clone();
    w.record(seq, call);
    drop(w);
    sent
}

#[cfg(test)]
mod tests {
    use super::super::PERMALINK_BASE;
    use super::super::test_support::*;
    use super::super::wire::form_encode;
    use axum::http::header;
    use serde_json::{Value, json};
    use slack_morphism::errors::SlackClientError;
    use slack_morphism::prelude::*;
    use std::time::Duration;

    #[tokio::test]
    async fn slack_morphism_sees_slack_errors() {
        let slack = setup().await;
        let client = client_for(&slack);
        let token = SlackApiToken::new(TOKEN.into());
        let session = client.open_session(&token);
        let text = |t: &str| SlackMessageContent::new().with_text(t.into());

        let r = session
            .chat_post_message(&SlackApiChatPostMessageRequest::new("C0NOPE".into(), text("hi")))
            .await;
        assert!(matches!(r, Err(SlackClientError::ApiError(e)) if e.code == "channel_not_found"));

        let r = session
            .chat_post_message(&SlackApiChatPostMessageRequest::new("C0OUTSIDE".into(), text("hi")))
            .await;
        assert!(matches!(r, Err(SlackClientError::ApiError(e)) if e.code == "not_in_channel"));

        slack.rate_limit_next("chat.postMessage", 1, 7);
        let r = session
            .chat_post_message(&SlackApiChatPostMessageRequest::new(CH.into(), text("hi")))
            .await;
        match r {
            Err(SlackClientError::RateLimitError(e)) => {
                assert_eq!(e.retry_after, Some(Duration::from_secs(7)));
                assert_eq!(e.code.as_deref(), Some("ratelimited"));
            }
            other => panic!("expected a rate limit error, got {other:?}"),
        }

        let many: Vec<Value> = (0..51).map(|_| json!({"type": "divider"})).collect();
        let r = session
            .chat_post_message(&SlackApiChatPostMessageRequest::new(
                CH.into(),
                text("hi").with_blocks(blocks(Value::Array(many))),
            ))
            .await;
        match r {
            Err(SlackClientError::ApiError(e)) => {
                assert_eq!(e.code, "invalid_blocks");
                let errors = e.errors.unwrap_or_default();
                assert_eq!(errors, ["must be less than 51 items [json-pointer:/blocks]"]);
            }
            other => panic!("expected invalid_blocks, got {other:?}"),
        }

        let r = session
            .chat_post_message(&SlackApiChatPostMessageRequest::new(
                CH.into(),
                text(&"x".repeat(40_001)),
            ))
            .await;
        assert!(matches!(r, Err(SlackClientError::ApiError(e)) if e.code == "msg_too_long"));

        slack.fail_next("chat.update", 1, 503);
        let r = session
            .chat_update(&SlackApiChatUpdateRequest::new(CH.into(), text("x"), "1.000001".into()))
            .await;
        assert!(matches!(r, Err(SlackClientError::HttpError(e)) if e.status_code.as_u16() == 503));
        let r = session
            .chat_update(&SlackApiChatUpdateRequest::new(CH.into(), text("x"), "1.000001".into()))
            .await;
        assert!(matches!(r, Err(SlackClientError::ApiError(e)) if e.code == "message_not_found"));

        slack.error_next("users.info", 1, "fatal_error");
        let r = session.users_info(&SlackApiUsersInfoRequest::new("U0ADA".into())).await;
        assert!(matches!(r, Err(SlackClientError::ApiError(e)) if e.code == "fatal_error"));
        let r = session
            .users_info(&SlackApiUsersInfoRequest::new("U0NOBODY".into()))
            .await;
        assert!(matches!(r, Err(SlackClientError::ApiError(e)) if e.code == "user_not_found"));

        let r = session
            .conversations_open(&SlackApiConversationsOpenRequest::new().with_users(vec!["U0NOBODY".into()]))
            .await;
        assert!(matches!(r, Err(SlackClientError::ApiError(e)) if e.code == "user_not_found"));

        let long_title = SlackView::Modal(SlackModalView::new(pt!("A title far longer than 24 chars"), vec![]));
        let r = session
            .views_open(&SlackApiViewsOpenRequest::new("1.2.3".into(), long_title))
            .await;
        match r {
            Err(SlackClientError::ApiError(e)) => {
                assert_eq!(e.code, "invalid_arguments");
                assert_eq!(
                    e.errors.unwrap_or_default(),
                    ["must be less than 25 characters [json-pointer:/view/title/text]"]
                );
            }
            other => panic!("expected invalid_arguments, got {other:?}"),
        }

        let wrong = SlackApiToken::new("xoxb-wrong".into());
        let r = client.open_session(&wrong).auth_test().await;
        assert!(matches!(r, Err(SlackClientError::ApiError(e)) if e.code == "invalid_auth"));

        let calls = slack.take_calls();
        let statuses: Vec<u16> = calls.iter().map(|c| c.status).collect();
        assert_eq!(statuses, [200, 200, 429, 200, 200, 503, 200, 200, 200, 200, 200, 200]);
        assert!(!calls.last().unwrap().token_ok);
        assert!(
            slack.messages(CH).is_empty(),
            "refused and faulted calls change nothing"
        );
        slack.assert_all_seen();
    }

    #[tokio::test]
    async fn form_get_auth_and_unknown_methods() {
        let slack = setup().await;
        let http = reqwest::Client::new();
        let api = slack.api_url();

        // Form-encoded, token as a parameter, blocks as a JSON string.
        let blocks = json!([{"type": "section", "text": {"type": "plain_text", "text": "hi & bye"}}]).to_string();
        let body = form_encode(&[
            ("token", TOKEN),
            ("channel", "#handoffs"),
            ("text", "hi & bye"),
            ("blocks", &blocks),
        ]);
        let r = http
            .post(format!("{api}/chat.postMessage"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert!(
            r.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("application/json")
        );
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["ok"], true, "{v}");
        assert_eq!(v["channel"], CH);
        assert_eq!(v["message"]["text"], "hi & bye");
        let ts = v["ts"].as_str().unwrap().to_string();

        // GET with query parameters and a bearer token.
        let r = http
            .get(format!("{api}/chat.getPermalink?channel={CH}&message_ts={ts}"))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap();
        let v: Value = r.json().await.unwrap();
        assert_eq!(
            v["permalink"],
            format!("{PERMALINK_BASE}/archives/{CH}/p{}", ts.replace('.', ""))
        );

        let auth_test = |query: &str| {
            let req = http.get(format!("{api}/auth.test{query}"));
            async move { req.send().await.unwrap().json::<Value>().await.unwrap() }
        };
        let r = auth_test("").await;
        assert_eq!(r, json!({"ok": false, "error": "not_authed"}));
        let r = auth_test("?token=nope").await;
        assert_eq!(r["error"], "invalid_auth");
        let r = call(&slack, "chat.delete", json!({})).await;
        assert_eq!(r["error"], "unknown_method");
        let r = call(&slack, "chat.postMessage", json!({"channel": CH})).await;
        assert_eq!(r["error"], "no_text");
        let reaction = json!({"channel": CH, "timestamp": ts, "name": "eyes"});
        let r = call(&slack, "reactions.add", reaction.clone()).await;
        assert_eq!(r, json!({"ok": true}));
        let r = call(&slack, "reactions.add", reaction).await;
        assert_eq!(r["error"], "already_reacted");

        let calls = slack.take_calls();
        assert_eq!(calls[0].args["blocks"], blocks, "form fields are recorded as strings");
        assert_eq!(calls[0].args["token"], TOKEN);
        assert!(calls[0].token_ok);
        assert_eq!(calls.len(), 8);
        slack.assert_all_seen();
    }

    #[tokio::test]
    async fn a_raw_retry_after_is_sent_verbatim() {
        let slack = setup().await;
        let raws = ["nan", "-1", "Wed, 21 Oct 2015 07:28:00 GMT", "", "1.5"];
        for raw in raws {
            slack.rate_limit_next_raw("chat.postMessage", 1, raw);
        }
        for raw in raws {
            let r = post(&slack, "chat.postMessage", &json!({"channel": CH, "text": "hi"}))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 429);
            assert_eq!(r.headers()[header::RETRY_AFTER], raw);
            assert_eq!(
                r.json::<Value>().await.unwrap(),
                json!({"ok": false, "error": "ratelimited"})
            );
        }
        let r = post(&slack, "chat.postMessage", &json!({"channel": CH, "text": "hi"}))
            .send()
            .await
            .unwrap();
        assert!(r.headers().get(header::RETRY_AFTER).is_none());
        let statuses: Vec<u16> = slack.take_calls().iter().map(|c| c.status).collect();
        assert_eq!(statuses, [429, 429, 429, 429, 429, 200]);
        assert_eq!(slack.messages(CH).len(), 1, "rate-limited calls change nothing");
    }

    #[tokio::test]
    async fn hung_and_delayed_calls_hold_up_no_other_call() {
        let slack = setup().await;
        slack.add_channel("C0OTHER", "other", true);
        slack.hang_next("chat.postMessage", 1);
        slack.delay_next("conversations.history", 1, Duration::from_secs(60));
        let hung = tokio::spawn(post(&slack, "chat.postMessage", &json!({"channel": CH, "text": "hung"})).send());
        let delayed = tokio::spawn(post(&slack, "conversations.history", &json!({"channel": CH})).send());
        slack
            .wait_for(Duration::from_secs(5), "the hung call", |s| {
                s.calls().iter().any(|c| c.status == 0 && c.args["text"] == "hung")
            })
            .await;

        // Meanwhile the same method answers, in the same channel and in another, and so
        // do other methods.
        let promptly = Duration::from_secs(5);
        for (channel, text) in [(CH, "same channel"), ("C0OTHER", "other channel")] {
            let send = post(&slack, "chat.postMessage", &json!({"channel": channel, "text": text})).send();
            let r = tokio::time::timeout(promptly, send)
                .await
                .expect("answered promptly")
                .unwrap();
            assert_eq!(r.json::<Value>().await.unwrap()["ok"], true);
        }
        let send = post(&slack, "auth.test", &json!({})).send();
        let r = tokio::time::timeout(promptly, send)
            .await
            .expect("answered promptly")
            .unwrap();
        assert_eq!(r.status(), 200);
        assert!(!hung.is_finished() && !delayed.is_finished());
        delayed.abort();

        // Let go, the hung call is cut off, having changed nothing.
        slack.clear_faults();
        let r = tokio::time::timeout(promptly, hung)
            .await
            .expect("let go by clear_faults")
            .unwrap()
            .unwrap();
        assert_eq!(r.status(), 503);
        let texts: Vec<String> = slack.messages(CH).into_iter().map(|m| m.text).collect();
        assert_eq!(texts, ["same channel"]);
        let calls = slack.take_calls();
        let seen: Vec<(&str, u16)> = calls.iter().map(|c| (c.method.as_str(), c.status)).collect();
        assert_eq!(
            seen,
            [
                ("chat.postMessage", 503),
                ("chat.postMessage", 200),
                ("chat.postMessage", 200),
                ("auth.test", 200)
            ],
            "the delayed call has no answer yet, so no record"
        );
        assert_eq!(calls[0].response["error"], "service_unavailable");
    }

    #[tokio::test]
    async fn a_hung_call_ends_with_the_stand_in() {
        let slack = setup().await;
        slack.hang_next("auth.test", 1);
        let hung = tokio::spawn(post(&slack, "auth.test", &json!({})).send());
        slack
            .wait_for(Duration::from_secs(5), "the hung call", |s| s.calls().len() == 1)
            .await;
        assert_eq!(slack.calls()[0].status, 0);
        drop(slack);
        let answered = tokio::time::timeout(Duration::from_secs(5), hung)
            .await
            .expect("the hung call ends when the stand-in goes")
            .unwrap();
        assert!(answered.is_ok_and(|r| r.status() == 503));
    }
}
