//! Who is acting: an operator with a role, or the configuration's admin token, or the
//! bridge itself (routing, the widget platform, the system). Permission rules look only
//! at this, never at which front door (Slack, Discord, HTTP) the action came through.

use super::ids::OperatorId;
use super::model::Role;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// A human teammate acting for themselves.
    Operator { id: OperatorId, role: Role },
    /// The configured admin token: admin rights, but no operator of its own, so it can
    /// assign others but cannot claim or reply.
    AdminToken,
    /// The widget platform (handoff, close).
    Widget,
    /// The bridge (routing, start-up seeding).
    System,
}

impl Actor {
    pub fn role(&self) -> Role {
        match self {
            Actor::Operator { role, .. } => *role,
            Actor::AdminToken | Actor::Widget | Actor::System => Role::Admin,
        }
    }

    pub fn operator(&self) -> Option<OperatorId> {
        match self {
            Actor::Operator { id, .. } => Some(*id),
            _ => None,
        }
    }

    pub fn is_manager(&self) -> bool {
        self.role().is_manager()
    }

    /// The audit trail's `actor` column.
    pub fn kind(&self) -> &'static str {
        match self {
            Actor::Operator { .. } => "operator",
            Actor::AdminToken => "admin",
            Actor::Widget => "widget",
            Actor::System => "system",
        }
    }
}
