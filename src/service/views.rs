//! What the service returns: plain serialisable views of conversations, teams and tokens,
//! shared by the HTTP API and the event stream (and documented in its OpenAPI document);
//! and the directory's views of operators and widgets, whose platform accounts and
//! channels are keyed by platform name for each front door to show its own way.

use crate::engine::{Author, ChangeReason, OperatorRef, Presence, Resolution, Role, RoutingMode, Status, Window};
use serde::Serialize;
use std::collections::BTreeMap;
use utoipa::ToSchema;

/// RFC 3339 time of an epoch-millisecond timestamp.
pub fn rfc3339(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_default()
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TeamRef {
    pub id: i64,
    pub name: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Visitor {
    pub name: Option<String>,
    pub email: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ConversationView {
    /// The widget platform's conversation id.
    pub id: String,
    pub widget_id: String,
    pub status: Status,
    pub assignee: Option<OperatorRef>,
    pub team: Option<TeamRef>,
    /// Incremented by every change.
    pub version: i64,
    pub visitor: Visitor,
    pub summary: Option<String>,
    pub reason: Option<String>,
    /// Operators who rejected it since its last handoff.
    pub declined_by: Vec<OperatorRef>,
    /// Operators routing gave it to who did not accept it in time (the widget's
    /// `accept_within`) since its last handoff; routing skips them for it.
    pub timed_out: Vec<OperatorRef>,
    /// When it is routed on if its assignee has not accepted it (the widget's
    /// `accept_within`), RFC 3339; null when nothing waits.
    pub accept_by: Option<String>,
    /// The same, in epoch milliseconds, for the platforms to draw as a time.
    #[serde(skip)]
    #[schema(ignore)]
    pub accept_by_ms: Option<i64>,
    pub resolution: Option<Resolution>,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TranscriptLine {
    pub id: i64,
    /// visitor, bot, operator or note (internal, never sent to the visitor).
    pub author: Author,
    pub operator: Option<OperatorRef>,
    pub text: String,
    /// Web addresses; the files operators shared are signed links that work for a while.
    pub attachments: Vec<String>,
    /// For operator replies: pending, delivered or failed.
    pub delivery: Option<String>,
    pub at: String,
    /// When it was last edited, if it was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub edited_at: Option<String>,
    /// When it was deleted (a reply: taken back from the visitor), if it was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deleted_at: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AuditEntry {
    pub version: i64,
    pub from_status: Option<String>,
    pub to_status: Status,
    pub from_assignee: Option<i64>,
    pub to_assignee: Option<i64>,
    pub team_id: Option<i64>,
    /// operator, admin, routing, widget or system.
    pub actor: String,
    pub actor_operator_id: Option<i64>,
    pub reason: ChangeReason,
    pub at: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ConversationDetail {
    #[serde(flatten)]
    pub conversation: ConversationView,
    pub transcript: Vec<TranscriptLine>,
    pub audit: Vec<AuditEntry>,
}

/// An operator as the directory holds them; each front door shows them its own way.
#[derive(Debug, Clone)]
pub struct OperatorView {
    pub id: i64,
    pub name: String,
    pub role: Role,
    pub presence: Presence,
    /// Most open chats at once; `None` = no limit.
    pub capacity: Option<i64>,
    /// Their account on each platform, by platform name.
    pub accounts: BTreeMap<String, String>,
    /// Conversations assigned to them that are handed_off or active.
    pub open_chats: i64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TeamView {
    pub id: i64,
    pub name: String,
    pub members: Vec<OperatorRef>,
}

/// A widget as the directory holds it; each front door shows it its own way.
#[derive(Debug, Clone)]
pub struct WidgetView {
    pub id: String,
    pub routing: RoutingMode,
    /// Empty = everyone in the workspace.
    pub eligible: Vec<OperatorRef>,
    /// How long a routed conversation waits for its assignee to accept.
    pub accept_within: Option<Window>,
    /// How long a visitor's message waits for a reply before the assignee is nudged.
    pub reply_within: Option<Window>,
    /// Whom its thread notices mention on each platform (a Slack user group, a Discord
    /// role), by platform name.
    pub escalations: BTreeMap<String, String>,
    /// Its channel on each platform, by platform name.
    pub channels: BTreeMap<String, String>,
}

impl WidgetView {
    /// Its channel on a platform, by the platform's name.
    pub fn channel(&self, platform: &str) -> Option<&str> {
        self.channels.get(platform).map(String::as_str)
    }
}

#[derive(Clone, Serialize, ToSchema)]
pub struct NewToken {
    /// The token's id, to revoke it.
    pub id: i64,
    pub operator_id: i64,
    /// Shown once; only its hash is stored.
    pub token: String,
}

/// An API token as listed: never the secret, which is shown only at creation.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TokenView {
    pub id: i64,
    pub label: Option<String>,
    pub created_at: String,
}

/// Never prints the token itself.
impl std::fmt::Debug for NewToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewToken")
            .field("id", &self.id)
            .field("operator_id", &self.operator_id)
            .field("token", &"<redacted>")
            .finish()
    }
}

/// One committed assignment change, as the event stream carries it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ChangeEvent {
    /// Which workspace's stream carries it.
    #[serde(skip)]
    pub workspace_id: i64,
    pub conversation_id: String,
    pub widget_id: String,
    pub version: i64,
    pub status: Status,
    pub assignee: Option<OperatorRef>,
    pub team_id: Option<i64>,
    /// claim, takeover, accept, reject, transfer, transfer_team, handback, unassign,
    /// resolve, closed, reply, handoff, routed, unrouted.
    pub reason: ChangeReason,
    pub actor: String,
    pub actor_operator_id: Option<i64>,
    pub at: String,
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_new_token_never_prints_its_secret() {
        let t = super::NewToken {
            id: 1,
            operator_id: 1,
            token: "hbt_secret_value".into(),
        };
        assert!(!format!("{t:?}").contains("hbt_secret_value"));
    }
}
