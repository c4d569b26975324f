//! A local stand-in for the chat widget platform (see "The widget platform" in
//! `README.md`).
//!
//! Tests never reach the internet, yet the bridge must be exercised end to end against
//! the widget platform in both directions:
//!
//! - [`WidgetPlatform`] receives the bridge's outbound calls
//!   (`POST /conversations/{id}/assignment|messages|handback`, and `PATCH` / `DELETE
//!   /conversations/{id}/messages/{message_id}` when an operator edits or deletes a reply
//!   already delivered) on 127.0.0.1, checks their
//!   `X-Handoff-Signature` exactly as the real platform would, answers like an idempotent
//!   API (`Idempotency-Key`), records every request, and can inject faults (5xx, 429 with
//!   any `Retry-After`, delays, calls that hang) for the outbox's reliability tests;
//! - [`WidgetClient`] (in `client`) sends correctly (or deliberately incorrectly) signed
//!   events to the bridge's `POST /v1/widget/events`, and builds events of the documented
//!   shape.
//!
//! Only the base URL differs from production: the bridge's real HTTP client talks to the
//! stand-in over real HTTP.

mod client;
mod handler;

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::Router;
use axum::http::HeaderValue;
use axum::routing::any;
use serde_json::Value;

pub use client::WidgetClient;

use super::Hangs;

/// One request the stand-in received, with what it answered.
#[derive(Debug, Clone)]
pub struct RecordedCall {
    /// The HTTP method, e.g. `"POST"`.
    pub method: String,
    /// The request path, e.g. `"/conversations/conv_42/assignment"`.
    pub path: String,
    /// The conversation id parsed from `/conversations/{id}/…`.
    pub conversation: Option<String>,
    /// What the call is: the last path segment of `/conversations/{id}/{kind}`
    /// (`"assignment"`, `"messages"` or `"handback"` on the known routes), and for
    /// `/conversations/{id}/messages/{message_id}` the change to a delivered message:
    /// `"message_updated"` (`PATCH`) or `"message_deleted"` (`DELETE`); `None` for any
    /// other method there.
    pub kind: Option<String>,
    /// The `{message_id}` of `/conversations/{id}/messages/{message_id}`.
    pub message_id: Option<String>,
    pub idempotency_key: Option<String>,
    /// Whether `X-Handoff-Signature` verified with the secret (5-minute window).
    pub signature_ok: bool,
    /// The body parsed as JSON (`Value::Null` if it was not JSON, or empty as a `DELETE`'s
    /// may be).
    pub body: Value,
    /// The status the stand-in answered; 0 while a hung call has no answer (see
    /// [`WidgetPlatform::hang_next`]).
    pub status: u16,
    /// When the stand-in received it.
    pub at: std::time::Instant,
}

/// An injected fault, consumed by one request.
#[derive(Debug, Clone)]
enum Fault {
    Status(u16),
    /// 429 with this `Retry-After`, sent as it is.
    RateLimited(HeaderValue),
    /// Neither acted on nor answered until the hangs are released.
    Hang,
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
    /// Random faults for requests without a queued one (a chaos run).
    chaos: Option<crate::standins::chaos::Chaos>,
}

impl Book {
    fn record(&mut self, seq: u64, call: RecordedCall) {
        tracing::debug!(
            method = %call.method, path = %call.path, status = call.status,
            signature_ok = call.signature_ok, "widget stand-in call"
        );
        let at = self.calls.partition_point(|(s, _)| *s < seq);
        self.calls.insert(at, (seq, call));
    }
}

struct Shared {
    secret: Vec<u8>,
    state: Mutex<Book>,
    /// Calls held by [`Fault::Hang`].
    hangs: Arc<Hangs>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Book> {
        // A panicking test thread must not hide the calls from the others.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The widget platform stand-in: an HTTP server on 127.0.0.1 receiving the bridge's
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
        let hangs = Hangs::new();
        let shared = Arc::new(Shared {
            secret: secret.as_bytes().to_vec(),
            state: Mutex::default(),
            hangs: hangs.clone(),
        });
        let app = Router::new()
            .route("/conversations/{id}/assignment", any(handler::handle))
            .route("/conversations/{id}/messages", any(handler::handle))
            .route("/conversations/{id}/handback", any(handler::handle))
            .route("/conversations/{id}/messages/{message_id}", any(handler::handle))
            .fallback(handler::handle)
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("widget stand-in: bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("widget stand-in: local address");
        let guard = super::serve(listener, app, "widget", hangs);
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

    /// Stops serving now (in-flight requests are finished, hung ones let go), even if
    /// clones remain.
    pub fn shutdown(&self) {
        self.guard.fire();
    }

    /// Every request received, in arrival order, including failed ones.
    pub fn calls(&self) -> Vec<RecordedCall> {
        self.shared.lock().calls.iter().map(|(_, c)| c.clone()).collect()
    }

    /// Returns the calls so far and forgets them (the load generator takes them as they
    /// come, so a long run does not keep them all).
    pub fn take_calls(&self) -> Vec<RecordedCall> {
        std::mem::take(&mut self.shared.lock().calls)
            .into_iter()
            .map(|(_, c)| c)
            .collect()
    }

    /// Calls answered 2xx, deduplicated by Idempotency-Key (first success kept), in order.
    /// Calls without a key are all kept.
    pub fn delivered(&self) -> Vec<RecordedCall> {
        delivered_of(&self.calls())
    }

    /// Random faults for every request without a queued one (`None`: none).
    pub fn set_chaos(&self, chaos: Option<crate::standins::chaos::Chaos>) {
        self.shared.lock().chaos = chaos;
    }

    /// The next `n` requests are answered with `status` (e.g. 500) and a JSON error body.
    /// Faults queue up behind those already pending.
    pub fn fail_next(&self, n: usize, status: u16) {
        self.push_faults(n, Fault::Status(status));
    }

    /// The next `n` requests get 429 with `Retry-After: secs`.
    /// Faults queue up behind those already pending.
    pub fn rate_limit_next(&self, n: usize, retry_after_secs: u64) {
        self.push_faults(n, Fault::RateLimited(HeaderValue::from(retry_after_secs)));
    }

    /// Like [`Self::rate_limit_next`], but `Retry-After` carries `retry_after` verbatim,
    /// whatever it says (`"nan"`, `"-1"`, `""`, an HTTP date, …). Panics if it cannot be
    /// an HTTP header value at all (control characters, non-ASCII).
    pub fn rate_limit_next_raw(&self, n: usize, retry_after: &str) {
        let value = HeaderValue::from_str(retry_after)
            .unwrap_or_else(|e| panic!("widget stand-in: Retry-After {retry_after:?} is no header value: {e}"));
        self.push_faults(n, Fault::RateLimited(value));
    }

    /// The next `n` requests hang: they are not acted on and get no answer until
    /// [`Self::clear_faults`] or until the stand-in stops (dropped, or
    /// [`Self::shutdown`]); then they are answered 503, if the client still waits. Each
    /// is recorded on arrival with `status: 0` (set to 503 when it is let go). The
    /// requests after them are served meanwhile. Faults queue up behind those already
    /// pending.
    pub fn hang_next(&self, n: usize) {
        self.push_faults(n, Fault::Hang);
    }

    fn push_faults(&self, n: usize, fault: Fault) {
        self.shared.lock().faults.extend(std::iter::repeat_n(fault, n));
    }

    /// Drops every fault still queued and lets every hung call go: the platform is
    /// healthy again.
    pub fn clear_faults(&self) {
        let mut st = self.shared.lock();
        st.faults.clear();
        // Under the lock, so that no call pops a hang it would then miss this for.
        self.shared.hangs.release();
    }

    /// Every request waits this long before answering (0 = none). The wait holds no
    /// lock: other requests are taken in meanwhile, and wait their own delay.
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
                panic!(
                    "widget stand-in: timed out after {deadline:?} waiting for {what}; {} call(s) seen:{}",
                    calls.len(),
                    summarize(&calls)
                );
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

fn summarize(calls: &[RecordedCall]) -> String {
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
    seen
}

fn delivered_of(calls: &[RecordedCall]) -> Vec<RecordedCall> {
    let mut seen = HashSet::new();
    calls
        .iter()
        .filter(|c| (200..300).contains(&c.status))
        .filter(|c| c.idempotency_key.as_ref().is_none_or(|k| seen.insert(k.clone())))
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signature;
    use axum::http::{Method, header};
    use serde_json::json;

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

    /// A signed request with any method; `body` `None` sends an empty one.
    async fn send(
        http: &reqwest::Client,
        method: Method,
        url: &str,
        body: Option<&Value>,
        key: &str,
        secret: &str,
    ) -> reqwest::Response {
        let raw = body.map(|b| serde_json::to_vec(b).unwrap()).unwrap_or_default();
        let sig = signature::sign(secret.as_bytes(), signature::unix_now(), &raw);
        let mut req = http
            .request(method, url)
            .header(signature::HEADER, sig)
            .header("Idempotency-Key", key);
        if body.is_some() {
            req = req.header(header::CONTENT_TYPE, "application/json");
        }
        req.body(raw).send().await.unwrap()
    }

    #[tokio::test]
    async fn records_edits_and_deletions_of_delivered_messages() {
        let widget = WidgetPlatform::start(SECRET).await;
        let http = reqwest::Client::new();
        let message = format!("{}/conversations/conv_42/messages/wmsg_7", widget.url());
        let edit = json!({"id": "wmsg_7", "text": "Hello Ada (edited)", "attachments": [],
                          "operator": {"id": "op_1", "name": "Grace"}});

        let r = send(&http, Method::PATCH, &message, Some(&edit), "e1", SECRET).await;
        assert_eq!(r.status(), 200);
        assert_eq!(r.json::<Value>().await.unwrap(), json!({"ok": true, "id": "wmsg_7"}));
        let r = send(&http, Method::DELETE, &message, None, "d1", SECRET).await;
        assert_eq!(r.status(), 200);
        assert_eq!(r.json::<Value>().await.unwrap(), json!({"ok": true}));
        let r = send(
            &http,
            Method::DELETE,
            &message,
            Some(&json!({"id": "wmsg_7"})),
            "d2",
            SECRET,
        )
        .await;
        assert_eq!(r.status(), 200);

        // Signature checks and faults, as on the other routes.
        let r = send(&http, Method::PATCH, &message, Some(&edit), "e2", "wrong-secret").await;
        assert_eq!(r.status(), 401);
        widget.fail_next(1, 503);
        let r = send(&http, Method::DELETE, &message, None, "d3", SECRET).await;
        assert_eq!(r.status(), 503);
        // Only PATCH and DELETE there; only POST on the collection.
        let r = send(&http, Method::POST, &message, Some(&edit), "p1", SECRET).await;
        assert_eq!(r.status(), 405);
        let collection = format!("{}/conversations/conv_42/messages", widget.url());
        let r = send(&http, Method::PATCH, &collection, Some(&edit), "p2", SECRET).await;
        assert_eq!(r.status(), 405);

        let calls = widget.calls();
        let seen: Vec<(&str, Option<&str>, Option<&str>, u16)> = calls
            .iter()
            .map(|c| (c.method.as_str(), c.kind.as_deref(), c.message_id.as_deref(), c.status))
            .collect();
        assert_eq!(
            seen,
            [
                ("PATCH", Some("message_updated"), Some("wmsg_7"), 200),
                ("DELETE", Some("message_deleted"), Some("wmsg_7"), 200),
                ("DELETE", Some("message_deleted"), Some("wmsg_7"), 200),
                ("PATCH", Some("message_updated"), Some("wmsg_7"), 401),
                ("DELETE", Some("message_deleted"), Some("wmsg_7"), 503),
                ("POST", None, Some("wmsg_7"), 405),
                ("PATCH", Some("messages"), None, 405),
            ]
        );
        assert_eq!(calls[0].path, "/conversations/conv_42/messages/wmsg_7");
        assert_eq!(calls[0].conversation.as_deref(), Some("conv_42"));
        assert_eq!(calls[0].body, edit);
        assert!(calls[0].signature_ok && !calls[3].signature_ok);
        assert_eq!(calls[1].body, Value::Null);
        assert_eq!(calls[2].body, json!({"id": "wmsg_7"}));
        let delivered: Vec<String> = widget
            .delivered()
            .into_iter()
            .filter_map(|c| c.idempotency_key)
            .collect();
        assert_eq!(delivered, ["e1", "d1", "d2"]);
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

    #[tokio::test]
    async fn a_raw_retry_after_is_sent_verbatim() {
        let widget = WidgetPlatform::start(SECRET).await;
        let http = reqwest::Client::new();
        let assignment = format!("{}/conversations/conv_42/assignment", widget.url());
        let raws = ["nan", "-1", "Wed, 21 Oct 2015 07:28:00 GMT", ""];
        for raw in raws {
            widget.rate_limit_next_raw(1, raw);
        }
        for (i, raw) in raws.iter().enumerate() {
            let r = post(&http, &assignment, &json!({}), &format!("k{i}"), SECRET).await;
            assert_eq!(r.status(), 429);
            assert_eq!(r.headers()[header::RETRY_AFTER], *raw);
            assert_eq!(r.json::<Value>().await.unwrap()["error"]["code"], "rate_limited");
        }
        let r = post(&http, &assignment, &json!({}), "k9", SECRET).await;
        assert_eq!(r.status(), 200);
        assert!(r.headers().get(header::RETRY_AFTER).is_none());
        let statuses: Vec<u16> = widget.calls().iter().map(|c| c.status).collect();
        assert_eq!(statuses, [429, 429, 429, 429, 200]);
    }

    #[tokio::test]
    async fn hung_and_delayed_calls_hold_up_no_other_call() {
        let widget = WidgetPlatform::start(SECRET).await;
        let http = reqwest::Client::new();
        let base = widget.url();
        let assignment = |conv: &str| format!("{base}/conversations/{conv}/assignment");
        let send = |url: String, key: &str| {
            let (http, key) = (http.clone(), key.to_string());
            async move { post(&http, &url, &json!({"status": "active"}), &key, SECRET).await }
        };

        // Only the next call hangs; the delay then holds back the call after it.
        widget.hang_next(1);
        let hung = tokio::spawn(send(assignment("c1"), "k1"));
        widget
            .wait_for(Duration::from_secs(5), "the hung call", |c| c.len() == 1)
            .await;
        assert_eq!(widget.calls()[0].status, 0);
        widget.set_delay(Duration::from_secs(60));
        let delayed = tokio::spawn(send(assignment("c2"), "k2"));
        let arrived = async {
            while widget.shared.lock().next_seq < 2 {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        };
        tokio::time::timeout(Duration::from_secs(5), arrived)
            .await
            .expect("the delayed call arrives");
        widget.set_delay(Duration::ZERO);

        // Neither holds up the next calls, for the same conversation or another one.
        let promptly = Duration::from_secs(5);
        for (conv, key) in [("c1", "k3"), ("c3", "k4")] {
            let r = tokio::time::timeout(promptly, send(assignment(conv), key))
                .await
                .expect("answered promptly");
            assert_eq!(r.status(), 200);
        }
        assert!(!hung.is_finished() && !delayed.is_finished());
        delayed.abort();

        // Let go, the hung call is cut off without having been acted on: its key is free.
        widget.clear_faults();
        let r = tokio::time::timeout(promptly, hung)
            .await
            .expect("let go by clear_faults")
            .unwrap();
        assert_eq!(r.status(), 503);
        let r = send(assignment("c1"), "k1").await;
        assert_eq!(r.status(), 200);
        let calls = widget
            .wait_for(promptly, "the delayed call given up", |c| c.len() == 5)
            .await;
        let seen: Vec<(&str, u16)> = calls
            .iter()
            .map(|c| (c.idempotency_key.as_deref().unwrap(), c.status))
            .collect();
        assert_eq!(seen, [("k1", 503), ("k2", 200), ("k3", 200), ("k4", 200), ("k1", 200)]);
    }

    #[tokio::test]
    async fn shutdown_lets_hung_calls_go() {
        let widget = WidgetPlatform::start(SECRET).await;
        let url = format!("{}/conversations/c1/handback", widget.url());
        widget.hang_next(1);
        let hung = tokio::spawn(async move { post(&reqwest::Client::new(), &url, &json!({}), "k1", SECRET).await });
        widget
            .wait_for(Duration::from_secs(5), "the hung call", |c| c.len() == 1)
            .await;
        widget.shutdown();
        let r = tokio::time::timeout(Duration::from_secs(5), hung)
            .await
            .expect("the hung call ends with the stand-in")
            .unwrap();
        assert_eq!(r.status(), 503);
        assert_eq!(widget.calls()[0].status, 503);
    }
}
