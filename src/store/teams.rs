//! Teams and their members.

use crate::engine::{OperatorId, TeamId, WorkspaceId};
use sqlx::AnyConnection;
use sqlx::{FromRow, Row};

#[derive(Debug, Clone, FromRow)]
pub struct TeamRow {
    pub id: i64,
    pub workspace_id: i64,
    pub name: String,
    pub rr_cursor: Option<i64>,
    pub created_at: i64,
}

pub async fn list(conn: &mut AnyConnection, ws: WorkspaceId) -> Result<Vec<TeamRow>, sqlx::Error> {
    sqlx::query_as(
        "select id, workspace_id, name, rr_cursor, created_at from teams where workspace_id = $1 order by name",
    )
    .bind(ws.0)
    .fetch_all(conn)
    .await
}

pub async fn get(conn: &mut AnyConnection, ws: WorkspaceId, id: TeamId) -> Result<Option<TeamRow>, sqlx::Error> {
    sqlx::query_as(
        "select id, workspace_id, name, rr_cursor, created_at from teams where workspace_id = $1 and id = $2",
    )
    .bind(ws.0)
    .bind(id.0)
    .fetch_optional(conn)
    .await
}

pub async fn find_by_name(
    conn: &mut AnyConnection,
    ws: WorkspaceId,
    name: &str,
) -> Result<Option<TeamRow>, sqlx::Error> {
    sqlx::query_as(
        "select id, workspace_id, name, rr_cursor, created_at from teams where workspace_id = $1 and name = $2",
    )
    .bind(ws.0)
    .bind(name)
    .fetch_optional(conn)
    .await
}

pub async fn insert(conn: &mut AnyConnection, ws: WorkspaceId, name: &str, now: i64) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("insert into teams (workspace_id, name, created_at) values ($1, $2, $3) returning id")
        .bind(ws.0)
        .bind(name)
        .bind(now)
        .fetch_one(conn)
        .await
}

/// Deletes a team; its conversations keep their assignee and lose the team.
pub async fn delete(conn: &mut AnyConnection, id: TeamId) -> Result<(), sqlx::Error> {
    sqlx::query("update conversations set team_id = null where team_id = $1")
        .bind(id.0)
        .execute(&mut *conn)
        .await?;
    sqlx::query("delete from team_members where team_id = $1")
        .bind(id.0)
        .execute(&mut *conn)
        .await?;
    sqlx::query("delete from teams where id = $1")
        .bind(id.0)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn members(conn: &mut AnyConnection, id: TeamId) -> Result<Vec<OperatorId>, sqlx::Error> {
    let rows = sqlx::query("select operator_id from team_members where team_id = $1 order by operator_id")
        .bind(id.0)
        .fetch_all(conn)
        .await?;
    Ok(rows.iter().map(|r| OperatorId(r.get::<i64, _>(0))).collect())
}

pub async fn add_member(conn: &mut AnyConnection, id: TeamId, op: OperatorId) -> Result<(), sqlx::Error> {
    sqlx::query("insert into team_members (team_id, operator_id) values ($1, $2) on conflict do nothing")
        .bind(id.0)
        .bind(op.0)
        .execute(conn)
        .await?;
    Ok(())
}

/// Returns whether they were a member.
pub async fn remove_member(conn: &mut AnyConnection, id: TeamId, op: OperatorId) -> Result<bool, sqlx::Error> {
    let res = sqlx::query("delete from team_members where team_id = $1 and operator_id = $2")
        .bind(id.0)
        .bind(op.0)
        .execute(conn)
        .await?;
    Ok(res.rows_affected() > 0)
}

pub async fn set_cursor(conn: &mut AnyConnection, id: TeamId, cursor: OperatorId) -> Result<(), sqlx::Error> {
    sqlx::query("update teams set rr_cursor = $2 where id = $1")
        .bind(id.0)
        .bind(cursor.0)
        .execute(conn)
        .await?;
    Ok(())
}

/// Gives `to` every team membership of `from`, and takes them from `from`.
pub async fn move_memberships(conn: &mut AnyConnection, from: OperatorId, to: OperatorId) -> Result<(), sqlx::Error> {
    sqlx::query(
        "insert into team_members (team_id, operator_id) \
         select team_id, $2 from team_members where operator_id = $1 on conflict do nothing",
    )
    .bind(from.0)
    .bind(to.0)
    .execute(&mut *conn)
    .await?;
    sqlx::query("delete from team_members where operator_id = $1")
        .bind(from.0)
        .execute(conn)
        .await?;
    Ok(())
}
