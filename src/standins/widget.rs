//! A local stand-in for the chat widget platform (SPEC §7.1, §7.2, §9).
//!
//! Tests never reach the internet, yet the bridge must be exercised end to end against
//! the widget platform in both directions:
//!
//! - [`WidgetPlatform`] receives the bridge's outbound calls of §7.2
//!   (`POST /conversations/{id}/assignment|messages|handback`) on 127.0.0.1, checks their
//!   `X-Handoff-Signature` exactly as the real platform would, answers like an idempotent
//!   API (`Idempotency-Key`), records every request, and can inject faults (5xx, 429 with
//!   `Retry-After`, delays) for the outbox's reliability tests;
//! - [`WidgetClient`] sends correctly (or deliberately incorrectly) signed §7.1 events to
//!   the bridge's `POST /v1/widget/events`, and builds events shaped like §7.1's example.
//!
//! Only the base URL differs from production: the bridge's real HTTP client talks to the
//! stand-in over real HTTP.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use serde_json::{Value, json};

use crate::signature;

/// One request the stand-in received, with what it answered.
#[derive(Debug, Clone)]
pub struct RecordedCall {
    /// The HTTP method, e.g. `"POST"`.
    pub method: String,
    /// The request path, e.g. `"/conversations/conv_42/assignment"`.
    pub path: String,
    /// The conversation id parsed from `/conversations/{id}/…`.
    pub conversation: Option<String>,
    /// The last path segment of `/conversations/{id}/{kind}`:
    /// `"assignment"`, `"messages"` or `"handback"` on the known routes.
    pub kind: Option<String>,
    pub idempotency_key: Option<String>,
    /// Whether `X-Handoff-Signature` verified with the secret (5-minute window).
    pub signature_ok: bool,
    /// The body parsed as JSON (`Value::Null` if it was not JSON).
    pub body: Value,
    /// The status the stand-in answered.
    pub status: u16,
}

/// An injected fault, consumed by one request.
#[derive(Debug, Clone, Copy)]
enum Fault {
    Status(u16),
    RateLimited { retry_after_secs: u64 },
}

#[derive(Default)]
struct Book {
    /// Recorded calls with their arrival sequence number, kept sorted by it.
    calls: Vec<(u64, RecordedCall)>,
    /// Faults for the next requests, front first.
    faults: VecDeque<Fault>,
    delay: Duration,
    /// Idempotency-Key → the body of its first successful answer.
    answered: HashMap<String, Value>,
    next_seq: u64,
    next_message: u64,
}

struct Shared {
    secret: Vec<u8>,
    state: Mutex<Book>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Book> {
        // A panicking test thread must not hide the calls from the others.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Stops the server when the last clone of the [`WidgetPlatform`] is dropped.
/// The widget platform stand-in: an HTTP server on 127.0.0.1 receiving the bridge's §7.2
/// calls. Cheap to clone; the server stops when every clone is dropped or on
/// [`WidgetPlatform::shutdown`].
#[derive(Clone)]
pub struct WidgetPlatform {
    shared: Arc<Shared>,
    guard: Arc<super::ServerGuard>,
    url: String,
}

impl std::fmt::Debug for WidgetPlatform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WidgetPlatform")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl WidgetPlatform {
    /// Binds 127.0.0.1:0 and serves in a background tokio task until dropped (all clones
    /// dropped) or shut down.
    pub async fn start(secret: &str) -> WidgetPlatform {
        let shared = Arc::new(Shared {
            secret: secret.as_bytes().to_vec(),
            state: Mutex::default(),
        });
        let app = Router::new()
            .route("/conversations/{id}/assignment", any(routed))
            .route("/conversations/{id}/messages", any(routed))
            .route("/conversations/{id}/handback", any(routed))
            .fallback(unrouted)
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("widget stand-in: bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("widget stand-in: local address");
        let guard = super::serve(listener, app, "widget");
        WidgetPlatform {
            shared,
            guard: Arc::new(guard),
            url: format!("http://{addr}"),
        }
    }

    /// The base URL, `http://127.0.0.1:PORT` (no trailing slash).
    pub fn url(&self) -> String {
        self.url.clone()
    }

    /// Stops serving now (in-flight requests are finished), even if clones remain.
    pub fn shutdown(&self) {
        self.guard.fire();
    }

    /// Every request received, in arrival order, including failed ones.
    pub fn calls(&self) -> Vec<RecordedCall> {
        self.shared.lock().calls.iter().map(|(_, c)| c.clone()).collect()
    }

    /// Calls answered 2xx, deduplicated by Idempotency-Key (first success kept), in order.
    /// Calls without a key are all kept.
    pub fn delivered(&self) -> Vec<RecordedCall> {
        delivered_of(&self.calls())
    }

    /// The next `n` requests are answered with `status` (e.g. 500) and a JSON error body.
    /// Faults queue up behind those already pending.
    pub fn fail_next(&self, n: usize, status: u16) {
        let mut st = self.shared.lock();
        st.faults.extend(std::iter::repeat_n(Fault::Status(status), n));
    }

    /// The next `n` requests get 429 with `Retry-After: secs`.
    /// Faults queue up behind those already pending.
    pub fn rate_limit_next(&self, n: usize, retry_after_secs: u64) {
        let mut st = self.shared.lock();
        st.faults
            .extend(std::iter::repeat_n(Fault::RateLimited { retry_after_secs }, n));
    }

    /// Drops every fault still queued: the platform is healthy again.
    pub fn clear_faults(&self) {
        self.shared.lock().faults.clear();
    }

    /// Every request waits this long before answering (0 = none).
    pub fn set_delay(&self, d: Duration) {
        self.shared.lock().delay = d;
    }

    /// Waits (polling every ~10ms) until `pred(&calls)` holds, up to `deadline`; returns the
    /// calls, or panics with a message listing the calls seen so far.
    pub async fn wait_for(
        &self,
        deadline: Duration,
        what: &str,
        pred: impl Fn(&[RecordedCall]) -> bool,
    ) -> Vec<RecordedCall> {
        let start = Instant::now();
        loop {
            let calls = self.calls();
            if pred(&calls) {
                return calls;
            }
            if start.elapsed() >= deadline {
                let mut seen = String::new();
                for (i, c) in calls.iter().enumerate() {
                    seen.push_str(&format!(
                        "\n  #{i}: {} {} -> {} (signature_ok={}, idempotency_key={:?}) {}",
                        c.method, c.path, c.status, c.signature_ok, c.idempotency_key, c.body
                    ));
                }
                if calls.is_empty() {
                    seen.push_str(" none");
                }
                panic!(
                    "widget stand-in: timed out after {deadline:?} waiting for {what}; {} call(s) seen:{seen}",
                    calls.len()
                );
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

fn delivered_of(calls: &[RecordedCall]) -> Vec<RecordedCall> {
    let mut seen = std::collections::HashSet::new();
    calls
        .iter()
        .filter(|c| (200..300).contains(&c.status))
        .filter(|c| c.idempotency_key.as_ref().is_none_or(|k| seen.insert(k.clone())))
        .cloned()
        .collect()
}

/// Records its call when dropped: after the answer is produced, or when the client gave up
/// during an injected delay (the platform still received, and acted on, the request).
struct Recorder {
    shared: Arc<Shared>,
    seq: u64,
    call: Option<RecordedCall>,
}

impl Drop for Recorder {
    fn drop(&mut self) {
        if let Some(call) = self.call.take() {
            tracing::debug!(
                method = %call.method, path = %call.path, status = call.status,
                signature_ok = call.signature_ok, "widget stand-in call"
            );
            let mut st = self.shared.lock();
            let at = st.calls.partition_point(|(s, _)| *s < self.seq);
            st.calls.insert(at, (self.seq, call));
        }
    }
}

async fn routed(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    handle(shared, true, method, uri, headers, body).await
}

async fn unrouted(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    handle(shared, false, method, uri, headers, body).await
}

fn error_body(code: &str, message: &str) -> Value {
    json!({"ok": false, "error": {"code": code, "message": message}})
}

async fn handle(
    shared: Arc<Shared>,
    known_route: bool,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_string();
    let (conversation, kind) = match path.trim_start_matches('/').split('/').collect::<Vec<_>>()[..] {
        ["conversations", id, kind] if !id.is_empty() && !kind.is_empty() => {
            (Some(id.to_string()), Some(kind.to_string()))
        }
        _ => (None, None),
    };
    let idempotency_key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let sig_header = headers.get(signature::HEADER).and_then(|v| v.to_str().ok());
    let verified = signature::verify(&shared.secret, sig_header, &body, signature::unix_now());
    let signature_ok = verified.is_ok();
    let parsed: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);

    // Decide the answer on arrival, in arrival order, in one short critical section.
    let (seq, delay, status, answer, retry_after) = {
        let mut st = shared.lock();
        let seq = st.next_seq;
        st.next_seq += 1;
        let delay = st.delay;
        let fault = st.faults.pop_front();
        let (status, answer, retry_after) = if let Some(fault) = fault {
            match fault {
                Fault::Status(s) => (
                    s,
                    error_body("injected_failure", &format!("stand-in injected failure ({s})")),
                    None,
                ),
                Fault::RateLimited { retry_after_secs } => (
                    429,
                    error_body(
                        "rate_limited",
                        &format!("rate limited, retry after {retry_after_secs}s"),
                    ),
                    Some(retry_after_secs),
                ),
            }
        } else if !known_route {
            (404, error_body("not_found", &format!("no route for {path}")), None)
        } else if method != Method::POST {
            (
                405,
                error_body("method_not_allowed", &format!("{method} is not allowed here; use POST")),
                None,
            )
        } else if let Err(e) = &verified {
            (401, error_body("invalid_signature", &e.to_string()), None)
        } else if let Some(previous) = idempotency_key.as_ref().and_then(|k| st.answered.get(k)) {
            (200, previous.clone(), None)
        } else {
            let answer = if kind.as_deref() == Some("messages") {
                st.next_message += 1;
                json!({"ok": true, "id": format!("wmsg_{}", st.next_message)})
            } else {
                json!({"ok": true})
            };
            if let Some(k) = &idempotency_key {
                st.answered.insert(k.clone(), answer.clone());
            }
            (200, answer, None)
        };
        (seq, delay, status, answer, retry_after)
    };

    let _recorder = Recorder {
        shared: shared.clone(),
        seq,
        call: Some(RecordedCall {
            method: method.to_string(),
            path,
            conversation,
            kind,
            idempotency_key,
            signature_ok,
            body: parsed,
            status,
        }),
    };
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }

    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = (code, axum::Json(answer)).into_response();
    if let Some(secs) = retry_after {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    response
}

/// Sends signed §7.1 events to the bridge, as the widget platform does.
#[derive(Debug, Clone)]
pub struct WidgetClient {
    base_url: String,
    secret: String,
    http: reqwest::Client,
}

/// A process-unique prefix plus a counter: ids never repeat within a run, nor across runs
/// sharing a database.
fn unique(prefix: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    static RUN: OnceLock<String> = OnceLock::new();
    let run = RUN.get_or_init(|| {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        format!("{:x}{:x}", std::process::id(), nanos)
    });
    let n = COUNTER.fetch_add(1, Ordering::Relaxed) + 1;
    format!("{prefix}_{run}_{n}")
}

fn rfc3339(at: time::OffsetDateTime) -> String {
    at.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| "1970-01-01T00:00:00Z".to_string())
}

impl WidgetClient {
    pub fn new(bridge_base_url: &str, secret: &str) -> Self {
        WidgetClient {
            base_url: bridge_base_url.trim_end_matches('/').to_string(),
            secret: secret.to_string(),
            http: reqwest::Client::new(),
        }
    }

    /// POSTs the JSON to `{bridge}/v1/widget/events` signed now; returns the response.
    pub async fn send(&self, event: &Value) -> reqwest::Response {
        let body = serde_json::to_vec(event).expect("a JSON value serializes");
        let secret = self.secret.clone();
        self.send_raw(body, signature::unix_now(), &secret).await
    }

    /// Same, but with explicit raw body and signature timestamp (for stale/bad-signature tests).
    pub async fn send_raw(&self, body: Vec<u8>, signed_at: i64, secret: &str) -> reqwest::Response {
        let sig = signature::sign(secret.as_bytes(), signed_at, &body);
        let url = format!("{}/v1/widget/events", self.base_url);
        self.http
            .post(&url)
            .header(header::CONTENT_TYPE, "application/json")
            .header(signature::HEADER, sig)
            .body(body)
            .send()
            .await
            .unwrap_or_else(|e| panic!("widget client: POST {url} failed: {e}"))
    }

    /// Builds a `conversation.handed_off` event like SPEC §7.1's example: fresh unique event
    /// id, the given conversation and widget ids, visitor Ada, a summary, a 2-line transcript.
    pub fn handoff_event(conversation: &str, widget: &str) -> Value {
        let now = time::OffsetDateTime::now_utc();
        json!({
            "id": unique("evt"),
            "type": "conversation.handed_off",
            "created_at": rfc3339(now),
            "conversation": {
                "id": conversation,
                "widget_id": widget,
                "visitor": {"name": "Ada", "email": "ada@example.com"},
                "summary": "Wants a refund for order 1234",
                "reason": "visitor asked for a human",
                "transcript": [
                    {"author": "visitor", "text": "Hi", "at": rfc3339(now - Duration::from_secs(2))},
                    {"author": "bot", "text": "Hello! How can I help?", "at": rfc3339(now - Duration::from_secs(1))}
                ]
            }
        })
    }

    /// A `conversation.message` event with a unique event id and message id.
    /// `author` is `"visitor"` or `"bot"`.
    pub fn message_event(conversation: &str, author: &str, text: &str) -> Value {
        json!({
            "id": unique("evt"),
            "type": "conversation.message",
            "created_at": rfc3339(time::OffsetDateTime::now_utc()),
            "conversation": {"id": conversation},
            "message": {"id": unique("msg"), "author": author, "text": text, "attachments": []}
        })
    }

    /// A `conversation.closed` event with a unique event id.
    pub fn closed_event(conversation: &str) -> Value {
        json!({
            "id": unique("evt"),
            "type": "conversation.closed",
            "created_at": rfc3339(time::OffsetDateTime::now_utc()),
            "conversation": {"id": conversation}
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "widget-test-secret";

    async fn post(http: &reqwest::Client, url: &str, body: &Value, key: &str, secret: &str) -> reqwest::Response {
        let raw = serde_json::to_vec(body).unwrap();
        let sig = signature::sign(secret.as_bytes(), signature::unix_now(), &raw);
        http.post(url)
            .header(signature::HEADER, sig)
            .header("Idempotency-Key", key)
            .header(header::CONTENT_TYPE, "application/json")
            .body(raw)
            .send()
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn records_signed_calls_and_injects_faults() {
        let widget = WidgetPlatform::start(SECRET).await;
        let http = reqwest::Client::new();
        let base = widget.url();
        assert!(base.starts_with("http://127.0.0.1:") && !base.ends_with('/'));
        let assignment = format!("{base}/conversations/conv_42/assignment");
        let body = json!({"status": "active", "assignee": "op_1", "team": null, "version": 3});

        // A correctly signed call is accepted and recorded.
        let r = post(&http, &assignment, &body, "k1", SECRET).await;
        assert_eq!(r.status(), 200);
        assert_eq!(r.json::<Value>().await.unwrap(), json!({"ok": true}));
        let calls = widget
            .wait_for(Duration::from_secs(2), "one call", |c| c.len() == 1)
            .await;
        let c = &calls[0];
        assert_eq!(c.method, "POST");
        assert_eq!(c.path, "/conversations/conv_42/assignment");
        assert_eq!(c.conversation.as_deref(), Some("conv_42"));
        assert_eq!(c.kind.as_deref(), Some("assignment"));
        assert_eq!(c.idempotency_key.as_deref(), Some("k1"));
        assert!(c.signature_ok);
        assert_eq!(c.body, body);
        assert_eq!(c.status, 200);

        // fail_next(1, 500): the next answer is 500, the one after is fine again.
        widget.fail_next(1, 500);
        let messages = format!("{base}/conversations/conv_42/messages");
        let reply = json!({"text": "Hello Ada", "operator": "Grace"});
        let r = post(&http, &messages, &reply, "k2", SECRET).await;
        assert_eq!(r.status(), 500);
        assert!(r.json::<Value>().await.unwrap()["error"]["code"].is_string());
        let r = post(&http, &messages, &reply, "k2", SECRET).await;
        assert_eq!(r.status(), 200);
        let first: Value = r.json().await.unwrap();
        assert!(first["id"].is_string());
        // A replay of a succeeded key gets the same answer and is not delivered twice.
        let r = post(&http, &messages, &reply, "k2", SECRET).await;
        assert_eq!(r.status(), 200);
        assert_eq!(r.json::<Value>().await.unwrap(), first);

        // 429 with Retry-After.
        widget.rate_limit_next(1, 7);
        let r = post(&http, &assignment, &body, "k3", SECRET).await;
        assert_eq!(r.status(), 429);
        assert_eq!(r.headers()[header::RETRY_AFTER], "7");

        // A bad signature gets 401 and is recorded as such.
        let r = post(&http, &assignment, &body, "k4", "wrong-secret").await;
        assert_eq!(r.status(), 401);
        let r = http.post(&assignment).json(&body).send().await.unwrap();
        assert_eq!(r.status(), 401);

        // Unknown paths: 404 JSON.
        let r = post(&http, &format!("{base}/nope"), &body, "k5", SECRET).await;
        assert_eq!(r.status(), 404);
        assert!(r.json::<Value>().await.unwrap()["error"].is_object());

        let calls = widget.calls();
        let statuses: Vec<u16> = calls.iter().map(|c| c.status).collect();
        assert_eq!(statuses, [200, 500, 200, 200, 429, 401, 401, 404]);
        assert!(!calls[5].signature_ok && !calls[6].signature_ok);
        let delivered: Vec<_> = widget
            .delivered()
            .into_iter()
            .map(|c| c.idempotency_key.unwrap())
            .collect();
        assert_eq!(delivered, ["k1", "k2"]);

        // A delay holds every answer back.
        widget.set_delay(Duration::from_millis(100));
        let started = Instant::now();
        let r = post(
            &http,
            &format!("{base}/conversations/conv_42/handback"),
            &json!({}),
            "k6",
            SECRET,
        )
        .await;
        assert_eq!(r.status(), 200);
        assert!(started.elapsed() >= Duration::from_millis(100));
        assert_eq!(widget.calls().last().unwrap().kind.as_deref(), Some("handback"));
    }

    #[tokio::test]
    async fn stops_when_dropped() {
        let widget = WidgetPlatform::start(SECRET).await;
        let url = format!("{}/conversations/c/assignment", widget.url());
        drop(widget);
        let http = reqwest::Client::new();
        let mut refused = false;
        for _ in 0..100 {
            if http.post(&url).send().await.is_err() {
                refused = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(refused, "the stand-in kept serving after its last handle was dropped");
    }

    #[test]
    fn events_have_unique_ids_and_the_spec_shape() {
        let a = WidgetClient::handoff_event("conv_42", "support");
        let b = WidgetClient::handoff_event("conv_42", "support");
        assert_ne!(a["id"], b["id"]);
        assert_eq!(a["type"], "conversation.handed_off");
        assert_eq!(a["conversation"]["widget_id"], "support");
        assert_eq!(a["conversation"]["visitor"]["name"], "Ada");
        assert_eq!(a["conversation"]["transcript"].as_array().unwrap().len(), 2);
        let m = WidgetClient::message_event("conv_42", "visitor", "still there?");
        assert_eq!(m["message"]["author"], "visitor");
        assert!(m["message"]["id"].is_string());
        assert_eq!(WidgetClient::closed_event("conv_42")["type"], "conversation.closed");
    }
}
