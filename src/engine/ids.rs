//! Typed identifiers, so an operator id can never be passed where a team id is wanted.
//!
//! Conversations and widgets are addressed by the widget platform's own ids (text);
//! workspaces, operators and teams by the ids the bridge gives them (integers).

use serde::{Deserialize, Serialize};
use std::fmt;

macro_rules! int_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub i64);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}", self.0)
            }
        }
    };
}

macro_rules! text_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub String);

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                Self(s.to_owned())
            }
        }
    };
}

int_id!(
    /// One support organisation.
    WorkspaceId
);
int_id!(
    /// A human teammate.
    OperatorId
);
int_id!(
    /// A named group of operators.
    TeamId
);
text_id!(
    /// The widget platform's id of a chat widget.
    WidgetId
);
text_id!(
    /// The widget platform's id of a conversation.
    ConversationId
);
