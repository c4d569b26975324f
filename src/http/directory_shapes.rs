//! The HTTP API's operator and widget bodies and answers. The API names each platform's
//! account and channel in a field of its own (`slack_user_id`, `discord_channel`), as
//! `README.md#the-http-api` documents; the directory keys them by platform name. This
//! module is the one place that maps the one to the other.

use crate::engine::{OperatorRef, Presence, Role, RoutingMode};
use crate::service::{ByPlatform, NewOperator, OperatorPatch, OperatorView, WidgetPatch, WidgetView};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The platforms whose accounts and channels the API carries, by their names inside.
const SLACK: &str = "slack";
const DISCORD: &str = "discord";

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = NewOperator)]
pub struct NewOperatorBody {
    pub name: String,
    /// agent (default), manager or admin; only admins set roles.
    pub role: Option<Role>,
    pub capacity: Option<i64>,
    /// Admins only.
    pub slack_user_id: Option<String>,
    /// Admins only.
    pub discord_user_id: Option<String>,
}

impl From<NewOperatorBody> for NewOperator {
    fn from(b: NewOperatorBody) -> Self {
        let accounts = [(SLACK, b.slack_user_id), (DISCORD, b.discord_user_id)]
            .into_iter()
            .filter_map(|(p, a)| Some((p.to_owned(), a?)))
            .collect();
        NewOperator {
            name: b.name,
            role: b.role,
            capacity: b.capacity,
            accounts,
        }
    }
}

/// Absent fields stay as they are; `null` clears a nullable one.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = OperatorPatch)]
pub struct OperatorPatchBody {
    pub name: Option<String>,
    pub role: Option<Role>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<i64>)]
    pub capacity: Option<Option<i64>>,
    /// Admins only.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub slack_user_id: Option<Option<String>>,
    /// Admins only.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub discord_user_id: Option<Option<String>>,
}

impl From<OperatorPatchBody> for OperatorPatch {
    fn from(b: OperatorPatchBody) -> Self {
        OperatorPatch {
            name: b.name,
            role: b.role,
            capacity: b.capacity,
            accounts: present([(SLACK, b.slack_user_id), (DISCORD, b.discord_user_id)]),
        }
    }
}

/// Absent fields stay as they are; `null` clears a channel; `eligible: []` = everyone.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = WidgetPatch)]
pub struct WidgetPatchBody {
    pub routing: Option<RoutingMode>,
    pub eligible: Option<Vec<i64>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub slack_channel: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub discord_channel: Option<Option<String>>,
}

impl From<WidgetPatchBody> for WidgetPatch {
    fn from(b: WidgetPatchBody) -> Self {
        WidgetPatch {
            routing: b.routing,
            eligible: b.eligible,
            channels: present([(SLACK, b.slack_channel), (DISCORD, b.discord_channel)]),
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = OperatorView)]
pub struct OperatorOut {
    pub id: i64,
    pub name: String,
    pub role: Role,
    pub presence: Presence,
    /// Most open chats at once; null = no limit.
    pub capacity: Option<i64>,
    pub slack_user_id: Option<String>,
    pub discord_user_id: Option<String>,
    /// Conversations assigned to them that are handed_off or active.
    pub open_chats: i64,
}

impl From<OperatorView> for OperatorOut {
    fn from(mut o: OperatorView) -> Self {
        OperatorOut {
            id: o.id,
            name: o.name,
            role: o.role,
            presence: o.presence,
            capacity: o.capacity,
            slack_user_id: o.accounts.remove(SLACK),
            discord_user_id: o.accounts.remove(DISCORD),
            open_chats: o.open_chats,
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = WidgetView)]
pub struct WidgetOut {
    pub id: String,
    pub routing: RoutingMode,
    /// Empty = everyone in the workspace.
    pub eligible: Vec<OperatorRef>,
    pub slack_channel: Option<String>,
    pub discord_channel: Option<String>,
}

impl From<WidgetView> for WidgetOut {
    fn from(mut w: WidgetView) -> Self {
        WidgetOut {
            id: w.id,
            routing: w.routing,
            eligible: w.eligible,
            slack_channel: w.channels.remove(SLACK),
            discord_channel: w.channels.remove(DISCORD),
        }
    }
}

/// The fields the body had (`null` included), by platform name.
fn present<const N: usize>(fields: [(&str, Option<Option<String>>); N]) -> ByPlatform<Option<String>> {
    fields
        .into_iter()
        .filter_map(|(p, v)| Some((p.to_owned(), v?)))
        .collect()
}

/// Tells "absent" (outer `None`) from "null" (`Some(None)`).
fn double_option<'de, T: Deserialize<'de>, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absent_fields_leave_a_platform_out_and_null_clears_it() {
        let body: WidgetPatchBody = serde_json::from_str(r#"{"discord_channel": null}"#).unwrap();
        let patch = WidgetPatch::from(body);
        assert_eq!(
            patch.channels.into_iter().collect::<Vec<_>>(),
            [(DISCORD.to_owned(), None)]
        );
        let body: OperatorPatchBody = serde_json::from_str(r#"{"slack_user_id": "U1"}"#).unwrap();
        let patch = OperatorPatch::from(body);
        assert_eq!(
            patch.accounts.into_iter().collect::<Vec<_>>(),
            [(SLACK.to_owned(), Some("U1".to_owned()))]
        );
    }
}
