//! The parsers an outsider's bytes reach before the engine sees them, one entry point per
//! front door, each taking raw bytes. The fuzz targets in `fuzz/` drive these, and the
//! corpus replay test runs the kept corpus through them on every build
//! (`docs/testing.md#fuzzing`).
//!
//! Each entry point calls the very functions the front door calls — signature checks,
//! JSON and form decoding, NUL stripping, limits, button values, command words — and
//! then checks what must hold of whatever was accepted. Whatever the input, none may
//! panic: a panic is a bug the fuzzer reports.

use crate::discord::commands::{Invocation, subcommand};
use crate::discord::render::parse_custom_id;
use crate::engine::Resolution;
use crate::http::{
    ClaimBody, NewOperatorBody, OperatorPatchBody, PresenceBody, ReplyBody, TeamBody, TokenBody, TransferBody,
    WidgetPatchBody,
};
use crate::service::{MAX_TEXT_CHARS, WidgetEvent, WidgetEventKind, cap_text};
use crate::slack;
use crate::startup::PLATFORMS;
use crate::web::extract::parse_json;
use crate::web::scrub::strip_nul;
use serde_json::Value;
use serenity::all::{Interaction, Message};
use slack_morphism::prelude::*;

/// One target: raw bytes in, whether they got past the parsers out.
pub type Target = fn(&[u8]) -> bool;

/// Every target, by name, for the corpus replay and the fuzz crate. Each returns whether
/// the input got past the parsers (so a corpus can be checked to reach the code behind).
pub const TARGETS: &[(&str, Target)] = &[
    ("widget_event", widget_event),
    ("widget_signature", widget_signature),
    ("slack_event", slack_event),
    ("slack_interaction", slack_interaction),
    ("slack_command", slack_command),
    ("slack_signature", slack_signature),
    ("discord_interaction", discord_interaction),
    ("discord_message", discord_message),
    ("api_body", api_body),
];

/// Splits `data` at its first two newlines: two header-like lines and a body.
fn three_parts(data: &[u8]) -> (String, String, &[u8]) {
    let mut parts = data.splitn(3, |b| *b == b'\n');
    let a = String::from_utf8_lossy(parts.next().unwrap_or_default()).into_owned();
    let b = String::from_utf8_lossy(parts.next().unwrap_or_default()).into_owned();
    (a, b, parts.next().unwrap_or_default())
}

/// `POST /v1/widget/events` after its signature: the JSON, the checks, the limits.
pub fn widget_event(data: &[u8]) -> bool {
    let Ok(mut event) = parse_json::<WidgetEvent>(data) else {
        return false;
    };
    if event.validate().is_err() {
        return false;
    }
    event.limit();
    // What is kept is within the limit (and its mark), whatever came in.
    if let WidgetEventKind::Message { message, .. } = &event.kind {
        assert!(
            message.text.chars().count() <= MAX_TEXT_CHARS + 64,
            "a message past the cap was kept"
        );
    }
    // And no NUL reaches the store (PostgreSQL refuses one).
    if let Ok(mut raw) = serde_json::from_slice::<Value>(data) {
        strip_nul(&mut raw);
        assert!(!has_nul(&raw), "a NUL survived the scrub");
    }
    true
}

fn has_nul(v: &Value) -> bool {
    match v {
        Value::String(s) => s.contains('\0'),
        Value::Array(a) => a.iter().any(has_nul),
        Value::Object(o) => o.iter().any(|(k, v)| k.contains('\0') || has_nul(v)),
        _ => false,
    }
}

/// The widget platform's signature: line 1 the header, line 2 the time, the rest the body.
pub fn widget_signature(data: &[u8]) -> bool {
    let (header, now, body) = three_parts(data);
    let now = now.trim().parse::<i64>().unwrap_or(0);
    let secret = b"fuzz-secret";
    let verdict = crate::signature::verify(secret, Some(&header), body, now);
    // A body signed now always passes, whatever it holds.
    let signed = crate::signature::sign(secret, now, body);
    assert_eq!(crate::signature::verify(secret, Some(&signed), body, now), Ok(()));
    if verdict.is_ok() {
        assert!(header.contains("v1="), "a signature without v1 passed");
    }
    verdict.is_ok()
}

/// `POST /slack/events` after its signature.
pub fn slack_event(data: &[u8]) -> bool {
    let Ok((raw, event)) = slack::events::parse(data) else {
        return false;
    };
    if let SlackPushEvent::EventCallback(cb) = &event {
        let _ = slack::events::ordering_key(cb, &raw);
        // What is queued must read back as the same kind of event when it is acted on.
        let queued = serde_json::to_string(&raw).expect("JSON serialises");
        let back: SlackPushEvent = serde_json::from_str(&queued).expect("a queued Slack event reads back");
        assert!(matches!(back, SlackPushEvent::EventCallback(_)));
        if let SlackEventCallbackBody::Message(m) = &cb.event {
            let text = m.content.as_ref().and_then(|c| c.text.as_deref()).unwrap_or_default();
            let _ = cap_text(&slack::render::unescape(text), MAX_TEXT_CHARS);
        }
    }
    true
}

/// `POST /slack/interactions` after its signature: the form, the payload, the values.
pub fn slack_interaction(data: &[u8]) -> bool {
    let Ok(event) = slack::interactions::parse(data) else {
        return false;
    };
    match event {
        SlackInteractionEvent::BlockActions(ev) => ev
            .actions
            .unwrap_or_default()
            .iter()
            .filter_map(|a| a.value.as_deref())
            // Every value is parsed, not only up to the first that parses.
            .map(|v| slack::render::parse_action_value(v).is_some())
            .collect::<Vec<_>>()
            .contains(&true),
        SlackInteractionEvent::ViewSubmission(ev) => match &ev.view.view {
            SlackView::Modal(modal) => modal
                .private_metadata
                .as_deref()
                .and_then(slack::render::parse_action_value)
                .is_some(),
            _ => false,
        },
        _ => false,
    }
}

/// `POST /slack/commands` after its signature: the form and the `/handoff` words.
pub fn slack_command(data: &[u8]) -> bool {
    let fields = slack::verify::form(data);
    let text = fields
        .iter()
        .find(|(k, _)| k == "text")
        .map(|(_, v)| v.as_str())
        .unwrap_or_default();
    let parsed = slack::commands::parse(&slack::render::unescape(text)).is_ok();
    // The words alone, as typed.
    let _ = slack::commands::parse(&String::from_utf8_lossy(data));
    parsed && fields.iter().any(|(k, _)| k == "user_id")
}

/// Slack's signature: line 1 `X-Slack-Signature`, line 2 the timestamp, the rest the body.
pub fn slack_signature(data: &[u8]) -> bool {
    let (signature, timestamp, body) = three_parts(data);
    let secret = "fuzz-secret";
    let _ = slack::verify::check(secret, Some(&signature), Some(&timestamp), body);
    assert!(slack::verify::check(secret, None, Some(&timestamp), body).is_err());
    // Slack's checker reads the clock: the body signed now passes, and only with its own
    // signature.
    let Ok(text) = std::str::from_utf8(body) else {
        return false;
    };
    let now = crate::signature::unix_now();
    let signed = crate::standins::slack::slack_signature(secret, now, text);
    let now = now.to_string();
    assert!(slack::verify::check(secret, Some(&signed), Some(&now), body).is_ok());
    if signed != signature {
        assert!(slack::verify::check(secret, Some(&signature), Some(&now), body).is_err());
    }
    true
}

/// A gateway `INTERACTION_CREATE`: the interaction, its `custom_id`, its command.
pub fn discord_interaction(data: &[u8]) -> bool {
    let Some(interaction) = discord_json::<Interaction>(data) else {
        return false;
    };
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = parse_custom_id(text);
    }
    match interaction {
        Interaction::Component(c) => parse_custom_id(&c.data.custom_id).is_some(),
        Interaction::Modal(m) => parse_custom_id(&m.data.custom_id).is_some(),
        Interaction::Command(c) => subcommand(&Invocation::of(&c)).is_ok(),
        _ => false,
    }
}

/// Keys whose strings serenity reads as image hashes.
const IMAGE_HASH_KEYS: [&str; 10] = [
    "asset",
    "avatar",
    "badge",
    "banner",
    "cover_image",
    "discovery_splash",
    "icon",
    "icon_hash",
    "image",
    "splash",
];

/// Whether every image hash in `v` is ASCII. serenity 0.12's `ImageHash` parser slices a
/// 32- or 34-byte hash two bytes at a time and panics inside a multi-byte character;
/// Discord's hashes are hex, so only made-up payloads have such hashes, and the gateway's
/// own parse of what Discord sends is serenity's.
fn image_hashes_are_ascii(v: &Value) -> bool {
    match v {
        Value::Array(items) => items.iter().all(image_hashes_are_ascii),
        Value::Object(map) => map.iter().all(|(k, v)| match v {
            Value::String(s) if IMAGE_HASH_KEYS.contains(&k.as_str()) => s.is_ascii(),
            other => image_hashes_are_ascii(other),
        }),
        _ => true,
    }
}

/// A Discord payload read as serenity reads it, when it is one serenity can read.
fn discord_json<T: serde::de::DeserializeOwned>(data: &[u8]) -> Option<T> {
    let v: Value = serde_json::from_slice(data).ok()?;
    if !image_hashes_are_ascii(&v) {
        return None;
    }
    serde_json::from_value(v).ok()
}

/// A gateway `MESSAGE_CREATE`: the message, and the copy queued for the outbox.
pub fn discord_message(data: &[u8]) -> bool {
    let Some(msg) = discord_json::<Message>(data) else {
        return false;
    };
    // A message is queued as JSON and read back when it is acted on: it must read back.
    let queued = serde_json::to_string(&msg).expect("a message serialises");
    let back: Message = serde_json::from_str(&queued).expect("a queued Discord message reads back");
    assert_eq!(back.id, msg.id);
    assert_eq!(back.content, msg.content);
    let _ = crate::discord::render::esc(&msg.content);
    true
}

/// The HTTP API's bodies: the first byte picks which, the rest is the body.
pub fn api_body(data: &[u8]) -> bool {
    let Some((which, body)) = data.split_first() else {
        return false;
    };
    match which % 10 {
        0 => parse_json::<ClaimBody>(body).is_ok(),
        1 => parse_json::<TransferBody>(body).is_ok(),
        2 => parse_json::<Resolution>(body).is_ok(),
        3 => parse_json::<ReplyBody>(body).is_ok(),
        4 => parse_json::<NewOperatorBody>(body).is_ok_and(|b| b.into_service(&PLATFORMS).is_ok()),
        5 => parse_json::<OperatorPatchBody>(body).is_ok_and(|b| b.into_service(&PLATFORMS).is_ok()),
        6 => parse_json::<PresenceBody>(body).is_ok(),
        7 => parse_json::<TokenBody>(body).is_ok(),
        8 => parse_json::<TeamBody>(body).is_ok(),
        _ => parse_json::<WidgetPatchBody>(body).is_ok_and(|b| b.into_service(&PLATFORMS).is_ok()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    /// Every file kept in `fuzz/corpus/<target>/` goes through its target on every
    /// build, so what the fuzzer once found stays fixed.
    #[test]
    fn the_fuzz_corpus_replays_without_a_panic() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus");
        let mut ran = 0;
        for (name, target) in TARGETS {
            let dir = root.join(name);
            let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
            let (mut here, mut through) = (0, 0);
            for entry in entries {
                let path = entry.expect("a corpus entry").path();
                let data = std::fs::read(&path).expect("a corpus file");
                through += usize::from(target(&data));
                here += 1;
            }
            assert!(here > 0, "{name} has no corpus in {}", dir.display());
            // The corpus reaches past the parsers, not only into their refusals.
            assert!(through > 0, "no input in {} gets past {name}'s parsers", dir.display());
            ran += here;
        }
        assert!(ran >= TARGETS.len());
    }
}
