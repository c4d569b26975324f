//! The domain's value types: statuses, roles, presence, routing modes and the workspace
//! policy. Each enum has one textual form, used in the database, the API and logs alike.

use super::ids::{ConversationId, OperatorId, TeamId, WidgetId, WorkspaceId};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Declares a string-backed enum with `as_str`, `FromStr` (naming the accepted values on
/// error), `Display` and serde in the same lowercase/kebab form.
macro_rules! text_enum {
    ($(#[$doc:meta])* $name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
        pub enum $name {
            $(#[serde(rename = $text)] $variant),+
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
    };
}

text_enum!(
    /// Where a conversation stands.
    Status { Bot => "bot", HandedOff => "handed_off", Active => "active", Resolved => "resolved" }
);
text_enum!(
    /// What an operator may do (§3.3). Ordered: admin ⊃ manager ⊃ agent.
    Role { Agent => "agent", Manager => "manager", Admin => "admin" }
);
text_enum!(
    /// Whether routing may give an operator new conversations.
    Presence { Available => "available", Away => "away" }
);
text_enum!(
    /// How a widget's conversations find an owner (§3.1).
    RoutingMode { Manual => "manual", RoundRobin => "round-robin", LightestLoad => "lightest-load" }
);
text_enum!(
    /// Who may take over a conversation someone else owns.
    TakeoverPolicy { Never => "never", Managers => "managers", Everyone => "everyone" }
);
text_enum!(
    /// Whether plain thread messages go to the visitor (§3.2a).
    ReplyMode { Relay => "relay", Command => "command" }
);
text_enum!(
    /// Who wrote a transcript line.
    Author { Visitor => "visitor", Bot => "bot", Operator => "operator", Note => "note" }
);

impl Role {
    /// Managers and admins manage routing, teams and others' conversations.
    pub fn is_manager(self) -> bool {
        matches!(self, Role::Manager | Role::Admin)
    }
}

impl Status {
    /// Open chats count towards an operator's load (§2).
    pub fn is_open(self) -> bool {
        matches!(self, Status::HandedOff | Status::Active)
    }
}

/// Workspace-wide settings that shape the state machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub takeover: TakeoverPolicy,
    pub reply_mode: ReplyMode,
    /// Thread messages starting with this are internal notes.
    pub note_prefix: String,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            takeover: TakeoverPolicy::Managers,
            reply_mode: ReplyMode::Relay,
            note_prefix: "//".into(),
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

/// Optional resolve details (§3.2).
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
