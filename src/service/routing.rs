//! Routing inside a transition's transaction: the workspace's routing lock, then the
//! pick (`engine::routing::pick`) over the few operators the store narrows the pool to
//! (`store::operators::pickable`), and the round-robin cursor moved in the same
//! transaction. The bench drives `route` directly to measure a pick as teams grow.

use super::ServiceError;
use crate::engine::routing as rules;
use crate::engine::transition::RouteScope;
use crate::engine::{Assignment, ChangeReason, OperatorId, RoutingMode, Window, WorkspaceId};
use crate::store::conversations::ConversationRow;
use crate::store::operators::{self, Pool};
use crate::store::{Backend, teams, widgets};
use sqlx::AnyConnection;

/// On PostgreSQL, where several instances route at once: takes the workspace's row
/// lock first thing in a transaction that may route, so routings run one at a time per
/// workspace (cursors keep their order, loads are counted after the last assignment).
/// First thing, so no other lock is held while waiting for it (no deadlock). SQLite
/// runs one write at a time already.
pub(crate) async fn lock(conn: &mut AnyConnection, backend: Backend, ws: WorkspaceId) -> Result<(), ServiceError> {
    if backend == Backend::Postgres {
        sqlx::query("select id from workspaces where id = $1 for update")
            .bind(ws.0)
            .execute(conn)
            .await?;
    }
    Ok(())
}

/// What routing did, when it ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Routed {
    /// The audit reason of its row: `routed` (someone was picked) or `unrouted`.
    pub reason: ChangeReason,
    /// How long the one picked has to accept (the widget's `accept_within`).
    pub accept_within: Option<Window>,
}

/// Routes a conversation that needs a human: fills `to.assignee` and moves the
/// cursor. `None` when the widget routes by hand.
pub(crate) async fn route(
    conn: &mut AnyConnection,
    row: &ConversationRow,
    scope: RouteScope,
    to: &mut Assignment,
) -> Result<Option<Routed>, ServiceError> {
    let ws = WorkspaceId(row.workspace_id);
    let Some(widget) = widgets::get(conn, &row.widget_id).await? else {
        return Ok(None);
    };
    let mode = widget.routing;
    if mode == RoutingMode::Manual {
        return Ok(None);
    }
    // The transaction holds the workspace's routing lock ([`lock`]).
    let (pool, cursor) = match scope {
        RouteScope::Widget => (Pool::Widget(ws, &widget.id), widget.rr_cursor),
        RouteScope::Team(team) => (
            Pool::Team(team.0),
            teams::get(conn, ws, team).await?.and_then(|t| t.rr_cursor),
        ),
    };
    let cursor = cursor.map(OperatorId);
    // Declines are left out by the query already.
    let candidates = operators::pickable(conn, pool, mode, &row.id, cursor).await?;
    let Some(pick) = rules::pick(mode, &candidates, cursor, &[]) else {
        return Ok(Some(Routed {
            reason: ChangeReason::Unrouted,
            accept_within: None,
        }));
    };
    to.assignee = Some(pick.operator);
    if let Some(cursor) = pick.cursor {
        match scope {
            RouteScope::Widget => widgets::set_cursor(conn, &widget.id, cursor).await?,
            RouteScope::Team(team) => teams::set_cursor(conn, team, cursor).await?,
        }
    }
    Ok(Some(Routed {
        reason: ChangeReason::Routed,
        accept_within: widget.accept_within()?,
    }))
}
