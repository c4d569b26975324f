//! Turns a change's effects into outbox rows, one set per platform that is switched on,
//! written in the change's own transaction. Payloads are built now, from the state this
//! transaction wrote, so a later delivery tells the platform exactly what was true then.
//!
//! The widget platform's calls (§7.2) carry their payload. Slack rows carry only ids:
//! the Slack adapter renders thread roots from the state at delivery time, so a late
//! delivery never shows an older state than the latest one.

use super::Targets;
use super::conversations::operator_ref;
use crate::engine::effects::Effect;
use crate::engine::{OperatorId, TeamId, WorkspaceId};
use crate::store::conversations as convs;
use crate::store::conversations::ConversationRow;
use crate::store::outbox::{self, NewRow};
use crate::store::teams;
use serde_json::json;
use sqlx::AnyConnection;

pub const TARGET_WIDGET: &str = "widget";
pub const TARGET_SLACK: &str = "slack";

/// A conversation's Slack rows share this key: one thread, in order.
pub fn slack_ordering_key(conversation: &str) -> String {
    format!("slack:{conversation}")
}

/// Writes one Slack outbox row (ephemerals, modals, reactions: what the Slack adapter
/// decides itself).
pub async fn enqueue_slack(
    conn: &mut AnyConnection,
    workspace_id: i64,
    kind: &'static str,
    ordering_key: String,
    payload: serde_json::Value,
) -> Result<(), sqlx::Error> {
    let row = NewRow {
        workspace_id,
        target: TARGET_SLACK,
        kind,
        ordering_key,
        payload,
    };
    outbox::enqueue(conn, &row, crate::store::now_ms()).await?;
    Ok(())
}

/// The widget platform's outbox rows of one conversation share this key: in order.
pub fn widget_ordering_key(conversation: &str) -> String {
    format!("widget:{conversation}")
}

/// Writes the outbox rows for `effects`; returns whether any were written.
pub async fn enqueue(
    conn: &mut AnyConnection,
    targets: Targets,
    row: &ConversationRow,
    effects: &[Effect],
    now: i64,
) -> Result<bool, sqlx::Error> {
    let mut written = false;
    if targets.widget {
        written |= enqueue_widget(conn, row, effects, now).await?;
    }
    if targets.slack {
        for effect in effects {
            let (kind, payload) = match effect {
                Effect::OpenThreads => ("open_thread", json!({"conversation": row.id})),
                Effect::RenderThreads => ("render", json!({"conversation": row.id})),
                Effect::NotifyAssignee(op) => ("dm", json!({"conversation": row.id, "operator": op.0})),
                Effect::MirrorMessage { message_id } => {
                    ("mirror", json!({"conversation": row.id, "message": message_id}))
                }
                Effect::WidgetAssignment | Effect::WidgetHandback(_) | Effect::WidgetMessage { .. } => continue,
            };
            let new = NewRow {
                workspace_id: row.workspace_id,
                target: TARGET_SLACK,
                kind,
                ordering_key: slack_ordering_key(&row.id),
                payload,
            };
            outbox::enqueue(conn, &new, now).await?;
            written = true;
        }
    }
    Ok(written)
}

async fn enqueue_widget(
    conn: &mut AnyConnection,
    row: &ConversationRow,
    effects: &[Effect],
    now: i64,
) -> Result<bool, sqlx::Error> {
    let mut written = false;
    for effect in effects {
        let (kind, body) = match effect {
            Effect::WidgetAssignment => {
                let assignee = match row.assignee_id {
                    Some(op) => operator_ref(conn, OperatorId(op)).await?,
                    None => None,
                };
                let team = match row.team_id {
                    Some(t) => teams::get(conn, WorkspaceId(row.workspace_id), TeamId(t)).await?,
                    None => None,
                };
                (
                    "assignment",
                    json!({
                        "status": row.status,
                        "assignee": assignee,
                        "team": team.map(|t| json!({"id": t.id, "name": t.name})),
                        "version": row.version,
                    }),
                )
            }
            Effect::WidgetHandback(r) => (
                "handback",
                json!({"topic": r.topic, "outcome": r.outcome, "tags": r.tags, "version": row.version}),
            ),
            Effect::WidgetMessage { message_id } => {
                let Some(line) = convs::message(conn, *message_id).await? else {
                    continue;
                };
                let operator = match line.operator_id {
                    Some(op) => operator_ref(conn, OperatorId(op)).await?,
                    None => None,
                };
                (
                    "messages",
                    json!({"text": line.text, "operator": operator, "message_id": message_id}),
                )
            }
            Effect::OpenThreads | Effect::RenderThreads | Effect::NotifyAssignee(_) | Effect::MirrorMessage { .. } => {
                continue;
            }
        };
        let path = format!("/conversations/{}/{kind}", urlencode(&row.id));
        outbox::enqueue(
            conn,
            &NewRow {
                workspace_id: row.workspace_id,
                target: TARGET_WIDGET,
                kind,
                ordering_key: widget_ordering_key(&row.id),
                payload: json!({"path": path, "body": body}),
            },
            now,
        )
        .await?;
        written = true;
    }
    Ok(written)
}

/// Percent-encodes a path segment (conversation ids are the platform's, any text).
fn urlencode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
