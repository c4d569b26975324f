//! How the Slack stand-in reads requests and writes answers, as Slack's Web API does:
//! arguments from a JSON body, a form or the query string ([`Args`]), the bot token from
//! `Authorization: Bearer` or a `token` parameter, the JSON answers and their error shapes,
//! message timestamps, and the base64 cursors of the history methods.

use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use serde_json::{Map, Value, json};
use url::form_urlencoded;

/// Request arguments: JSON body, form fields or query parameters.
pub(super) struct Args(pub(super) Map<String, Value>);

impl Args {
    /// A parameter as text (numbers and booleans too).
    pub(super) fn str(&self, key: &str) -> Option<String> {
        match self.0.get(key)? {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }

    /// A non-empty parameter as text.
    pub(super) fn non_empty(&self, key: &str) -> Option<String> {
        self.str(key).filter(|s| !s.trim().is_empty())
    }

    /// A JSON parameter: inline in a JSON body, or a JSON-encoded string in a form.
    /// `Err` if the string does not parse.
    pub(super) fn json(&self, key: &str) -> Result<Option<Value>, ()> {
        match self.0.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
            Some(Value::String(s)) => serde_json::from_str(s).map(Some).map_err(|_| ()),
            Some(v) => Ok(Some(v.clone())),
        }
    }

    pub(super) fn flag(&self, key: &str) -> bool {
        matches!(self.str(key).as_deref(), Some("true" | "1"))
    }

    /// A list parameter: a JSON array, or a comma-separated string.
    pub(super) fn list(&self, key: &str) -> Vec<String> {
        match self.0.get(key) {
            Some(Value::String(s)) => s
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect(),
            Some(Value::Array(items)) => items.iter().filter_map(|v| v.as_str().map(str::to_string)).collect(),
            _ => Vec::new(),
        }
    }
}

/// Decodes `application/x-www-form-urlencoded` text (also query strings).
pub(super) fn parse_form(s: &str) -> Vec<(String, String)> {
    form_urlencoded::parse(s.as_bytes()).into_owned().collect()
}

/// Encodes `application/x-www-form-urlencoded` as browsers and Slack do.
pub(super) fn form_encode(pairs: &[(&str, &str)]) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

/// What a request carried: its arguments (or the Slack error for a malformed body) and
/// the token it presented.
pub(super) struct Incoming {
    pub(super) args: Result<Map<String, Value>, &'static str>,
    pub(super) token: Option<String>,
}

impl Incoming {
    /// The arguments as recorded: `Null` if the body did not parse.
    pub(super) fn args_value(&self) -> Value {
        self.args
            .as_ref()
            .map(|m| Value::Object(m.clone()))
            .unwrap_or(Value::Null)
    }
}

pub(super) fn parse_request(verb: &Method, query: Option<&str>, headers: &HeaderMap, body: &[u8]) -> Incoming {
    let mut args = Map::new();
    let mut param_token = None;
    let mut take = |pairs: Vec<(String, String)>, args: &mut Map<String, Value>| {
        for (k, v) in pairs {
            if k == "token" {
                param_token = Some(v.clone());
            }
            args.insert(k, Value::String(v));
        }
    };
    take(parse_form(query.unwrap_or("")), &mut args);
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let parsed = if *verb != Method::POST || body.is_empty() {
        Ok(())
    } else if content_type.starts_with("application/json") {
        // Slack reads the token of a JSON body from the Authorization header only.
        match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(m)) => {
                args.extend(m);
                Ok(())
            }
            Ok(_) => Err("json_not_object"),
            Err(_) => Err("invalid_json"),
        }
    } else if content_type.starts_with("application/x-www-form-urlencoded") || content_type.starts_with("text/plain") {
        match std::str::from_utf8(body) {
            Ok(text) => {
                take(parse_form(text), &mut args);
                Ok(())
            }
            Err(_) => Err("invalid_form_data"),
        }
    } else if content_type.is_empty() {
        Err("missing_post_type")
    } else {
        Err("invalid_post_type")
    };
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|t| t.trim().to_string());
    Incoming {
        args: parsed.map(|()| args),
        token: bearer.or(param_token),
    }
}

// ---------------------------------------------------------------------------------------
// Answers

/// `Ok`: the success body without `ok`; `Err`: the whole error body.
pub(super) type Reply = Result<Value, Value>;

pub(super) fn api_error(code: &str) -> Value {
    json!({"ok": false, "error": code})
}

/// Slack's answer to failed validation: the error code, `errors`, and the same problems
/// as `response_metadata.messages` prefixed with `[ERROR]`.
pub(super) fn validation_error(code: &str, problems: &[String]) -> Value {
    json!({
        "ok": false,
        "error": code,
        "errors": problems,
        "response_metadata": {"messages": problems.iter().map(|p| format!("[ERROR] {p}")).collect::<Vec<_>>()}
    })
}

/// A success body with `ok: true`.
pub(super) fn with_ok(mut v: Value) -> Value {
    if let Value::Object(m) = &mut v {
        m.insert("ok".to_string(), Value::Bool(true));
    }
    v
}

/// A JSON answer as Slack sends it, with `Retry-After` when given.
pub(super) fn json_response(status: u16, body: &Value, retry_after: Option<HeaderValue>) -> Response {
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = (code, body.to_string()).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    if let Some(value) = retry_after {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
}

// ---------------------------------------------------------------------------------------
// Timestamps and cursors

/// A message timestamp as (seconds, microseconds), for ordering and time windows.
pub(super) type TsKey = (u64, u32);

/// A Slack timestamp (`"1712345678.000100"`, also `"1712345678"` or fewer decimals) as
/// (seconds, microseconds).
pub(super) fn parse_ts(ts: &str) -> Option<TsKey> {
    let ts = ts.trim();
    let (secs, frac) = ts.split_once('.').unwrap_or((ts, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if secs.is_empty() || !digits(secs) || !digits(frac) {
        return None;
    }
    let mut micros: String = frac.chars().take(6).collect();
    while micros.len() < 6 {
        micros.push('0');
    }
    Some((secs.parse().ok()?, micros.parse().ok()?))
}

/// The ordering key of a stored ts (`(0, 0)` if it does not parse).
pub(super) fn ts_key(ts: &str) -> TsKey {
    parse_ts(ts).unwrap_or((0, 0))
}

/// Standard base64, padded when written, padding optional when read.
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Slack's cursor for the history methods: base64 of `next_ts:<ts without the dot>`,
/// naming the next message to return.
pub(super) fn ts_cursor(ts: TsKey) -> String {
    BASE64.encode(format!("next_ts:{}{:06}", ts.0, ts.1))
}

pub(super) fn parse_ts_cursor(cursor: &str) -> Option<TsKey> {
    let text = String::from_utf8(BASE64.decode(cursor).ok()?).ok()?;
    let digits = text.strip_prefix("next_ts:")?;
    if digits.len() < 7 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (secs, micros) = digits.split_at(digits.len() - 6);
    Some((secs.parse().ok()?, micros.parse().ok()?))
}

/// The `oldest` / `latest` / `inclusive` window of the history methods.
pub(super) struct Window {
    oldest: Option<TsKey>,
    latest: Option<TsKey>,
    inclusive: bool,
}

impl Window {
    pub(super) fn from_args(a: &Args) -> Result<Window, Value> {
        let bound = |key: &str, error: &str| match a.non_empty(key) {
            None => Ok(None),
            Some(s) => parse_ts(&s).map(Some).ok_or_else(|| api_error(error)),
        };
        Ok(Window {
            oldest: bound("oldest", "invalid_ts_oldest")?,
            latest: bound("latest", "invalid_ts_latest")?,
            inclusive: a.flag("inclusive"),
        })
    }

    pub(super) fn contains(&self, ts: TsKey) -> bool {
        let after = self.oldest.is_none_or(|o| ts > o || (self.inclusive && ts == o));
        let before = self.latest.is_none_or(|l| ts < l || (self.inclusive && ts == l));
        after && before
    }
}

/// `limit`: `default` when absent, unparsable or 0; at most `max`.
pub(super) fn page_limit(a: &Args, default: usize, max: usize) -> usize {
    match a.str("limit").and_then(|l| l.trim().parse::<usize>().ok()) {
        None | Some(0) => default,
        Some(n) => n.min(max),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_encoding_round_trips() {
        let original = "payload={\"a\": \"b c&d=e+f%ü\"}";
        let encoded = form_encode(&[("k", original), ("empty", "")]);
        assert_eq!(
            encoded,
            "k=payload%3D%7B%22a%22%3A+%22b+c%26d%3De%2Bf%25%C3%BC%22%7D&empty="
        );
        assert_eq!(
            parse_form(&encoded),
            [
                ("k".to_string(), original.to_string()),
                ("empty".to_string(), String::new())
            ]
        );
        assert_eq!(
            parse_form("a=%2&&b"),
            [("a".into(), "%2".into()), ("b".into(), String::new())]
        );
    }

    #[test]
    fn history_cursors_and_timestamps() {
        // The cursor of Slack's own conversations.history example.
        let ts = (1_512_085_861, 543);
        assert_eq!(ts_cursor(ts), "bmV4dF90czoxNTEyMDg1ODYxMDAwNTQz");
        assert_eq!(parse_ts_cursor("bmV4dF90czoxNTEyMDg1ODYxMDAwNTQz"), Some(ts));
        // Padding is optional when read.
        let padded = ts_cursor((17, 1));
        assert!(padded.ends_with('='), "{padded}");
        assert_eq!(parse_ts_cursor(padded.trim_end_matches('=')), Some((17, 1)));
        assert_eq!(parse_ts_cursor("dXNlcjpVMDYxTkZUVDI="), None);
        assert_eq!(parse_ts_cursor("not a cursor"), None);
        assert_eq!(parse_ts("1700000000.000100"), Some((1_700_000_000, 100)));
        assert_eq!(parse_ts("1700000000.5"), Some((1_700_000_000, 500_000)));
        assert_eq!(parse_ts("1700000000"), Some((1_700_000_000, 0)));
        assert_eq!(parse_ts("-1"), None);
        assert_eq!(parse_ts(".5"), None);
    }
}
