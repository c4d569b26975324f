//! The Discord stand-in's HTTP side: every request under `/api/v10`, matched against the
//! table of REST routes it serves (and `/gateway`, the WebSocket, and `/attachments`, the
//! CDN), and the life of one call — numbered on arrival, its injected fault applied
//! (delays and hangs wait without the world lock, so other calls go on), authenticated,
//! carried out under the lock, recorded, answered.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, Uri, header};
use axum::response::Response;
use axum::routing::{any, get};
use serde_json::{Value, json};

use super::DiscordCall;
use super::state::{Fault, Shared, World};
use super::wire::{Reply, json_response, not_found, rate_limited, request_json, unauthorized};

/// The routes, on `shared`.
pub(super) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/api/v10/{*rest}", any(api_handler))
        .route("/gateway", get(super::gateway::upgrade))
        .route(
            "/attachments/{channel_id}/{attachment_id}/{filename}",
            get(super::attachments::serve),
        )
        .fallback(|| async {
            let (status, body) = not_found();
            json_response(status, &body, None)
        })
        .with_state(shared)
}

/// The REST routes served: method and path template (as in Discord's docs), and whether
/// the bot token is required (interaction and webhook routes carry their own token).
const ROUTES: &[(Method, &str, bool)] = &[
    (Method::GET, "/gateway", false),
    (Method::GET, "/gateway/bot", true),
    (Method::GET, "/users/@me", true),
    (Method::POST, "/users/@me/channels", true),
    (Method::GET, "/guilds/{guild_id}/members/{user_id}", true),
    (Method::GET, "/channels/{channel_id}", true),
    (Method::PATCH, "/channels/{channel_id}", true),
    (Method::GET, "/channels/{channel_id}/messages", true),
    (Method::POST, "/channels/{channel_id}/messages", true),
    (Method::GET, "/channels/{channel_id}/messages/{message_id}", true),
    (Method::PATCH, "/channels/{channel_id}/messages/{message_id}", true),
    (Method::DELETE, "/channels/{channel_id}/messages/{message_id}", true),
    (
        Method::POST,
        "/channels/{channel_id}/messages/{message_id}/threads",
        true,
    ),
    (Method::POST, "/channels/{channel_id}/threads", true),
    (
        Method::PUT,
        "/channels/{channel_id}/messages/{message_id}/reactions/{emoji_name}/@me",
        true,
    ),
    (
        Method::POST,
        "/interactions/{interaction_id}/{interaction_token}/callback",
        false,
    ),
    (
        Method::GET,
        "/webhooks/{webhook_id}/{webhook_token}/messages/@original",
        false,
    ),
    (
        Method::PATCH,
        "/webhooks/{webhook_id}/{webhook_token}/messages/@original",
        false,
    ),
    (
        Method::DELETE,
        "/webhooks/{webhook_id}/{webhook_token}/messages/@original",
        false,
    ),
    (Method::POST, "/webhooks/{webhook_id}/{webhook_token}", false),
    (
        Method::PUT,
        "/applications/{application_id}/guilds/{guild_id}/commands",
        true,
    ),
];

/// The route a request names, with its path parameters in order.
fn match_route(method: &Method, path: &str) -> Option<(usize, Vec<String>)> {
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    ROUTES.iter().enumerate().find_map(|(i, (m, template, _))| {
        let parts: Vec<&str> = template.trim_matches('/').split('/').collect();
        if m != method || parts.len() != segs.len() {
            return None;
        }
        let mut params = Vec::new();
        for (p, s) in parts.iter().zip(&segs) {
            if p.starts_with('{') {
                params.push(super::wire::percent_decode(s));
            } else if p != s {
                return None;
            }
        }
        Some((i, params))
    })
}

/// The fault key of a route: `"POST /channels/{channel_id}/messages"`.
pub(super) fn route_key(method: &Method, template: &str) -> String {
    format!("{method} {template}")
}

/// A call's inputs, as the route handlers read them.
struct Request<'a> {
    method: &'a Method,
    template: &'a str,
    /// The path parameters, in order.
    params: &'a [String],
    query: &'a HashMap<String, String>,
    body: &'a Value,
}

impl World {
    fn route(&mut self, r: &Request<'_>) -> Reply {
        match r.template {
            "/gateway" => Ok((200, json!({"url": self.gateway_url()}))),
            "/gateway/bot" => Ok((
                200,
                json!({
                    "url": self.gateway_url(),
                    "shards": 1,
                    "session_start_limit":
                        {"total": 1000, "remaining": 1000, "reset_after": 0, "max_concurrency": 1},
                }),
            )),
            "/users/@me" => Ok((200, self.current_user_json())),
            _ => self.route_resource(r),
        }
    }

    fn route_resource(&mut self, r: &Request<'_>) -> Reply {
        let at = |i: usize| r.params.get(i).map(String::as_str).unwrap_or_default();
        let (method, body) = (r.method, r.body);
        match r.template {
            "/users/@me/channels" => self.open_dm(body),
            "/guilds/{guild_id}/members/{user_id}" => self.get_member(at(0), at(1)),
            "/channels/{channel_id}" if method == Method::GET => self.get_channel(at(0)),
            "/channels/{channel_id}" => self.modify_channel(at(0), body),
            "/channels/{channel_id}/messages" if method == Method::GET => self.list_messages(at(0), r.query),
            "/channels/{channel_id}/messages" => self.create_message(at(0), body),
            "/channels/{channel_id}/messages/{message_id}" => match *method {
                Method::GET => self.get_message(at(0), at(1)),
                Method::DELETE => self.delete_message(at(0), at(1)),
                _ => self.edit_message(at(0), at(1), body),
            },
            "/channels/{channel_id}/messages/{message_id}/threads" => self.thread_from_message(at(0), at(1), body),
            "/channels/{channel_id}/threads" => self.start_thread(at(0), body),
            "/channels/{channel_id}/messages/{message_id}/reactions/{emoji_name}/@me" => {
                self.add_reaction(at(0), at(1), at(2))
            }
            "/interactions/{interaction_id}/{interaction_token}/callback" => {
                self.interaction_callback(at(0), at(1), body)
            }
            "/webhooks/{webhook_id}/{webhook_token}/messages/@original" => match *method {
                Method::GET => self.get_original(at(0), at(1)),
                Method::DELETE => self.delete_original(at(0), at(1)),
                _ => self.edit_original(at(0), at(1), body),
            },
            "/webhooks/{webhook_id}/{webhook_token}" => self.followup(at(0), at(1), body),
            "/applications/{application_id}/guilds/{guild_id}/commands" => {
                self.overwrite_guild_commands(at(0), at(1), body)
            }
            _ => Err(not_found()),
        }
    }

    pub(super) fn gateway_url(&self) -> String {
        format!("{}/gateway", self.base_url.replacen("http://", "ws://", 1))
    }
}

/// `/api/v10/...`, any method.
async fn api_handler(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().strip_prefix("/api/v10").unwrap_or(uri.path()).to_string();
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let parsed = request_json(content_type, &body);
    let query: HashMap<String, String> = url::form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes())
        .into_owned()
        .collect();
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bot "));
    let token_ok = token == Some(shared.token.as_str());
    let matched = match_route(&method, &path);
    let route = matched.as_ref().map_or_else(
        || format!("{method} {path}"),
        |(i, _)| route_key(&ROUTES[*i].0, ROUTES[*i].1),
    );
    let call = DiscordCall {
        route,
        method: method.to_string(),
        path,
        body: parsed.clone(),
        token_ok,
        status: 0,
        response: Value::Null,
        at: std::time::Instant::now(),
    };
    run_call(&shared, call, |w| {
        let Some((i, params)) = matched else {
            return not_found();
        };
        let (method, template, needs_token) = &ROUTES[i];
        if *needs_token && !token_ok {
            return unauthorized();
        }
        let request = Request {
            method,
            template,
            params: &params,
            query: &query,
            body: &parsed,
        };
        w.route(&request).unwrap_or_else(|e| e)
    })
    .await
}

/// One call, from arrival to answer: its fault decides whether `carry_out` runs (under
/// the world lock) and what is answered.
async fn run_call(
    shared: &Shared,
    mut call: DiscordCall,
    carry_out: impl FnOnce(&mut World) -> (u16, Value),
) -> Response {
    let arrival = shared.arrive(&call);
    let seq = arrival.seq;
    if let Some(ticket) = arrival.hang {
        // Already recorded, unanswered; once let go it is cut off, having changed nothing.
        ticket.wait().await;
        let response = json!({"message": "503: Service Unavailable", "code": 0});
        shared.lock().settle(seq, 503, &response);
        return json_response(503, &response, None);
    }
    if let Some(Fault::Delay(d)) = &arrival.fault {
        tokio::time::sleep(*d).await;
    }
    let mut w = shared.lock();
    let mut retry_after = None;
    let (status, response) = match arrival.fault {
        Some(Fault::RateLimited(secs)) => {
            retry_after = Some(secs);
            w.referee
                .answered_429(&super::state::lane(&call), std::time::Duration::from_secs_f64(secs));
            (429, rate_limited(secs))
        }
        Some(Fault::Status(s)) => (s, json!({"message": format!("{s}: injected"), "code": 0})),
        Some(Fault::Refused(s, code)) => (s, json!({"message": super::wire::error_message(code), "code": code})),
        Some(Fault::LoseResponse) => {
            // Done, as the calls log shows; the client sees a gateway timeout.
            let (_, done) = carry_out(&mut w);
            (504, json!({"message": "504: Gateway Timeout", "code": 0, "lost": done}))
        }
        _ => carry_out(&mut w),
    };
    call.status = status;
    call.response = response.clone();
    w.record(seq, call);
    drop(w);
    json_response(status, &response, retry_after)
}
