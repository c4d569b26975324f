//! Block Kit for everything the bridge shows in Slack: the thread root (visitor, widget,
//! summary, status, team, declined-by, and the buttons the state allows), transcript
//! lines, the assignee's DM, the Transfer and Resolve modals, and private notices.
//! Texts are escaped and kept inside Slack's limits (header 150, section 3000, message
//! 40 000), split into several messages where a line is longer.

use crate::engine::Author;
use crate::platform::attachments::{Shown, describe_all};
use crate::platform::root::{self, Emphasis, RootAction};
use crate::service::{ConversationView, Line};
use slack_morphism::prelude::*;

pub const ACCEPT: &str = "hb_accept";
pub const REJECT: &str = "hb_reject";
pub const TRANSFER: &str = "hb_transfer";
pub const UNASSIGN: &str = "hb_unassign";
pub const RESOLVE: &str = "hb_resolve";
pub const HANDBACK: &str = "hb_handback";
pub const TAKEOVER_SEND: &str = "hb_takeover_send";
pub const TRANSFER_VIEW: &str = "hb_transfer_view";
pub const RESOLVE_VIEW: &str = "hb_resolve_view";

/// Slack's limits that shape rendering.
const HEADER_MAX: usize = 150;
const SECTION_MAX: usize = 3000;
/// Longest text of one thread message; longer lines are split.
const MESSAGE_CHUNK: usize = 3500;

/// Escapes `&`, `<` and `>` as Slack's mrkdwn requires.
pub fn esc(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// Undoes Slack's escaping of `&`, `<` and `>` in message and command text, so the
/// visitor reads what the operator typed.
pub fn unescape(text: &str) -> String {
    text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
}

pub use crate::platform::{split, trim};

/// The value of a thread-root button: the version it was rendered at and the conversation.
pub fn action_value(version: i64, conversation: &str) -> String {
    format!("{version}:{conversation}")
}

pub fn parse_action_value(value: &str) -> Option<(i64, &str)> {
    let (v, c) = value.split_once(':')?;
    Some((v.parse().ok()?, c))
}

fn mention(slack_user: Option<&str>, name: &str) -> String {
    match slack_user {
        Some(u) => format!("<@{u}>"),
        None => esc(name),
    }
}

/// What the root needs besides the conversation itself.
pub struct RootContext<'a> {
    /// The assignee's Slack user id, to mention them.
    pub assignee_slack: Option<&'a str>,
    /// Routing ran and found nobody available.
    pub nobody_available: bool,
}

/// The one-line status: Unassigned / Assigned to @x / Resolved / With the bot.
pub fn status_line(c: &ConversationView, ctx: &RootContext<'_>) -> String {
    root::status_line(c, ctx.nobody_available, |name| mention(ctx.assignee_slack, name))
}

fn button(text: &str, action: &str, value: &str, style: Option<SlackBlockButtonStyle>) -> SlackActionBlockElement {
    let b = SlackBlockButtonElement::new(pt!(text))
        .with_action_id(action.into())
        .with_value(value.to_owned());
    match style {
        Some(s) => b.with_style(s).into(),
        None => b.into(),
    }
}

/// The buttons the state allows (`docs/behaviour.md#in-slack`).
pub fn buttons(c: &ConversationView) -> Vec<SlackActionBlockElement> {
    let value = action_value(c.version, &c.id);
    root::actions(c)
        .into_iter()
        .map(|(action, emphasis)| {
            let id = match action {
                RootAction::Accept => ACCEPT,
                RootAction::Reject => REJECT,
                RootAction::Transfer => TRANSFER,
                RootAction::Unassign => UNASSIGN,
                RootAction::Resolve => RESOLVE,
                RootAction::Handback => HANDBACK,
            };
            let style = match emphasis {
                Emphasis::Plain => None,
                Emphasis::Primary => Some(SlackBlockButtonStyle::Primary),
                Emphasis::Danger => Some(SlackBlockButtonStyle::Danger),
            };
            button(action.label(), id, &value, style)
        })
        .collect()
}

/// The thread root.
pub fn root(c: &ConversationView, ctx: &RootContext<'_>) -> SlackMessageContent {
    let visitor = c.visitor.name.clone().unwrap_or_else(|| "A visitor".into());
    let status = status_line(c, ctx);
    let mut blocks: Vec<SlackBlock> =
        vec![SlackHeaderBlock::new(pt!(trim(&format!("💬 {visitor} needs a human"), HEADER_MAX))).into()];
    if let Some(summary) = c.summary.as_deref().filter(|s| !s.trim().is_empty()) {
        blocks.push(
            SlackSectionBlock::new()
                .with_text(md!(trim(&format!("*Summary:* {}", esc(summary)), SECTION_MAX)))
                .into(),
        );
    }
    let mut facts = vec![format!("*Widget:* {}", esc(&c.widget_id))];
    if let Some(email) = &c.visitor.email {
        facts.push(format!("*Visitor:* {} ({})", esc(&visitor), esc(email)));
    }
    if let Some(reason) = c.reason.as_deref().filter(|r| !r.trim().is_empty()) {
        facts.push(format!("*Why:* {}", esc(reason)));
    }
    blocks.push(
        SlackContextBlock::new(vec![SlackContextBlockElement::MarkDown(SlackBlockMarkDownText::new(
            trim(&facts.join("  ·  "), SECTION_MAX),
        ))])
        .into(),
    );
    let mut state = vec![format!("*Status:* {status}")];
    // Slack draws a date token in each reader's own time zone.
    if let Some(line) = root::accept_by_line(c, |secs| format!("<!date^{secs}^{{time}}|{}>", root::utc_clock(secs))) {
        state.push(line);
    }
    if let Some(team) = &c.team {
        state.push(format!("*Team:* {}", esc(&team.name)));
    }
    if !c.declined_by.is_empty() {
        let names: Vec<String> = c.declined_by.iter().map(|d| esc(&d.name)).collect();
        state.push(format!("*Declined by:* {}", names.join(", ")));
    }
    if !c.timed_out.is_empty() {
        let names: Vec<String> = c.timed_out.iter().map(|d| esc(&d.name)).collect();
        state.push(format!("*Timed out:* {}", names.join(", ")));
    }
    if let Some(r) = &c.resolution {
        let mut parts = Vec::new();
        if let Some(t) = &r.topic {
            parts.push(format!("topic {}", esc(t)));
        }
        if let Some(o) = &r.outcome {
            parts.push(format!("outcome {}", esc(o)));
        }
        if !r.tags.is_empty() {
            parts.push(format!("tags {}", esc(&r.tags.join(", "))));
        }
        if !parts.is_empty() {
            state.push(format!("*Resolution:* {}", parts.join("; ")));
        }
    }
    blocks.push(
        SlackSectionBlock::new()
            .with_text(md!(trim(&state.join("\n"), SECTION_MAX)))
            .into(),
    );
    let actions = buttons(c);
    if !actions.is_empty() {
        blocks.push(
            SlackActionsBlock::new(actions)
                .with_block_id("hb_actions".into())
                .into(),
        );
    }
    SlackMessageContent::new()
        // The notification text is mrkdwn too: a visitor's name in it must not ping.
        .with_text(trim(
            &format!("{} needs a human: {}", esc(&visitor), plain(&status)),
            3000,
        ))
        .with_blocks(blocks)
}

/// Drops mrkdwn mentions for the notification text.
fn plain(text: &str) -> String {
    text.replace("<@", "@").replace('>', "")
}

/// A transcript line as one or more thread messages, marked by its author (and, once
/// edited or deleted, so marked). Its attachments go with the last message: images drawn
/// as `image` blocks (with `images`; Slack fetches them itself, and refuses the whole
/// message when it cannot, so a refused line is posted again with images as links), other
/// files as links with their names.
pub fn transcript_line(line: &Line, images: bool) -> Vec<SlackMessageContent> {
    let who = match (line.author, line.operator.as_deref()) {
        (Author::Visitor, _) => "*Visitor:*".to_owned(),
        (Author::Bot, _) => "*AI bot:*".to_owned(),
        (Author::Note, Some(op)) => format!("*Internal note by {}:*", esc(op)),
        (Author::Note, None) => "*Internal note:*".to_owned(),
        (Author::Operator | Author::Held, Some(op)) => format!("*{} (to the visitor):*", esc(op)),
        (Author::Operator | Author::Held, None) => "*Operator:*".to_owned(),
    };
    let attachments = match line.deleted {
        true => Vec::new(),
        false => describe_all(&line.attachments),
    };
    let mark = crate::platform::line_mark(line)
        .map(|m| format!(" _({m})_"))
        .unwrap_or_default();
    // With attachments, the last piece is also a section block: cut to fit one.
    let chunk = match attachments.is_empty() {
        true => MESSAGE_CHUNK,
        false => SECTION_MAX
            .saturating_sub(who.chars().count() + mark.chars().count() + 1)
            .max(SECTION_MAX / 2),
    };
    let mut pieces: Vec<String> = split(&esc(&line.text), chunk)
        .into_iter()
        .enumerate()
        .map(|(i, piece)| if i == 0 { format!("{who} {piece}") } else { piece })
        .collect();
    let last = pieces.pop().unwrap_or_default() + &mark;
    let mut out: Vec<SlackMessageContent> = pieces
        .into_iter()
        .map(|text| SlackMessageContent::new().with_text(text))
        .collect();
    out.push(with_attachments(last, &attachments, images));
    out
}

/// Whether a line's messages draw an image (which Slack may refuse to fetch).
pub fn draws_images(line: &Line) -> bool {
    !line.deleted && describe_all(&line.attachments).iter().any(|a| a.image)
}

/// A line drawn again in its first message (the only one whose place is kept): all of
/// it if it fits one message, else its start, marked.
/// Its blocks are always given: `chat.update` keeps a message's old blocks otherwise.
pub fn redrawn_line(line: &Line, images: bool) -> SlackMessageContent {
    let mut pieces = transcript_line(line, images);
    let content = match pieces.len() {
        1 => pieces.remove(0),
        _ => {
            let first = pieces.remove(0);
            let mark = crate::platform::line_mark(line).unwrap_or("edited");
            let text = format!("{}… _({mark}; the rest is cut)_", first.text.unwrap_or_default());
            SlackMessageContent::new().with_text(text)
        }
    };
    match content.blocks {
        Some(_) => content,
        None => content.with_blocks(Vec::new()),
    }
}

/// A message of `text` followed by `attachments` (images drawn when `images`); the text
/// alone if there are none.
fn with_attachments(text: String, attachments: &[Shown], images: bool) -> SlackMessageContent {
    if attachments.is_empty() {
        return SlackMessageContent::new().with_text(text);
    }
    let mut blocks: Vec<SlackBlock> = vec![SlackSectionBlock::new().with_text(md!(trim(&text, SECTION_MAX))).into()];
    let mut fallback = text;
    for a in attachments {
        fallback.push_str(&format!("\n📎 {}", esc(&a.name)));
        let drawn = url::Url::parse(&a.url).ok().filter(|_| a.image && images);
        match drawn {
            Some(image_url) => blocks.push(
                SlackImageBlock::new(SlackImageUrlOrFile::ImageUrl { image_url }, a.name.clone())
                    .with_title(pt!(a.name.clone()))
                    .into(),
            ),
            None => {
                let icon = if a.image { "🖼️" } else { "📎" };
                let link = format!("{icon} <{}|{}>", a.url.replace('&', "&amp;"), esc(&a.name));
                // An address full of `&` could outgrow a section: then its name alone.
                let text = match link.chars().count() <= SECTION_MAX {
                    true => link,
                    false => format!("{icon} {}", esc(&a.name)),
                };
                blocks.push(SlackSectionBlock::new().with_text(md!(text)).into());
            }
        }
    }
    SlackMessageContent::new().with_text(fallback).with_blocks(blocks)
}

/// The assignee's DM: the summary and a link to the thread. With `waited`, a nudge:
/// the visitor has waited that long for a reply.
pub fn dm(c: &ConversationView, permalink: Option<&str>, waited: Option<&str>) -> SlackMessageContent {
    let visitor = esc(c.visitor.name.as_deref().unwrap_or("A visitor"));
    let mut text = match waited {
        Some(w) => format!(
            "*{visitor}* on {} has waited over {} for your reply",
            esc(&c.widget_id),
            esc(w)
        ),
        None => format!("You have a conversation: *{visitor}* on {}", esc(&c.widget_id)),
    };
    if let Some(s) = c.summary.as_deref().filter(|s| !s.is_empty()) {
        text.push_str(&format!("\n>{}", trim(&esc(s), 1000)));
    }
    if let Some(link) = permalink {
        text.push_str(&format!("\n<{link}|Open the thread>"));
    }
    SlackMessageContent::new().with_text(text)
}

/// A private notice (ephemeral), optionally with one button.
pub fn notice(text: &str, button: Option<(&str, &str, &str)>) -> SlackMessageContent {
    let mut blocks: Vec<SlackBlock> = vec![SlackSectionBlock::new().with_text(md!(trim(text, SECTION_MAX))).into()];
    if let Some((label, action, value)) = button {
        blocks.push(
            SlackActionsBlock::new(vec![super::render::button(
                label,
                action,
                value,
                Some(SlackBlockButtonStyle::Primary),
            )])
            .into(),
        );
    }
    SlackMessageContent::new()
        .with_text(trim(&plain(text), 3000))
        .with_blocks(blocks)
}

fn options(items: &[(i64, String)]) -> Vec<SlackBlockChoiceItem<SlackBlockPlainTextOnly>> {
    items
        .iter()
        .take(100)
        .map(|(id, name)| SlackBlockChoiceItem::new(pt!(trim(name, 75)), id.to_string()))
        .collect()
}

fn optional_input(block: &str, label: &str, element: SlackInputBlockElement) -> SlackBlock {
    SlackInputBlock::new(pt!(label), element)
        .with_block_id(block.into())
        .with_optional(true)
        .into()
}

/// The Transfer modal: an operator, a team, or back to the bot, and a note.
pub fn transfer_modal(c: &ConversationView, operators: &[(i64, String)], teams: &[(i64, String)]) -> SlackView {
    let mut blocks = vec![
        SlackSectionBlock::new()
            .with_text(md!(trim(
                &format!(
                    "Transfer *{}*: pick one destination.",
                    esc(c.visitor.name.as_deref().unwrap_or("this conversation"))
                ),
                SECTION_MAX
            )))
            .into(),
    ];
    if !operators.is_empty() {
        blocks.push(optional_input(
            "operator",
            "To an operator",
            SlackBlockStaticSelectElement::new()
                .with_action_id("operator".into())
                .with_options(options(operators))
                .into(),
        ));
    }
    if !teams.is_empty() {
        blocks.push(optional_input(
            "team",
            "To a team",
            SlackBlockStaticSelectElement::new()
                .with_action_id("team".into())
                .with_options(options(teams))
                .into(),
        ));
    }
    blocks.push(optional_input(
        "bot",
        "Or",
        SlackBlockCheckboxesElement::new(vec![SlackBlockChoiceItem::new(pt!("Back to the bot"), "bot".into())])
            .with_action_id("bot".into())
            .into(),
    ));
    blocks.push(optional_input(
        "note",
        "Note (for the team)",
        SlackBlockPlainTextInputElement::new()
            .with_action_id("note".into())
            .with_multiline(true)
            .into(),
    ));
    SlackView::Modal(
        SlackModalView::new(pt!("Transfer"), blocks)
            .with_submit(pt!("Transfer"))
            .with_close(pt!("Cancel"))
            .with_callback_id(TRANSFER_VIEW.into())
            .with_private_metadata(action_value(c.version, &c.id)),
    )
}

/// The Resolve modal: topic, outcome, tags, all optional.
pub fn resolve_modal(c: &ConversationView) -> SlackView {
    let text = |action: &str| {
        SlackBlockPlainTextInputElement::new()
            .with_action_id(action.into())
            .into()
    };
    let blocks = vec![
        optional_input("topic", "Topic", text("topic")),
        optional_input("outcome", "Outcome", text("outcome")),
        optional_input("tags", "Tags (comma-separated)", text("tags")),
    ];
    SlackView::Modal(
        SlackModalView::new(pt!("Resolve"), blocks)
            .with_submit(pt!("Resolve"))
            .with_close(pt!("Cancel"))
            .with_callback_id(RESOLVE_VIEW.into())
            .with_private_metadata(action_value(c.version, &c.id)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_text_is_split_at_spaces_and_kept_whole() {
        let text = "word ".repeat(2000);
        let parts = split(&text, 3500);
        assert!(parts.iter().all(|p| p.chars().count() <= 3500));
        assert_eq!(parts.concat().replace(' ', ""), text.replace(' ', ""));
    }

    #[test]
    fn action_values_round_trip_with_colons_in_ids() {
        let v = action_value(7, "conv:42");
        assert_eq!(parse_action_value(&v), Some((7, "conv:42")));
        assert_eq!(parse_action_value("x:y"), None);
    }

    #[test]
    fn mrkdwn_is_escaped_and_unescaped() {
        assert_eq!(esc("<b> & <@U1>"), "&lt;b&gt; &amp; &lt;@U1&gt;");
        assert_eq!(unescape(&esc("a < b && c > d &lt;")), "a < b && c > d &lt;");
    }
}
