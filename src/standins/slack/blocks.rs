//! Block Kit validation for the Slack stand-in: Slack's documented limits on blocks,
//! elements, text objects and modal views (https://api.slack.com/reference/block-kit),
//! reported as Slack does: `"<problem> [json-pointer:<where>]"`. The bridge's messages
//! and modals must pass them, or Slack would refuse them with `invalid_blocks` /
//! `invalid_arguments`.

use std::collections::HashSet;

use serde_json::Value;

/// Blocks in a message / in a modal view.
const MAX_MESSAGE_BLOCKS: usize = 50;
const MAX_VIEW_BLOCKS: usize = 100;

/// Collects validation problems.
#[derive(Default)]
struct Problems(Vec<String>);

impl Problems {
    fn add(&mut self, problem: impl std::fmt::Display, ptr: &str) {
        self.0.push(format!("{problem} [json-pointer:{ptr}]"));
    }

    /// A string field of at most `max` characters, if present.
    fn max_len(&mut self, obj: &Value, key: &str, max: usize, ptr: &str) {
        if let Some(s) = obj.get(key).and_then(Value::as_str)
            && s.chars().count() > max
        {
            self.add(
                format!("must be less than {} characters", max + 1),
                &format!("{ptr}/{key}"),
            );
        }
    }

    /// An array field of at most `max` items, if present.
    fn max_items(&mut self, obj: &Value, key: &str, max: usize, ptr: &str) {
        if let Some(items) = obj.get(key).and_then(Value::as_array)
            && items.len() > max
        {
            self.add(format!("must be less than {} items", max + 1), &format!("{ptr}/{key}"));
        }
    }
}

/// A text object: `plain_text` (or `mrkdwn` unless `plain_only`), 1 to `max` characters.
fn check_text(t: &Value, ptr: &str, max: usize, plain_only: bool, p: &mut Problems) {
    if !t.is_object() {
        p.add("must be a text object", ptr);
        return;
    }
    match t["type"].as_str() {
        Some("plain_text") => {}
        Some("mrkdwn") if !plain_only => {}
        Some("mrkdwn") => p.add("must be plain_text", &format!("{ptr}/type")),
        _ => p.add("must be one of plain_text or mrkdwn", &format!("{ptr}/type")),
    }
    match t["text"].as_str() {
        None => p.add("missing required field: text", ptr),
        Some("") => p.add("must be more than 0 characters", &format!("{ptr}/text")),
        Some(s) if s.chars().count() > max => p.add(
            format!("must be less than {} characters", max + 1),
            &format!("{ptr}/text"),
        ),
        Some(_) => {}
    }
}

/// An optional text object field.
fn check_text_field(obj: &Value, key: &str, max: usize, plain_only: bool, ptr: &str, p: &mut Problems) {
    if let Some(t) = obj.get(key).filter(|t| !t.is_null()) {
        check_text(t, &format!("{ptr}/{key}"), max, plain_only, p);
    }
}

/// A required text object field.
fn require_text_field(obj: &Value, key: &str, max: usize, plain_only: bool, ptr: &str, p: &mut Problems) {
    match obj.get(key).filter(|t| !t.is_null()) {
        Some(t) => check_text(t, &format!("{ptr}/{key}"), max, plain_only, p),
        None => p.add(format!("missing required field: {key}"), ptr),
    }
}

/// Options of a select, overflow, checkboxes or radio buttons.
fn check_options(el: &Value, max: usize, ptr: &str, p: &mut Problems) {
    p.max_items(el, "options", max, ptr);
    for (i, o) in el["options"].as_array().into_iter().flatten().enumerate() {
        let optr = format!("{ptr}/options/{i}");
        require_text_field(o, "text", 75, false, &optr, p);
        p.max_len(o, "value", 150, &optr);
        check_text_field(o, "description", 75, false, &optr, p);
    }
    p.max_items(el, "option_groups", 100, ptr);
}

const SELECTS: &[&str] = &[
    "static_select",
    "external_select",
    "users_select",
    "conversations_select",
    "channels_select",
    "multi_static_select",
    "multi_external_select",
    "multi_users_select",
    "multi_conversations_select",
    "multi_channels_select",
];

const OTHER_ELEMENTS: &[&str] = &[
    "datepicker",
    "timepicker",
    "datetimepicker",
    "plain_text_input",
    "email_text_input",
    "url_text_input",
    "number_input",
    "rich_text_input",
    "file_input",
    "workflow_button",
];

/// An interactive element (or an image, where `images_ok`).
fn check_element(el: &Value, ptr: &str, images_ok: bool, p: &mut Problems) {
    let Some(kind) = el["type"].as_str() else {
        p.add("missing required field: type", ptr);
        return;
    };
    p.max_len(el, "action_id", 255, ptr);
    match kind {
        "button" => {
            require_text_field(el, "text", 75, true, ptr, p);
            p.max_len(el, "value", 2000, ptr);
            p.max_len(el, "url", 3000, ptr);
            if let Some(style) = el.get("style").and_then(Value::as_str)
                && style != "primary"
                && style != "danger"
            {
                p.add("must be one of primary or danger", &format!("{ptr}/style"));
            }
        }
        k if SELECTS.contains(&k) => {
            check_text_field(el, "placeholder", 150, true, ptr, p);
            check_options(el, 100, ptr, p);
        }
        "overflow" => check_options(el, 5, ptr, p),
        "checkboxes" | "radio_buttons" => check_options(el, 10, ptr, p),
        k if OTHER_ELEMENTS.contains(&k) => {
            check_text_field(el, "placeholder", 150, true, ptr, p);
            if let Some(n) = el["max_length"].as_u64()
                && n > 3000
            {
                p.add("must be less than 3001", &format!("{ptr}/max_length"));
            }
        }
        "image" if images_ok => check_image(el, ptr, p),
        other => p.add(format!("unsupported element type `{other}`"), &format!("{ptr}/type")),
    }
}

/// An image block or image element.
fn check_image(el: &Value, ptr: &str, p: &mut Problems) {
    if el.get("image_url").is_none() && el.get("slack_file").is_none() {
        p.add("missing required field: image_url", ptr);
    }
    p.max_len(el, "image_url", 3000, ptr);
    match el["alt_text"].as_str() {
        None => p.add("missing required field: alt_text", ptr),
        Some(_) => p.max_len(el, "alt_text", 2000, ptr),
    }
}

fn check_section(b: &Value, ptr: &str, p: &mut Problems) {
    let has_text = b.get("text").is_some_and(|t| !t.is_null());
    let has_fields = b.get("fields").is_some_and(|f| !f.is_null());
    if !has_text && !has_fields {
        p.add("must provide either text or fields", ptr);
    }
    check_text_field(b, "text", 3000, false, ptr, p);
    if let Some(fields) = b.get("fields").and_then(Value::as_array) {
        p.max_items(b, "fields", 10, ptr);
        for (i, f) in fields.iter().enumerate() {
            check_text(f, &format!("{ptr}/fields/{i}"), 2000, false, p);
        }
    }
    if let Some(acc) = b.get("accessory").filter(|a| !a.is_null()) {
        check_element(acc, &format!("{ptr}/accessory"), true, p);
    }
}

/// The `elements` array of an actions or context block: 1 to `max` items.
fn elements<'a>(b: &'a Value, max: usize, ptr: &str, p: &mut Problems) -> &'a [Value] {
    match b["elements"].as_array() {
        None => {
            p.add("missing required field: elements", ptr);
            &[]
        }
        Some(items) if items.is_empty() => {
            p.add("must be more than 0 items", &format!("{ptr}/elements"));
            items
        }
        Some(items) => {
            p.max_items(b, "elements", max, ptr);
            items
        }
    }
}

fn check_actions(b: &Value, ptr: &str, p: &mut Problems) {
    let mut action_ids = HashSet::new();
    for (i, el) in elements(b, 25, ptr, p).iter().enumerate() {
        let eptr = format!("{ptr}/elements/{i}");
        check_element(el, &eptr, false, p);
        if let Some(id) = el["action_id"].as_str()
            && !action_ids.insert(id)
        {
            p.add(format!("duplicate action_id `{id}`"), &format!("{eptr}/action_id"));
        }
    }
}

fn check_context(b: &Value, ptr: &str, p: &mut Problems) {
    for (i, el) in elements(b, 10, ptr, p).iter().enumerate() {
        let eptr = format!("{ptr}/elements/{i}");
        match el["type"].as_str() {
            Some("image") => check_image(el, &eptr, p),
            _ => check_text(el, &eptr, 3000, false, p),
        }
    }
}

fn check_input(b: &Value, ptr: &str, p: &mut Problems) {
    require_text_field(b, "label", 2000, true, ptr, p);
    check_text_field(b, "hint", 2000, true, ptr, p);
    match b.get("element").filter(|e| !e.is_null()) {
        Some(el) => check_element(el, &format!("{ptr}/element"), false, p),
        None => p.add("missing required field: element", ptr),
    }
}

/// One block; `block_ids` collects the ids seen so far (they must be unique).
fn check_block<'a>(b: &'a Value, ptr: &str, block_ids: &mut HashSet<&'a str>, p: &mut Problems) {
    if !b.is_object() {
        p.add("must be an object", ptr);
        return;
    }
    p.max_len(b, "block_id", 255, ptr);
    if let Some(id) = b["block_id"].as_str()
        && !block_ids.insert(id)
    {
        p.add(format!("duplicate block_id `{id}`"), &format!("{ptr}/block_id"));
    }
    match b["type"].as_str() {
        None => p.add("missing required field: type", ptr),
        Some("section") => check_section(b, ptr, p),
        Some("header") => require_text_field(b, "text", 150, true, ptr, p),
        Some("actions") => check_actions(b, ptr, p),
        Some("context") => check_context(b, ptr, p),
        Some("input") => check_input(b, ptr, p),
        Some("image") => {
            check_image(b, ptr, p);
            check_text_field(b, "title", 2000, true, ptr, p);
        }
        Some("rich_text") => {
            if !b["elements"].is_array() {
                p.add("missing required field: elements", ptr);
            }
        }
        Some("markdown") => p.max_len(b, "text", 12_000, ptr),
        Some("divider" | "file" | "video" | "table") => {}
        Some(other) => p.add(format!("unsupported block type `{other}`"), &format!("{ptr}/type")),
    }
}

/// A blocks array of at most `max` blocks; returns the problems found.
fn validate_blocks(blocks: &Value, ptr: &str, max: usize) -> Vec<String> {
    let mut p = Problems::default();
    let Some(items) = blocks.as_array() else {
        p.add("must be an array", ptr);
        return p.0;
    };
    if items.len() > max {
        p.add(format!("must be less than {} items", max + 1), ptr);
    }
    let mut block_ids = HashSet::new();
    for (i, b) in items.iter().enumerate() {
        check_block(b, &format!("{ptr}/{i}"), &mut block_ids, &mut p);
    }
    p.0
}

/// The problems of a message's `blocks` (`chat.postMessage`, `chat.update`, a
/// `response_url` reply).
pub(super) fn message_block_problems(blocks: &Value) -> Vec<String> {
    validate_blocks(blocks, "/blocks", MAX_MESSAGE_BLOCKS)
}

/// A modal view for `views.open` / `views.update`; returns the problems found.
pub(super) fn validate_view(view: &Value) -> Vec<String> {
    let ptr = "/view";
    let mut p = Problems::default();
    if !view.is_object() {
        p.add("must be an object", ptr);
        return p.0;
    }
    if view["type"].as_str() != Some("modal") {
        p.add("must be modal", "/view/type");
    }
    require_text_field(view, "title", 24, true, ptr, &mut p);
    check_text_field(view, "submit", 24, true, ptr, &mut p);
    check_text_field(view, "close", 24, true, ptr, &mut p);
    p.max_len(view, "private_metadata", 3000, ptr);
    p.max_len(view, "callback_id", 255, ptr);
    p.max_len(view, "external_id", 255, ptr);
    match view.get("blocks") {
        Some(blocks) => p.0.extend(validate_blocks(blocks, "/view/blocks", MAX_VIEW_BLOCKS)),
        None => p.add("missing required field: blocks", ptr),
    }
    let has_input = view["blocks"]
        .as_array()
        .is_some_and(|bs| bs.iter().any(|b| b["type"] == "input"));
    if has_input && view.get("submit").is_none_or(Value::is_null) {
        p.add(
            "missing required field: submit (a modal with input blocks needs one)",
            ptr,
        );
    }
    p.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn block_kit_limits() {
        let ok = json!([
            {"type": "section", "block_id": "a", "text": {"type": "mrkdwn", "text": "x"},
             "accessory": {"type": "button", "text": {"type": "plain_text", "text": "Go"}, "action_id": "go"}},
            {"type": "actions", "block_id": "b", "elements": [
                {"type": "button", "text": {"type": "plain_text", "text": "Accept"}, "action_id": "accept",
                 "value": "conv_42", "style": "primary"},
                {"type": "static_select", "action_id": "pick", "placeholder": {"type": "plain_text", "text": "Team"},
                 "options": [{"text": {"type": "plain_text", "text": "Billing"}, "value": "t1"}]}]},
            {"type": "rich_text", "elements": []},
            {"type": "image", "image_url": "https://example.com/a.png", "alt_text": "a"}
        ]);
        assert_eq!(validate_blocks(&ok, "/blocks", 50), Vec::<String>::new());

        let one = |b: Value| validate_blocks(&json!([b]), "/blocks", 50);
        let long = |n: usize| "x".repeat(n);
        let pt = |t: String| json!({"type": "plain_text", "text": t});
        let button =
            |text: String| json!({"type": "button", "text": {"type": "plain_text", "text": text}, "action_id": "a"});

        assert_eq!(
            one(json!({"type": "section", "text": {"type": "mrkdwn", "text": long(3001)}})),
            ["must be less than 3001 characters [json-pointer:/blocks/0/text/text]"]
        );
        assert!(one(json!({"type": "section", "text": {"type": "mrkdwn", "text": long(3000)}})).is_empty());
        let fields: Vec<Value> = (0..11).map(|_| json!({"type": "mrkdwn", "text": "f"})).collect();
        assert_eq!(
            one(json!({"type": "section", "fields": fields})),
            ["must be less than 11 items [json-pointer:/blocks/0/fields]"]
        );
        assert_eq!(
            one(json!({"type": "section", "fields": [{"type": "mrkdwn", "text": long(2001)}]})),
            ["must be less than 2001 characters [json-pointer:/blocks/0/fields/0/text]"]
        );
        assert_eq!(
            one(json!({"type": "header", "text": pt(long(151))})),
            ["must be less than 151 characters [json-pointer:/blocks/0/text/text]"]
        );
        assert_eq!(
            one(json!({"type": "header", "text": {"type": "mrkdwn", "text": "x"}})),
            ["must be plain_text [json-pointer:/blocks/0/text/type]"]
        );
        let ctx: Vec<Value> = (0..11).map(|_| json!({"type": "mrkdwn", "text": "c"})).collect();
        assert_eq!(
            one(json!({"type": "context", "elements": ctx})),
            ["must be less than 11 items [json-pointer:/blocks/0/elements]"]
        );
        let acts: Vec<Value> = (0..26)
            .map(|i| json!({"type": "button", "text": pt("b".into()), "action_id": format!("a{i}")}))
            .collect();
        assert_eq!(
            one(json!({"type": "actions", "elements": acts})),
            ["must be less than 26 items [json-pointer:/blocks/0/elements]"]
        );
        assert_eq!(
            one(json!({"type": "actions", "elements": [button(long(76))]})),
            ["must be less than 76 characters [json-pointer:/blocks/0/elements/0/text/text]"]
        );
        let mut b = button("ok".into());
        b["value"] = json!(long(2001));
        b["url"] = json!(long(3001));
        b["action_id"] = json!(long(256));
        assert_eq!(
            one(json!({"type": "actions", "elements": [b]})),
            [
                "must be less than 256 characters [json-pointer:/blocks/0/elements/0/action_id]",
                "must be less than 2001 characters [json-pointer:/blocks/0/elements/0/value]",
                "must be less than 3001 characters [json-pointer:/blocks/0/elements/0/url]"
            ]
        );
        assert_eq!(
            one(json!({"type": "divider", "block_id": long(256)})),
            ["must be less than 256 characters [json-pointer:/blocks/0/block_id]"]
        );
        assert_eq!(
            validate_blocks(
                &json!([{"type": "divider", "block_id": "x"}, {"type": "divider", "block_id": "x"}]),
                "/blocks",
                50
            ),
            ["duplicate block_id `x` [json-pointer:/blocks/1/block_id]"]
        );
        assert_eq!(
            one(json!({"type": "carousel"})),
            ["unsupported block type `carousel` [json-pointer:/blocks/0/type]"]
        );
        assert_eq!(
            one(json!({"text": "x"})),
            ["missing required field: type [json-pointer:/blocks/0]"]
        );
        assert_eq!(
            one(json!({"type": "section", "text": {"type": "mrkdwn", "text": ""}})),
            ["must be more than 0 characters [json-pointer:/blocks/0/text/text]"]
        );
        let dividers = Value::Array((0..100).map(|_| json!({"type": "divider"})).collect());
        assert_eq!(validate_blocks(&dividers, "/blocks", 50).len(), 1);
        assert!(validate_blocks(&dividers, "/view/blocks", 100).is_empty());

        let view = |extra: Value| {
            let mut v = json!({"type": "modal", "title": pt("Resolve".into()), "blocks": []});
            for (k, val) in extra.as_object().unwrap() {
                v[k] = val.clone();
            }
            validate_view(&v)
        };
        assert!(view(json!({})).is_empty());
        assert_eq!(
            view(json!({"title": pt(long(25))})),
            ["must be less than 25 characters [json-pointer:/view/title/text]"]
        );
        assert_eq!(
            view(json!({"submit": pt(long(25)), "close": pt(long(25))})),
            [
                "must be less than 25 characters [json-pointer:/view/submit/text]",
                "must be less than 25 characters [json-pointer:/view/close/text]"
            ]
        );
        assert_eq!(
            view(json!({"private_metadata": long(3001), "callback_id": long(256)})),
            [
                "must be less than 3001 characters [json-pointer:/view/private_metadata]",
                "must be less than 256 characters [json-pointer:/view/callback_id]"
            ]
        );
        let input = json!([{"type": "input", "label": pt("Topic".into()),
                            "element": {"type": "plain_text_input", "action_id": "topic"}}]);
        assert_eq!(
            view(json!({"blocks": input})),
            ["missing required field: submit (a modal with input blocks needs one) [json-pointer:/view]"]
        );
        assert!(view(json!({"blocks": input, "submit": pt("Resolve".into())})).is_empty());
        assert_eq!(view(json!({"blocks": dividers})).len(), 0);
        let too_many = Value::Array((0..101).map(|_| json!({"type": "divider"})).collect());
        assert_eq!(
            view(json!({"blocks": too_many})),
            ["must be less than 101 items [json-pointer:/view/blocks]"]
        );
    }
}
