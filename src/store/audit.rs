//! The append-only audit trail of assignment changes.

use crate::engine::{ChangeReason, Status};
use sqlx::AnyConnection;
use sqlx::FromRow;

#[derive(Debug, Clone, FromRow)]
pub struct AuditRow {
    pub id: i64,
    pub workspace_id: i64,
    pub conversation_id: String,
    pub version: i64,
    pub from_status: Option<String>,
    #[sqlx(try_from = "String")]
    pub to_status: Status,
    pub from_assignee: Option<i64>,
    pub to_assignee: Option<i64>,
    pub team_id: Option<i64>,
    pub actor: String,
    pub actor_operator_id: Option<i64>,
    #[sqlx(try_from = "String")]
    pub reason: ChangeReason,
    pub at: i64,
}

/// Inserts the rows of one change (its own and a routing row) in one statement.
pub async fn insert_all(conn: &mut AnyConnection, rows: &[AuditRow]) -> Result<(), sqlx::Error> {
    if rows.is_empty() {
        return Ok(());
    }
    let values: Vec<String> = (0..rows.len())
        .map(|i| format!("({})", super::placeholders(i * 12 + 1, 12)))
        .collect();
    let sql = format!(
        "insert into assignment_events (workspace_id, conversation_id, version, from_status, to_status, \
         from_assignee, to_assignee, team_id, actor, actor_operator_id, reason, at) values {}",
        values.join(", ")
    );
    let mut q = sqlx::query(&sql);
    for r in rows {
        q = q
            .bind(r.workspace_id)
            .bind(&r.conversation_id)
            .bind(r.version)
            .bind(&r.from_status)
            .bind(r.to_status.as_str())
            .bind(r.from_assignee)
            .bind(r.to_assignee)
            .bind(r.team_id)
            .bind(&r.actor)
            .bind(r.actor_operator_id)
            .bind(r.reason.as_str())
            .bind(r.at);
    }
    q.execute(conn).await?;
    Ok(())
}

/// The reason of a conversation's latest change, if it has any.
pub async fn last_reason(conn: &mut AnyConnection, id: &str) -> Result<Option<ChangeReason>, sqlx::Error> {
    let reason: Option<String> =
        sqlx::query_scalar("select reason from assignment_events where conversation_id = $1 order by id desc limit 1")
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?;
    reason
        .map(|r| ChangeReason::try_from(r).map_err(|e| sqlx::Error::Decode(Box::new(e))))
        .transpose()
}

pub async fn for_conversation(conn: &mut AnyConnection, id: &str) -> Result<Vec<AuditRow>, sqlx::Error> {
    sqlx::query_as(
        "select id, workspace_id, conversation_id, version, from_status, to_status, from_assignee, \
         to_assignee, team_id, actor, actor_operator_id, reason, at \
         from assignment_events where conversation_id = $1 order by id",
    )
    .bind(id)
    .fetch_all(conn)
    .await
}

/// An audit row with what the event stream shows about it.
#[derive(Debug, Clone, FromRow)]
pub struct FeedRow {
    pub id: i64,
    pub workspace_id: i64,
    pub conversation_id: String,
    pub widget_id: String,
    pub version: i64,
    #[sqlx(try_from = "String")]
    pub to_status: Status,
    pub to_assignee: Option<i64>,
    pub assignee_name: Option<String>,
    pub team_id: Option<i64>,
    pub actor: String,
    pub actor_operator_id: Option<i64>,
    #[sqlx(try_from = "String")]
    pub reason: ChangeReason,
    pub at: i64,
}

/// Audit rows with an id above `after`, oldest first.
pub async fn after(conn: &mut AnyConnection, after: i64, limit: i64) -> Result<Vec<FeedRow>, sqlx::Error> {
    sqlx::query_as(
        "select a.id, a.workspace_id, a.conversation_id, c.widget_id, a.version, a.to_status, a.to_assignee, \
         o.name as assignee_name, a.team_id, a.actor, a.actor_operator_id, a.reason, a.at \
         from assignment_events a join conversations c on c.id = a.conversation_id \
         left join operators o on o.id = a.to_assignee \
         where a.id > $1 order by a.id limit $2",
    )
    .bind(after)
    .bind(limit)
    .fetch_all(conn)
    .await
}

/// The newest audit row's id (0 when there is none).
pub async fn last_id(conn: &mut AnyConnection) -> Result<i64, sqlx::Error> {
    let id: Option<i64> = sqlx::query_scalar("select max(id) from assignment_events")
        .fetch_one(conn)
        .await?;
    Ok(id.unwrap_or(0))
}
