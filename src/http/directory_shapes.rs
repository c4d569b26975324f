//! The HTTP API's operator and widget bodies and answers. The API names each platform's
//! account and channel in a field of its own, `<platform>_user_id` and
//! `<platform>_channel` (`README.md#the-http-api`), for every platform this build has an
//! adapter for; the directory keys them by platform name. This module is the one place
//! that maps the one to the other. Which platforms there are, it is told (`startup`
//! passes the adapters' names); it names none itself.

use crate::engine::{OperatorRef, Presence, Role, RoutingMode, Window};
use crate::service::{ByPlatform, NewOperator, OperatorPatch, OperatorView, WidgetPatch, WidgetView};
use crate::web::error::ApiError;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::ToSchema;

/// The API's field for a platform's account.
fn account_field(platform: &str) -> String {
    format!("{platform}_user_id")
}

/// The API's field for a widget's channel on a platform.
fn channel_field(platform: &str) -> String {
    format!("{platform}_channel")
}

/// The API's field for whom a widget's notices mention on a platform.
fn escalation_field(platform: &str) -> String {
    format!("{platform}_escalation")
}

/// The per-platform fields of a body, by platform name: each key must be `field(p)` for a
/// platform `p` of `platforms`, else the body is refused naming the fields there are.
fn by_platform<T>(
    given: BTreeMap<String, T>,
    platforms: &[&str],
    field: fn(&str) -> String,
    fixed: &str,
) -> Result<ByPlatform<T>, ApiError> {
    let mut out = ByPlatform::new();
    for (key, value) in given {
        match platforms.iter().find(|p| field(p) == key) {
            Some(p) => {
                out.insert((*p).to_owned(), value);
            }
            None => {
                let known: Vec<String> = platforms.iter().map(|p| format!("`{}`", field(p))).collect();
                return Err(ApiError::unprocessable(format!(
                    "unknown field `{key}`: the fields are {fixed} and {}",
                    known.join(", ")
                )));
            }
        }
    }
    Ok(out)
}

/// Each platform's field in an answer: its value, or `null` when there is none.
fn answer_fields(mut given: BTreeMap<String, String>, platforms: &[&str], field: fn(&str) -> String) -> Fields {
    platforms.iter().map(|p| (field(p), given.remove(*p))).collect()
}

/// `<platform>_…` fields of a body or an answer.
type Fields = BTreeMap<String, Option<String>>;

/// Also `<platform>_user_id` for each platform (admins only).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[schema(as = NewOperator)]
pub struct NewOperatorBody {
    pub name: String,
    /// agent (default), manager or admin; only admins set roles.
    pub role: Option<Role>,
    pub capacity: Option<i64>,
    #[serde(flatten)]
    #[schema(ignore)]
    pub accounts: Fields,
}

impl NewOperatorBody {
    pub fn into_service(self, platforms: &[&str]) -> Result<NewOperator, ApiError> {
        let accounts = by_platform(self.accounts, platforms, account_field, "`name`, `role`, `capacity`")?;
        Ok(NewOperator {
            name: self.name,
            role: self.role,
            capacity: self.capacity,
            accounts: accounts.into_iter().filter_map(|(p, a)| Some((p, a?))).collect(),
        })
    }
}

/// Absent fields stay as they are; `null` clears a nullable one. Also
/// `<platform>_user_id` for each platform (admins only).
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[schema(as = OperatorPatch)]
pub struct OperatorPatchBody {
    pub name: Option<String>,
    pub role: Option<Role>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<i64>)]
    pub capacity: Option<Option<i64>>,
    #[serde(flatten)]
    #[schema(ignore)]
    pub accounts: Fields,
}

impl OperatorPatchBody {
    pub fn into_service(self, platforms: &[&str]) -> Result<OperatorPatch, ApiError> {
        Ok(OperatorPatch {
            name: self.name,
            role: self.role,
            capacity: self.capacity,
            accounts: by_platform(self.accounts, platforms, account_field, "`name`, `role`, `capacity`")?,
        })
    }
}

/// Absent fields stay as they are; `null` clears a channel; `eligible: []` = everyone.
/// Also `<platform>_channel` and `<platform>_escalation` for each platform.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[schema(as = WidgetPatch)]
pub struct WidgetPatchBody {
    pub routing: Option<RoutingMode>,
    pub eligible: Option<Vec<i64>>,
    /// How long a conversation routing gives someone waits for them to accept before
    /// it is routed on: `"5m"`, `"90s"`, `"1h 30m"` (at most `"24h"`); `"off"` or
    /// `null` switches it off.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub accept_within: Option<Option<String>>,
    /// How long a visitor's message waits for a reply before the assignee is nudged
    /// (the thread is told at twice that); same form as `accept_within`.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub reply_within: Option<Option<String>>,
    #[serde(flatten)]
    #[schema(ignore)]
    pub channels: Fields,
}

impl WidgetPatchBody {
    pub fn into_service(self, platforms: &[&str]) -> Result<WidgetPatch, ApiError> {
        let fixed = "`routing`, `eligible`, `accept_within`, `reply_within`, the `<platform>_escalation` fields";
        let (escalations, channels) = self.channels.into_iter().partition(|(k, _)| k.ends_with("_escalation"));
        Ok(WidgetPatch {
            routing: self.routing,
            eligible: self.eligible,
            accept_within: window_field("accept_within", self.accept_within)?,
            reply_within: window_field("reply_within", self.reply_within)?,
            channels: by_platform(channels, platforms, channel_field, fixed)?,
            escalations: by_platform(
                escalations,
                platforms,
                escalation_field,
                "the `<platform>_channel` fields",
            )?,
        })
    }
}

/// Also `<platform>_user_id` (or `null`) for each platform.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = OperatorView)]
pub struct OperatorOut {
    pub id: i64,
    pub name: String,
    pub role: Role,
    pub presence: Presence,
    /// Most open chats at once; null = no limit.
    pub capacity: Option<i64>,
    /// Conversations assigned to them that are handed_off or active.
    pub open_chats: i64,
    #[serde(flatten)]
    #[schema(ignore)]
    pub accounts: Fields,
}

impl OperatorOut {
    pub fn of(o: OperatorView, platforms: &[&str]) -> OperatorOut {
        OperatorOut {
            id: o.id,
            name: o.name,
            role: o.role,
            presence: o.presence,
            capacity: o.capacity,
            open_chats: o.open_chats,
            accounts: answer_fields(o.accounts, platforms, account_field),
        }
    }
}

/// Also `<platform>_channel` (or `null`) for each platform.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = WidgetView)]
pub struct WidgetOut {
    pub id: String,
    pub routing: RoutingMode,
    /// Empty = everyone in the workspace.
    pub eligible: Vec<OperatorRef>,
    /// How long a routed conversation waits for its assignee to accept (`"5m"`); null: forever.
    pub accept_within: Option<String>,
    /// How long a visitor's message waits for a reply before the assignee is nudged; null: off.
    pub reply_within: Option<String>,
    #[serde(flatten)]
    #[schema(ignore)]
    pub channels: Fields,
    /// `<platform>_escalation`: whom its thread notices mention there, once per
    /// conversation (a Slack user group id, a Discord role id); null: nobody.
    #[serde(flatten)]
    #[schema(ignore)]
    pub escalations: Fields,
}

impl WidgetOut {
    pub fn of(w: WidgetView, platforms: &[&str]) -> WidgetOut {
        WidgetOut {
            id: w.id,
            routing: w.routing,
            eligible: w.eligible,
            accept_within: w.accept_within.map(|t| t.to_string()),
            reply_within: w.reply_within.map(|t| t.to_string()),
            channels: answer_fields(w.channels, platforms, channel_field),
            escalations: answer_fields(w.escalations, platforms, escalation_field),
        }
    }
}

/// A timer field: absent leaves it, `null` or `"off"` switches it off, a duration sets it.
fn window_field(name: &str, value: Option<Option<String>>) -> Result<Option<Option<Window>>, ApiError> {
    value
        .map(|v| match v {
            None => Ok(None),
            Some(text) => Window::parse(&text).map_err(|why| ApiError::unprocessable(format!("`{name}`: {why}"))),
        })
        .transpose()
}

/// Tells "absent" (outer `None`) from "null" (`Some(None)`).
fn double_option<'de, T: Deserialize<'de>, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Platforms as a build names them; any names do.
    const PLATFORMS: [&str; 2] = ["chat", "other_chat"];

    #[test]
    fn absent_fields_leave_a_platform_out_null_clears_it_and_unknown_ones_are_refused() {
        let body: WidgetPatchBody = serde_json::from_str(r#"{"other_chat_channel": null}"#).unwrap();
        let patch = body.into_service(&PLATFORMS).unwrap();
        assert_eq!(
            patch.channels.into_iter().collect::<Vec<_>>(),
            [("other_chat".to_owned(), None)]
        );
        let body: OperatorPatchBody = serde_json::from_str(r#"{"chat_user_id": "U1"}"#).unwrap();
        let patch = body.into_service(&PLATFORMS).unwrap();
        assert_eq!(
            patch.accounts.into_iter().collect::<Vec<_>>(),
            [("chat".to_owned(), Some("U1".to_owned()))]
        );
        let body: OperatorPatchBody = serde_json::from_str(r#"{"nickname": "x"}"#).unwrap();
        assert!(body.into_service(&PLATFORMS).is_err());
    }

    #[test]
    fn an_answer_has_a_field_for_every_platform() {
        let view = WidgetView {
            id: "w".into(),
            routing: RoutingMode::Manual,
            eligible: Vec::new(),
            accept_within: None,
            reply_within: None,
            escalations: BTreeMap::new(),
            channels: BTreeMap::from([("chat".to_owned(), "C1".to_owned())]),
        };
        let out = serde_json::to_value(WidgetOut::of(view, &PLATFORMS)).unwrap();
        assert_eq!(out["chat_channel"], "C1");
        assert!(out["other_chat_channel"].is_null() && out.as_object().unwrap().contains_key("other_chat_channel"));
    }
}
