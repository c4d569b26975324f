//! Operators' accounts on chat platforms, keyed by platform name: one person may have
//! an account on each, and an account belongs to one operator per workspace.

use crate::engine::{OperatorId, WorkspaceId};
use sqlx::AnyConnection;

/// Platform name → the operator's account id there.
pub type Identities = std::collections::BTreeMap<String, String>;

pub async fn operator_of(
    conn: &mut AnyConnection,
    ws: WorkspaceId,
    platform: &str,
    external_id: &str,
) -> Result<Option<OperatorId>, sqlx::Error> {
    let id: Option<i64> = sqlx::query_scalar(
        "select operator_id from operator_identities where workspace_id = $1 and platform = $2 and external_id = $3",
    )
    .bind(ws.0)
    .bind(platform)
    .bind(external_id)
    .fetch_optional(conn)
    .await?;
    Ok(id.map(OperatorId))
}

pub async fn of_operator(conn: &mut AnyConnection, operator: OperatorId) -> Result<Identities, sqlx::Error> {
    let rows: Vec<(String, String)> =
        sqlx::query_as("select platform, external_id from operator_identities where operator_id = $1")
            .bind(operator.0)
            .fetch_all(conn)
            .await?;
    Ok(rows.into_iter().collect())
}

pub async fn get(
    conn: &mut AnyConnection,
    operator: OperatorId,
    platform: &str,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar("select external_id from operator_identities where operator_id = $1 and platform = $2")
        .bind(operator.0)
        .bind(platform)
        .fetch_optional(conn)
        .await
}

/// Sets (`Some`) or removes (`None`) an operator's account on a platform. An account
/// already linked to someone else is a unique violation.
pub async fn set(
    conn: &mut AnyConnection,
    ws: WorkspaceId,
    operator: OperatorId,
    platform: &str,
    external_id: Option<&str>,
) -> Result<(), sqlx::Error> {
    match external_id {
        Some(external) => {
            sqlx::query(
                "insert into operator_identities (operator_id, workspace_id, platform, external_id) \
                 values ($1, $2, $3, $4) on conflict (operator_id, platform) do update set external_id = excluded.external_id",
            )
            .bind(operator.0)
            .bind(ws.0)
            .bind(platform)
            .bind(external)
            .execute(conn)
            .await?;
        }
        None => {
            sqlx::query("delete from operator_identities where operator_id = $1 and platform = $2")
                .bind(operator.0)
                .bind(platform)
                .execute(conn)
                .await?;
        }
    }
    Ok(())
}

/// Moves an operator's account on a platform to another operator (who must have none
/// there yet).
pub async fn move_account(
    conn: &mut AnyConnection,
    from: OperatorId,
    to: OperatorId,
    platform: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("update operator_identities set operator_id = $2 where operator_id = $1 and platform = $3")
        .bind(from.0)
        .bind(to.0)
        .bind(platform)
        .execute(conn)
        .await?;
    Ok(())
}
