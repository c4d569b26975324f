//! Discord members as operators: found by their Discord user id, or created on first
//! sight with their server nickname (or display name). Members with Manage Server or
//! Administrator, and the user ids the configuration names, become admins
//! (`docs/behaviour.md#permissions`). Discord tells a member's permissions with each
//! interaction, not with messages: someone first seen through a message starts as an
//! agent unless the configuration names them.

use super::{Discord, PLATFORM};
use crate::engine::Role;
use crate::service::{DEFAULT_WORKSPACE, LinkedOperator, ServiceError};
use serenity::all::{Permissions, User};

/// Who a Discord user is, as an event tells it.
pub struct Member<'a> {
    pub user: &'a User,
    /// The server nickname, if any.
    pub nick: Option<&'a str>,
    /// The member's permissions in the channel, when the event tells them.
    pub permissions: Option<Permissions>,
    /// Whether they acted as a member of the server (not in a DM, not as a bot).
    pub in_guild: bool,
}

impl Member<'_> {
    fn name(&self) -> String {
        self.nick
            .map(str::to_owned)
            .or_else(|| self.user.global_name.clone())
            .unwrap_or_else(|| self.user.name.clone())
    }

    fn manages_server(&self) -> bool {
        self.permissions.is_some_and(|p| p.manage_guild() || p.administrator())
    }
}

impl Discord {
    /// The operator behind a Discord user.
    pub async fn operator(&self, member: &Member<'_>) -> Result<LinkedOperator, ServiceError> {
        let ws = DEFAULT_WORKSPACE;
        let account = member.user.id.to_string();
        if let Some(op) = self.service().operator_by_account(ws, PLATFORM, &account).await? {
            return Ok(op);
        }
        let role = if member.manages_server() || self.is_configured_admin(&account) {
            Role::Admin
        } else {
            Role::Agent
        };
        self.service()
            .link_account(ws, PLATFORM, &account, &member.name(), role, member.in_guild)
            .await
    }

    /// The operator behind a Discord user id alone (a user picked in a select).
    pub async fn operator_of_id(&self, user: &User) -> Result<LinkedOperator, ServiceError> {
        self.operator(&Member {
            user,
            nick: None,
            permissions: None,
            // Named by someone acting in the server (a select, a command option).
            in_guild: !user.bot,
        })
        .await
    }
}
