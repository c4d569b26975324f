//! What `/handoff` means, whichever chat platform it was typed on. A platform's front
//! door parses its own text form of the command (Slack's `<@U123|name>` mentions,
//! Discord's typed options) into a [`Subcommand`], finds the operator behind the caller,
//! and hands both to [`respond`]; it renders the [`Answer`] its own way. Everything in
//! between — which service calls a subcommand makes, in which order, and what the caller
//! is told — lives here once, so every platform gives the same answers.
//!
//! The few things that differ per platform (bold text, escaping, channel mentions, how a
//! command is written, the usage text, finding the operator of an account) are asked of
//! the platform through [`Front`].
//!
//! - [`run`] (in `run.rs`) — carries a subcommand out.
//! - [`usage`] — a platform-neutral description of every subcommand and its options,
//!   from which a front door can write its usage in its own syntax.

mod run;
pub mod usage;

pub use run::run;

use crate::engine::{Presence, RoutingMode, Window};
use crate::service::{LinkedOperator, Service, ServiceError};

/// Which conversations `/handoff inbox` lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InboxFilter {
    /// Open and nobody's (the default).
    Unassigned,
    /// The caller's open ones.
    Mine,
    /// Every conversation.
    All,
}

impl InboxFilter {
    pub fn as_str(self) -> &'static str {
        match self {
            InboxFilter::Unassigned => "unassigned",
            InboxFilter::Mine => "mine",
            InboxFilter::All => "all",
        }
    }
}

/// One `/handoff` command, parsed by a platform. People are given as account ids on
/// that platform; the front resolves them with [`Front::operator`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subcommand {
    Help,
    Presence(Presence),
    Status,
    Inbox(InboxFilter),
    Claim(String),
    Reply {
        conversation: String,
        text: String,
    },
    TeamCreate(String),
    TeamDelete(String),
    TeamMembers {
        team: String,
        users: Vec<String>,
        add: bool,
    },
    TeamList,
    RoutingShow(String),
    RoutingSet(String, RoutingMode),
    /// `None` = everyone.
    RoutingEligible(String, Option<Vec<String>>),
    /// A widget's timer; `None` switches it off.
    RoutingTimer {
        widget: String,
        timer: Timer,
        within: Option<Window>,
    },
    Widgets,
    Connect(String),
    /// `None`: issue a code for the caller's operator; `Some(code)`: redeem one issued on
    /// another platform.
    Link(Option<String>),
}

/// A widget's timers (docs/behaviour.md#timers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timer {
    /// `accept_within`: how long a routed conversation waits for its assignee to accept.
    Accept,
    /// `reply_within`: how long a visitor's message waits for a reply.
    Reply,
}

impl Timer {
    /// The timer a subcommand's word names: `accept-within` or `reply-within`.
    pub fn from_word(word: &str) -> Option<Timer> {
        match word {
            "accept-within" => Some(Timer::Accept),
            "reply-within" => Some(Timer::Reply),
            _ => None,
        }
    }
}

/// A command's private answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub text: String,
    /// A held reply the caller may take the conversation over to send: the platform
    /// shows a "Take over & send" button for it.
    pub takeover: Option<i64>,
}

impl From<String> for Answer {
    fn from(text: String) -> Answer {
        Answer { text, takeover: None }
    }
}

/// What the neutral command asks of the platform it was typed on.
#[async_trait::async_trait]
pub trait Front: Send + Sync {
    fn service(&self) -> &Service;

    /// The platform's name ("slack", "discord"): the key of its accounts and channels.
    fn platform(&self) -> &'static str;

    /// `s` in bold (Slack `*s*`, Discord `**s**`); `s` is already escaped where needed.
    fn bold(&self, s: &str) -> String;

    /// Text from people (names) made safe to show in the platform's markup.
    fn escape(&self, s: &str) -> String;

    /// A mention of a channel (`<#C123>`).
    fn channel_mention(&self, channel: &str) -> String;

    /// The channel a widget without a channel of its own goes to, if any.
    fn default_channel(&self) -> Option<&str>;

    /// The usage text `help` shows (see [`usage`]).
    fn usage(&self) -> String;

    /// How to write a command here, for hints: `words` name the subcommand (as in
    /// [`usage::SUBCOMMANDS`]), `args` are its options by name with the values to show.
    /// By default, the words and then the values: `/handoff connect sales`.
    fn command(&self, words: &str, args: &[(&str, &str)]) -> String {
        let mut out = format!("`/handoff {words}");
        for (_, value) in args {
            out.push(' ');
            out.push_str(value);
        }
        out.push('`');
        out
    }

    /// The operator of an account on this platform, created on first sight.
    async fn operator(&self, account: &str) -> Result<LinkedOperator, ServiceError>;
}

/// Runs a subcommand as `op` in `channel` and says how it went: a refusal is an answer
/// too (a warning naming the rule). Only internal failures are errors, for the platform
/// to answer as it answers those.
pub async fn respond(
    front: &dyn Front,
    op: &LinkedOperator,
    channel: &str,
    sub: Subcommand,
) -> Result<Answer, ServiceError> {
    match run(front, op, channel, sub).await {
        Ok(answer) => Ok(answer),
        Err(ServiceError::Internal(e)) => Err(ServiceError::Internal(e)),
        Err(ServiceError::AlreadyAssigned { owner, .. }) => Ok(format!(
            "⚠️ {} already has this conversation.",
            front.bold(&front.escape(&owner.name))
        )
        .into()),
        Err(e) => Ok(format!("⚠️ {e}").into()),
    }
}

/// The answer to a command the platform could not parse: what is wrong, then the usage.
pub fn usage_error(front: &dyn Front, what: &str) -> Answer {
    format!("⚠️ {what}\n\n{}", front.usage()).into()
}

/// A platform's name as a word in a sentence: "slack" → "Slack".
pub fn title(platform: &str) -> String {
    let mut chars = platform.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platform_names_read_as_words() {
        assert_eq!(title("slack"), "Slack");
        assert_eq!(title("discord"), "Discord");
        assert_eq!(title(""), "");
    }
}
