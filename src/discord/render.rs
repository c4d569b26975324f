//! What the bridge shows in Discord: the thread root (an embed with visitor, widget,
//! summary, status, team and declined-by, and the buttons the state allows), transcript
//! lines, the assignee's DM, the Transfer message and the Resolve modal — inside
//! Discord's limits (2,000 characters of content; embed titles 256, descriptions 4,096,
//! field values 1,024, 6,000 in all), with long lines split.
//!
//! Button `custom_id`s carry the verb, the version they were drawn at and the
//! conversation (`hb:ac:7:conv-1`), so a click still works after a restart and a click
//! on an old root is recognised. Discord allows 100 characters: a conversation id too
//! long to fit is replaced by `@` and the thread's id (the root message's id, which is
//! the thread's), which finds the conversation just as well.

use crate::engine::Author;
use crate::platform::attachments::Shown;
use crate::platform::root::{self, Emphasis, RootAction};
use crate::service::{ConversationView, Line};
use serde_json::{Value, json};
use serenity::all::{
    ButtonStyle, CreateActionRow, CreateAllowedMentions, CreateButton, CreateEmbed, CreateEmbedFooter, CreateInputText,
    CreateModal, CreateSelectMenu, CreateSelectMenuKind, CreateSelectMenuOption, InputTextStyle,
};

/// Discord's limits.
pub const CONTENT_MAX: usize = 2000;
const TITLE_MAX: usize = 256;
const DESCRIPTION_MAX: usize = 4096;
const FIELD_MAX: usize = 1024;
const CUSTOM_ID_MAX: usize = 100;
/// Embed colours by status.
const COLOUR_WAITING: u32 = 0xF0B232;
const COLOUR_ACTIVE: u32 = 0x5865F2;
const COLOUR_DONE: u32 = 0x23A55A;

/// The verbs of `custom_id`s.
pub mod verb {
    pub const ACCEPT: &str = "ac";
    pub const REJECT: &str = "rj";
    pub const TRANSFER: &str = "tr";
    pub const UNASSIGN: &str = "un";
    pub const RESOLVE: &str = "rs";
    pub const HANDBACK: &str = "hb";
    /// The Transfer message's operator select, team select and "back to the bot".
    pub const TO_OPERATOR: &str = "tu";
    pub const TO_TEAM: &str = "tt";
    pub const TO_BOT: &str = "tb";
    /// The Resolve modal.
    pub const RESOLVED: &str = "rm";
    /// "Take over & send" on a held reply (carries the held reply's id, no version).
    pub const TAKEOVER_SEND: &str = "ts";
}

/// A parsed `custom_id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Custom {
    pub verb: String,
    pub version: i64,
    /// The conversation, or `None` when it is to be found from the thread (`@`).
    pub conversation: Option<String>,
    /// The thread named after `@`, if any.
    pub thread: Option<String>,
}

/// A `custom_id` for `verb` at `version` on conversation `id`; `thread` (if known) stands
/// in for an id too long to fit.
pub fn custom_id(verb: &str, version: i64, id: &str, thread: Option<&str>) -> String {
    let full = format!("hb:{verb}:{version}:{id}");
    if full.len() <= CUSTOM_ID_MAX {
        return full;
    }
    format!("hb:{verb}:{version}:@{}", thread.unwrap_or(""))
}

pub fn parse_custom_id(id: &str) -> Option<Custom> {
    let rest = id.strip_prefix("hb:")?;
    let (verb, rest) = rest.split_once(':')?;
    let (version, key) = rest.split_once(':').unwrap_or((rest, ""));
    let version = version.parse().ok()?;
    let (conversation, thread) = match key.strip_prefix('@') {
        Some(t) => (None, Some(t.to_owned()).filter(|t| !t.is_empty())),
        None if key.is_empty() => return None,
        None => (Some(key.to_owned()), None),
    };
    Some(Custom {
        verb: verb.to_owned(),
        version,
        conversation,
        thread,
    })
}

/// Escapes Discord markdown so names and texts show as typed.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '\\' | '*' | '_' | '~' | '`' | '|' | '>') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Cuts `text` to at most `max` characters, marking the cut.
pub fn trim(text: &str, max: usize) -> String {
    crate::platform::trim(text, max)
}

/// No mention in the message pings anyone: visitor and operator text is shown, never
/// acted on.
pub fn no_pings() -> CreateAllowedMentions {
    CreateAllowedMentions::new()
}

/// Only this role is pinged.
pub fn ping_role_only(role: u64) -> CreateAllowedMentions {
    CreateAllowedMentions::new().roles([role])
}

/// Only this user is pinged.
pub fn ping_only(user: u64) -> CreateAllowedMentions {
    CreateAllowedMentions::new().users([user])
}

fn mention(account: Option<&str>, name: &str) -> String {
    match account {
        Some(u) => format!("<@{u}>"),
        None => esc(name),
    }
}

/// What the root needs besides the conversation itself.
pub struct RootContext<'a> {
    /// The assignee's Discord user id, to mention them (mentions in embeds never ping).
    pub assignee_account: Option<&'a str>,
    /// Routing ran and found nobody available.
    pub nobody_available: bool,
    /// The thread, once it exists (stands in for long conversation ids in buttons).
    pub thread: Option<&'a str>,
    /// The thread is archived (the conversation is resolved).
    pub archived: bool,
}

/// The status line, and when a routed conversation is routed on if not accepted (a
/// Discord timestamp: each reader sees their own time).
fn status_with_deadline(c: &ConversationView, ctx: &RootContext<'_>) -> String {
    let status = status_line(c, ctx);
    match root::accept_by_line(c, |secs| format!("<t:{secs}:t>")) {
        Some(line) => format!("{status}\n{line}"),
        None => status,
    }
}

pub fn status_line(c: &ConversationView, ctx: &RootContext<'_>) -> String {
    root::status_line(c, ctx.nobody_available, |name| mention(ctx.assignee_account, name))
}

/// The root's embed.
pub fn root_embed(c: &ConversationView, ctx: &RootContext<'_>) -> CreateEmbed {
    use crate::engine::Status;
    let visitor = c.visitor.name.clone().unwrap_or_else(|| "A visitor".into());
    let colour = match c.status {
        Status::HandedOff => COLOUR_WAITING,
        Status::Active => COLOUR_ACTIVE,
        Status::Bot | Status::Resolved => COLOUR_DONE,
    };
    let mut embed = CreateEmbed::new()
        .title(trim(&format!("💬 {visitor} needs a human"), TITLE_MAX))
        .colour(colour)
        .field("Status", trim(&status_with_deadline(c, ctx), FIELD_MAX), false)
        .field("Widget", trim(&esc(&c.widget_id), FIELD_MAX), true);
    if let Some(summary) = c.summary.as_deref().filter(|s| !s.trim().is_empty()) {
        embed = embed.description(trim(&esc(summary), DESCRIPTION_MAX));
    }
    if let Some(email) = &c.visitor.email {
        embed = embed.field(
            "Visitor",
            trim(&format!("{} ({})", esc(&visitor), esc(email)), FIELD_MAX),
            true,
        );
    }
    if let Some(reason) = c.reason.as_deref().filter(|r| !r.trim().is_empty()) {
        embed = embed.field("Why", trim(&esc(reason), FIELD_MAX), false);
    }
    if let Some(team) = &c.team {
        embed = embed.field("Team", trim(&esc(&team.name), FIELD_MAX), true);
    }
    if !c.declined_by.is_empty() {
        let names: Vec<String> = c.declined_by.iter().map(|d| esc(&d.name)).collect();
        embed = embed.field("Declined by", trim(&names.join(", "), FIELD_MAX), true);
    }
    if !c.timed_out.is_empty() {
        let names: Vec<String> = c.timed_out.iter().map(|d| esc(&d.name)).collect();
        embed = embed.field("Timed out", trim(&names.join(", "), FIELD_MAX), true);
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
            embed = embed.field("Resolution", trim(&parts.join("; "), FIELD_MAX), false);
        }
    }
    let mut footer = format!("Conversation {}", c.id);
    if ctx.archived {
        footer.push_str(" · thread archived");
    }
    embed.footer(CreateEmbedFooter::new(trim(&footer, 2048)))
}

/// The buttons the state allows, in one row.
pub fn root_components(c: &ConversationView, ctx: &RootContext<'_>) -> Vec<CreateActionRow> {
    let buttons: Vec<CreateButton> = root::actions(c)
        .into_iter()
        .map(|(action, emphasis)| {
            let v = match action {
                RootAction::Accept => verb::ACCEPT,
                RootAction::Reject => verb::REJECT,
                RootAction::Transfer => verb::TRANSFER,
                RootAction::Unassign => verb::UNASSIGN,
                RootAction::Resolve => verb::RESOLVE,
                RootAction::Handback => verb::HANDBACK,
            };
            let style = match emphasis {
                Emphasis::Plain => ButtonStyle::Secondary,
                Emphasis::Primary => ButtonStyle::Primary,
                Emphasis::Danger => ButtonStyle::Danger,
            };
            CreateButton::new(custom_id(v, c.version, &c.id, ctx.thread))
                .label(action.label())
                .style(style)
        })
        .collect();
    // Discord allows at most five buttons in a row.
    buttons
        .chunks(5)
        .map(|row| CreateActionRow::Buttons(row.to_vec()))
        .collect()
}

/// The root as a message body (create or edit): the embed and the buttons, pinging nobody.
pub fn root_body(c: &ConversationView, ctx: &RootContext<'_>) -> Value {
    json!({
        "content": "",
        "embeds": [root_embed(c, ctx)],
        "components": root_components(c, ctx),
        "allowed_mentions": no_pings(),
    })
}

/// The thread's name: the visitor and the start of the conversation id (never renamed).
pub fn thread_name(c: &ConversationView) -> String {
    let visitor = c.visitor.name.clone().unwrap_or_else(|| "Visitor".into());
    trim(&format!("{visitor} · {}", c.id), 100)
}

/// A transcript line as one or more thread messages (each within 2,000 characters),
/// marked by its author (and, once edited or deleted, so marked).
pub fn transcript_line(line: &Line) -> Vec<String> {
    let who = match (line.author, line.operator.as_deref()) {
        (Author::Visitor, _) => "**Visitor:**".to_owned(),
        (Author::Bot, _) => "**AI bot:**".to_owned(),
        (Author::Note, Some(op)) => format!("**Internal note by {}:**", esc(op)),
        (Author::Note, None) => "**Internal note:**".to_owned(),
        (Author::Operator | Author::Held, Some(op)) => format!("**{} (to the visitor):**", esc(op)),
        (Author::Operator | Author::Held, None) => "**Operator:**".to_owned(),
    };
    let mark = crate::platform::line_mark(line)
        .map(|m| format!(" *({m})*"))
        .unwrap_or_default();
    let room = CONTENT_MAX - who.chars().count() - mark.chars().count() - 1;
    let mut pieces: Vec<String> = crate::platform::split(&line.text, room)
        .into_iter()
        .enumerate()
        .map(|(i, piece)| if i == 0 { format!("{who} {piece}") } else { piece })
        .collect();
    if let Some(last) = pieces.last_mut() {
        last.push_str(&mark);
    }
    pieces
}

/// A line drawn again in its first message (the only one whose place is kept): all of
/// it if it fits one message, else its start, marked.
pub fn redrawn_line(line: &Line) -> String {
    let pieces = transcript_line(line);
    match pieces.len() {
        1 => pieces.into_iter().next().unwrap_or_default(),
        _ => {
            let mark = crate::platform::line_mark(line).unwrap_or("edited");
            let tail = format!("… *({mark}; the rest is cut)*");
            format!("{}{tail}", trim(&pieces[0], CONTENT_MAX - tail.chars().count()))
        }
    }
}

/// A line's attachments as embeds, one each (a message holds at most 10, as many as a
/// message may carry): an image drawn, any other file a link with its name. Embeds never
/// ping anyone.
pub fn attachment_embeds(attachments: &[Shown]) -> Vec<Value> {
    attachments
        .iter()
        .take(10)
        .map(|a| match a.image {
            true => json!({"title": a.name, "url": a.url, "image": {"url": a.url}}),
            false => json!({"title": format!("📎 {}", a.name), "url": a.url}),
        })
        .collect()
}

/// A link to a message or channel in a guild.
pub fn link(guild: Option<&str>, channel: &str) -> String {
    format!("https://discord.com/channels/{}/{channel}", guild.unwrap_or("@me"))
}

/// The assignee's DM: the summary and a link to the thread. With `waited`, a nudge:
/// the visitor has waited that long for a reply.
pub fn dm(c: &ConversationView, thread_link: Option<&str>, waited: Option<&str>) -> String {
    let visitor = esc(c.visitor.name.as_deref().unwrap_or("A visitor"));
    let mut text = match waited {
        Some(w) => format!(
            "**{visitor}** on {} has waited over {} for your reply",
            esc(&c.widget_id),
            esc(w)
        ),
        None => format!("You have a conversation: **{visitor}** on {}", esc(&c.widget_id)),
    };
    if let Some(s) = c.summary.as_deref().filter(|s| !s.is_empty()) {
        text.push_str(&format!("\n> {}", trim(&esc(s), 1000).replace('\n', "\n> ")));
    }
    if let Some(link) = thread_link {
        text.push_str(&format!("\nOpen the thread: {link}"));
    }
    trim(&text, CONTENT_MAX)
}

/// The ephemeral Transfer message: an operator select, a team select (if there are
/// teams), and "back to the bot".
pub fn transfer_components(
    c: &ConversationView,
    thread: Option<&str>,
    teams: &[(i64, String)],
) -> Vec<CreateActionRow> {
    let id = |v: &str| custom_id(v, c.version, &c.id, thread);
    let mut rows = vec![CreateActionRow::SelectMenu(
        CreateSelectMenu::new(
            id(verb::TO_OPERATOR),
            CreateSelectMenuKind::User { default_users: None },
        )
        .placeholder("To an operator")
        .min_values(1)
        .max_values(1),
    )];
    if !teams.is_empty() {
        let options = teams
            .iter()
            .take(25)
            .map(|(tid, name)| CreateSelectMenuOption::new(trim(name, 100), tid.to_string()))
            .collect();
        rows.push(CreateActionRow::SelectMenu(
            CreateSelectMenu::new(id(verb::TO_TEAM), CreateSelectMenuKind::String { options })
                .placeholder("To a team")
                .min_values(1)
                .max_values(1),
        ));
    }
    rows.push(CreateActionRow::Buttons(vec![
        CreateButton::new(id(verb::TO_BOT))
            .label("Back to the bot")
            .style(ButtonStyle::Danger),
    ]));
    rows
}

/// The Resolve modal: topic, outcome and tags, all optional.
pub fn resolve_modal(c: &ConversationView, thread: Option<&str>) -> CreateModal {
    let input = |label: &str, id: &str| {
        CreateActionRow::InputText(
            CreateInputText::new(InputTextStyle::Short, label, id)
                .required(false)
                .max_length(200),
        )
    };
    CreateModal::new(custom_id(verb::RESOLVED, c.version, &c.id, thread), "Resolve").components(vec![
        input("Topic", "topic"),
        input("Outcome", "outcome"),
        input("Tags (comma-separated)", "tags"),
    ])
}

/// A private notice's components: at most one "Take over & send" button.
pub fn takeover_button(held: i64) -> Vec<CreateActionRow> {
    vec![CreateActionRow::Buttons(vec![
        CreateButton::new(format!("hb:{}:{held}", verb::TAKEOVER_SEND))
            .label("Take over & send")
            .style(ButtonStyle::Primary),
    ])]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn custom_ids_round_trip_and_fit() {
        let id = custom_id(verb::ACCEPT, 7, "conv:42", None);
        assert_eq!(id, "hb:ac:7:conv:42");
        assert_eq!(
            parse_custom_id(&id),
            Some(Custom {
                verb: "ac".into(),
                version: 7,
                conversation: Some("conv:42".into()),
                thread: None
            })
        );
        let long = "x".repeat(200);
        let id = custom_id(verb::TO_OPERATOR, 12, &long, Some("1234567890123456789"));
        assert!(id.len() <= 100);
        let parsed = parse_custom_id(&id).unwrap();
        assert_eq!(parsed.conversation, None);
        assert_eq!(parsed.thread.as_deref(), Some("1234567890123456789"));
        assert_eq!(
            parse_custom_id(&custom_id(verb::ACCEPT, 1, &long, None))
                .unwrap()
                .thread,
            None
        );
        assert_eq!(parse_custom_id("other:1:2"), None);
        assert_eq!(parse_custom_id("hb:ac:x:c"), None);
    }

    #[test]
    fn long_lines_fit_discord_messages() {
        let mut line = Line {
            id: 1,
            conversation_id: "c".into(),
            author: Author::Visitor,
            operator: None,
            text: "word ".repeat(1000),
            attachments: vec![],
            edited: false,
            deleted: false,
        };
        let parts = transcript_line(&line);
        assert!(parts.len() >= 3);
        assert!(parts.iter().all(|p| p.chars().count() <= CONTENT_MAX));
        assert!(parts[0].starts_with("**Visitor:** word"));
        // Edited: marked at its end, and drawn again in one message, cut and marked.
        line.edited = true;
        let parts = transcript_line(&line);
        assert!(parts.iter().all(|p| p.chars().count() <= CONTENT_MAX));
        assert!(parts.last().unwrap().ends_with(" *(edited)*"));
        let again = redrawn_line(&line);
        assert!(again.chars().count() <= CONTENT_MAX);
        assert!(again.ends_with("… *(edited; the rest is cut)*"), "{again}");
    }

    #[test]
    fn markdown_is_escaped() {
        assert_eq!(esc("*a* _b_ `c`"), "\\*a\\* \\_b\\_ \\`c\\`");
    }
}
