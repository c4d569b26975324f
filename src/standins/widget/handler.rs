//! How the widget stand-in takes one request: it reads it (route, signature,
//! idempotency key), decides its fate on arrival (an injected fault, a hang, or the
//! platform acting on it once per key), answers, and records the call.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{MatchedPath, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::{Book, Fault, RecordedCall, Shared};
use crate::signature;
use crate::standins::HangTicket;

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
            self.shared.lock().record(self.seq, call);
        }
    }
}

fn error_body(code: &str, message: &str) -> Value {
    json!({"ok": false, "error": {"code": code, "message": message}})
}

/// What the stand-in makes of a request, before it has an answer.
struct Request {
    known_route: bool,
    method: Method,
    idempotency_key: Option<String>,
    verified: Result<(), signature::SignatureError>,
    call: RecordedCall,
}

impl Request {
    fn read(known_route: bool, secret: &[u8], method: Method, uri: &Uri, headers: &HeaderMap, body: &[u8]) -> Request {
        let path = uri.path().to_string();
        let (conversation, kind, message_id) = match path.trim_start_matches('/').split('/').collect::<Vec<_>>()[..] {
            ["conversations", id, kind] if !id.is_empty() && !kind.is_empty() => {
                (Some(id.to_string()), Some(kind.to_string()), None)
            }
            ["conversations", id, "messages", message_id] if !id.is_empty() && !message_id.is_empty() => {
                let kind = match method {
                    Method::PATCH => Some("message_updated".to_string()),
                    Method::DELETE => Some("message_deleted".to_string()),
                    _ => None,
                };
                (Some(id.to_string()), kind, Some(message_id.to_string()))
            }
            _ => (None, None, None),
        };
        let idempotency_key = headers
            .get("idempotency-key")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let sig_header = headers.get(signature::HEADER).and_then(|v| v.to_str().ok());
        let verified = signature::verify(secret, sig_header, body, signature::unix_now());
        let call = RecordedCall {
            method: method.to_string(),
            path,
            conversation,
            kind,
            message_id,
            idempotency_key: idempotency_key.clone(),
            signature_ok: verified.is_ok(),
            body: serde_json::from_slice(body).unwrap_or(Value::Null),
            status: 0,
            at: std::time::Instant::now(),
        };
        Request {
            known_route,
            method,
            idempotency_key,
            verified,
            call,
        }
    }
}

/// An answer: status, JSON body and `Retry-After`.
type Answer = (u16, Value, Option<HeaderValue>);

/// The answer to an injected fault (`None` for a hang, which has none).
fn fault_answer(fault: Fault) -> Option<Answer> {
    match fault {
        Fault::Status(s) => Some((
            s,
            error_body("injected_failure", &format!("stand-in injected failure ({s})")),
            None,
        )),
        Fault::RateLimited(retry_after) => {
            let message = format!("rate limited, Retry-After: {}", retry_after.to_str().unwrap_or("?"));
            Some((429, error_body("rate_limited", &message), Some(retry_after)))
        }
        Fault::Hang => None,
    }
}

impl Book {
    /// The answer to a request that has no fault: refusals first, then the platform acts
    /// (once per Idempotency-Key).
    fn act(&mut self, req: &Request) -> Answer {
        let (path, method) = (&req.call.path, &req.method);
        if !req.known_route {
            return (404, error_body("not_found", &format!("no route for {path}")), None);
        }
        // A delivered message is changed with PATCH or DELETE; everything else is a POST.
        let (allowed, verbs) = match &req.call.message_id {
            Some(_) => (*method == Method::PATCH || *method == Method::DELETE, "PATCH or DELETE"),
            None => (*method == Method::POST, "POST"),
        };
        if !allowed {
            let message = format!("{method} is not allowed here; use {verbs}");
            return (405, error_body("method_not_allowed", &message), None);
        }
        if let Err(e) = &req.verified {
            return (401, error_body("invalid_signature", &e.to_string()), None);
        }
        if let Some(previous) = req.idempotency_key.as_ref().and_then(|k| self.answered.get(k)) {
            return (200, previous.clone(), None);
        }
        let answer = match (req.call.kind.as_deref(), &req.call.message_id) {
            (Some("messages"), None) => {
                self.next_message += 1;
                json!({"ok": true, "id": format!("wmsg_{}", self.next_message)})
            }
            (Some("message_updated"), Some(id)) => json!({"ok": true, "id": id}),
            _ => json!({"ok": true}),
        };
        if let Some(k) = &req.idempotency_key {
            self.answered.insert(k.clone(), answer.clone());
        }
        (200, answer, None)
    }
}

/// How one request goes, decided on arrival.
enum Outcome {
    /// Answer after `delay`, recording the call then (or when the client gives up).
    Answer { answer: Answer, delay: Duration },
    /// Already recorded, unanswered: wait to be let go.
    Hang(HangTicket),
}

/// Every request, on the known routes (`route` is the one matched) and off them.
pub(super) async fn handle(
    State(shared): State<Arc<Shared>>,
    route: Option<MatchedPath>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut req = Request::read(route.is_some(), &shared.secret, method, &uri, &headers, &body);

    // Decide the answer on arrival, in arrival order, in one short critical section.
    let (seq, outcome) = {
        let mut st = shared.lock();
        let seq = st.next_seq;
        st.next_seq += 1;
        let outcome = match st.faults.pop_front() {
            Some(Fault::Hang) => {
                st.record(seq, req.call.clone());
                Outcome::Hang(shared.hangs.ticket())
            }
            Some(fault) => Outcome::Answer {
                answer: fault_answer(fault).expect("only a hang has no answer"),
                delay: st.delay,
            },
            None => {
                use crate::standins::chaos::Roll;
                match st.chaos.as_ref().map_or(Roll::Normal, |c| c.roll()) {
                    Roll::ServerError => Outcome::Answer {
                        answer: fault_answer(Fault::Status(503)).expect("a status fault answers"),
                        delay: st.delay,
                    },
                    Roll::RateLimited(secs) => Outcome::Answer {
                        answer: fault_answer(Fault::RateLimited(HeaderValue::from(secs))).expect("a 429 answers"),
                        delay: st.delay,
                    },
                    Roll::Delayed(d) => Outcome::Answer {
                        answer: st.act(&req),
                        delay: st.delay + d,
                    },
                    Roll::Normal => Outcome::Answer {
                        answer: st.act(&req),
                        delay: st.delay,
                    },
                }
            }
        };
        (seq, outcome)
    };

    // Wait without the lock: the other requests go on meanwhile.
    let (status, body, retry_after) = match outcome {
        Outcome::Hang(ticket) => {
            ticket.wait().await;
            let (status, body, _) = fault_answer(Fault::Status(503)).expect("a status fault answers");
            settle(&shared, seq, status);
            (status, body, None)
        }
        Outcome::Answer { answer, delay } => {
            req.call.status = answer.0;
            let _recorder = Recorder {
                shared: shared.clone(),
                seq,
                call: Some(req.call),
            };
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            answer
        }
    };

    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = (code, axum::Json(body)).into_response();
    if let Some(value) = retry_after {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
}

/// Sets the status of a hung call once it is let go.
fn settle(shared: &Shared, seq: u64, status: u16) {
    if let Some((_, call)) = shared.lock().calls.iter_mut().find(|(s, _)| *s == seq) {
        call.status = status;
    }
}
