//! `/handoff`'s subcommands described without any platform's syntax: the words that
//! name each, its options and what it does. A front door with typed options (Discord's
//! `/handoff routing widget:<w> mode:<choice>`) can declare them and write its usage from
//! this list with [`render`]; one that parses free text (Slack) keeps its own usage text
//! and checks it against this list in its tests.

use super::Front;

/// One subcommand.
#[derive(Debug, Clone, Copy)]
pub struct Described {
    /// The words after `/handoff` that name it (`available`, `team create`). Neutral
    /// names: a platform may spell them its own way.
    pub words: &'static str,
    /// Its options, in order.
    pub options: &'static [Opt],
    /// What it does, in a few words.
    pub about: &'static str,
    /// Whether it (or, for `routing`, changing something with it) needs the manager role.
    pub managers: bool,
}

/// One option of a subcommand.
#[derive(Debug, Clone, Copy)]
pub struct Opt {
    pub name: &'static str,
    pub kind: OptKind,
    pub required: bool,
}

/// What an option takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OptKind {
    /// One word: a conversation id, a widget id, a code.
    Word,
    /// Free text, spaces kept: a reply, a team's name.
    Text,
    /// One of these words.
    Choice(&'static [&'static str]),
    /// One or more people, mentioned as the platform mentions them; with `all: true`,
    /// the word `all` (everyone) instead.
    Users { all: bool },
}

const fn opt(name: &'static str, kind: OptKind) -> Opt {
    Opt {
        name,
        kind,
        required: true,
    }
}

const fn optional(name: &'static str, kind: OptKind) -> Opt {
    Opt {
        name,
        kind,
        required: false,
    }
}

const fn sub(words: &'static str, options: &'static [Opt], about: &'static str, managers: bool) -> Described {
    Described {
        words,
        options,
        about,
        managers,
    }
}

/// Every subcommand, in the order a usage lists them.
pub const SUBCOMMANDS: &[Described] = &[
    sub(
        "available",
        &[],
        "your presence: routing may give you conversations",
        false,
    ),
    sub("away", &[], "your presence: routing skips you", false),
    sub("status", &[], "your presence, role and open conversations", false),
    sub(
        "inbox",
        &[optional("filter", OptKind::Choice(&["mine", "unassigned", "all"]))],
        "conversations (default: unassigned)",
        false,
    ),
    sub(
        "claim",
        &[opt("conversation", OptKind::Word)],
        "take an unassigned conversation",
        false,
    ),
    sub(
        "reply",
        &[opt("conversation", OptKind::Word), opt("text", OptKind::Text)],
        "send the visitor a reply",
        false,
    ),
    sub("team create", &[opt("name", OptKind::Text)], "create a team", true),
    sub("team delete", &[opt("name", OptKind::Text)], "delete a team", true),
    sub(
        "team add",
        &[opt("name", OptKind::Text), opt("users", OptKind::Users { all: false })],
        "add people to a team",
        true,
    ),
    sub(
        "team remove",
        &[opt("name", OptKind::Text), opt("users", OptKind::Users { all: false })],
        "remove people from a team",
        true,
    ),
    sub("team list", &[], "teams and their members", false),
    sub(
        "routing",
        &[
            opt("widget", OptKind::Word),
            optional("mode", OptKind::Choice(&["manual", "round-robin", "lightest-load"])),
        ],
        "show or set routing",
        true,
    ),
    sub(
        "routing eligible",
        &[opt("widget", OptKind::Word), opt("users", OptKind::Users { all: true })],
        "who may take its conversations",
        true,
    ),
    sub(
        "routing accept-within",
        &[opt("widget", OptKind::Word), opt("within", OptKind::Text)],
        "route on a conversation its assignee has not accepted in this time (5m, off)",
        true,
    ),
    sub(
        "routing reply-within",
        &[opt("widget", OptKind::Word), opt("within", OptKind::Text)],
        "nudge the assignee when a visitor has waited this long for a reply (5m, off)",
        true,
    ),
    sub("widgets", &[], "widgets, their routing and channels", false),
    sub(
        "connect",
        &[opt("widget", OptKind::Word)],
        "make this channel the widget's channel",
        true,
    ),
    sub(
        "link",
        &[optional("code", OptKind::Word)],
        "link your accounts on two platforms: get a code on one, run it on the other",
        false,
    ),
];

/// A usage text for `front`: a bold title, one line per subcommand written by `syntax`,
/// and which of them need the manager role.
pub fn render(front: &dyn Front, syntax: impl Fn(&Described) -> String) -> String {
    let mut out = front.bold("`/handoff` commands");
    for d in SUBCOMMANDS {
        out.push_str(&format!("\n• {} — {}", syntax(d), d.about));
    }
    let mut managed: Vec<&str> = Vec::new();
    for d in SUBCOMMANDS.iter().filter(|d| d.managers) {
        let first = d.words.split(' ').next().unwrap_or(d.words);
        if !managed.contains(&first) {
            managed.push(first);
        }
    }
    out.push('\n');
    out.push_str(&super::title(&join(&managed)));
    out.push_str(" need the manager role.");
    out
}

/// `a`, `a and b`, `a, b and c`.
fn join(words: &[&str]) -> String {
    match words {
        [] => String::new(),
        [one] => (*one).to_owned(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::{LinkedOperator, Service, ServiceError};

    /// Just enough of a front to render with.
    struct Plain;

    #[async_trait::async_trait]
    impl Front for Plain {
        fn service(&self) -> &Service {
            unreachable!("rendering asks no service")
        }
        fn platform(&self) -> &'static str {
            "test"
        }
        fn bold(&self, s: &str) -> String {
            format!("**{s}**")
        }
        fn escape(&self, s: &str) -> String {
            s.to_owned()
        }
        fn channel_mention(&self, channel: &str) -> String {
            format!("<#{channel}>")
        }
        fn default_channel(&self) -> Option<&str> {
            None
        }
        fn usage(&self) -> String {
            String::new()
        }
        async fn operator(&self, _account: &str) -> Result<LinkedOperator, ServiceError> {
            Err(ServiceError::NotFound("nobody".into()))
        }
    }

    #[test]
    fn a_usage_lists_every_subcommand_in_the_fronts_syntax_and_the_managers_ones() {
        let text = render(&Plain, |d| {
            let mut s = format!("`/handoff {}", d.words);
            for o in d.options {
                s.push_str(&format!(" {}:<{}>", o.name, o.name));
            }
            s + "`"
        });
        assert!(text.starts_with("**`/handoff` commands**\n"), "{text}");
        assert!(
            text.contains("\n• `/handoff routing widget:<widget> mode:<mode>` — show or set routing\n"),
            "{text}"
        );
        assert_eq!(text.lines().count(), SUBCOMMANDS.len() + 2);
        assert!(
            text.ends_with("\nTeam, routing and connect need the manager role."),
            "{text}"
        );
    }

    #[test]
    fn lists_read_as_sentences() {
        assert_eq!(join(&[]), "");
        assert_eq!(join(&["team"]), "team");
        assert_eq!(join(&["team", "routing", "connect"]), "team, routing and connect");
    }
}
