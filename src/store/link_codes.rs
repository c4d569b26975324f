//! Link codes: one-time codes that join a person's accounts on two chat platforms into
//! one operator. A code is issued on one platform for an operator, lives a few minutes,
//! and is redeemed once on another; a redeemed code stays as the record of the link.

use crate::engine::{OperatorId, WorkspaceId};
use sqlx::AnyConnection;

/// A code just redeemed: whom it links to and where it was issued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redeemed {
    pub operator: OperatorId,
    pub platform: String,
}

/// Deletes codes that ran out unused.
pub async fn clean_expired(conn: &mut AnyConnection, now: i64) -> Result<u64, sqlx::Error> {
    let done = sqlx::query("delete from link_codes where used_at is null and expires_at <= $1")
        .bind(now)
        .execute(conn)
        .await?;
    Ok(done.rows_affected())
}

/// Deletes an operator's unused codes (so it has at most one live code).
pub async fn drop_unused(conn: &mut AnyConnection, operator: OperatorId) -> Result<(), sqlx::Error> {
    sqlx::query("delete from link_codes where operator_id = $1 and used_at is null")
        .bind(operator.0)
        .execute(conn)
        .await?;
    Ok(())
}

/// Stores a new code; `false` if the code is taken already (pick another). Does not
/// abort the transaction when it is.
pub async fn insert(
    conn: &mut AnyConnection,
    ws: WorkspaceId,
    operator: OperatorId,
    platform: &str,
    code: &str,
    now: i64,
    expires_at: i64,
) -> Result<bool, sqlx::Error> {
    let stored: Option<String> = sqlx::query_scalar(
        "insert into link_codes (code, workspace_id, operator_id, platform, created_at, expires_at) \
         values ($1, $2, $3, $4, $5, $6) on conflict do nothing returning code",
    )
    .bind(code)
    .bind(ws.0)
    .bind(operator.0)
    .bind(platform)
    .bind(now)
    .bind(expires_at)
    .fetch_optional(conn)
    .await?;
    Ok(stored.is_some())
}

/// Marks a live code used by `account` on `platform` (which belonged to `replaced`
/// before) and returns what it links to; `None` if there is no such live code. One
/// conditional update, so of two redeemers of one code only one gets it.
pub async fn redeem(
    conn: &mut AnyConnection,
    ws: WorkspaceId,
    code: &str,
    now: i64,
    platform: &str,
    account: &str,
    replaced: Option<OperatorId>,
) -> Result<Option<Redeemed>, sqlx::Error> {
    let row: Option<(i64, String)> = sqlx::query_as(
        "update link_codes set used_at = $3, used_platform = $4, used_account = $5, replaced_operator_id = $6 \
         where code = $1 and workspace_id = $2 and used_at is null and expires_at > $3 \
         returning operator_id, platform",
    )
    .bind(code)
    .bind(ws.0)
    .bind(now)
    .bind(platform)
    .bind(account)
    .bind(replaced.map(|o| o.0))
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|(operator, platform)| Redeemed {
        operator: OperatorId(operator),
        platform,
    }))
}
