//! How the Discord stand-in answers, as Discord's REST API does: JSON error bodies
//! (`{"message", "code"}`, with `errors` for `50035 Invalid Form Body`), the 429 body and
//! its rate-limit headers, and the documented message limits
//! (<https://discord.com/developers/docs/resources/message#create-message>,
//! <https://discord.com/developers/docs/resources/message#embed-object-embed-limits>,
//! <https://discord.com/developers/docs/components/reference>).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

/// An error answer: HTTP status and Discord's JSON body.
pub(super) type Failure = (u16, Value);

/// What a route answers: status and body (`Null` for 204).
pub(super) type Reply = Result<(u16, Value), Failure>;

pub(super) fn error(status: u16, code: u64, message: &str) -> Failure {
    (status, json!({"message": message, "code": code}))
}

pub(super) fn unauthorized() -> Failure {
    error(401, 0, "401: Unauthorized")
}

pub(super) fn not_found() -> Failure {
    error(404, 0, "404: Not Found")
}

pub(super) fn unknown_channel() -> Failure {
    error(404, 10003, "Unknown Channel")
}

pub(super) fn unknown_message() -> Failure {
    error(404, 10008, "Unknown Message")
}

pub(super) fn unknown_interaction() -> Failure {
    error(404, 10062, "Unknown interaction")
}

pub(super) fn unknown_webhook() -> Failure {
    error(404, 10015, "Unknown Webhook")
}

pub(super) fn cannot_dm() -> Failure {
    error(403, 50007, "Cannot send messages to this user")
}

pub(super) fn empty_message() -> Failure {
    error(400, 50006, "Cannot send an empty message")
}

/// The 429 body (Discord's `RatelimitedResponse`).
pub(super) fn rate_limited(retry_after: f64) -> Value {
    json!({"message": "You are being rate limited.", "retry_after": retry_after, "global": false, "code": 0})
}

/// A JSON answer (an empty 204 for `Null`), with the rate-limit headers of a 429 when
/// `retry_after` is given.
pub(super) fn json_response(status: u16, body: &Value, retry_after: Option<f64>) -> Response {
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut resp = if body.is_null() {
        code.into_response()
    } else {
        (code, [(header::CONTENT_TYPE, "application/json")], body.to_string()).into_response()
    };
    if let Some(secs) = retry_after {
        let h = resp.headers_mut();
        let set = |h: &mut axum::http::HeaderMap, k: &'static str, v: String| {
            if let Ok(v) = HeaderValue::from_str(&v) {
                h.insert(k, v);
            }
        };
        set(h, "retry-after", format!("{}", secs.ceil() as u64));
        set(h, "x-ratelimit-limit", "5".into());
        set(h, "x-ratelimit-remaining", "0".into());
        set(h, "x-ratelimit-reset-after", format!("{secs:.3}"));
        set(h, "x-ratelimit-bucket", "stand-in".into());
        set(h, "x-ratelimit-scope", "user".into());
    }
    resp
}

// ---------------------------------------------------------------------------------------
// Invalid Form Body

/// Field errors of one request, nested as Discord nests them
/// (`{"embeds": {"0": {"title": {"_errors": [{"code", "message"}]}}}}`).
#[derive(Default)]
pub(super) struct FormErrors(Map<String, Value>);

impl FormErrors {
    /// Adds an error at `path` (object keys and array indexes).
    pub(super) fn add<S: AsRef<str>>(&mut self, path: &[S], code: &str, message: String) {
        let mut node = &mut self.0;
        for key in path {
            node = node
                .entry(key.as_ref().to_string())
                .or_insert_with(|| Value::Object(Map::new()))
                .as_object_mut()
                .expect("form error nodes are objects");
        }
        let errors = node.entry("_errors").or_insert_with(|| json!([]));
        if let Some(list) = errors.as_array_mut() {
            list.push(json!({"code": code, "message": message}));
        }
    }

    /// A string longer than `max` characters.
    fn max_len<S: AsRef<str>>(&mut self, path: &[S], value: &Value, max: usize) {
        if let Some(s) = value.as_str()
            && s.chars().count() > max
        {
            self.add(
                path,
                "BASE_TYPE_MAX_LENGTH",
                format!("Must be {max} or fewer in length."),
            );
        }
    }

    /// An array longer than `max` items.
    fn max_items<S: AsRef<str>>(&mut self, path: &[S], value: &Value, max: usize) {
        if value.as_array().is_some_and(|a| a.len() > max) {
            self.add(
                path,
                "BASE_TYPE_MAX_LENGTH",
                format!("Must be {max} or fewer in length."),
            );
        }
    }

    /// `Ok` if there was no error, else the 400 `50035 Invalid Form Body`.
    pub(super) fn into_result(self) -> Result<(), Failure> {
        if self.0.is_empty() {
            return Ok(());
        }
        Err((
            400,
            json!({"message": "Invalid Form Body", "code": 50035, "errors": Value::Object(self.0)}),
        ))
    }
}

/// Checks a message body (create, edit, interaction answer, webhook) against Discord's
/// limits; `prefix` is where the message sits in the body (`["message"]` in a forum post).
pub(super) fn check_message(body: &Value, prefix: &[&str], errors: &mut FormErrors) {
    let at = |rest: &[&str]| -> Vec<String> { prefix.iter().chain(rest).map(|s| s.to_string()).collect() };
    errors.max_len(&at(&["content"]), &body["content"], 2000);
    errors.max_items(&at(&["embeds"]), &body["embeds"], 10);
    let mut total = 0;
    for (i, embed) in body["embeds"].as_array().into_iter().flatten().enumerate() {
        let i = i.to_string();
        let e = |field: &str| at(&["embeds", &i, field]);
        errors.max_len(&e("title"), &embed["title"], 256);
        errors.max_len(&e("description"), &embed["description"], 4096);
        errors.max_len(&e("url"), &embed["url"], 2048);
        errors.max_len(&at(&["embeds", &i, "image", "url"]), &embed["image"]["url"], 2048);
        errors.max_items(&e("fields"), &embed["fields"], 25);
        errors.max_len(&at(&["embeds", &i, "footer", "text"]), &embed["footer"]["text"], 2048);
        errors.max_len(&at(&["embeds", &i, "author", "name"]), &embed["author"]["name"], 256);
        for (j, field) in embed["fields"].as_array().into_iter().flatten().enumerate() {
            let j = j.to_string();
            errors.max_len(&at(&["embeds", &i, "fields", &j, "name"]), &field["name"], 256);
            errors.max_len(&at(&["embeds", &i, "fields", &j, "value"]), &field["value"], 1024);
            total += chars(&field["name"]) + chars(&field["value"]);
        }
        total += chars(&embed["title"])
            + chars(&embed["description"])
            + chars(&embed["footer"]["text"])
            + chars(&embed["author"]["name"]);
    }
    if total > 6000 {
        errors.add(
            &at(&["embeds"]),
            "MAX_EMBED_SIZE_EXCEEDED",
            "Embed size exceeds maximum size of 6000".into(),
        );
    }
    errors.max_items(&at(&["components"]), &body["components"], 5);
    for (i, row) in body["components"].as_array().into_iter().flatten().enumerate() {
        let i = i.to_string();
        errors.max_items(&at(&["components", &i, "components"]), &row["components"], 5);
        for (j, c) in row["components"].as_array().into_iter().flatten().enumerate() {
            let j = j.to_string();
            errors.max_len(
                &at(&["components", &i, "components", &j, "custom_id"]),
                &c["custom_id"],
                100,
            );
        }
    }
}

fn chars(v: &Value) -> usize {
    v.as_str().map_or(0, |s| s.chars().count())
}

/// Whether a message body carries anything to show.
pub(super) fn has_body(body: &Value) -> bool {
    let non_empty = |k: &str| body[k].as_array().is_some_and(|a| !a.is_empty());
    body["content"].as_str().is_some_and(|s| !s.is_empty())
        || non_empty("embeds")
        || non_empty("components")
        || non_empty("sticker_ids")
        || non_empty("attachments")
}

/// Decodes a percent-encoded path segment (an emoji in a reaction route).
pub(super) fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Some(b) = std::str::from_utf8(&bytes[i + 1..i + 3])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(b);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The JSON of a request: the body itself, or the `payload_json` part of a
/// `multipart/form-data` body (how messages with attachments, and forum posts, are sent).
/// `Null` if there is none or it does not parse.
pub(super) fn request_json(content_type: &str, body: &[u8]) -> Value {
    if body.is_empty() {
        return Value::Null;
    }
    let Some(boundary) = content_type
        .split(';')
        .map(str::trim)
        .find_map(|p| p.strip_prefix("boundary="))
        .filter(|_| content_type.starts_with("multipart/form-data"))
    else {
        return serde_json::from_slice(body).unwrap_or(Value::Null);
    };
    let text = String::from_utf8_lossy(body);
    let delimiter = format!("--{}", boundary.trim_matches('"'));
    text.split(delimiter.as_str())
        .filter_map(|part| part.split_once("\r\n\r\n"))
        .find(|(headers, _)| headers.contains("name=\"payload_json\""))
        .and_then(|(_, content)| serde_json::from_str(content.trim_end_matches("\r\n")).ok())
        .unwrap_or(Value::Null)
}

/// The message Discord gives with a JSON error code.
pub(super) fn error_message(code: u64) -> &'static str {
    match code {
        10003 => "Unknown Channel",
        10008 => "Unknown Message",
        10062 => "Unknown interaction",
        40060 => "Interaction has already been acknowledged.",
        50001 => "Missing Access",
        50007 => "Cannot send messages to this user",
        50013 => "Missing Permissions",
        50035 => "Invalid Form Body",
        _ => "Refused",
    }
}
