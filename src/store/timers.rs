//! Timers: rows with a due time, each tied to one state (`version`) of its conversation
//! (see the `timers` migration). Armed in the transaction that starts them; claimed
//! with a lease and a token like outbox rows; fired in the transaction that deletes
//! them, so each fires once however many instances run and however often they restart.

use crate::engine::{OperatorId, WorkspaceId};
use sqlx::{AnyConnection, FromRow};

/// What a timer does when it falls due.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Re-route the conversation if its assignee has not accepted it.
    Accept,
    /// A visitor's message has waited the widget's `reply_within`: nudge the assignee.
    Reply,
    /// It has waited twice that: tell the thread.
    ReplyLate,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Accept => "accept",
            Kind::Reply => "reply",
            Kind::ReplyLate => "reply_late",
        }
    }
}

impl TryFrom<String> for Kind {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        match s.as_str() {
            "accept" => Ok(Kind::Accept),
            "reply" => Ok(Kind::Reply),
            "reply_late" => Ok(Kind::ReplyLate),
            other => Err(format!("`{other}` is not a timer kind")),
        }
    }
}

const COLUMNS: &str = "id, workspace_id, conversation_id, kind, due_at, version, operator_id, created_at";

#[derive(Debug, Clone, FromRow)]
pub struct TimerRow {
    pub id: i64,
    pub workspace_id: i64,
    pub conversation_id: String,
    #[sqlx(try_from = "String")]
    pub kind: Kind,
    pub due_at: i64,
    /// The conversation's version when it was armed: any change since makes it stale.
    pub version: i64,
    pub operator_id: Option<i64>,
    /// When it was armed: for a reply timer, when the wait began.
    pub created_at: i64,
}

impl TimerRow {
    pub fn workspace(&self) -> WorkspaceId {
        WorkspaceId(self.workspace_id)
    }

    pub fn operator(&self) -> Option<OperatorId> {
        self.operator_id.map(OperatorId)
    }
}

/// A timer to arm.
pub struct NewTimer<'a> {
    pub workspace: WorkspaceId,
    pub conversation: &'a str,
    pub kind: Kind,
    pub due_at: i64,
    pub version: i64,
    pub operator: Option<OperatorId>,
    /// When it is armed (for a reply timer, when the wait began).
    pub now: i64,
}

/// A new timer's fields, as `$1` to `$7`.
fn bind<'q>(
    q: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    t: &NewTimer<'q>,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    q.bind(t.workspace.0)
        .bind(t.conversation)
        .bind(t.kind.as_str())
        .bind(t.due_at)
        .bind(t.version)
        .bind(t.operator.map(|o| o.0))
        .bind(t.now)
}

/// Arms a timer, replacing the conversation's timer of the same kind (and any claim on it).
pub async fn arm(conn: &mut AnyConnection, t: &NewTimer<'_>) -> Result<(), sqlx::Error> {
    bind(
        sqlx::query(
            "insert into timers (workspace_id, conversation_id, kind, due_at, version, operator_id, created_at) \
             values ($1, $2, $3, $4, $5, $6, $7) \
             on conflict (conversation_id, kind) do update set due_at = excluded.due_at, version = excluded.version, \
             operator_id = excluded.operator_id, locked_until = null, claim_token = null, created_at = excluded.created_at",
        ),
        t,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Arms a reply timer unless the conversation already has one (of either stage): a
/// visitor's wait runs from their first message nobody has answered.
pub async fn arm_reply(conn: &mut AnyConnection, t: &NewTimer<'_>) -> Result<bool, sqlx::Error> {
    let done = bind(
        sqlx::query(
            "insert into timers (workspace_id, conversation_id, kind, due_at, version, operator_id, created_at) \
             select $1, $2, $3, $4, $5, $6, $7 where not exists \
               (select 1 from timers where conversation_id = $2 and kind in ('reply', 'reply_late')) \
             on conflict do nothing",
        ),
        t,
    )
    .execute(conn)
    .await?;
    Ok(done.rows_affected() > 0)
}

/// Ends a visitor's wait for a reply (an operator answered): removes both stages.
pub async fn cancel_reply(conn: &mut AnyConnection, conversation: &str) -> Result<(), sqlx::Error> {
    sqlx::query("delete from timers where conversation_id = $1 and kind in ('reply', 'reply_late')")
        .bind(conversation)
        .execute(conn)
        .await?;
    Ok(())
}

/// Claims up to `limit` due timers that nobody holds, until `lease_until`, under a new
/// token; returns them with the token. On PostgreSQL rows another instance is claiming
/// are skipped, not waited for.
pub async fn claim_due(
    conn: &mut AnyConnection,
    now: i64,
    lease_until: i64,
    limit: i64,
    skip_locked: bool,
) -> Result<(String, Vec<TimerRow>), sqlx::Error> {
    let token = hex::encode(rand::random::<[u8; 12]>());
    let lock = if skip_locked { " for update skip locked" } else { "" };
    let rows = sqlx::query_as(&format!(
        "update timers set locked_until = $2, claim_token = $3 \
         where id in (select id from timers where due_at <= $1 and (locked_until is null or locked_until < $1) \
           order by due_at, id limit $4{lock}) \
         returning {COLUMNS}"
    ))
    .bind(now)
    .bind(lease_until)
    .bind(&token)
    .bind(limit)
    .fetch_all(conn)
    .await?;
    Ok((token, rows))
}

/// Deletes a claimed timer, if this claim still holds it: the first statement of the
/// transaction that fires it (on PostgreSQL it locks the row until that commits).
/// `None` when another claim took it or a newer arming replaced it.
pub async fn take(conn: &mut AnyConnection, id: i64, token: &str) -> Result<Option<TimerRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "delete from timers where id = $1 and claim_token = $2 returning {COLUMNS}"
    ))
    .bind(id)
    .bind(token)
    .fetch_optional(conn)
    .await
}

/// Removes the conversation's timer of this kind, if one is armed.
pub async fn cancel(conn: &mut AnyConnection, conversation: &str, kind: Kind) -> Result<(), sqlx::Error> {
    sqlx::query("delete from timers where conversation_id = $1 and kind = $2")
        .bind(conversation)
        .bind(kind.as_str())
        .execute(conn)
        .await?;
    Ok(())
}

/// When the next timer could be claimed: the first due time of those nobody holds, or
/// the first end of a lease (a claimed row is always due already). Each half reads one
/// row of an index, however many timers are armed.
pub async fn next_due(conn: &mut AnyConnection) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar(
        "select min(t) from ( \
           select due_at as t from (select due_at from timers where locked_until is null order by due_at limit 1) as free \
           union all \
           select locked_until from (select locked_until from timers where locked_until is not null \
             order by locked_until limit 1) as held \
         ) as next",
    )
    .fetch_one(conn)
    .await
}

/// The conversation's timer of this kind, if one is armed.
pub async fn get(conn: &mut AnyConnection, conversation: &str, kind: Kind) -> Result<Option<TimerRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "select {COLUMNS} from timers where conversation_id = $1 and kind = $2"
    ))
    .bind(conversation)
    .bind(kind.as_str())
    .fetch_optional(conn)
    .await
}
