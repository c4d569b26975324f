//! Turns a change's effects into outbox rows, for the widget platform and for every
//! chat platform that is switched on, written in the change's own transaction. The
//! widget platform's payloads are built now, from the state this transaction wrote, so
//! a later delivery tells it exactly what was true then
//! (`docs/widget-api.md#outbound-calls`). Chat platforms plan their own rows through
//! their [`Mirror`].

use super::Mirror;
use crate::engine::effects::Effect;
use crate::engine::{OperatorId, TeamId, WorkspaceId};
use crate::store::conversations as convs;
use crate::store::conversations::ConversationRow;
use crate::store::outbox::{self, NewRow};
use crate::store::teams;
use serde_json::json;
use sqlx::AnyConnection;
use std::sync::Arc;

pub const TARGET_WIDGET: &str = "widget";

/// The widget platform's outbox rows of one conversation share this key: in order.
pub fn widget_ordering_key(conversation: &str) -> String {
    format!("widget:{conversation}")
}

/// Writes one planned row of a platform.
pub(super) async fn write(
    conn: &mut AnyConnection,
    workspace_id: i64,
    target: &'static str,
    row: super::Planned,
    now: i64,
) -> Result<(), sqlx::Error> {
    outbox::enqueue(conn, &planned_row(workspace_id, target, row), now).await?;
    Ok(())
}

/// The outbox row of a platform's planned row.
fn planned_row(workspace_id: i64, target: &'static str, row: super::Planned) -> NewRow {
    NewRow {
        workspace_id,
        target,
        kind: row.kind,
        ordering_key: row.ordering_key,
        payload: row.payload,
    }
}

/// Who gets rows for a change.
pub(super) struct Recipients<'a> {
    pub widget: bool,
    pub mirrors: &'a [Arc<dyn Mirror>],
    /// The platform a reply was written on: it is not mirrored back there.
    pub origin: Option<&'a str>,
    /// How the bridge's files are linked for the widget platform.
    pub files: &'a super::FileRules,
}

/// Writes the outbox rows for `effects`; returns whether any were written.
pub(super) async fn enqueue(
    conn: &mut AnyConnection,
    to: &Recipients<'_>,
    row: &ConversationRow,
    effects: &[Effect],
    now: i64,
) -> Result<bool, sqlx::Error> {
    let mut rows = Vec::new();
    if to.widget {
        widget_rows(conn, row, effects, to, &mut rows).await?;
    }
    for mirror in to.mirrors {
        for effect in effects {
            // What was written (or edited) on a platform is there already.
            if matches!(effect, Effect::MirrorMessage { .. } | Effect::MirrorEdit { .. })
                && to.origin == Some(mirror.platform())
            {
                continue;
            }
            for planned in mirror.plan(&row.id, effect) {
                rows.push(planned_row(row.workspace_id, mirror.platform(), planned));
            }
        }
    }
    // One statement for all of them.
    outbox::enqueue_all(conn, &rows, now).await?;
    Ok(!rows.is_empty())
}

/// The widget platform's rows for `effects`, added to `rows`. `to.origin`: the platform
/// an edit or deletion was made on, where its receipt is shown.
async fn widget_rows(
    conn: &mut AnyConnection,
    row: &ConversationRow,
    effects: &[Effect],
    to: &Recipients<'_>,
    rows: &mut Vec<NewRow>,
) -> Result<(), sqlx::Error> {
    let conversation = path_segment(&row.id);
    let edit = |kind: &'static str, method: &str, body: serde_json::Value, id: i64| NewRow {
        workspace_id: row.workspace_id,
        target: TARGET_WIDGET,
        kind,
        ordering_key: widget_ordering_key(&row.id),
        payload: json!({
            "path": format!("/conversations/{conversation}/messages/{id}"),
            "method": method,
            "body": body,
            "origin": to.origin,
        }),
    };
    for effect in effects {
        let (kind, body) = match effect {
            Effect::WidgetAssignment => {
                let assignee = match row.assignee_id {
                    Some(op) => crate::store::operators::reference(conn, OperatorId(op)).await?,
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
                let Some((line, operator)) = reply(conn, *message_id).await? else {
                    continue;
                };
                let attachments: Vec<String> = line.attachment_urls().iter().map(|u| to.files.signed(u)).collect();
                (
                    "messages",
                    json!({"text": line.text, "operator": operator, "message_id": message_id, "attachments": attachments}),
                )
            }
            Effect::WidgetEdit { message_id } => {
                let Some((line, operator)) = reply(conn, *message_id).await? else {
                    continue;
                };
                let body = json!({"text": line.text, "operator": operator, "message_id": message_id});
                rows.push(edit("message_updated", "PATCH", body, *message_id));
                continue;
            }
            Effect::WidgetDelete { message_id } => {
                rows.push(edit(
                    "message_deleted",
                    "DELETE",
                    json!({"message_id": message_id}),
                    *message_id,
                ));
                continue;
            }
            Effect::OpenThreads
            | Effect::RenderThreads
            | Effect::NotifyAssignee(_)
            | Effect::MirrorMessage { .. }
            | Effect::MirrorEdit { .. }
            | Effect::Notice(_)
            | Effect::Nudge { .. } => {
                continue;
            }
        };
        let path = format!("/conversations/{conversation}/{kind}");
        rows.push(NewRow {
            workspace_id: row.workspace_id,
            target: TARGET_WIDGET,
            kind,
            ordering_key: widget_ordering_key(&row.id),
            payload: json!({"path": path, "body": body}),
        });
    }
    Ok(())
}

/// An operator's reply and who wrote it, as the widget platform is told of it.
async fn reply(
    conn: &mut AnyConnection,
    message_id: i64,
) -> Result<Option<(convs::MessageRow, Option<crate::engine::OperatorRef>)>, sqlx::Error> {
    let Some(line) = convs::message(conn, message_id).await? else {
        return Ok(None);
    };
    let operator = match line.operator_id {
        Some(op) => crate::store::operators::reference(conn, OperatorId(op)).await?,
        None => None,
    };
    Ok(Some((line, operator)))
}

/// Percent-encodes a path segment (conversation ids are the widget platform's, any text).
fn path_segment(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}
