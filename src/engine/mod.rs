//! The assignment engine: the domain of §2–§3, with no knowledge of storage, HTTP, Slack
//! or Discord. A transition is a pure decision ([`transition::decide`]); routing is a pure
//! pick ([`routing::pick`]); a committed change yields its side effects as data
//! ([`effects::plan`]). The service layer runs these inside database transactions.

pub mod actor;
pub mod effects;
pub mod ids;
pub mod model;
pub mod permissions;
pub mod routing;
pub mod transition;

pub use actor::Actor;
pub use ids::{ConversationId, OperatorId, TeamId, WidgetId, WorkspaceId};
pub use model::*;
