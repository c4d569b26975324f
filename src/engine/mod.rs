//! The assignment engine: who owns a conversation and what may change it
//! (docs/behaviour.md#transitions). It knows nothing of storage, HTTP, Slack or Discord,
//! so every front door applies the same rules and the rules can be tested without I/O.
//!
//! A transition is a pure decision ([`transition::decide`]); routing is a pure pick
//! ([`routing::pick`]); a committed change yields its side effects as data
//! ([`effects::plan`]). The service layer runs these inside database transactions.

pub mod actor;
pub mod edits;
pub mod effects;
pub mod ids;
pub mod model;
pub mod permissions;
pub mod routing;
pub mod transition;
pub mod window;

pub use actor::Actor;
pub use ids::{ConversationId, OperatorId, TeamId, WidgetId, WorkspaceId};
pub use model::*;
pub use window::Window;
