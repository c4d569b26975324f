//! The domain's value types: statuses, roles, presence, routing modes, audit reasons,
//! transcript authors and the workspace policy. They live apart from the state machine
//! so that the store, the API and the platforms can name them without depending on how
//! transitions are decided. Each enum has one textual form, used in the database, the API
//! and logs alike, and parsing any other text is an error.

use super::ids::{ConversationId, OperatorId, TeamId, WidgetId, WorkspaceId};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Declares a string-backed enum with `as_str`, `FromStr` (naming the accepted values on
/// error), `Display` and serde in the same lowercase/kebab form.
macro_rules! text_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
        pub enum $name {
            $($(#[$vdoc])* #[serde(rename = $text)] $variant),+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }

            /// The accepted textual forms, for error messages: `a, b or c`.
            pub fn choices() -> String {
                let all: Vec<&str> = Self::ALL.iter().map(|v| v.as_str()).collect();
                match all.split_last() {
                    Some((last, rest)) if !rest.is_empty() => format!("{} or {}", rest.join(", "), last),
                    _ => all.join(""),
                }
            }
        }

        impl FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                match s {
                    $($text => Ok($name::$variant),)+
                    other => Err(format!("`{other}` is not one of {}", Self::choices())),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        /// Reading a stored value: unknown text is an error, never a default.
        impl TryFrom<String> for $name {
            type Error = UnknownText;
            fn try_from(s: String) -> Result<Self, UnknownText> {
                s.parse().map_err(|why| UnknownText { what: stringify!($name), why })
            }
        }
    };
}

/// Text that is not one of an enum's forms (corrupt stored data).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what}: {why}")]
pub struct UnknownText {
    pub what: &'static str,
    pub why: String,
}

text_enum!(
    /// Where a conversation stands (docs/behaviour.md#statuses).
    Status { Bot => "bot", HandedOff => "handed_off", Active => "active", Resolved => "resolved" }
);
text_enum!(
    /// What an operator may do (docs/behaviour.md#permissions). Ordered: admin ⊃ manager ⊃ agent.
    Role { Agent => "agent", Manager => "manager", Admin => "admin" }
);
text_enum!(
    /// Whether routing may give an operator new conversations.
    Presence { Available => "available", Away => "away" }
);
text_enum!(
    /// How a widget's conversations find an owner (docs/behaviour.md#routing).
    RoutingMode { Manual => "manual", RoundRobin => "round-robin", LightestLoad => "lightest-load" }
);
text_enum!(
    /// Who may take over a conversation someone else owns.
    TakeoverPolicy { Never => "never", Managers => "managers", Everyone => "everyone" }
);
text_enum!(
    /// Who becomes an operator the first time they act from a chat platform
    /// (docs/behaviour.md#permissions): anyone there, the platform's full members only
    /// (no guests, no people from other organisations), or nobody (operators are
    /// created or linked by an admin first).
    Provisioning { Open => "open", Members => "members", Invite => "invite" }
);
text_enum!(
    /// Whether plain thread messages go to the visitor (docs/behaviour.md#replies-and-notes).
    ReplyMode { Relay => "relay", Command => "command" }
);
text_enum!(
    /// Who wrote a transcript line.
    Author {
        /// The website visitor.
        Visitor => "visitor",
        /// The widget platform's AI.
        Bot => "bot",
        /// An operator's reply, sent (or being sent) to the visitor.
        Operator => "operator",
        /// An internal note or team discussion: never sent to the visitor.
        Note => "note",
        /// A reply kept back because someone else owns the conversation; its author may
        /// still take over and send it. Never shown in the transcript.
        Held => "held",
    }
);
text_enum!(
    /// Why an assignment changed: the `reason` of an audit row
    /// (docs/behaviour.md#transitions).
    ChangeReason {
        /// The widget platform handed the conversation to the team.
        Handoff => "handoff",
        /// An operator accepted an unassigned conversation.
        Claim => "claim",
        /// The assignee accepted a conversation routing gave them.
        Accept => "accept",
        /// An operator took over a conversation someone else owned.
        Takeover => "takeover",
        /// An operator declined the conversation.
        Reject => "reject",
        /// The conversation was given to another operator.
        Transfer => "transfer",
        /// The conversation was sent to a team, to be routed among its members.
        TransferTeam => "transfer_team",
        /// The conversation was given back to the AI.
        Handback => "handback",
        /// The assignee was removed; the conversation waits in the queue.
        Unassign => "unassign",
        /// An operator resolved the conversation.
        Resolve => "resolve",
        /// The widget platform closed the conversation.
        Closed => "closed",
        /// An operator's reply claimed the conversation (or accepted it).
        Reply => "reply",
        /// The operator routing gave it to did not accept it in time.
        Timeout => "timeout",
        /// Routing picked an owner.
        Routed => "routed",
        /// Routing ran but found nobody eligible and available.
        Unrouted => "unrouted",
    }
);

impl Role {
    /// Managers and admins manage routing, teams and others' conversations.
    pub fn is_manager(self) -> bool {
        matches!(self, Role::Manager | Role::Admin)
    }
}

impl Status {
    /// Open chats count towards an operator's load (docs/behaviour.md#routing).
    pub fn is_open(self) -> bool {
        matches!(self, Status::HandedOff | Status::Active)
    }
}

/// A file an operator shares with a message: what it is, and where its platform keeps
/// it (`source`: the platform's own reference, which only its adapter reads).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharedFile {
    pub name: String,
    pub mimetype: String,
    pub size: i64,
    pub source: String,
}

/// Workspace-wide settings that shape the state machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub takeover: TakeoverPolicy,
    pub reply_mode: ReplyMode,
    /// Thread messages starting with this are internal notes.
    pub note_prefix: String,
    /// Who becomes an operator on first sight.
    pub provisioning: Provisioning,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            takeover: TakeoverPolicy::Managers,
            reply_mode: ReplyMode::Relay,
            note_prefix: "//".into(),
            provisioning: Provisioning::Members,
        }
    }
}

impl Policy {
    pub fn may_take_over(&self, role: Role) -> bool {
        match self.takeover {
            TakeoverPolicy::Never => false,
            TakeoverPolicy::Managers => role.is_manager(),
            TakeoverPolicy::Everyone => true,
        }
    }

    pub fn is_note(&self, text: &str) -> bool {
        !self.note_prefix.is_empty() && text.trim_start().starts_with(&self.note_prefix)
    }
}

/// The assignment-relevant state of a conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment {
    pub status: Status,
    pub assignee: Option<OperatorId>,
    pub team: Option<TeamId>,
}

/// A conversation as the engine sees it.
#[derive(Debug, Clone)]
pub struct Conversation {
    pub id: ConversationId,
    pub workspace: WorkspaceId,
    pub widget: WidgetId,
    pub assignment: Assignment,
    pub version: i64,
    /// Operators who rejected it in this handoff; routing skips them.
    pub declined: Vec<OperatorId>,
}

/// Optional resolve details (docs/behaviour.md#transitions).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Resolution {
    pub topic: Option<String>,
    pub outcome: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
}

/// An operator's name and id, as shown to others.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct OperatorRef {
    #[schema(value_type = i64)]
    pub id: OperatorId,
    pub name: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each value parses back from its text; any other text is an error naming the
    /// accepted values.
    fn only_its_own_text<T>(all: &[T])
    where
        T: Copy + PartialEq + fmt::Debug + fmt::Display + FromStr<Err = String>,
    {
        for v in all {
            assert_eq!(v.to_string().parse::<T>(), Ok(*v));
            let shouted = v.to_string().to_uppercase();
            assert!(shouted.parse::<T>().is_err(), "{shouted} parsed");
        }
        for bad in ["", "unknown", " bot", "handed-off", "round_robin"] {
            let err = bad.parse::<T>().expect_err(bad);
            assert!(err.contains(&all[0].to_string()), "{err}");
        }
    }

    #[test]
    fn text_enums_parse_only_their_own_text() {
        only_its_own_text(Status::ALL);
        only_its_own_text(Role::ALL);
        only_its_own_text(Presence::ALL);
        only_its_own_text(RoutingMode::ALL);
        only_its_own_text(TakeoverPolicy::ALL);
        only_its_own_text(ReplyMode::ALL);
        only_its_own_text(Author::ALL);
        only_its_own_text(ChangeReason::ALL);
        assert_eq!("held".parse(), Ok(Author::Held));
        assert_eq!("unrouted".parse(), Ok(ChangeReason::Unrouted));
        assert_eq!(ChangeReason::TransferTeam.as_str(), "transfer_team");
    }
}
