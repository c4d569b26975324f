//! Slack users as operators: found by their Slack user id, or created on first sight
//! with their display name from `users.info`, as the provisioning setting allows (by
//! default full members of the bridge's workspace only: no guests, no Slack Connect
//! strangers, no users of another team). Slack workspace admins and owners, and the
//! user ids the configuration names, become admins (`docs/behaviour.md#permissions`).

use super::{PLATFORM, Slack};
use crate::engine::Role;
use crate::service::{DEFAULT_WORKSPACE, LinkedOperator, ServiceError};
use slack_morphism::prelude::*;
use std::time::Duration;

/// How long a first-sight `users.info` may take before the operator is created with
/// what the request itself said about them.
const LOOKUP_TIMEOUT: Duration = Duration::from_secs(2);

impl Slack {
    /// The operator behind a Slack user; `fallback_name` is used if Slack cannot be asked.
    pub async fn operator(&self, user: &str, fallback_name: Option<&str>) -> Result<LinkedOperator, ServiceError> {
        let ws = DEFAULT_WORKSPACE;
        if let Some(op) = self.service().operator_by_account(ws, PLATFORM, user).await? {
            return Ok(op);
        }
        self.pace("users.info", None).await;
        let (client, token) = self.session();
        let session = client.open_session(&token);
        let request = SlackApiUsersInfoRequest::new(SlackUserId(user.to_owned()));
        let team = self.team().await;
        let (name, slack_admin, member) = match tokio::time::timeout(LOOKUP_TIMEOUT, session.users_info(&request)).await
        {
            Ok(Ok(info)) => {
                let u = info.user;
                let name = u
                    .profile
                    .as_ref()
                    .and_then(|p| p.display_name.clone().filter(|n| !n.is_empty()).or(p.real_name.clone()))
                    .or(u.real_name.clone())
                    .or(u.name.clone())
                    .unwrap_or_else(|| user.to_owned());
                let admin = u.flags.is_admin.unwrap_or(false)
                    || u.flags.is_owner.unwrap_or(false)
                    || u.flags.is_primary_owner.unwrap_or(false);
                // A full member of this workspace: not a guest (restricted, single-channel),
                // not a Slack Connect stranger, not from another team, not a bot.
                let member = u.team_id.as_ref().map(|t| &t.0) == team.as_ref()
                    && !u.flags.is_restricted.unwrap_or(false)
                    && !u.flags.is_ultra_restricted.unwrap_or(false)
                    && !u.flags.is_stranger.unwrap_or(false)
                    && !u.flags.is_bot.unwrap_or(false)
                    && !u.deleted.unwrap_or(false);
                (name, admin, member)
            }
            Ok(Err(e)) => {
                tracing::warn!(slack_user = user, error = %e, "users.info failed; the user cannot be checked as a member");
                (fallback_name.unwrap_or(user).to_owned(), false, false)
            }
            Err(_) => {
                tracing::warn!(
                    slack_user = user,
                    "users.info timed out; the user cannot be checked as a member"
                );
                (fallback_name.unwrap_or(user).to_owned(), false, false)
            }
        };
        let role = if slack_admin || self.is_configured_admin(user) {
            Role::Admin
        } else {
            Role::Agent
        };
        self.service()
            .link_account(ws, PLATFORM, user, &name, role, member)
            .await
    }
}
